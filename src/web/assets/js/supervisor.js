// The supervisor's wallboard: agents, queue depth, today's counts, open escalations by age, and
// live calls with listen / whisper / barge. Refreshed by live events and every 10 s.
import { api, liveEvents, requireRoute } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, fmtTime, toast, failure } from './ui.js';
import { createPhone } from './phone.js';

const tile = (label, value, cls = '') => html`<div class="tile ${cls}"><span class="value">${value}</span><span class="label">${label}</span></div>`;

export async function mount(view, ctx) {
  view.innerHTML = html`<div class="wall">
    <section class="card" aria-labelledby="wall-title"><h2 id="wall-title">${t('wall.title')} <small id="wall-at"></small></h2>
      <div class="wall-grid">
        <div><h3>${t('wall.queue')}</h3><div class="tiles" id="wall-queue"></div></div>
        <div><h3>${t('wall.today')}</h3><div class="tiles" id="wall-today"></div></div>
        <div><h3>${t('wall.escalations')}</h3><div class="tiles" id="wall-esc"></div></div>
      </div>
      <h3>${t('wall.agents')}</h3>
      <table id="wall-agents"><thead><tr><th scope="col">${t('rec.nurse')}</th><th scope="col">${t('phone.state')}</th>
        <th scope="col">${t('wall.attempted')}</th><th scope="col">${t('wall.completed')}</th></tr></thead><tbody></tbody></table>
    </section>
    <section class="card" aria-labelledby="live-title"><h2 id="live-title">${t('live.title')}</h2>
      <p class="muted small">${t('live.line_hint')}</p><div id="sup-phone"></div><div id="live-calls"></div></section>
  </div>`;

  async function loadBoard() {
    let w;
    try {
      w = await api('GET', '/wallboard');
    } catch (e) {
      $('#wall-queue', view).innerHTML = html`<p class="error">${failure(e, t('wall.title'))}</p>`;
      return;
    }
    $('#wall-at', view).textContent = fmtTime(w.at);
    $('#wall-queue', view).innerHTML = tile(t('wall.waiting'), w.queue.waiting) + tile(t('wall.claimed'), w.queue.claimed)
      + tile(t('wall.overdue'), w.queue.overdue, w.queue.overdue ? 'warn' : '');
    $('#wall-today', view).innerHTML = tile(t('wall.attempted'), w.today.attempted) + tile(t('wall.reached'), w.today.reached)
      + tile(t('wall.completed'), w.today.completed) + tile(t('wall.live'), w.today.live_calls);
    const e = w.escalations;
    $('#wall-esc', view).innerHTML = ['under_1h', 'h1_to_4', 'h4_to_24', 'over_24h'].map((k) => tile(t('age.' + k), e[k])).join('')
      + tile(t('age.overdue_ack'), e.overdue_ack, e.overdue_ack ? 'alert' : '') + tile(t('age.acknowledged'), e.acknowledged);
    $('#wall-agents tbody', view).innerHTML = w.agents.map((a) => html`<tr><td>${a.name}</td>
      <td><span class="agent-state ${a.state}">${t('agent.' + a.state)}</span></td><td>${a.attempts_today}</td><td>${a.completed_today}</td></tr>`).join('');
  }

  async function loadCalls() {
    const box = $('#live-calls', view);
    let r;
    try {
      await requireRoute('GET', '/calls');
      r = await api('GET', '/calls?live=true');
    } catch (e) {
      box.innerHTML = html`<p class="muted">${failure(e, t('live.title'))}</p>`;
      return;
    }
    const items = r.items || r.calls || [];
    box.innerHTML = items.length ? html`<table id="live-table"><tbody>${items.map((c) => raw(html`<tr data-call="${c.id || c.call_id}">
      <td>${ctx.name(c.agent_id)}</td><td>#${c.patient_id ?? ''}</td><td>${t('call.' + c.state)}</td><td>${fmtTime(c.started_at)}</td>
      <td>${['listen', 'whisper', 'barge', 'stop'].map((m) => raw(html`<button type="button" data-mode="${m}">${t('live.' + m)}</button>`))}</td></tr>`))}</tbody></table>`
      : html`<p class="muted">${t('live.none')}</p>`;
  }

  $('#live-calls', view).addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-mode]');
    if (!b) return;
    const id = b.closest('tr').dataset.call;
    try {
      await requireRoute('POST', '/calls/{id}/monitor');
      await api('POST', `/calls/${encodeURIComponent(id)}/monitor`, { mode: b.dataset.mode === 'stop' ? null : b.dataset.mode });
      toast(`${t('live.' + b.dataset.mode)} ✓`, 'ok');
    } catch (err) { toast(failure(err, t('live.' + b.dataset.mode)), 'error'); }
  });

  // the supervisor hears a monitored call on their own agent line
  const phone = createPhone($('#sup-phone', view), { lineOnly: true });
  const refresh = () => Promise.all([loadBoard(), loadCalls()]);
  const events = liveEvents({
    'call.state': refresh, 'escalation.opened': loadBoard, 'escalation.raised': loadBoard,
    'escalation.updated': loadBoard, 'escalation.acknowledged': loadBoard,
  }, refresh);
  const timer = setInterval(refresh, 10000);
  await refresh();
  return () => { clearInterval(timer); events.close(); phone.destroy(); };
}
