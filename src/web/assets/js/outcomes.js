// Outcome report (issue 18): reach, completion, time to first contact, escalations and
// 30/180-day readmission with 95 % intervals, per month, pathway, department and nurse; a chart
// of the monthly readmission rate for reached and not reached patients; CSV and the SQL behind
// every number.
import { api } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, pct, num, esc, failure, timeZone } from './ui.js';

const today = () => new Date().toLocaleDateString('sv-SE', { timeZone: timeZone() });
const monthsAgo = (n) => { const d = new Date(); d.setDate(1); d.setMonth(d.getMonth() - n); return d.toLocaleDateString('sv-SE', { timeZone: timeZone() }); };
const DIMS = ['month', 'pathway', 'department', 'nurse'];

const rateCell = (r) => (r.rate == null ? '–' : `${pct(r.rate)} (${r.events}/${r.eligible ?? ''}) [${pct(r.ci95_low)}–${pct(r.ci95_high)}]`);
const share = (r, n) => (r.rate == null ? '–' : `${pct(r.rate)} (${r.events}/${n})`);

function row(dim, g) {
  const e = g.escalations;
  const esc4 = ['emergency', 'urgent', 'high', 'routine'].map((s) => `${t('sev.' + s)} ${e[s].opened}`).join(' · ');
  return html`<tr data-dimension="${dim}" data-key="${g.key}"><th scope="row">${g.key}</th><td>${g.enrolled}</td>
    <td>${share(g.reached_within_2_business_days, g.enrolled)}</td><td>${share(g.reached_within_7_days, g.enrolled)}</td>
    <td>${share(g.completed, g.enrolled)}</td><td>${num(g.median_hours_to_first_contact)}</td>
    <td>${esc4} · ${t('out.ack')} ${num(e.all.median_minutes_to_acknowledge)}</td>
    <td data-metric="readmission_30d">${rateCell(g.readmissions.days_30)}</td><td data-metric="readmission_180d">${rateCell(g.readmissions.days_180)}</td>
    <td>${rateCell(g.readmissions_reached.days_30)}</td><td>${rateCell(g.readmissions_not_reached.days_30)}</td>
    <td data-metric="satisfaction">${satisfaction(g.satisfaction)}</td></tr>`;
}

// Mean 1-5 rating and Net Promoter Score (promoters 9-10 minus detractors 0-6), each with its count.
function satisfaction(s) {
  if (!s || !s.responses) return '–';
  return `${num(s.overall_mean)}/5 (${s.overall_answered}) · NPS ${s.nps == null ? '–' : Math.round(s.nps)} (${s.recommend_answered}) · ${t('out.comments')} ${s.comments}`;
}

