// The doctor's escalation inbox: live push over SSE (with a tone for urgent ones), acknowledge,
// resolve with an action and a note, the patient's timeline with trends and the recording
// excerpt that triggered it, and calling the patient.
import { api, liveEvents, requireRoute, hasRoute } from './api.js';
import { t } from './i18n.js';
import { $, $$, html, raw, bi, fmtTime, toast, failure, severityBadge } from './ui.js';
import { mountPatient } from './patient.js';

const ACTIONS = ['call_patient', 'advise_er', 'adjust_medication', 'book_visit', 'other'];
const URGENT = ['urgent', 'emergency'];
const SOUND_KEY = 'suifang.urgentSound';

/** A short two-tone alert with Web Audio (no audio file to ship). */
function chime() {
  if (localStorage.getItem(SOUND_KEY) === 'off') return false;
  try {
    const ac = new (window.AudioContext || window.webkitAudioContext)();
    const now = ac.currentTime;
    [880, 660, 880].forEach((f, i) => {
      const o = ac.createOscillator(), g = ac.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.2, now + i * 0.18);
      g.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.16);
      o.connect(g).connect(ac.destination);
      o.start(now + i * 0.18);
      o.stop(now + i * 0.18 + 0.17);
    });
    setTimeout(() => ac.close().catch(() => {}), 1000);
    return true;
  } catch { return false; }
}

