// Minimal console: login, today's queue, claim. The full console grows in its own issue.
const $ = (id) => document.getElementById(id);
async function api(method, path, body) {
  const r = await fetch('/api/v1' + path, { method, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin' });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw Object.assign(new Error(data?.error?.message || r.statusText), { status: r.status, data });
  return data;
}
function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
async function showQueue() {
  $('login-view').hidden = true; $('queue-view').hidden = false;
  const q = await api('GET', '/queue?limit=100');
  $('hours').textContent = `(${q.calling_hours}${q.calling_hours_open ? '' : ' — closed now'})`;
  $('queue-rows').innerHTML = q.items.map((t) => `<tr><td>${t.rank}</td><td>${esc(t.patient_name)}</td><td>${esc(t.step_name)}</td>
    <td>${t.priority}</td><td>${t.days_overdue}</td><td>${t.attempts_total}</td><td>${esc(t.script_code)}</td></tr>`).join('');
}
async function start() {
  try { const me = await api('GET', '/me'); $('who').textContent = `${me.user.display_name} (${me.user.role})`; await showQueue(); }
  catch (e) { $('login-view').hidden = false; $('queue-view').hidden = true; }
}
$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try { await api('POST', '/session', { username: f.get('username'), password: f.get('password') }); $('login-error').textContent = ''; await start(); }
  catch (e) { $('login-error').textContent = e.message; }
});
$('claim').addEventListener('click', async () => {
  try { const r = await api('POST', '/queue/claim'); $('claimed').textContent = `Claimed task ${r.task.id}: ${r.task.patient_name} — ${r.task.step_name}`; }
  catch (e) { $('claimed').textContent = e.message; }
});
$('rebuild').addEventListener('click', async () => { try { await api('POST', '/queue/build'); await showQueue(); } catch (e) { $('claimed').textContent = e.message; } });
$('logout').addEventListener('click', async () => { await api('DELETE', '/session').catch(() => {}); location.reload(); });
start();
