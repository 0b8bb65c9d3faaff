// node tests/browser/console_e2e.js ROLE BASE_URL ARTIFACT_DIR [ARGS_JSON]
//
// One role's main path through the web console in Debian's headless Chromium (1280×720):
// nurse, doctor, supervisor, admin, or `profile` (logs in into a given profile directory for
// the print-to-PDF test). Prints one JSON object (the Rust test asserts on it); screenshots go
// to ARTIFACT_DIR. Every page's console errors are collected in `errors`.
'use strict';
const { request } = require('playwright-core');
const { launch, openPage, login, shooter, main } = require('./console_lib');

const [role, base, artifacts, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson || '{}');

// An answer each demo script's rules call abnormal (scripts in prompts/scripts/).
const ABNORMAL = {
  stroke: ['face', 'true'],
  'heart-failure': ['breathless_worse', 'true'],
  'chest-pain': ['chest_pain', 'true'],
};

const hasRoute = (page, method, path) => page.evaluate(async ([m, p]) => {
  const doc = await (await fetch('/api/v1/openapi.json')).json();
  return !!(doc.paths[p] && doc.paths[p][m.toLowerCase()]);
}, [method, path]);

async function nurse(out, page, shot) {
  await login(page, base, 'nurse', 'nurse-demo-1', '?loopback=1');
  await page.waitForSelector('#queue-rows tr[data-task]');
  out.queue_rows = await page.locator('#queue-rows tr[data-task]').count();
  out.overdue_badges = await page.locator('#queue-rows .badge.overdue').count();
  await shot('queue');
  await page.keyboard.press('n'); // shortcut: claim next
  await page.waitForSelector('#script-form');
  await page.waitForSelector('#patient-name');
  const form = page.locator('#script-form');
  out.task_id = Number(await form.getAttribute('data-task'));
  out.script = await form.getAttribute('data-script');
  out.patient = (await page.textContent('#patient-name')).trim();
  out.phone_shown = (await page.textContent('#patient-phone')).trim();
  await shot('claimed');

  out.call_api = await hasRoute(page, 'POST', '/api/v1/tasks/{id}/call');
  if (out.call_api) {
    await page.click('#line-toggle');
    await page.waitForFunction(() => window.suifangPhone.line === 'connected', null, { timeout: 25000 });
    await page.click('#call-primary');
    await page.waitForFunction(() => window.suifangPhone.call && window.suifangPhone.call.state === 'answered', null, { timeout: 30000 });
    out.call_id = await page.evaluate(() => window.suifangPhone.call.id);
    await shot('in-call');
    await page.waitForTimeout(3000);
    await page.click('#hangup');
    await page.waitForFunction(() => window.suifangPhone.call.state === 'ended', null, { timeout: 45000 });
    out.call_states = await page.evaluate(() => window.suifangPhone.call.state);
  }

  const [question, value] = ABNORMAL[out.script] || [];
  if (!question) throw new Error(`no abnormal answer known for script ${out.script}`);
  await page.check(`#script-form input[name="${question}"][value="${value}"]`);
  await page.waitForSelector(`#state-${question}.ok`);
  await page.waitForSelector('.escalation-badge');
  out.badge = (await page.textContent('.escalation-badge')).trim();
  await shot('escalated');

  await page.selectOption('#disposition', 'completed');
  await page.fill('#disp-note', 'e2e: abnormal answer escalated');
  await page.click('#disp-submit');
  await page.waitForSelector('#task-info .muted');
  out.disposed = true;
  await shot('disposed');

  // next task: the patient asks to be called back tomorrow afternoon
  await page.keyboard.press('n');
  await page.waitForFunction((prev) => {
    const f = document.querySelector('#script-form');
    return f && Number(f.dataset.task) !== prev;
  }, out.task_id);
  out.callback_task = Number(await page.getAttribute('#script-form', 'data-task'));
  await page.selectOption('#disposition', 'callback_requested');
  const at = new Date(Date.now() + 24 * 3600e3);
  const local = `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}T14:00`;
  await page.fill('#callback-at', local);
  out.callback_at = new Date(local).toISOString();
  await shot('callback');
  await page.click('#disp-submit');
  await page.waitForSelector('#task-info .muted');

  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  out.nav_en = (await page.textContent('#nav')).trim();
  await shot('english');
  await page.click('#lang');
}

