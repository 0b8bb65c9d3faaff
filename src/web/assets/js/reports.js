// Follow-up quality report for a period, with CSV export.
import { api } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, pct, num, failure, timeZone } from './ui.js';

// YYYY-MM-DD in the hospital's zone (sv-SE formats dates that way)
const today = () => new Date().toLocaleDateString('sv-SE', { timeZone: timeZone() });
const daysAgo = (n) => new Date(Date.now() - n * 864e5).toLocaleDateString('sv-SE', { timeZone: timeZone() });

export async function mount(view) {
  view.innerHTML = html`<section class="card" aria-labelledby="rep-title"><h2 id="rep-title">${t('rep.title')}</h2>
    <form id="rep-form" class="inline">
      <label>${t('rec.from')} <input type="date" id="rep-from" value="${daysAgo(29)}"></label>
      <label>${t('rec.to')} <input type="date" id="rep-to" value="${today()}"></label>
      <label>${t('tag.filter')} <input id="rep-tag" maxlength="64" placeholder="${t('tag.any')}"></label>
      <button type="submit" class="primary">${t('rep.run')}</button>
      <a id="rep-csv" class="button" download>${t('rep.csv')}</a>
    </form>
    <table id="rep-table"><thead><tr><th scope="col">${t('rep.metric')}</th><th scope="col">${t('rep.value')}</th></tr></thead><tbody></tbody></table>
  </section>`;
  const run = async () => {
    const tag = $('#rep-tag', view).value.trim();
    const q = `from=${$('#rep-from', view).value}&to=${$('#rep-to', view).value}${tag ? '&tag=' + encodeURIComponent(tag) : ''}`;
    $('#rep-csv', view).href = `/api/v1/reports?${q}&format=csv`;
    let r;
    try {
      r = await api('GET', `/reports?${q}`);
    } catch (e) {
      $('#rep-table tbody', view).innerHTML = html`<tr><td colspan="2" class="error">${failure(e, t('rep.title'))}</td></tr>`;
      return;
    }
    const rows = [
      ['rep.discharges', r.discharges], ['rep.coverage', `${pct(r.coverage)} (${r.discharges_attempted}/${r.discharges})`],
      ['rep.tasks_due', r.tasks_due], ['rep.reach_rate', `${pct(r.reach_rate)} (${r.tasks_reached}/${r.tasks_attempted})`],
      ['rep.completion_rate', `${pct(r.completion_rate)} (${r.tasks_completed}/${r.tasks_due})`],
      ['rep.dials', r.dials], ['rep.dials_per_completed_contact', num(r.dials_per_completed_contact, 2)],
      ['rep.hours_to_first_contact', `${num(r.hours_to_first_contact.median)} (p90 ${num(r.hours_to_first_contact.p90)}, n=${r.hours_to_first_contact.count})`],
      ['rep.share_reached_within_2_business_days', `${pct(r.share_reached_within_2_business_days)} (${r.reached_within_2_business_days}/${r.discharges})`],
      ['rep.escalations_opened', r.escalations_opened],
      ['rep.minutes_to_acknowledge', `${num(r.minutes_to_acknowledge.median)} (p90 ${num(r.minutes_to_acknowledge.p90)}, n=${r.minutes_to_acknowledge.count})`],
    ];
    $('#rep-table tbody', view).innerHTML = rows.map(([k, v]) => html`<tr data-metric="${k}"><th scope="row">${t(k)}</th><td>${raw(html`${v}`)}</td></tr>`).join('');
  };
  $('#rep-form', view).addEventListener('submit', (e) => { e.preventDefault(); run(); });
  await run();
}
