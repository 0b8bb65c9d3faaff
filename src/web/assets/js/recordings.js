// Recordings browser (filters, transcript search), the player with a waveform and the transcript
// in sync (click a line to seek), QA scoring, and the audited download.
import { api, requireRoute, hasRoute } from './api.js';
import { t } from './i18n.js';
import { $, $$, html, raw, fmtTime, fmtDuration, toast, failure } from './ui.js';

const DISPOSITIONS = ['completed', 'no_answer', 'busy', 'wrong_number', 'refused', 'callback_requested', 'deceased'];
const CRITERIA = ['identity_checked', 'consent_announced', 'script_followed', 'red_flags_handled', 'communication', 'documentation'];

export async function mount(view, ctx) {
  const nurses = [...ctx.staff.values()].filter((u) => u.role === 'nurse');
  view.innerHTML = html`<div class="recordings">
    <section class="card" aria-labelledby="rec-title"><h2 id="rec-title">${t('rec.title')}</h2>
      <form id="rec-filter" class="inline">
        <label>${t('rec.from')} <input type="date" name="from"></label>
        <label>${t('rec.to')} <input type="date" name="to"></label>
        <label>${t('rec.nurse')} <select name="agent_id"><option value="">${t('rec.any')}</option>${nurses.map((u) => raw(html`<option value="${u.id}">${u.display_name}</option>`))}</select></label>
        <label>${t('rec.patient')} <input name="patient" size="10"></label>
        <label>${t('rec.disposition')} <select name="disposition"><option value="">${t('rec.any')}</option>${DISPOSITIONS.map((d) => raw(html`<option value="${d}">${t('disp.' + d)}</option>`))}</select></label>
        <label>${t('rec.escalated')} <select name="escalated"><option value="">${t('rec.any')}</option><option value="true">${t('script.yes')}</option><option value="false">${t('script.no')}</option></select></label>
        <button type="submit" class="primary">${t('rec.filter')}</button>
      </form>
      <form id="rec-search" class="inline" role="search">
        <label>${t('rec.search')} <input type="search" name="q" id="rec-q"></label> <button type="submit">${t('rec.search_go')}</button>
      </form>
      <div id="rec-search-results"></div>
      <div class="table-wrap"><table id="rec-table"><thead><tr><th scope="col">${t('rec.started')}</th><th scope="col">${t('rec.nurse')}</th>
        <th scope="col">${t('queue.patient')}</th><th scope="col">${t('rec.duration')}</th><th scope="col">${t('rec.disposition')}</th>
        <th scope="col">${t('rec.escalated')}</th><th scope="col">${t('rec.qa')}</th><th scope="col"></th></tr></thead><tbody></tbody></table></div>
    </section>
    <section class="card" id="player" aria-live="polite" hidden></section>
  </div>`;

  async function list() {
    const f = new FormData($('#rec-filter', view));
    const q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (v) q.set(k, v);
    const body = $('#rec-table tbody', view);
    let r;
    try {
      r = await api('GET', `/recordings?${q}`);
    } catch (e) {
      body.innerHTML = html`<tr><td colspan="8" class="error">${failure(e, t('rec.title'))}</td></tr>`;
      return;
    }
    body.innerHTML = r.items.length ? r.items.map((x) => html`<tr data-recording="${x.recording_id}" data-call="${x.call_id}">
      <td>${fmtTime(x.started_at)}</td><td>${x.agent_name || ''}</td><td>${x.patient_name || ''} <small>${x.mrn || ''}</small></td>
      <td>${fmtDuration(x.duration_ms)}</td><td>${x.disposition ? t('disp.' + x.disposition) : ''}</td>
      <td>${x.escalated ? raw('<span class="badge sev-high">⚠</span>') : ''}</td><td>${x.review_total ?? ''}</td>
      <td><button type="button" class="play">▶ ${t('rec.play')}</button></td></tr>`).join('')
      : html`<tr><td colspan="8" class="muted">${t('rec.none')}</td></tr>`;
    $('#rec-table', view).dataset.query = q.toString(); // which filter the rows answer
  }

  $('#rec-filter', view).addEventListener('submit', (e) => { e.preventDefault(); list(); });
  $('#rec-table', view).addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-recording]');
    if (tr && e.target.closest('.play')) play(view, Number(tr.dataset.recording), tr.dataset.call);
  });
  $('#rec-search', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('#rec-search-results', view);
    try {
      await requireRoute('GET', '/transcripts/search');
      const r = await api('GET', `/transcripts/search?q=${encodeURIComponent($('#rec-q', view).value)}`);
      const hits = r.items || r.results || [];
      out.innerHTML = hits.length ? html`<ul class="hits">${hits.map((h) => raw(html`<li><button type="button" class="link" data-call="${h.call_id}" data-recording="${h.recording_id ?? ''}" data-ms="${h.start_ms ?? 0}">
        ${fmtTime(h.started_at || h.at)} ${h.patient_name || ''}: “${h.text || h.snippet || ''}”</button></li>`))}</ul>` : html`<p class="muted">${t('rec.none')}</p>`;
    } catch (err) {
      out.innerHTML = html`<p class="muted">${failure(err, t('rec.search'))}</p>`;
    }
  });
  $('#rec-search-results', view).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-call]');
    if (b && b.dataset.recording) play(view, Number(b.dataset.recording), b.dataset.call, Number(b.dataset.ms) / 1000);
  });
  await list();
}