async function doctor(out, page, shot) {
  await login(page, base, 'doctor', 'doctor-demo-1');
  await page.waitForSelector('#inbox-list li');
  out.before = await page.locator('#inbox-list .inbox-item').count();
  // wait until the event stream is open before the nurse saves the answer
  await page.waitForTimeout(1000);
  const nurseApi = await request.newContext({ baseURL: base });
  await nurseApi.post('/api/v1/session', { data: { username: 'nurse', password: 'nurse-demo-1' } });
  const claim = await (await nurseApi.post('/api/v1/queue/claim')).json();
  const [question, value] = ABNORMAL[claim.task.script_code] || [];
  if (!question) throw new Error(`no abnormal answer known for ${claim.task.script_code}`);
  const saved = await nurseApi.put(`/api/v1/tasks/${claim.task.id}/answers/${question}`, { data: { value: value === 'true' } });
  out.saved = await saved.json();
  await nurseApi.dispose();

  await page.waitForSelector('#push .push', { timeout: 45000 });
  out.push = (await page.textContent('#push')).trim();
  out.pushes = await page.evaluate(() => window.suifangInbox.pushes);
  out.chimes = await page.evaluate(() => window.suifangInbox.chimes);
  out.after = await page.locator('#inbox-list .inbox-item').count();
  await shot('push');
  await page.click('#inbox-list .inbox-item');
  await page.waitForSelector('#ack:not([disabled])');
  await page.waitForSelector('#esc-patient #patient-name');
  await shot('detail');
  await page.click('#ack');
  await page.waitForSelector('#ack[disabled]');
  out.status_after_ack = (await page.textContent('#esc-status')).trim();
  await shot('acknowledged');
  await page.selectOption('#resolve-action', 'advise_er');
  await page.fill('#resolve-note', 'e2e: advised to call 120');
  await page.click('#resolve-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#esc-status') && !document.querySelector('#resolve-form:not([hidden])'));
  out.status_after_resolve = (await page.textContent('#esc-status')).trim();
  out.escalation_id = out.saved.escalations[0] && out.saved.escalations[0].id;
}

