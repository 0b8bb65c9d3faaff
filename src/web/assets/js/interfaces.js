// The admin's interfaces page (issue 17 item 7): the HL7 listener (state, messages by status,
// the newest messages with their ACK and error, replay of a failed one), the results outbox to
// the EMR (state, counts, requeue of a refused result) and the FHIR API's tokens.
import { api } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, fmtTime, toast, failure } from './ui.js';

const counts = (c) => Object.entries(c || {}).map(([k, n]) => html`<span class="badge" data-status="${k}">${k} ${n}</span>`).join(' ') || '—';

export async function mount(view) {
  view.innerHTML = html`<div class="columns">
    <section class="card" aria-labelledby="if-listener-title"><h2 id="if-listener-title">${t('if.listener')}</h2><dl id="if-listener"></dl></section>
    <section class="card" aria-labelledby="if-results-title"><h2 id="if-results-title">${t('if.results')}</h2><dl id="if-results"></dl></section>
    <section class="card" aria-labelledby="if-fhir-title"><h2 id="if-fhir-title">FHIR R4</h2><dl id="if-fhir"></dl></section></div>
    <section class="card" aria-labelledby="if-messages-title"><h2 id="if-messages-title">${t('if.messages')}</h2>
      <table id="if-messages"><thead><tr><th scope="col">#</th><th scope="col">${t('if.received')}</th><th scope="col">${t('if.type')}</th><th scope="col">MSH-10</th>
        <th scope="col">${t('if.sender')}</th><th scope="col">${t('admin.status')}</th><th scope="col">ACK</th><th scope="col">${t('if.error')}</th><th scope="col">${t('admin.actions')}</th></tr></thead><tbody></tbody></table></section>
    <section class="card" aria-labelledby="if-outbox-title"><h2 id="if-outbox-title">${t('if.outbox')}</h2>
      <table id="if-outbox"><thead><tr><th scope="col">#</th><th scope="col">${t('if.task')}</th><th scope="col">MRN</th><th scope="col">${t('if.type')}</th>
        <th scope="col">${t('admin.status')}</th><th scope="col">${t('if.attempts')}</th><th scope="col">${t('if.next')}</th><th scope="col">ACK</th><th scope="col">${t('if.error')}</th><th scope="col">${t('admin.actions')}</th></tr></thead><tbody></tbody></table></section>`;
  const load = async () => {
    try {
      const [s, m, o, tk] = await Promise.all([api('GET', '/interfaces'), api('GET', '/hl7/messages?limit=50'), api('GET', '/hl7/outbox?limit=50'), api('GET', '/api-tokens')]);
      const l = s.listener;
      $('#if-listener', view).innerHTML = html`<dt>${t('admin.status')}</dt><dd id="if-listener-state" data-listening="${l.listening}">${l.listening ? t('if.listening') : t('if.off')}</dd>
        <dt>${t('if.address')}</dt><dd>${l.listen || '—'}</dd><dt>${t('if.allow')}</dt><dd>${(l.allow || []).join(', ') || t('if.loopback')}</dd>
        <dt>${t('if.stored')}</dt><dd id="if-listener-counts">${raw(counts(l.counts))}</dd><dt>${t('if.last')}</dt><dd>${fmtTime(l.last_received_at)}</dd>`;
      const r = s.results;
      $('#if-results', view).innerHTML = html`<dt>${t('admin.status')}</dt><dd id="if-results-state" data-enabled="${r.enabled}">${r.enabled ? t('if.sending') : t('if.off')}</dd>
        <dt>${t('if.target')}</dt><dd>${r.target || '—'}</dd><dt>${t('if.type')}</dt><dd>${r.message === 'mdm' ? 'MDM^T02' : 'ORU^R01'}</dd>
        <dt>${t('if.outbox')}</dt><dd id="if-outbox-counts">${raw(counts(r.counts))}</dd>`;
      $('#if-fhir', view).innerHTML = html`<dt>${t('if.address')}</dt><dd><code>${s.fhir.base}</code> · <a href="${s.fhir.base}/metadata" target="_blank" rel="noopener">metadata</a></dd>
        <dt>${t('if.tokens')}</dt><dd id="if-tokens" data-live="${s.fhir.live_tokens}">${tk.items.filter((x) => !x.revoked_at).map((x) => raw(html`<span class="badge">${x.name}: ${x.scopes}</span> `)) }${s.fhir.live_tokens ? '' : '—'}</dd>`;
      $('#if-messages tbody', view).innerHTML = m.items.length ? m.items.map((x) => html`<tr data-id="${x.id}" data-status="${x.status}"><td>${x.id}</td><td>${fmtTime(x.received_at)}</td>
        <td>${x.message_type}</td><td>${x.control_id}</td><td>${x.sending_application}^${x.sending_facility} <small>${x.peer}</small></td><td>${x.status}</td><td>${x.ack_code}</td>
        <td class="error">${x.error || ''}</td><td>${x.status === 'applied' ? '' : raw(html`<button type="button" data-replay="${x.id}">${t('if.replay')}</button>`)}</td></tr>`).join('')
        : html`<tr><td colspan="9" class="muted">—</td></tr>`;
      $('#if-outbox tbody', view).innerHTML = o.items.length ? o.items.map((x) => html`<tr data-id="${x.id}" data-status="${x.status}"><td>${x.id}</td><td>${x.task_id}</td><td>${x.mrn}</td>
        <td>${x.kind || ''}</td><td>${x.status}</td><td>${x.attempts}</td><td>${x.status === 'queued' ? fmtTime(x.next_attempt_at) : ''}</td><td>${x.ack_code || ''}</td>
        <td class="error">${x.last_error || ''}</td><td>${x.status === 'rejected' ? raw(html`<button type="button" data-requeue="${x.id}">${t('if.requeue')}</button>`) : ''}</td></tr>`).join('')
        : html`<tr><td colspan="10" class="muted">—</td></tr>`;
    } catch (e) { toast(failure(e, t('nav.interfaces')), 'error'); }
  };
  view.addEventListener('click', async (e) => {
    const replay = e.target.closest('button[data-replay]');
    const requeue = e.target.closest('button[data-requeue]');
    try {
      if (replay) {
        const r = await api('POST', `/hl7/messages/${replay.dataset.replay}/replay`);
        toast(`#${r.message.id}: ${r.message.status}${r.message.error ? ' · ' + r.message.error : ''}`, r.message.status === 'applied' ? 'ok' : 'error');
      } else if (requeue) {
        await api('POST', `/hl7/outbox/${requeue.dataset.requeue}/requeue`);
        toast('✓', 'ok');
      } else return;
      await load();
    } catch (err) { toast(failure(err, t('nav.interfaces')), 'error'); }
  });
  await load();
  const timer = setInterval(load, 10000);
  return () => clearInterval(timer);
}
