// The nurse's page: today's queue, the claimed task's workspace (patient panel, softphone bar,
// script with autosave, outcome and call-back), keyboard shortcuts. Doctors use it too (their
// own queue of team tasks).
import { api, liveEvents } from './api.js';
import { t, stepName } from './i18n.js';
import { $, html, raw, fmtTime, toast, failure } from './ui.js';
import { mountPatient, refreshTags } from './patient.js';
import { mountScripts } from './script-form.js';
import { createPhone } from './phone.js';
import { trendCharts } from './charts.js';

const DISPOSITIONS = ['completed', 'no_answer', 'busy', 'wrong_number', 'refused', 'callback_requested', 'deceased'];

export async function mount(view, ctx) {
  const me = ctx.me;
  let task = null;
  let renewTimer = null;

  view.innerHTML = html`<div class="nurse">
    <section class="queue card" aria-labelledby="queue-title">
      <h2 id="queue-title">${t('queue.title')} <small id="queue-hours"></small></h2>
      <p class="actions"><button type="button" id="claim" class="primary" aria-keyshortcuts="N">${t('queue.next')} <kbd>N</kbd></button>
        ${me.role !== 'nurse' && me.role !== 'doctor' ? raw(html`<button type="button" id="rebuild">${t('queue.rebuild')}</button>`) : ''}</p>
      <div class="table-wrap"><table id="queue-table"><caption class="sr-only">${t('queue.title')}</caption>
        <thead><tr><th scope="col">#</th><th scope="col">${t('queue.patient')}</th><th scope="col">${t('queue.step')}</th>
        <th scope="col">${t('queue.priority')}</th><th scope="col">${t('queue.due')}</th><th scope="col">${t('queue.attempts')}</th></tr></thead>
        <tbody id="queue-rows"></tbody></table></div>
      <form id="queue-filter" class="inline"><label for="queue-tag">${t('tag.filter')}</label>
        <input id="queue-tag" list="queue-tags" maxlength="64" placeholder="${t('tag.any')}"><datalist id="queue-tags"></datalist>
        <button type="submit">${t('rec.filter')}</button></form>
      <p class="muted small" id="keys-help">${t('keys.title')}: ${t('keys.help')}</p>
    </section>
    <section class="workspace" aria-labelledby="task-title">
      <div class="card task-head"><h2 id="task-title">${t('task.current')}</h2><div id="task-info"><p class="muted">${t('task.none')}</p></div></div>
      <div class="card" id="phone-bar"></div>
      <div class="columns">
        <div class="card" id="patient-panel" aria-label="${t('patient.panel')}"></div>
        <div class="card">
          <div id="script-panel"></div>
          <form id="disposition-form" class="disposition" hidden>
            <h3>${t('disp.title')}</h3>
            <label for="disposition">${t('disp.label')}</label>
            <select id="disposition" required>${DISPOSITIONS.map((d) => raw(html`<option value="${d}">${t('disp.' + d)}</option>`))}</select>
            <label for="callback-at" id="callback-label" hidden>${t('disp.callback')}</label>
            <input id="callback-at" type="datetime-local" hidden>
            <label for="disp-note">${t('disp.note')}</label>
            <textarea id="disp-note" rows="2" maxlength="10000"></textarea>
            <button type="submit" class="primary" id="disp-submit">${t('disp.submit')}</button>
          </form>
        </div>
      </div>
    </section>
  </div>`;

  const phone = createPhone($('#phone-bar', view), { getTask: () => task, onCallEnded: () => $('#disposition', view).focus() });

  async function loadQueue() {
    let q;
    try {
      const tag = $('#queue-tag', view).value.trim();
      q = await api('GET', `/queue?limit=100${tag ? '&tag=' + encodeURIComponent(tag) : ''}`);
    } catch (e) {
      $('#queue-rows', view).innerHTML = html`<tr><td colspan="6" class="error">${failure(e, t('queue.title'))}</td></tr>`;
      return null;
    }
    $('#queue-hours', view).textContent = `${t('queue.hours')} ${q.calling_hours}${q.calling_hours_open ? '' : ' · ' + t('queue.closed')}${q.demo ? ' · ' + t('queue.demo_hours') : ''}`;
    $('#queue-rows', view).innerHTML = q.items.length ? q.items.map((k) => html`<tr data-task="${k.id}" class="${k.lease_owner === me.id ? 'mine' : ''}">
      <td>${k.rank}</td><td>${k.patient_name}</td><td>${stepName(k)}</td><td>${k.priority}</td>
      <td>${fmtTime(k.due_at)} ${k.days_overdue > 0 ? raw(html`<span class="badge overdue">${t('queue.overdue')} ${t('queue.days', { n: k.days_overdue })}</span>`) : ''}
        ${k.lease_owner && k.lease_owner !== me.id ? raw(html`<span class="badge">${t('queue.claimed_by_other')}</span>`) : ''}</td>
      <td>${k.attempts_total}</td></tr>`).join('')
      : html`<tr><td colspan="6" class="muted">${t('queue.empty')}</td></tr>`;
    return q;
  }

  async function openTask(k) {
    task = k;
    clearInterval(renewTimer);
    // keep the lease while the nurse works (it expires if the browser vanishes)
    renewTimer = setInterval(() => api('POST', `/tasks/${k.id}/renew`).catch((e) => toast(failure(e, 'lease'), 'error')), 60000);
    $('#task-info', view).innerHTML = html`<p><strong>${k.patient_name}</strong> · ${stepName(k)} · ${t('queue.attempts')} ${k.attempts_total}
      ${k.days_overdue > 0 ? raw(html`<span class="badge overdue">${t('queue.overdue')} ${t('queue.days', { n: k.days_overdue })}</span>`) : ''}
      <button type="button" id="release" aria-keyshortcuts="R">${t('task.release')} <kbd>R</kbd></button></p>`;
    $('#release', view).addEventListener('click', release);
    phone.render();
    if (k.role === 'team') {
      // a team review is its own workflow (issue 20 item 4): agenda, sign-offs, actions
      $('#disposition-form', view).hidden = true;
      $('#script-panel', view).innerHTML = html`<p>${t('review.from_task')}</p>
        <button type="button" id="open-review" class="primary">${t('review.open')}</button>`;
      $('#open-review', view).addEventListener('click', async () => {
        try {
          const r = await api('POST', `/tasks/${k.id}/review`);
          location.hash = `#/reviews?id=${r.review.id}`;
        } catch (e) { toast(failure(e, t('review.open')), 'error'); }
      });
      await mountPatient($('#patient-panel', view), k.patient_id, ctx, { taskId: k.id });
      return;
    }
    $('#disposition-form', view).hidden = false;
    await Promise.all([
      mountPatient($('#patient-panel', view), k.patient_id, ctx, { taskId: k.id }),
      mountScripts($('#script-panel', view), k, ctx, { callId: () => phone.callId(), onMeasurement: () => refreshTrends(k.patient_id), onTags: () => refreshTags($('#patient-panel', view), k.patient_id) }),
    ]);
  }

  /** Redraws the trend charts after an answer added a measurement. */
  async function refreshTrends(patientId) {
    try {
      const r = await api('GET', `/patients/${patientId}/report`);
      const box = $('#patient-trends', view);
      if (box) box.innerHTML = trendCharts(r.measurements, r.labs);
    } catch (e) { toast(failure(e, t('patient.trends')), 'error'); }
  }

  function closeTask() {
    task = null;
    clearInterval(renewTimer);
    $('#task-info', view).innerHTML = html`<p class="muted">${t('task.none')}</p>`;
    $('#patient-panel', view).innerHTML = '';
    $('#script-panel', view).innerHTML = '';
    $('#disposition-form', view).hidden = true;
    phone.render();
  }

  async function claim() {
    try {
      const r = await api('POST', '/queue/claim');
      await loadQueue();
      await openTask(r.task);
    } catch (e) {
      toast(failure(e, t('queue.next')), 'error');
    }
  }

  async function release() {
    if (!task) return;
    try {
      await api('POST', `/tasks/${task.id}/release`);
      closeTask();
      await loadQueue();
    } catch (e) {
      toast(failure(e, t('task.release')), 'error');
    }
  }

  $('#disposition', view).addEventListener('change', () => {
    const cb = $('#disposition', view).value === 'callback_requested';
    $('#callback-at', view).hidden = !cb;
    $('#callback-label', view).hidden = !cb;
    $('#callback-at', view).required = cb;
  });
  $('#disposition-form', view).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!task) return;
    const d = $('#disposition', view).value;
    const body = { disposition: d };
    const note = $('#disp-note', view).value.trim();
    if (note) body.note = note;
    if (d === 'callback_requested') {
      const v = $('#callback-at', view).value;
      if (!v) { toast(t('disp.callback'), 'error'); return; }
      body.callback_at = new Date(v).toISOString(); // the browser's zone is the hospital's
    }
    const callId = phone.callId();
    if (callId) body.call_id = callId;
    try {
      await api('POST', `/tasks/${task.id}/disposition`, body);
      toast(t('disp.done', { d: t('disp.' + d) }), 'ok');
      $('#disp-note', view).value = '';
      closeTask();
      await loadQueue();
    } catch (e) {
      toast(failure(e, t('disp.submit')), 'error');
    }
  });
  $('#claim', view).addEventListener('click', claim);
  $('#queue-filter', view).addEventListener('submit', (ev) => { ev.preventDefault(); loadQueue(); });
  const rebuild = $('#rebuild', view);
  if (rebuild) rebuild.addEventListener('click', () => api('POST', '/queue/build').then(loadQueue).catch((e) => toast(e.message, 'error')));

  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable) return;
    const k = e.key.toLowerCase();
    const actions = {
      n: () => !task && claim(), r: release, c: () => phone.call('primary'), h: phone.hangup, m: phone.toggleMute,
      d: () => task && $('#disposition', view).focus(), '?': () => toast(t('keys.help')),
    };
    if (actions[k]) { e.preventDefault(); actions[k](); }
  };
  document.addEventListener('keydown', onKey);

  const events = liveEvents({ 'call.state': (d) => phone.onCallState(d) }, loadQueue);

  const q = await loadQueue();
  const mine = q && q.items.find((k) => k.lease_owner === me.id);
  if (mine) await openTask(mine);

  return () => {
    document.removeEventListener('keydown', onKey);
    clearInterval(renewTimer);
    events.close();
    phone.destroy();
  };
}
