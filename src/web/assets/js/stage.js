// Stage summary (健康阶段总结, issue 18): the last 30 days against the 30 before — each
// measurement's mean, last value and change, adherence, escalations and readmissions. Shared by
// the patient page and the printed report.
import { t } from './i18n.js';
import { html, raw, fmtDate, num } from './ui.js';
import { TRENDS } from './charts.js';

const seriesName = (key) => {
  for (const c of TRENDS) for (const [k, label] of c.series) if (k === key) return t(label);
  return key;
};
const arrow = { up: '↑', down: '↓', same: '→', unknown: '' };
const stats = (s) => (s.count ? `${num(s.mean)} (n=${s.count})` : '–');
const adh = (a) => (a.due ? `${a.completed}/${a.due} (${Math.round(a.rate * 100)}%)` : '–');

/** The stage summary as a section; `s` is the API's `stage`. */
export function stageBlock(s) {
  if (!s) return '';
  const span = (p) => `${fmtDate(p.from)} – ${fmtDate(p.to)}`;
  return html`<section id="stage-summary" class="stage"><h2>${t('stage.title')}</h2>
    <p class="muted">${t('stage.current')} ${span(s.current)} · ${t('stage.previous')} ${span(s.previous)}</p>
    <table><thead><tr><th></th><th>${t('stage.previous')}</th><th>${t('stage.current')}</th><th>${t('stage.change')}</th></tr></thead><tbody>
    ${s.trends.map((x) => raw(html`<tr data-series="${x.series}"><th scope="row">${seriesName(x.series)}</th><td>${stats(x.previous)}</td>
      <td>${stats(x.current)}${x.current.last == null ? '' : ` · ${t('stage.last')} ${num(x.current.last)}`}</td>
      <td>${x.change == null ? '–' : `${arrow[x.direction]} ${x.change > 0 ? '+' : ''}${num(x.change)}`}</td></tr>`))}
    <tr><th scope="row">${t('stage.adherence')}</th><td>${adh(s.adherence_previous)}</td><td>${adh(s.adherence_current)}</td><td></td></tr>
    <tr><th scope="row">${t('stage.escalations')}</th><td>${s.escalations.previous}</td><td>${s.escalations.current}</td><td></td></tr>
    <tr><th scope="row">${t('stage.readmissions')}</th><td>${s.readmissions.previous}</td><td>${s.readmissions.current}</td><td></td></tr>
    </tbody></table></section>`;
}