async function supervisor(out, page, shot) {
  await login(page, base, 'supervisor', 'supervisor-demo-1', '?loopback=1');
  await page.waitForSelector('#wall-queue .tile');
  await page.waitForSelector('#wall-agents tbody tr');
  out.wall_tiles = await page.$$eval('.tile', (ts) => ts.map((x) => [x.querySelector('.label').textContent, Number(x.querySelector('.value').textContent)]));
  out.agents = await page.$$eval('#wall-agents tbody tr', (rs) => rs.map((r) => r.textContent.trim()));
  await shot('wallboard');

  if (args.live_call) await liveCall(out, page, shot);

  await page.click('#nav a[href="#/recordings"]');
  await page.waitForSelector('#rec-table tbody tr');
  if (args.patient) await page.fill('#rec-filter input[name=patient]', args.patient);
  await page.selectOption('#rec-filter select[name=escalated]', 'true');
  await page.click('#rec-filter button[type=submit]');
  await page.waitForSelector('#rec-table[data-query*="escalated=true"] tbody tr[data-recording]');
  out.recordings = await page.$$eval('#rec-table tbody tr[data-recording]', (rs) => rs.map((r) => ({ id: Number(r.dataset.recording), call: r.dataset.call, text: r.textContent.replace(/\s+/g, ' ').trim() })));
  await shot('recordings');
  await page.click('#rec-table tbody tr[data-recording] .play');
  await page.waitForSelector('#player h2');
  out.transcript_api = await hasRoute(page, 'GET', '/api/v1/calls/{id}/transcript');
  if (out.transcript_api) {
    await page.waitForSelector('#transcript li[data-start]');
    const lines = page.locator('#transcript li[data-start]');
    out.transcript_lines = await lines.count();
    const target = lines.nth(Math.min(1, out.transcript_lines - 1));
    const start = Number(await target.getAttribute('data-start'));
    await page.waitForFunction(() => document.querySelector('#audio').readyState >= 1, null, { timeout: 45000 });
    await target.click();
    await page.waitForFunction((s) => Math.abs(document.querySelector('#audio').currentTime * 1000 - s) < 1500, start, { timeout: 5000 });
    out.seeked_to_ms = start;
    await page.waitForSelector('svg.waveform', { timeout: 45000 });
  }
  if (out.transcript_api) {
    await page.fill('#rec-q', args.search || 'droopy');
    await page.click('#rec-search button[type=submit]');
    await page.waitForSelector('#rec-search-results :is(li, p)');
    out.search_hits = await page.$$eval('#rec-search-results li button', (bs) => bs.map((b) => ({ call: b.dataset.call, text: b.textContent.trim() })));
  }
  await page.check('#qa-form input[name=identity_checked][value="1"]');
  await page.fill('#qa-comment', 'e2e review');
  await page.click('#qa-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#qa-result').textContent.length > 0);
  out.qa = (await page.textContent('#qa-result')).trim();
  await shot('player');
  const href = await page.getAttribute('#player a[download]', 'href');
  const dl = await page.request.get(base + href);
  const body = await dl.body();
  out.download = { status: dl.status(), type: dl.headers()['content-type'], bytes: body.length, riff: body.slice(0, 4).toString() };

  await page.click('#nav a[href="#/reports"]');
  await page.waitForSelector('#rep-table tbody tr[data-metric]');
  out.report_rows = await page.locator('#rep-table tbody tr[data-metric]').count();
  const csvHref = await page.getAttribute('#rep-csv', 'href');
  out.csv = await (await page.request.get(base + csvHref)).text();
  await shot('reports');
}

/**
 * A nurse (a second browser) calls the simulated patient on the task she holds; the supervisor
 * sees the call live, listens on her own agent line, stops; the nurse hangs up.
 */
async function liveCall(out, page, shot) {
  const nurseBrowser = await launch({ mic: args.mic });
  try {
    const np = await openPage(nurseBrowser.ctx, out.errors);
    await login(np, base, 'nurse', 'nurse-demo-1', '?loopback=1');
    await np.waitForSelector('#script-form'); // the held task opens by itself
    await np.click('#line-toggle');
    await page.click('#sup-phone #line-toggle');
    await np.waitForFunction(() => window.suifangPhone.line === 'connected', null, { timeout: 25000 });
    await page.waitForFunction(() => window.suifangPhone.line === 'connected', null, { timeout: 25000 });
    await np.click('#call-primary');
    await np.waitForFunction(() => window.suifangPhone.call && window.suifangPhone.call.state === 'answered', null, { timeout: 30000 });
    out.live_call_id = await np.evaluate(() => window.suifangPhone.call.id);
    await page.waitForSelector(`#live-table tr[data-call="${out.live_call_id}"]`, { timeout: 45000 });
    await page.click(`#live-table tr[data-call="${out.live_call_id}"] button[data-mode=listen]`);
    await page.waitForSelector('#toast.ok');
    out.monitor = (await page.textContent('#toast')).trim();
    await shot('live-call');
    await page.click(`#live-table tr[data-call="${out.live_call_id}"] button[data-mode=stop]`);
    await np.click('#hangup');
    await np.waitForFunction(() => window.suifangPhone.call.state === 'ended', null, { timeout: 45000 });
    await page.waitForSelector('#live-calls p.muted', { timeout: 45000 }); // no live call any more
  } finally {
    await nurseBrowser.ctx.close().catch(() => {});
  }
}

