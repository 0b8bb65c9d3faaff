// The softphone bar: the nurse's WebRTC agent line (signaled on /api/v1/agent/ws, one
// persistent peer connection) and call control through the calls API. Call state comes from
// the API's replies and the live `call.state` events. State is on window.suifangPhone for tests.
import { api, requireRoute } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, failure, toast } from './ui.js';

const loopbackOnly = new URLSearchParams(location.search).get('loopback') === '1';

/** Error codes of a dial refused for the patient's sake (REST and socket send the same). */
const REFUSALS = ['outside_calling_hours', 'do_not_call'];

export function createPhone(root, { getTask, onCallEnded, lineOnly = false } = {}) {
  const state = {
    line: 'off', // off | connecting | connected | failed
    call: null, // {id, state, started, muted, held}
    error: null,
  };
  window.suifangPhone = state;
  let ws = null, pc = null, mic = null, pending = [], timer = null, closed = false;

  root.innerHTML = html`<div class="phone" role="group" aria-label="${t('phone.title')}">
    <span class="line-state" id="line-state"></span>
    <button type="button" id="line-toggle"></button>
    <span class="divider"></span>
    <div class="call-controls"${lineOnly ? raw(' hidden') : ''}>
    <button type="button" id="call-primary" class="primary">${t('phone.call')}</button>
    <button type="button" id="call-alt">${t('phone.call_alt')}</button>
    <button type="button" id="hangup" class="danger">${t('phone.hangup')}</button>
    <button type="button" id="mute" aria-pressed="false">${t('phone.mute')}</button>
    <button type="button" id="hold" aria-pressed="false">${t('phone.hold')}</button>
    <details class="dtmf"><summary>${t('phone.dtmf')}</summary><div class="pad">${
      raw(['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'].map((d) => html`<button type="button" data-dtmf="${d}">${d}</button>`).join(''))}</div></details>
    <span class="call-state" id="call-state" aria-live="polite"></span>
    <span class="timer" id="call-timer" aria-label="timer">0:00</span>
    </div>
    <p class="call-refused" id="call-refused" role="alert" hidden></p>
    <audio id="phone-audio" autoplay></audio>
  </div>`;

  const render = () => {
    const c = state.call;
    $('#line-state', root).textContent = state.line === 'connected' ? '● ' + t('phone.line_on') : '○ ' + t('phone.line_off');
    $('#line-state', root).className = 'line-state ' + (state.line === 'connected' ? 'ok' : 'bad');
    $('#line-toggle', root).textContent = state.line === 'off' || state.line === 'failed' ? t('phone.connect') : t('phone.disconnect');
    const live = c && c.state !== 'ended';
    const task = getTask && getTask();
    $('#call-primary', root).disabled = !!live || !task;
    $('#call-alt', root).disabled = !!live || !task;
    for (const id of ['hangup', 'mute', 'hold']) $('#' + id, root).disabled = !live;
    $('#mute', root).setAttribute('aria-pressed', String(!!(c && c.muted)));
    $('#mute', root).textContent = c && c.muted ? t('phone.unmute') : t('phone.mute');
    $('#hold', root).setAttribute('aria-pressed', String(!!(c && c.held)));
    $('#hold', root).textContent = c && c.held ? t('phone.resume') : t('phone.hold');
    $('#call-state', root).textContent = `${t('phone.state')}: ${c ? t('call.' + c.state) : t('phone.idle')}`;
  };

  const tick = () => {
    const c = state.call;
    const s = c && c.answeredAt ? Math.floor((Date.now() - c.answeredAt) / 1000) : 0;
    $('#call-timer', root).textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };

  const send = (m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

  async function startPeer(iceServers) {
    if (!mic) mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    if (pc) pc.close();
    pending = [];
    pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    for (const tr of mic.getAudioTracks()) pc.addTrack(tr, mic);
    pc.ontrack = (e) => {
      const el = $('#phone-audio', root);
      el.srcObject = e.streams[0] || new MediaStream([e.track]);
      el.play().catch(() => {});
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      if (loopbackOnly && !/ (127\.0\.0\.1|::1) /.test(e.candidate.candidate)) return;
      send({ type: 'candidate', ...e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      state.line = pc.connectionState === 'connected' ? 'connected' : pc.connectionState === 'failed' ? 'failed' : 'connecting';
      render();
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: 'offer', sdp: offer.sdp });
  }

  function connect() {
    if (ws) return;
    closed = false;
    state.line = 'connecting';
    render();
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/agent/ws');
    ws.onmessage = async (e) => {
      const msg = JSON.parse(e.data);
      try {
        if (msg.type === 'hello') await startPeer(msg.ice_servers || []);
        else if (msg.type === 'answer') {
          await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
          for (const c of pending) await pc.addIceCandidate(c);
          pending = [];
        } else if (msg.type === 'candidate') {
          const c = { candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex };
          if (pc && pc.remoteDescription) await pc.addIceCandidate(c); else pending.push(c);
        } else if (msg.type === 'error') {
          state.error = msg.message;
          toast(msg.message, 'error');
          refused(msg.code, msg.message);
        }
      } catch (err) {
        state.error = err.message;
      }
    };
    ws.onclose = () => {
      ws = null;
      if (state.line !== 'failed') state.line = 'off';
      render();
      if (!closed) setTimeout(connect, 2000);
    };
  }

  function disconnect() {
    closed = true;
    send({ type: 'hangup_line' });
    if (ws) ws.close();
    if (pc) pc.close();
    pc = null;
    state.line = 'off';
    render();
  }

  function setCall(update) {
    const before = state.call;
    state.call = { ...(before || {}), ...update };
    if (update.state === 'answered' && !state.call.answeredAt) state.call.answeredAt = Date.now();
    // 'released': she hung up before an answer; the server finishes cancelling on its own
    if (update.state === 'ended' || update.state === 'released') {
      clearInterval(timer);
      timer = null;
      if (onCallEnded) onCallEnded(state.call);
    } else if (!timer) {
      timer = setInterval(tick, 500);
    }
    render();
  }

  async function call(contact = 'primary') {
    const task = getTask && getTask();
    if (!task) return;
    if (state.line !== 'connected') toast(t('phone.line_off'), 'error');
    try {
      await requireRoute('POST', '/tasks/{id}/call');
      const r = await api('POST', `/tasks/${task.id}/call`, { contact });
      setCall({ id: r.id || r.call_id, state: r.state || 'dialing', muted: false, held: false, answeredAt: null });
      refused(null);
    } catch (e) {
      toast(failure(e, t('phone.call')), 'error');
      refused(e.code, e.message);
    }
  }

  /** A dial refused for the patient's sake (calling hours, do-not-call) stays on the bar. */
  function refused(code, message) {
    const box = $('#call-refused', root);
    if (!REFUSALS.includes(code)) { box.hidden = true; return; }
    box.dataset.code = code;
    box.textContent = `${t('err.' + code)} — ${message}`;
    box.hidden = false;
  }

  async function control(path, body, update) {
    if (!state.call) return;
    try {
      await requireRoute('POST', `/calls/{id}/${path}`);
      await api('POST', `/calls/${encodeURIComponent(state.call.id)}/${path}`, body);
      if (update) setCall(update);
    } catch (e) {
      toast(failure(e, path), 'error');
    }
  }
  const hangup = () => control('hangup', {}, null);
  const toggleMute = () => control('mute', { muted: !(state.call && state.call.muted) }, { muted: !(state.call && state.call.muted) });
  const toggleHold = () => control('hold', { held: !(state.call && state.call.held) }, { held: !(state.call && state.call.held) });
  const dtmf = (digits) => control('dtmf', { digits }, null);

  $('#line-toggle', root).addEventListener('click', () => (state.line === 'off' || state.line === 'failed' ? connect() : disconnect()));
  $('#call-primary', root).addEventListener('click', () => call('primary'));
  $('#call-alt', root).addEventListener('click', () => call('alternate'));
  $('#hangup', root).addEventListener('click', hangup);
  $('#mute', root).addEventListener('click', toggleMute);
  $('#hold', root).addEventListener('click', toggleHold);
  root.querySelector('.pad').addEventListener('click', (e) => { if (e.target.dataset.dtmf) dtmf(e.target.dataset.dtmf); });
  render();

  return {
    state, connect, disconnect, call, hangup, toggleMute, toggleHold, dtmf, render,
    callId: () => (state.call && state.call.state !== 'ended' ? state.call.id : state.call ? state.call.id : null),
    /** A `call.state` live event. */
    onCallState(data) {
      if (!data || !data.call_id) return;
      if (state.call && state.call.id !== data.call_id) return;
      if (!state.call) {
        const task = getTask && getTask();
        if (!task || data.task_id !== task.id) return;
      }
      setCall({ id: data.call_id, state: data.state, reason: data.reason });
    },
    destroy() { closed = true; clearInterval(timer); if (ws) ws.close(); if (pc) pc.close(); },
  };
}
