// The console shell: login, language switch, and one page per role chosen from the hash
// (#/queue, #/wallboard, …). Each page module exports mount(view, ctx) and may return an
// unmount function (to stop timers and event streams).
import { api } from './api.js';
import { t, lang, setLang, applyI18n } from './i18n.js';
import { $, html, raw, toast, failure, loadSettings } from './ui.js';

const PAGES = {
  nurse: [['queue', 'nav.queue', () => import('./nurse.js')], ['reviews', 'nav.reviews', () => import('./review.js')]],
  supervisor: [
    ['wallboard', 'nav.wallboard', () => import('./supervisor.js')],
    ['recordings', 'nav.recordings', () => import('./recordings.js')],
    ['reports', 'nav.reports', () => import('./reports.js')],
    ['outcomes', 'nav.outcomes', () => import('./outcomes.js')],
    ['inbox', 'nav.inbox', () => import('./doctor.js')],
    ['reviews', 'nav.reviews', () => import('./review.js')],
  ],
  doctor: [
    ['inbox', 'nav.inbox', () => import('./doctor.js')],
    ['queue', 'nav.queue', () => import('./nurse.js')],
    ['reviews', 'nav.reviews', () => import('./review.js')],
  ],
  admin: [
    ['users', 'nav.users', () => import('./admin.js')],
    ['roster', 'nav.roster', () => import('./admin.js')],
    ['teams', 'nav.teams', () => import('./teams.js')],
    ['scripts', 'nav.scripts', () => import('./admin.js')],
    ['system', 'nav.system', () => import('./admin.js')],
    ['interfaces', 'nav.interfaces', () => import('./interfaces.js')],
    ['reports', 'nav.reports', () => import('./reports.js')],
    ['outcomes', 'nav.outcomes', () => import('./outcomes.js')],
  ],
};

const ctx = { me: null, staff: new Map() };
const SESSION_HINT = 'suifang.session';
let unmount = null;

async function loadStaff() {
  try {
    const r = await api('GET', '/staff');
    ctx.staff = new Map(r.items.map((u) => [u.id, u]));
  } catch { /* names fall back to ids */ }
}
ctx.name = (id) => (ctx.staff.get(id) ? ctx.staff.get(id).display_name : `#${id}`);

function renderNav() {
  const pages = PAGES[ctx.me.role] || [];
  const current = location.hash.slice(2) || pages[0][0];
  $('#nav').innerHTML = pages.map(([key, label]) => html`<a href="#/${key}" ${current === key ? raw('aria-current="page"') : ''}>${t(label)}</a>`).join('');
  $('#nav').hidden = false;
}

// Routes overlap: start()'s first route is still loading its page when a nav click (or the
// login's hash reset) starts the next. Each route mounts into an element of its own and counts:
// a page that finishes after a newer route began writes into a detached element and is
// unmounted at once, instead of overwriting the page the user asked for.
let routeSeq = 0;

async function route() {
  if (!ctx.me) return;
  const seq = ++routeSeq;
  const pages = PAGES[ctx.me.role] || [];
  const key = location.hash.slice(2).split('?')[0];
  const page = pages.find((p) => p[0] === key) || pages[0];
  if (!page) return;
  renderNav();
  if (unmount) { try { unmount(); } catch { /* page already gone */ } unmount = null; }
  const view = $('#view');
  const host = document.createElement('div');
  view.replaceChildren(host);
  view.dataset.page = page[0];
  try {
    const mod = await page[2]();
    if (seq !== routeSeq) return;
    const done = (await mod.mount(host, { ...ctx, page: page[0] })) || null;
    if (seq !== routeSeq) {
      if (done) { try { done(); } catch { /* page already gone */ } }
      return;
    }
    unmount = done;
  } catch (e) {
    if (seq === routeSeq) host.innerHTML = html`<p class="error" role="alert">${failure(e, t(page[1]))}</p>`;
  }
}

function showUser() {
  $('#who').textContent = `${ctx.me.display_name} · ${t('role.' + ctx.me.role)}`;
  $('#logout').hidden = false;
  $('#login-view').hidden = true;
}

async function start() {
  applyI18n();
  $('#lang').textContent = t('lang.switch');
  try {
    // the session cookie is HttpOnly: a flag says whether asking /me can succeed (no 401 noise)
    if (localStorage.getItem(SESSION_HINT) !== '1') throw new Error('logged out');
    ctx.me = (await api('GET', '/me')).user;
  } catch {
    localStorage.removeItem(SESSION_HINT);
    ctx.me = null;
    $('#login-view').hidden = false;
    $('#nav').hidden = true;
    $('#logout').hidden = true;
    $('#login-username').focus();
    return;
  }
  await Promise.all([loadStaff(), loadSettings(api)]);
  showUser();
  await route();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await api('POST', '/session', { username: $('#login-username').value, password: $('#login-password').value });
    localStorage.setItem(SESSION_HINT, '1');
    $('#login-error').textContent = '';
    $('#login-password').value = '';
    location.hash = '';
    await start();
  } catch (e) {
    $('#login-error').textContent = e.message;
  }
});
$('#logout').addEventListener('click', async () => {
  if (unmount) unmount();
  unmount = null;
  localStorage.removeItem(SESSION_HINT);
  await api('DELETE', '/session').catch(() => {});
  // clearing the hash fires hashchange: with no user, route() mounts nothing (a mounted page
  // would call the API with the session just ended: 401s in the console)
  ctx.me = null;
  location.hash = '';
  location.reload();
});
$('#lang').addEventListener('click', async () => {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  applyI18n();
  $('#lang').textContent = t('lang.switch');
  if (ctx.me) { showUser(); await route(); }
});
window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => toast(String(e.reason && e.reason.message || e.reason), 'error'));
start();
