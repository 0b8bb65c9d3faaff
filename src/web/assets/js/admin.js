// Admin pages: users and roles, departments and duty roster, pathways and scripts (view +
// validate a draft), trunk status, webhook deliveries and the audit chain.
import { api, requireRoute } from './api.js';
import { t, stepName } from './i18n.js';
import { $, html, raw, bi, fmtTime, toast, failure } from './ui.js';

const ROLES = ['nurse', 'supervisor', 'doctor', 'admin'];
const SLOTS = ['on_duty', 'backup', 'head'];

export async function mount(view, ctx) {
  const pages = { users, roster, scripts, system };
  return (pages[ctx.page] || users)(view, ctx);
}

async function users(view) {
  view.innerHTML = html`<section class="card" aria-labelledby="users-title"><h2 id="users-title">${t('admin.users')}</h2>
    <table id="users-table"><thead><tr><th scope="col">id</th><th scope="col">${t('admin.username')}</th><th scope="col">${t('admin.display_name')}</th>
      <th scope="col">${t('admin.role')}</th><th scope="col">${t('admin.department')}</th><th scope="col">${t('admin.status')}</th>
      <th scope="col">${t('admin.actions')}</th></tr></thead><tbody></tbody></table>
    <form id="reset-password" class="inline"><h3>${t('admin.reset_password')}</h3>
      <label>${t('admin.username')} <select name="user" id="reset-user" required></select></label>
      <label>${t('admin.new_password')} <input name="password" type="password" required minlength="8" maxlength="1024" autocomplete="new-password"></label>
      <button type="submit">${t('admin.reset_password')}</button></form>
    <form id="new-user" class="inline"><h3>${t('admin.new_user')}</h3>
      <label>${t('admin.username')} <input name="username" required pattern="[A-Za-z0-9._-]{1,64}"></label>
      <label>${t('admin.display_name')} <input name="display_name" required></label>
      <label>${t('admin.role')} <select name="role">${ROLES.map((r) => raw(html`<option value="${r}">${t('role.' + r)}</option>`))}</select></label>
      <label>${t('admin.department')} <select name="department" id="dept-select"><option value=""></option></select></label>
      <label>${t('admin.password')} <input name="password" type="password" required autocomplete="new-password"></label>
      <button type="submit" class="primary">${t('admin.create')}</button></form></section>`;
  const depts = await api('GET', '/departments').catch(() => ({ items: [] }));
  $('#dept-select', view).insertAdjacentHTML('beforeend', depts.items.map((d) => html`<option value="${d.code}">${bi({ zh: d.name_zh, en: d.name_en })}</option>`).join(''));
  const load = async () => {
    try {
      const r = await api('GET', '/users');
      $('#users-table tbody', view).innerHTML = r.items.map((u) => html`<tr data-id="${u.id}"><td>${u.id}</td><td>${u.username}</td><td>${u.display_name}</td>
        <td>${t('role.' + u.role)}</td><td>${u.department || ''}</td><td>${u.active ? t('admin.active') : t('admin.disabled')}</td>
        <td><button type="button" data-action="${u.active ? 'disable' : 'enable'}">${u.active ? t('admin.disable') : t('admin.enable')}</button>
          <button type="button" data-action="logout">${t('admin.logout_everywhere')}</button></td></tr>`).join('');
      $('#reset-user', view).innerHTML = r.items.map((u) => html`<option value="${u.id}">${u.username}</option>`).join('');
    } catch (e) { $('#users-table tbody', view).innerHTML = html`<tr><td colspan="7" class="error">${failure(e, t('admin.users'))}</td></tr>`; }
  };
  // disable / enable / log out everywhere: each audited by the server, each ends sessions
  $('#users-table', view).addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const id = button.closest('tr').dataset.id;
    const action = button.dataset.action;
    try {
      if (action === 'logout') {
        const r = await api('DELETE', `/users/${id}/sessions`);
        toast(t('admin.sessions_ended', { n: r.sessions_ended }), 'ok');
      } else {
        await api('PUT', `/users/${id}/active`, { active: action === 'enable' });
        toast('✓', 'ok');
      }
      await load();
    } catch (err) { toast(failure(err, t('admin.users')), 'error'); }
  });
  $('#reset-password', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target).entries());
    try {
      const r = await api('PUT', `/users/${f.user}/password`, { password: f.password });
      e.target.reset();
      toast(t('admin.sessions_ended', { n: r.sessions_ended }), 'ok');
    } catch (err) { toast(failure(err, t('admin.reset_password')), 'error'); }
  });
  $('#new-user', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target).entries());
    if (!f.department) delete f.department;
    try { await api('POST', '/users', f); e.target.reset(); toast('✓', 'ok'); await load(); } catch (err) { toast(failure(err, t('admin.new_user')), 'error'); }
  });
  await load();
}