// Monthly 30-day readmission rate, reached vs not reached, with the Wilson interval as a whisker.
function chart(months) {
  const W = 640, H = 200, L = 40, B = 28, T = 20;
  const pts = months.filter((m) => m.readmissions.days_30.eligible > 0);
  if (!pts.length) return `<p class="muted">${esc(t('out.no_chart'))}</p>`;
  const max = Math.max(0.05, ...pts.flatMap((m) => [m.readmissions_reached.days_30.ci95_high || 0, m.readmissions_not_reached.days_30.ci95_high || 0]));
  const slot = (W - L - 10) / pts.length, bw = Math.min(22, slot / 3);
  const y = (v) => H - B - (v / max) * (H - B - T);
  const parts = [`<svg class="trend" id="out-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(t('out.chart'))}" xmlns="http://www.w3.org/2000/svg"><title>${esc(t('out.chart'))}</title>`,
    `<text x="${L}" y="14" class="t-title">${esc(t('out.chart'))}</text>`,
    `<text x="${W - 200}" y="14" class="t-legend" fill="#2e7d32">■ ${esc(t('out.reached'))}</text><text x="${W - 100}" y="14" class="t-legend" fill="#b3261e">■ ${esc(t('out.not_reached'))}</text>`];
  for (const v of [0, max / 2, max]) parts.push(`<line x1="${L}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" class="t-grid"/><text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" class="t-axis">${(v * 100).toFixed(0)}%</text>`);
  pts.forEach((m, i) => {
    const x0 = L + i * slot + slot / 2 - bw;
    [[m.readmissions_reached.days_30, '#2e7d32'], [m.readmissions_not_reached.days_30, '#b3261e']].forEach(([r, color], j) => {
      if (r.rate == null) return;
      const x = x0 + j * bw;
      parts.push(`<rect x="${x}" y="${y(r.rate)}" width="${bw - 2}" height="${y(0) - y(r.rate)}" fill="${color}" opacity=".75"><title>${esc(`${m.key} ${pct(r.rate)} (${r.events}/${r.eligible})`)}</title></rect>`,
        `<line x1="${x + bw / 2 - 1}" x2="${x + bw / 2 - 1}" y1="${y(r.ci95_low)}" y2="${y(r.ci95_high)}" stroke="#333"/>`);
    });
    parts.push(`<text x="${L + i * slot + slot / 2}" y="${H - 8}" text-anchor="middle" class="t-axis">${esc(m.key)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export async function mount(view) {
  view.innerHTML = html`<section class="card" aria-labelledby="out-title"><h2 id="out-title">${t('out.title')}</h2>
    <form id="out-form" class="inline">
      <label>${t('rec.from')} <input type="date" id="out-from" value="${monthsAgo(11)}"></label>
      <label>${t('rec.to')} <input type="date" id="out-to" value="${today()}"></label>
      <button type="submit" class="primary">${t('rep.run')}</button>
      <a id="out-csv" class="button" download>${t('rep.csv')}</a>
    </form>
    <div id="out-chart-box"></div><div id="out-tables"></div>
    <details id="out-sql"><summary>${t('out.sql')}</summary><p class="muted" id="out-method"></p><pre></pre></details>
  </section>`;
  const run = async () => {
    const q = `from=${$('#out-from', view).value}&to=${$('#out-to', view).value}`;
    $('#out-csv', view).href = `/api/v1/reports/outcomes?${q}&format=csv`;
    let r;
    try {
      r = await api('GET', `/reports/outcomes?${q}`);
    } catch (e) {
      $('#out-tables', view).innerHTML = html`<p class="error">${failure(e, t('out.title'))}</p>`;
      return;
    }
    $('#out-chart-box', view).innerHTML = chart(r.month);
    const head = html`<tr><th scope="col"></th><th scope="col">${t('out.enrolled')}</th><th scope="col">${t('out.reached_2bd')}</th>
      <th scope="col">${t('out.reached_7d')}</th><th scope="col">${t('out.completed')}</th><th scope="col">${t('out.hours')}</th>
      <th scope="col">${t('out.escalations')}</th><th scope="col">${t('out.readmit_30')}</th><th scope="col">${t('out.readmit_180')}</th>
      <th scope="col">${t('out.readmit_30_reached')}</th><th scope="col">${t('out.readmit_30_not_reached')}</th>
      <th scope="col">${t('out.satisfaction')}</th></tr>`;
    $('#out-tables', view).innerHTML = [['total', [r.total]], ...DIMS.map((d) => [d, r[d]])].map(([dim, groups]) =>
      html`<h3>${t('out.by.' + dim)}</h3><table class="outcomes" data-dimension="${dim}"><thead>${raw(head)}</thead><tbody>${raw(groups.map((g) => row(dim, g)).join(''))}</tbody></table>`).join('');
    $('#out-method', view).textContent = r.method;
    $('#out-sql pre', view).textContent = [r.sql.setup, ...Object.entries(r.sql.metrics).map(([k, v]) => `-- ${k}\n${v}`)].join('\n\n');
  };
  $('#out-form', view).addEventListener('submit', (e) => { e.preventDefault(); run(); });
  await run();
}