async function admin(out, page, shot) {
  await login(page, base, 'admin', 'admin-demo-1');
  await page.waitForSelector('#users-table tbody tr td');
  out.users = await page.$$eval('#users-table tbody tr', (rs) => rs.map((r) => r.children[1].textContent));
  await shot('users');
  // account lifecycle (issue 21): disable, enable, log out everywhere, reset a password;
  // the browser sends Origin on each, so the CSRF check must let our own page through
  const row = (name) => `#users-table tbody tr:has(td:nth-child(2):text-is("${name}"))`;
  const status = async (name) => (await page.textContent(`${row(name)} td:nth-child(6)`)).trim();
  await page.click(`${row('doctor2')} button[data-action=disable]`);
  await page.waitForSelector(`${row('doctor2')} button[data-action=enable]`);
  out.lifecycle = { disabled: await status('doctor2') };
  await page.click(`${row('doctor2')} button[data-action=enable]`);
  await page.waitForSelector(`${row('doctor2')} button[data-action=disable]`);
  out.lifecycle.enabled = await status('doctor2');
  await page.click(`${row('doctor2')} button[data-action=logout]`);
  // the enable's "✓" toast may still be up: wait for the log-out's own message
  await page.waitForFunction(() => {
    const toast = document.querySelector('#toast.ok');
    return toast && toast.textContent.trim() !== '✓';
  });
  out.lifecycle.logout = (await page.textContent('#toast')).trim();
  await page.selectOption('#reset-user', { label: 'doctor2' });
  await page.fill('#reset-password input[name=password]', 'doctor2-new-pass-1');
  await page.click('#reset-password button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#reset-password input[name=password]').value === '');
  await shot('users-lifecycle');
  await page.click('#nav a[href="#/roster"]');
  await page.waitForSelector('#roster-table tbody tr[data-dept]');
  out.roster = await page.$$eval('#roster-table tbody tr[data-dept]', (rs) => rs.map((r) => [r.dataset.dept, r.querySelector('select[data-slot=on_duty]').selectedOptions[0].textContent]));
  await shot('roster');
  await page.click('#nav a[href="#/scripts"]');
  await page.waitForSelector('#script-list li');
  out.scripts = await page.locator('#script-list li').count();
  await page.click('#script-list button[data-code]');
  await page.waitForSelector('#script-detail ol li');
  await page.fill('#toml', 'code = "draft"\nversion = 1\ntitle = { zh = "草稿", en = "Draft" }\n[[questions]]\nid = "q"\ntype = "nonsense"\n');
  await page.click('#validate button[type=submit]');
  await page.waitForSelector('#validate-result :is(.error, .ok)');
  out.validate = (await page.textContent('#validate-result')).trim();
  await shot('scripts');
  await page.click('#nav a[href="#/system"]');
  await page.waitForSelector('#webhooks tbody tr');
  await page.waitForSelector('#trunk :is(p, pre)');
  out.trunk = (await page.textContent('#trunk')).trim();
  await shot('system');
}

/**
 * A newcomer's first call in the demo (tests/it/demo_newcomer.rs): the nurse reads the queue's
 * calling-hours line, claims the first task, connects her line, calls the simulated patient,
 * talks for `args.talk_ms` and hangs up.
 */
async function newcomer(out, page, shot) {
  await login(page, base, 'nurse', 'nurse-demo-1', '?loopback=1');
  await page.waitForSelector('#queue-rows tr[data-task]');
  out.queue_hours = (await page.textContent('#queue-hours')).trim();
  out.queue_steps = await page.$$eval('#queue-rows tr[data-task] td:nth-child(3)', (tds) => tds.map((td) => td.textContent.trim()));
  await shot('queue');
  await page.keyboard.press('n');
  await page.waitForSelector('#script-form');
  out.task_id = Number(await page.getAttribute('#script-form', 'data-task'));
  await page.click('#line-toggle');
  await page.waitForFunction(() => window.suifangPhone.line === 'connected', null, { timeout: 25000 });
  await page.click('#call-primary');
  await page.waitForFunction(() => window.suifangPhone.call && window.suifangPhone.call.state === 'answered', null, { timeout: 30000 });
  out.call_id = await page.evaluate(() => window.suifangPhone.call.id);
  await shot('in-call');
  await page.waitForTimeout(args.talk_ms || 8000);
  await page.click('#hangup');
  await page.waitForFunction(() => window.suifangPhone.call.state === 'ended', null, { timeout: 45000 });
  out.call_state = await page.evaluate(() => window.suifangPhone.call.state);
}