async function roster(view, ctx) {
  view.innerHTML = html`<section class="card" aria-labelledby="roster-title"><h2 id="roster-title">${t('admin.roster')}</h2>
    <table id="roster-table"><thead><tr><th scope="col">${t('admin.department')}</th>${SLOTS.map((s) => raw(html`<th scope="col">${t('admin.' + s)}</th>`))}<th></th></tr></thead><tbody></tbody></table></section>`;
  const doctors = [...ctx.staff.values()].filter((u) => u.role === 'doctor' || u.role === 'supervisor');
  const load = async () => {
    try {
      const [r, d] = await Promise.all([api('GET', '/roster'), api('GET', '/departments')]);
      $('#roster-table tbody', view).innerHTML = d.items.map((dep) => {
        const row = r.departments[dep.code] || {};
        return html`<tr data-dept="${dep.code}"><th scope="row">${bi({ zh: dep.name_zh, en: dep.name_en })}</th>${SLOTS.map((s) => raw(html`<td>
          <select data-slot="${s}" aria-label="${bi({ zh: dep.name_zh, en: dep.name_en })} ${t('admin.' + s)}"><option value=""></option>${doctors.map((u) => raw(html`<option value="${u.id}" ${row[s] === u.id ? raw('selected') : ''}>${u.display_name}</option>`))}</select></td>`))}
          <td><button type="button" class="save-roster">${t('admin.save')}</button></td></tr>`;
      }).join('');
    } catch (e) { $('#roster-table tbody', view).innerHTML = html`<tr><td colspan="5" class="error">${failure(e, t('admin.roster'))}</td></tr>`; }
  };
  $('#roster-table', view).addEventListener('click', async (e) => {
    if (!e.target.classList.contains('save-roster')) return;
    const tr = e.target.closest('tr');
    try {
      for (const sel of tr.querySelectorAll('select')) {
        if (sel.value) await api('PUT', `/roster/${tr.dataset.dept}/${sel.dataset.slot}`, { user_id: Number(sel.value) });
      }
      toast('✓', 'ok');
    } catch (err) { toast(failure(err, t('admin.roster')), 'error'); }
  });
  await load();
}