export async function mount(view, ctx) {
  const mineOnly = ctx.me.role === 'doctor';
  const live = { pushes: [], chimes: 0 };
  window.suifangInbox = live;
  let selected = null;
  view.innerHTML = html`<div class="doctor">
    <section class="card inbox" aria-labelledby="inbox-title">
      <h2 id="inbox-title">${t('inbox.title')} <span id="inbox-count" class="badge"></span></h2>
      <label class="small"><input type="checkbox" id="sound" ${localStorage.getItem(SOUND_KEY) === 'off' ? '' : raw('checked')}> ${t('inbox.sound')}</label>
      <div id="push" role="alert" aria-live="assertive"></div>
      <ul id="inbox-list" class="inbox-list"></ul>
    </section>
    <section class="card detail" id="detail" aria-live="polite"></section>
  </div>`;
  $('#sound', view).addEventListener('change', (e) => localStorage.setItem(SOUND_KEY, e.target.checked ? 'on' : 'off'));

  async function load() {
    let r;
    try {
      r = await api('GET', `/escalations${mineOnly ? '?mine=true' : ''}`);
    } catch (e) {
      $('#inbox-list', view).innerHTML = html`<li class="error">${failure(e, t('inbox.title'))}</li>`;
      return [];
    }
    $('#inbox-count', view).textContent = r.items.length;
    $('#inbox-list', view).innerHTML = r.items.length ? r.items.map((e) => html`<li>
      <button type="button" class="inbox-item sev-${e.severity} ${selected === e.id ? 'selected' : ''}" data-id="${e.id}">
        ${raw(severityBadge(e.severity))} <strong>${e.key.rule}</strong> · #${e.key.patient}
        <span class="muted">${fmtTime(e.opened_at)} · ${t('status.' + e.status.status)}</span></button></li>`).join('')
      : html`<li class="muted">${t('inbox.none')}</li>`;
    return r.items;
  }

  async function open(id) {
    selected = id;
    $$('.inbox-item', view).forEach((b) => b.classList.toggle('selected', Number(b.dataset.id) === id));
    const box = $('#detail', view);
    let e;
    try {
      e = await api('GET', `/escalations/${id}`);
    } catch (err) {
      box.innerHTML = html`<p class="error">${failure(err, t('inbox.title'))}</p>`;
      return;
    }
    const status = e.status.status;
    const ev = e.evidence.map((x) => raw(html`<li>${fmtTime(x.at)} · ${raw(severityBadge(x.severity))} ${x.source.kind}
      <ul>${x.evidence.answers.map(([, q, a]) => raw(html`<li>${q}: <strong>${a}</strong></li>`))}
      ${(x.evidence.trends || []).map((tr) => raw(html`<li>${JSON.stringify(tr)}</li>`))}
      ${(x.evidence.excerpts || []).map((s) => raw(html`<li class="excerpt">“${typeof s === 'string' ? s : s.text || JSON.stringify(s)}”</li>`))}
      ${(x.evidence.labs || []).map((l) => raw(html`<li class="lab">${t('lab.' + l.lab) === 'lab.' + l.lab ? l.lab : t('lab.' + l.lab)}: <strong>${l.value} ${l.unit}</strong>${l.flags.length ? ' (' + l.flags.join(',') + ')' : ''} · ${t('lab.status.' + l.status)} · ${fmtTime(l.observed_at)}${l.baseline != null ? ` · ${t('lab.baseline')} ${l.baseline} ${l.unit} (${fmtTime(l.baseline_at)})` : ''}</li>`))}
      ${x.advice ? raw(html`<li class="advice-given"><strong>${t('inbox.advised')}:</strong> ${bi(x.advice)}</li>`) : ''}</ul></li>`));
    const calls = [...new Set(e.evidence.map((x) => x.source.call).filter(Boolean))];
    box.innerHTML = html`<h2>${raw(severityBadge(e.severity))} ${e.key.rule} <small>${e.key.script}</small></h2>
      <p>${t('inbox.status')}: <strong id="esc-status">${t('status.' + status)}</strong> · ${t('inbox.level')}: ${e.level}
        · ${t('inbox.opened')}: ${fmtTime(e.opened_at)} · ack ≤ ${fmtTime(e.ack_due_at)}</p>
      <p>→ ${[...new Set(e.notified.map((n) => ctx.name(n.user)))].join(', ')}</p>
      <h3>${t('inbox.evidence')}</h3><ul class="evidence">${ev}</ul>
      <div class="actions">
        <button type="button" id="ack" class="primary" ${status !== 'open' ? raw('disabled') : ''}>${t('inbox.ack')}</button>
        <button type="button" id="call-patient">${t('inbox.call')}</button>
      </div>
      <form id="resolve-form" class="resolve" ${status === 'resolved' ? raw('hidden') : ''}>
        <label for="resolve-action">${t('inbox.action')}</label>
        <select id="resolve-action">${ACTIONS.map((a) => raw(html`<option value="${a}">${t('action.' + a)}</option>`))}</select>
        <label for="resolve-note">${t('inbox.note')}</label>
        <textarea id="resolve-note" rows="2" required></textarea>
        <button type="submit">${t('inbox.resolve')}</button>
      </form>
      <h3>${t('inbox.excerpt')}</h3><div id="excerpt">${calls.length ? '' : raw(html`<p class="muted">${t('rec.no_transcript')}</p>`)}</div>
      <h3>${t('inbox.timeline')}</h3><div id="esc-patient"></div>`;
    $('#ack', box).addEventListener('click', async () => {
      try {
        await api('POST', `/escalations/${id}/acknowledge`);
        toast(t('status.acknowledged'), 'ok');
        await load();
        await open(id);
      } catch (err) { toast(failure(err, t('inbox.ack')), 'error'); }
    });
    $('#resolve-form', box).addEventListener('submit', async (evt) => {
      evt.preventDefault();
      try {
        await api('POST', `/escalations/${id}/resolve`, { action: $('#resolve-action', box).value, note: $('#resolve-note', box).value });
        toast(t('status.resolved'), 'ok');
        await load();
        await open(id);
      } catch (err) { toast(failure(err, t('inbox.resolve')), 'error'); }
    });
    $('#call-patient', box).addEventListener('click', async () => {
      // Placing a call from the inbox needs a call API that takes a patient (not a claimed task).
      try {
        await requireRoute('POST', '/patients/{id}/call');
        await api('POST', `/patients/${e.key.patient}/call`, { contact: 'primary' });
      } catch (err) { toast(failure(err, t('inbox.call')), 'error'); }
    });
    for (const callId of calls) loadExcerpt($('#excerpt', box), callId);
    mountPatient($('#esc-patient', box), e.key.patient, ctx);
  }

  $('#inbox-list', view).addEventListener('click', (e) => {
    const b = e.target.closest('.inbox-item');
    if (b) open(Number(b.dataset.id));
  });

  const onPush = async (data, name) => {
    live.pushes.push({ name, data });
    const items = await load();
    const e = items.find((x) => x.id === data.escalation_id);
    const sev = e ? e.severity : 'high';
    $('#push', view).innerHTML = html`<p class="push sev-${sev}">${t('inbox.new')}: ${raw(severityBadge(sev))} ${e ? e.key.rule : '#' + data.escalation_id}
      ${data.advice ? raw(html`<br><small class="push-advice">${t('inbox.advised')}: ${bi(data.advice)}</small>`) : ''}</p>`;
    if (URGENT.includes(sev) && (name === 'escalation.opened' || name === 'escalation.raised' || name === 'escalation.reescalated')) {
      if (chime()) live.chimes += 1;
    }
  };
  const events = liveEvents({
    'escalation.opened': onPush, 'escalation.raised': onPush, 'escalation.reescalated': onPush,
    'escalation.updated': () => load(), 'escalation.acknowledged': () => load(),
  }, load);
  await load();
  return () => events.close();
}

/** The transcript around the triggering call, with audio when the recording exists. */
async function loadExcerpt(root, callId) {
  try {
    await requireRoute('GET', '/calls/{id}/transcript');
    const tr = await api('GET', `/calls/${encodeURIComponent(callId)}/transcript`);
    const segs = tr.segments || tr.items || [];
    root.insertAdjacentHTML('beforeend', html`<ol class="transcript small">${segs.slice(0, 40).map((s) => raw(html`<li class="${s.speaker}">
      <span class="ts">${(s.start_ms / 1000).toFixed(1)}s</span> <b>${t(s.speaker === 'agent' ? 'rec.agent' : 'rec.patient_ch')}</b> ${s.text}</li>`))}</ol>`);
    // the transcript names its audio (served with Range, audited by the server)
    if (tr.audio && /^\/api\/v1\/recordings\/\d+\/audio$/.test(tr.audio) && await hasRoute('GET', '/recordings/{id}/audio')) {
      root.insertAdjacentHTML('beforeend', html`<audio controls preload="none" src="${tr.audio}"></audio>`);
    }
  } catch (e) {
    root.insertAdjacentHTML('beforeend', html`<p class="muted">${failure(e, t('inbox.excerpt'))}</p>`);
  }
}