/**
 * Issue 20 item 1: the nurse already holds a heart-failure task (the Rust test claimed it); she
 * answers "breathless at rest = yes" and must see the rule's advice under that question, before
 * the next one, prominently; after switching the language it is shown again, in English, from
 * the advice stored with the escalation.
 */
async function nurseAdvice(out, page, shot) {
  await login(page, base, 'nurse', 'nurse-demo-1');
  await page.waitForSelector('#script-form');
  out.task_id = Number(await page.getAttribute('#script-form', 'data-task'));
  out.script = await page.getAttribute('#script-form', 'data-script');
  const question = 'breathless_at_rest';
  const saved = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith(`/answers/${question}`));
  await page.check(`#script-form input[name="${question}"][value="true"]`);
  out.saved = await (await saved).json();
  const sel = `.q[data-q="${question}"] .advice`;
  await page.waitForSelector(sel);
  out.advice = await page.$eval(sel, (el) => {
    const next = el.closest('.q').nextElementSibling;
    const r = el.getBoundingClientRect();
    return {
      text: el.querySelector('.advice-text').textContent.trim(),
      severity: el.dataset.severity,
      rule: el.dataset.adviceRule,
      role: el.getAttribute('role'),
      prominent: el.classList.contains('now'),
      // shown before the next question in the form, and on screen
      before_next: !!next && !!(el.compareDocumentPosition(next) & Node.DOCUMENT_POSITION_FOLLOWING),
      next_question: next && next.dataset.q,
      in_viewport: r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0,
    };
  });
  await shot('advice');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await page.waitForSelector(sel);
  out.advice_en = (await page.textContent(`${sel} .advice-text`)).trim();
  await shot('advice-en');
  await page.click('#lang');
}

/**
 * Issue 20 item 7: the nurse holds a task she claimed inside calling hours, which have closed
 * since (the Rust test restarted the server); pressing Call shows the refusal on the bar.
 */
async function nurseRefused(out, page, shot) {
  await login(page, base, 'nurse', 'nurse-demo-1');
  await page.waitForSelector('#script-form');
  out.task_id = Number(await page.getAttribute('#script-form', 'data-task'));
  await page.click('#call-primary');
  await page.waitForSelector('#call-refused:not([hidden])');
  out.refusal = await page.$eval('#call-refused', (el) => ({ code: el.dataset.code, text: el.textContent.trim(), role: el.getAttribute('role') }));
  out.call = await page.evaluate(() => window.suifangPhone.call);
  await shot('refused');
  // Chromium logs the refused request (409) as a console error: that one is the point of the
  // test, moved aside (and asserted) so every other error still fails it
  const expected = (e) => e.includes('status of 409') && /\/api\/v1\/tasks\/\d+\/call/.test(e);
  out.expected_errors = out.errors.filter(expected);
  for (let i = out.errors.length - 1; i >= 0; i--) if (expected(out.errors[i])) out.errors.splice(i, 1);
}

/**
 * Issue 20 items 2-3: the admin's care-team page shows the team by discipline, and a shift added
 * through its form appears in the shift table (args: user_id, weekdays, start, end, holidays).
 */