async function scripts(view) {
  view.innerHTML = html`<div class="columns">
    <section class="card"><h2>${t('admin.pathways')}</h2><div id="pathways"></div></section>
    <section class="card"><h2>${t('admin.scripts')}</h2><ul id="script-list"></ul><div id="script-detail"></div>
      <form id="validate"><h3>${t('admin.validate')}</h3><label for="toml" class="sr-only">TOML</label>
        <textarea id="toml" rows="8" spellcheck="false" placeholder='code = "..."'></textarea>
        <button type="submit">${t('admin.validate_go')}</button><div id="validate-result" aria-live="polite"></div></form></section></div>`;
  try {
    const [p, s] = await Promise.all([api('GET', '/pathways'), api('GET', '/scripts')]);
    $('#pathways', view).innerHTML = p.items.map((w) => html`<details><summary><strong>${bi(w.title)}</strong> <small>${w.code} · ICD-10 ${w.icd10.join(', ')}</small></summary>
      <ol>${w.steps.map((st) => raw(html`<li>D${st.day} · ${stepName({ step_name: st.name, step_name_zh: st.name_zh })} · ${st.script || ''} (${st.role})</li>`))}</ol></details>`).join('');
    $('#script-list', view).innerHTML = s.items.map((x) => html`<li><button type="button" class="link" data-code="${x.code}">${bi(x.title)}</button> <small>${x.code} v${x.version} · ${x.questions} Q · ${x.rules} rules</small></li>`).join('');
  } catch (e) { $('#pathways', view).innerHTML = html`<p class="error">${failure(e, t('admin.scripts'))}</p>`; }
  $('#script-list', view).addEventListener('click', async (e) => {
    const code = e.target.dataset.code;
    if (!code) return;
    const s = await api('GET', `/scripts/${code}`);
    $('#script-detail', view).innerHTML = html`<h3>${bi(s.title)}</h3><ol>${s.questions.map((q) => raw(html`<li>${bi(q.text)} <small>(${q.kind.type})</small></li>`))}</ol>
      <h4>Rules</h4><ul>${s.rules.map((r) => raw(html`<li><code>${r.when || r.id}</code> → ${t('sev.' + r.severity)} · ${r.ack_sla_minutes} min</li>`))}</ul>`;
  });
  $('#validate', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('#validate-result', view);
    try {
      const r = await api('POST', '/scripts/validate', { toml: $('#toml', view).value });
      out.innerHTML = r.ok ? html`<p class="ok">✓ ${t('admin.valid')}: ${r.code} v${r.version}</p>`
        : html`<ul class="error">${r.errors.map((x) => raw(html`<li>${x.line ? 'L' + x.line + ': ' : ''}${x.message}</li>`))}</ul>`;
    } catch (err) { out.innerHTML = html`<p class="error">${failure(err, t('admin.validate'))}</p>`; }
  });
}

async function system(view) {
  view.innerHTML = html`<div class="columns">
    <section class="card"><h2>${t('admin.departments')}</h2><ul id="departments"></ul>
      <h2>${t('admin.trunk')}</h2><div id="trunk"></div>
      <h2>${t('admin.audit')}</h2><button type="button" id="verify">${t('admin.verify')}</button> <span id="verify-result" aria-live="polite"></span></section>
    <section class="card"><h2>${t('admin.webhooks')}</h2><table id="webhooks"><tbody></tbody></table></section></div>`;
  api('GET', '/departments').then((d) => {
    $('#departments', view).innerHTML = d.items.map((x) => html`<li>${x.code} · ${x.name_zh} · ${x.name_en}</li>`).join('');
  }).catch((e) => { $('#departments', view).innerHTML = html`<li class="error">${failure(e, t('admin.departments'))}</li>`; });
  requireRoute('GET', '/telephony').then(() => api('GET', '/telephony')).then((r) => {
    $('#trunk', view).innerHTML = html`<pre>${JSON.stringify(r, null, 2)}</pre>`;
  }).catch((e) => { $('#trunk', view).innerHTML = html`<p class="muted">${failure(e, t('admin.trunk'))}</p>`; });
  api('GET', '/webhooks/deliveries').then((r) => {
    $('#webhooks tbody', view).innerHTML = r.items.length ? r.items.map((w) => html`<tr><td>#${w.id}</td><td>${w.status}</td><td>${w.attempts}</td>
      <td>${w.last_http_status ?? ''} ${w.last_error ?? ''}</td><td>${fmtTime(w.updated_at || w.created_at)}</td></tr>`).join('') : html`<tr><td class="muted">—</td></tr>`;
  }).catch((e) => { $('#webhooks tbody', view).innerHTML = html`<tr><td class="error">${failure(e, t('admin.webhooks'))}</td></tr>`; });
  $('#verify', view).addEventListener('click', async () => {
    try { const r = await api('GET', '/audit/verify'); $('#verify-result', view).textContent = JSON.stringify(r); } catch (e) { toast(failure(e, t('admin.audit')), 'error'); }
  });
}