/** Peaks of the decoded audio drawn as an SVG waveform; clicking it seeks. */
async function waveform(root, audio, url) {
  try {
    const buf = await (await fetch(url, { credentials: 'same-origin' })).arrayBuffer();
    const ac = new OfflineAudioContext(1, 1, 8000);
    const data = await ac.decodeAudioData(buf);
    const W = 800, H = 80, n = 400;
    const chans = [...Array(data.numberOfChannels).keys()].map((c) => data.getChannelData(c));
    const step = Math.max(1, Math.floor(chans[0].length / n));
    const bars = [];
    for (let i = 0; i < n; i++) {
      let peak = 0;
      for (const ch of chans) for (let j = i * step; j < Math.min((i + 1) * step, ch.length); j++) peak = Math.max(peak, Math.abs(ch[j]));
      const h = Math.max(1, peak * H);
      bars.push(`<rect x="${(i * W) / n}" y="${(H - h) / 2}" width="${W / n - 0.5}" height="${h}"/>`);
    }
    root.innerHTML = `<svg class="waveform" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="waveform">${bars.join('')}<line id="playhead" x1="0" x2="0" y1="0" y2="${H}"/></svg>`;
    const svg = root.firstChild;
    svg.addEventListener('click', (e) => {
      const r = svg.getBoundingClientRect();
      audio.currentTime = ((e.clientX - r.left) / r.width) * data.duration;
      audio.play().catch(() => {});
    });
    audio.addEventListener('timeupdate', () => {
      const x = (audio.currentTime / data.duration) * W;
      svg.querySelector('#playhead').setAttribute('x1', x);
      svg.querySelector('#playhead').setAttribute('x2', x);
    });
  } catch (e) {
    root.innerHTML = html`<p class="muted">${failure(e, 'waveform')}</p>`;
  }
}

