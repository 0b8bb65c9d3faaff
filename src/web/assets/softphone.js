// suifang softphone: the nurse's agent line over WebRTC, signaled on /api/v1/agent/ws.
// State is exposed on window.softphone.state for the console and for tests.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  // ?loopback=1 hands over only 127.0.0.1/::1 candidates (tests on a loopback-only machine)
  const loopbackOnly = params.get('loopback') === '1';
  // ?codec=opus (or PCMU/PCMA) restricts what the browser offers, to exercise the server's
  // Opus path; by default the server picks G.711
  const wantCodec = params.get('codec');
  const WANT_LINE = 'suifang.lineWanted';

  const state = {
    user: null,
    socket: 'closed',        // closed | connecting | open
    lineState: 'idle',       // server's view: new | connecting | connected | disconnected | failed | closed
    connectionState: 'new',  // browser's RTCPeerConnection.connectionState
    packetsReceived: 0,
    audioLevel: 0,
    maxAudioLevel: 0,
    totalAudioEnergy: 0,
    answers: 0,
    lineChecks: [],          // {path, rms}
    lineCheck: 'idle',       // idle | recording | playing | done | failed
    errors: [],              // {code, message}
    replaced: false,         // another window took the line over
    codec: null,             // mime type the browser receives, from getStats
    remoteCandidate: null,   // the server address ICE selected, "ip:port"
    call: null,              // {id, state, muted, held, answeredAt} of this agent's call
    callEvents: [],          // names and states of call events received, in order
  };

  let ws = null;
  let pc = null;
  let mic = null;
  let pendingCandidates = [];
  let statsTimer = null;
  let pingTimer = null;
  let reconnectTimer = null;

  const log = (...a) => {
    const line = new Date().toISOString().slice(11, 23) + ' ' + a.join(' ');
    $('log').textContent = (line + '\n' + $('log').textContent).slice(0, 8000);
  };
  const render = () => {
    $('line-state').textContent = state.connectionState === 'connected' ? 'connected' : state.lineState;
    $('line-state').className = 'state ' + (state.connectionState === 'connected' ? 'ok' : 'bad');
    $('audio-in').textContent = `${state.packetsReceived} packets, level ${state.audioLevel.toFixed(3)}`;
    $('connect').disabled = state.socket !== 'closed';
    $('disconnect').disabled = state.socket === 'closed';
    $('line-check').disabled = state.connectionState !== 'connected' ||
      state.lineCheck === 'recording' || state.lineCheck === 'playing';
  };
  const send = (msg) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((json.error && json.error.message) || res.statusText);
    return json;
  }

  async function login(username, password) {
    const r = await api('POST', '/api/v1/session', { username, password });
    showUser(r.user);
    return r.user;
  }

  function showUser(user) {
    state.user = user;
    $('agent').textContent = user.display_name || user.username;
    $('login-form').hidden = true;
    $('line-panel').hidden = false;
    render();
  }

  function connect() {
    sessionStorage.setItem(WANT_LINE, '1');
    clearTimeout(reconnectTimer);
    if (ws) return;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/agent/ws';
    state.socket = 'connecting';
    render();
    ws = new WebSocket(url);
    ws.onopen = () => { state.socket = 'open'; render(); log('socket open'); };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data)).catch((err) => log('error', err.message));
    ws.onclose = () => {
      log('socket closed');
      ws = null;
      state.socket = 'closed';
      clearInterval(pingTimer);
      render();
      // a network blip: come back if the nurse still wants the line
      if (sessionStorage.getItem(WANT_LINE) === '1' && !state.replaced) {
        reconnectTimer = setTimeout(connect, 2000);
      }
    };
    pingTimer = setInterval(() => send({ type: 'ping' }), 20000);
  }

  async function onMessage(msg) {
    switch (msg.type) {
      case 'hello':
        log('hello', msg.agent);
        await startPeer(msg.ice_servers || []);
        break;
      case 'answer':
        state.answers += 1;
        await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
        for (const c of pendingCandidates) await pc.addIceCandidate(c);
        pendingCandidates = [];
        log('answer applied');
        break;
      case 'candidate': {
        const c = { candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex };
        if (pc && pc.remoteDescription) await pc.addIceCandidate(c); else pendingCandidates.push(c);
        break;
      }
      case 'line_state':
        state.lineState = msg.state;
        log('line', msg.state);
        break;
      case 'line_check_started': state.lineCheck = 'recording'; $('check-result').textContent = `Recording ${msg.seconds} s… speak now`; break;
      case 'line_check_playing': state.lineCheck = 'playing'; $('check-result').textContent = 'Playing back…'; break;
      case 'line_check_done':
        state.lineCheck = 'done';
        state.lineChecks.push({ path: msg.path, rms: msg.rms });
        $('check-result').textContent = msg.rms > 0.003
          ? `Done: your microphone works (level ${(msg.rms * 100).toFixed(1)} %).`
          : 'Done, but the recording is silent: check your microphone.';
        break;
      case 'replaced':
        state.replaced = true;
        log('this line was taken over by another window');
        break;
      case 'error':
        state.errors.push({ code: msg.code, message: msg.message });
        if (state.lineCheck === 'recording' || state.lineCheck === 'playing') state.lineCheck = 'failed';
        log('server error', msg.code, msg.message);
        break;
      case 'call':
        onCall(msg.call.id, msg.call.state);
        break;
      case 'call_event':
        state.callEvents.push(`${msg.name}:${msg.data.state || msg.data.digit}`);
        if (msg.name === 'call.state' && (!state.call || state.call.id === msg.data.call_id)) {
          onCall(msg.data.call_id, msg.data.state);
        }
        break;
      case 'pong': break;
      default: log('unknown message', msg.type);
    }
    render();
  }

  async function startPeer(iceServers) {
    if (!mic) mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    if (pc) pc.close();
    pendingCandidates = [];
    pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    const mine = pc;
    for (const track of mic.getAudioTracks()) pc.addTrack(track, mic);
    if (wantCodec) {
      const caps = RTCRtpSender.getCapabilities('audio').codecs;
      const pick = (m) => caps.filter((c) => c.mimeType.toLowerCase() === 'audio/' + m.toLowerCase());
      pc.getTransceivers()[0].setCodecPreferences(pick(wantCodec).concat(pick('telephone-event')));
    }
    pc.ontrack = (e) => {
      const el = $('remote-audio');
      el.srcObject = e.streams[0] || new MediaStream([e.track]);
      el.muted = false;
      el.play().catch((err) => log('autoplay blocked:', err.message));
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      if (loopbackOnly && !/ (127\.0\.0\.1|::1) /.test(e.candidate.candidate)) return;
      send({ type: 'candidate', ...e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc !== mine) return;
      state.connectionState = pc.connectionState;
      log('peer', pc.connectionState);
      render();
      // a network change broke ICE while the socket survived: negotiate a fresh connection
      // (the server replaces the old one; an attached call stays attached)
      if (pc.connectionState === 'failed' && ws && ws.readyState === WebSocket.OPEN) {
        log('line failed; reconnecting');
        startPeer(iceServers).catch((err) => log('reconnect failed:', err.message));
      }
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: 'offer', sdp: offer.sdp });
    clearInterval(statsTimer);
    statsTimer = setInterval(pollStats, 250);
  }

  async function pollStats() {
    if (!pc) return;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        state.packetsReceived = s.packetsReceived || 0;
        state.audioLevel = s.audioLevel || 0;
        state.totalAudioEnergy = s.totalAudioEnergy || 0;
        state.maxAudioLevel = Math.max(state.maxAudioLevel, state.audioLevel);
        const codec = s.codecId && report.get(s.codecId);
        if (codec) state.codec = codec.mimeType;
      }
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        const remote = pair && report.get(pair.remoteCandidateId);
        if (remote) state.remoteCandidate = `${remote.address || remote.ip}:${remote.port}`;
      }
    });
    render();
  }

  function lineCheck(seconds) {
    state.lineCheck = 'recording';
    send({ type: 'line_check', seconds });
    render();
  }

  function disconnect() {
    sessionStorage.removeItem(WANT_LINE);
    send({ type: 'hangup_line' });
    if (ws) ws.close();
    if (pc) pc.close();
    pc = null;
    clearInterval(statsTimer);
    state.connectionState = 'closed';
    render();
  }

  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    login($('username').value, $('password').value).catch((err) => log('login failed:', err.message));
  });
  $('connect').addEventListener('click', connect);
  $('disconnect').addEventListener('click', disconnect);
  $('line-check').addEventListener('click', () => lineCheck(Number($('check-seconds').value) || 5));

  // Calls: commands go over the socket; the result (`call`) and live `call_event`s update
  // state.call. A reload finds a live call again through the call API.
  function onCall(id, callState) {
    if (callState === 'ended' || callState === 'transferred' || callState === 'released') {
      if (state.call && state.call.id === id) state.call = null;
    } else {
      const previous = state.call && state.call.id === id ? state.call : { muted: false, held: false };
      state.call = { ...previous, id, state: callState };
      if (callState === 'answered' && !state.call.answeredAt) state.call.answeredAt = Date.now();
    }
    renderCall();
  }
  function renderCall() {
    const c = state.call;
    $('call-state').textContent = c ? c.state : 'none';
    for (const id of ['hangup', 'mute', 'hold', 'dtmf']) $(id).disabled = !c;
    $('dial').disabled = !!c;
    $('mute').setAttribute('aria-pressed', String(!!(c && c.muted)));
    $('hold').setAttribute('aria-pressed', String(!!(c && c.held)));
    $('call-timer').textContent = c && c.answeredAt
      ? new Date(Date.now() - c.answeredAt).toISOString().slice(14, 19) : '';
  }
  setInterval(renderCall, 1000);
  const callCommand = (msg) => { if (state.call) send({ ...msg, call_id: state.call.id }); };
  const dial = (taskId) => send({ type: 'dial', task_id: Number(taskId) });
  $('dial').addEventListener('click', () => dial($('dial-task').value));
  $('hangup').addEventListener('click', () => callCommand({ type: 'hangup' }));
  $('dtmf').addEventListener('click', () => callCommand({ type: 'dtmf', digits: $('dtmf-digits').value }));
  $('mute').addEventListener('click', () => {
    state.call.muted = !state.call.muted;
    callCommand({ type: 'mute', muted: state.call.muted });
  });
  $('hold').addEventListener('click', () => {
    state.call.held = !state.call.held;
    callCommand({ type: 'hold', held: state.call.held });
  });

  window.softphone = { state, login, connect, lineCheck, disconnect, send, dial, callCommand };

  // Already logged in (e.g. a reload): show the line and reconnect it if it was connected.
  api('GET', '/api/v1/me').then((r) => {
    showUser(r.user);
    api('GET', '/api/v1/calls?live=true').then((calls) => {
      const mine = (calls.items || []).find((c) => c.agent_id === r.user.id);
      if (mine) onCall(mine.id, mine.state);
    }).catch(() => {});
    if (sessionStorage.getItem(WANT_LINE) === '1') connect();
  }).catch(() => render());
})();