async function adminTeams(out, page, shot) {
  await login(page, base, 'admin', 'admin-demo-1');
  await page.click('#nav a[href="#/teams"]');
  // seen once in five full runs: the team table never came (15 s). Say what the page showed
  // instead, so the next failure names its cause.
  await page.waitForSelector('.care-team tbody tr').catch(async (e) => {
    const teams = await page.$eval('#teams', (el) => el.textContent.trim()).catch(() => '(no #teams element)');
    await shot('teams-missing').catch(() => {});
    throw new Error(`${e.message}\nlocation: ${page.url()}\n#teams showed: ${teams}`);
  });
  out.team = await page.$$eval('.care-team tbody tr', (rs) => rs.map((r) => ({
    user_id: Number(r.dataset.user), discipline: r.dataset.discipline, lead: r.children[2].textContent.trim() !== '',
  })));
  const before = await page.locator('#shifts-table tbody tr').count();
  await page.selectOption('#shift-user', String(args.user_id));
  await page.fill('#new-shift input[name=weekdays]', args.weekdays);
  await page.fill('#new-shift input[name=start]', args.start);
  await page.fill('#new-shift input[name=end]', args.end);
  await page.selectOption('#new-shift select[name=holidays]', args.holidays);
  await page.click('#new-shift button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('#shifts-table tbody tr').length === n + 1, before);
  out.shifts = await page.$$eval('#shifts-table tbody tr', (rs) => rs.map((r) => ({
    id: Number(r.dataset.shift), cells: [...r.children].slice(0, 5).map((c) => c.textContent.trim()),
  })));
  await shot('teams');
}

/** A clinician's escalation inbox as the browser shows it (args: user, password). */
async function inbox(out, page, shot) {
  await login(page, base, args.user, args.password);
  await page.waitForSelector('#inbox-list li');
  out.items = await page.$$eval('#inbox-list .inbox-item', (bs) => bs.map((b) => ({
    id: Number(b.dataset.id), rule: b.querySelector('strong').textContent.trim(),
  })));
  await shot(args.user);
}

/** Logs the nurse in inside `args.profile` (for chromium --print-to-pdf) and checks the report page. */
async function profile(out, page, shot) {
  await login(page, base, 'nurse', 'nurse-demo-1');
  await page.goto(`${base}/assets/report.html?patient=${args.patient_id}`);
  await page.waitForFunction(() => window.reportReady === true);
  out.svg_charts = await page.locator('#r-trends svg.trend').count();
  out.answers = await page.$$eval('#r-answers td.answer', (tds) => tds.map((td) => td.textContent));
  await shot('report');
}

/**
 * Notes and tags (issue 20 items 5, 6) on a fresh clinic (args: user, password): claim the
 * heart-failure call, answer leg swelling (the rule tags the patient), filter the queue by the
 * tag, add a free and a structured note, correct the first (history shows both versions),
 * search notes, take the tag off, then read the notes and tags in the printed report.
 */
async function notes(out, page, shot) {
  const TAG = 'fluid-overload-risk';
  await login(page, base, args.user, args.password);
  await page.waitForSelector('#queue-rows tr[data-task]');
  out.queue_rows = await page.locator('#queue-rows tr[data-task]').count();
  await page.keyboard.press('n');
  await page.waitForSelector('#script-form');
  await page.waitForSelector('#note-form');
  out.task_id = Number(await page.locator('#script-form').getAttribute('data-task'));
  out.script = await page.locator('#script-form').getAttribute('data-script');
  await page.check('#script-form input[name="leg_swelling"][value="true"]');
  await page.waitForSelector('#state-leg_swelling.ok');
  await page.waitForSelector(`#patient-tags .tag[data-tag="${TAG}"]`);
  out.tag_shown = true;
  await shot('tagged');

  await page.fill('#queue-tag', TAG);
  await page.click('#queue-filter button[type="submit"]');
  await page.waitForFunction(() => document.querySelectorAll('#queue-rows tr[data-task]').length === 1);
  out.filtered_rows = await page.locator('#queue-rows tr[data-task]').count();
  out.filtered_task = Number(await page.locator('#queue-rows tr[data-task]').getAttribute('data-task'));
  await page.fill('#queue-tag', '');
  await page.click('#queue-filter button[type="submit"]');
  await page.waitForFunction((n) => document.querySelectorAll('#queue-rows tr[data-task]').length === n, out.queue_rows);

  await page.fill('#note-body', '患者诉夜间憋醒，已嘱抬高床头');
  await page.click('#note-add');
  await page.waitForSelector('#notes-list li.note');
  out.note_id = Number(await page.locator('#notes-list li.note').first().getAttribute('data-note'));
  await page.selectOption('#note-kind', 'medication_change');
  await page.fill('#note-drug', 'furosemide');
  await page.selectOption('#note-change', 'dose');
  await page.fill('#note-dose', '40 mg qd');
  await page.fill('#note-body', 'Furosemide increased for leg swelling');
  await page.click('#note-add');
  await page.waitForFunction(() => document.querySelectorAll('#notes-list li.note').length === 2);
  out.med_data = (await page.textContent('#notes-list li.note:first-child .note-data')).trim();

  const id = out.note_id;
  await page.click(`.note-correct[data-note="${id}"]`);
  await page.fill(`#fix-${id}-body`, '患者诉夜间憋醒两次，已嘱抬高床头');
  await page.fill(`#fix-${id}-reason`, '次数补充');
  await page.click(`li.note[data-note="${id}"] .note-fix button[type="submit"]`);
  await page.waitForSelector(`li.note[data-note="${id}"][data-version="2"]`);
  await page.click(`li.note[data-note="${id}"] .note-history summary`);
  out.history_versions = await page.$$eval(`li.note[data-note="${id}"] .note-history li[data-version]`, (lis) => lis.map((li) => Number(li.dataset.version)));
  out.note_text = (await page.textContent(`li.note[data-note="${id}"] .note-body`)).trim();
  await shot('notes');

  await page.fill('#note-search', '憋醒两次');
  await page.click('#note-search-form button[type="submit"]');
  await page.waitForSelector('#note-hits li.note-hit');
  out.search_hits = await page.$$eval('#note-hits li.note-hit', (lis) => lis.map((li) => Number(li.dataset.note)));

  await page.click(`#patient-tags .tag-remove[data-tag="${TAG}"]`);
  await page.waitForSelector(`#patient-tags .tag[data-tag="${TAG}"]`, { state: 'detached' });
  out.tag_removed = true;
  await shot('tag-removed');

  out.patient_id = await page.evaluate(() => Number(new URL(document.querySelector('a[href*="report.html"]').href).searchParams.get('patient')));
  await page.goto(`${base}/assets/report.html?patient=${out.patient_id}`);
  await page.waitForFunction(() => window.reportReady === true);
  out.report_notes = await page.$$eval('#r-notes tr[data-note]', (trs) => trs.map((tr) => Number(tr.dataset.note)));
  out.report_note_text = await page.$$eval('#r-notes td.note-body', (tds) => tds.map((td) => td.textContent));
  out.report_tags = (await page.textContent('#r-tags')).trim();
  await shot('report');
}

/**
 * A lab result's escalation and trend (issue 17 item 4; args: escalation_id, patient_id): the
 * on-duty doctor opens it from the inbox and reads the lab evidence; the printed report draws
 * the lab's trend chart.
 */
async function labEvidence(out, page, shot) {
  await login(page, base, 'doctor', 'doctor-demo-1');
  await page.waitForSelector(`#inbox-list .inbox-item[data-id="${args.escalation_id}"]`);
  await page.click(`#inbox-list .inbox-item[data-id="${args.escalation_id}"]`);
  await page.waitForSelector('.evidence li.lab');
  out.lab_evidence = await page.$$eval('.evidence li.lab', (lis) => lis.map((li) => li.textContent.trim()));
  await shot('lab-escalation');
  await page.goto(`${base}/assets/report.html?patient=${args.patient_id}`);
  await page.waitForFunction(() => window.reportReady === true);
  out.lab_charts = await page.$$eval('#r-trends svg.trend', (svgs) => svgs.map((s) => s.dataset.trend));
  await shot('lab-report');
}

main(150000, async (out) => {
  const { ctx } = await launch({ mic: args.mic, profile: args.profile });
  try {
    const page = await openPage(ctx, out.errors);
    const shot = shooter(page, artifacts, role);
    const flows = { nurse, doctor, supervisor, admin, profile, newcomer, nurse_advice: nurseAdvice, nurse_refused: nurseRefused, notes, admin_teams: adminTeams, inbox, lab_evidence: labEvidence };
    if (!flows[role]) throw new Error(`unknown role ${role}`);
    await flows[role](out, page, shot);
    await page.waitForTimeout(300); // late console errors
  } finally {
    await ctx.close().catch(() => {});
  }
});