async function play(view, recordingId, callId, at = 0) {
  const box = $('#player', view);
  box.hidden = false;
  // the transcription helper's streaming endpoint (Range) when served; else the audited
  // download, which plays too (every access to a recording is audited either way)
  const audioUrl = (await hasRoute('GET', '/recordings/{id}/audio'))
    ? `/api/v1/recordings/${recordingId}/audio` : `/api/v1/recordings/${recordingId}/download`;
  box.innerHTML = html`<h2>${t('rec.play')} · ${callId}</h2>
    <audio id="audio" controls preload="auto" src="${audioUrl}"></audio>
    <a class="button" href="/api/v1/recordings/${recordingId}/download" download>${t('rec.download')}</a>
    <div id="wave"></div>
    <h3>${t('rec.transcript')}</h3><ol id="transcript" class="transcript"></ol>
    <form id="qa-form" class="qa"><h3>${t('qa.title')}</h3>
      ${CRITERIA.map((c) => raw(html`<fieldset><legend>${t('qa.' + c)}</legend>${[0, 1, 2].map((v) => raw(html`<label><input type="radio" name="${c}" value="${v}" ${v === 2 ? raw('checked') : ''}> ${t('qa.' + v)}</label>`))}</fieldset>`))}
      <label for="qa-comment">${t('qa.comment')}</label><textarea id="qa-comment" rows="2" maxlength="4000"></textarea>
      <button type="submit" class="primary">${t('qa.save')}</button> <span id="qa-result" aria-live="polite"></span>
      <ul id="qa-history" class="small"></ul>
    </form>`;
  const audio = $('#audio', box);
  if (at) audio.addEventListener('loadedmetadata', () => { audio.currentTime = at; }, { once: true });
  waveform($('#wave', box), audio, audioUrl);

  const list = $('#transcript', box);
  try {
    await requireRoute('GET', '/calls/{id}/transcript');
    const tr = await api('GET', `/calls/${encodeURIComponent(callId)}/transcript`);
    const segs = tr.segments || tr.items || [];
    // low-confidence segments: whisper was unsure of these words (issue 23)
    list.innerHTML = segs.length ? segs.map((s) => html`<li class="${s.speaker}${s.low_confidence ? ' unsure' : ''}" data-start="${s.start_ms}" data-end="${s.end_ms}" tabindex="0"${s.low_confidence ? raw(html` title="${t('rec.unsure')}"`) : ''}>
      <span class="ts">${fmtDuration(s.start_ms)}</span> <b>${t(s.speaker === 'agent' ? 'rec.agent' : 'rec.patient_ch')}</b> ${s.text}${s.low_confidence ? raw(html` <span class="unsure-mark">(${t('rec.unsure_short')})</span>`) : ''}</li>`).join('')
      : html`<li class="muted">${t('rec.no_transcript')}</li>`;
  } catch (e) {
    list.innerHTML = html`<li class="muted">${failure(e, t('rec.transcript'))}</li>`;
  }
  const seek = (li) => { audio.currentTime = Number(li.dataset.start) / 1000; audio.play().catch(() => {}); };
  list.addEventListener('click', (e) => { const li = e.target.closest('li[data-start]'); if (li) seek(li); });
  list.addEventListener('keydown', (e) => { const li = e.target.closest('li[data-start]'); if (li && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); seek(li); } });
  audio.addEventListener('timeupdate', () => {
    const ms = audio.currentTime * 1000;
    for (const li of $$('li[data-start]', list)) li.classList.toggle('current', ms >= Number(li.dataset.start) && ms < Number(li.dataset.end));
  });

  const history = async () => {
    try {
      const r = await api('GET', `/calls/${encodeURIComponent(callId)}/reviews`);
      $('#qa-history', box).innerHTML = r.items.map((v) => html`<li>${fmtTime(v.created_at)} · ${v.reviewer} · ${v.total}/${v.max} ${v.comment}</li>`).join('');
    } catch (e) { $('#qa-history', box).innerHTML = html`<li class="muted">${failure(e, t('qa.title'))}</li>`; }
  };
  $('#qa-form', box).addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const scores = Object.fromEntries(CRITERIA.map((c) => [c, Number(f.get(c))]));
    try {
      const r = await api('POST', `/calls/${encodeURIComponent(callId)}/reviews`, { scores, comment: $('#qa-comment', box).value });
      $('#qa-result', box).textContent = t('qa.saved', { total: r.review.total, max: r.review.max });
      await history();
    } catch (err) { toast(failure(err, t('qa.title')), 'error'); }
  });
  await history();
}
