// node tests/browser/team_review.js BASE_URL ARTIFACT_DIR ARGS_JSON
//
// Issue 20 item 4 in Debian's headless Chromium: a day-14 heart-failure team review completed
// by three disciplines. ARGS_JSON names the three logins ({cardiology, pharmacy, nursing}: each
// {user, password}). The cardiologist claims the team-review task from her queue, opens the
// review from it, reads the agenda, signs, records "pharmacist call in 2 days" and postpones the
// day-30 review (ARGS_JSON.day30_task) by a week; the
// pharmacist and the nurse open it from the review list and sign; the nurse closes it. Prints
// one JSON object with what each page showed (the Rust test compares it with the API).
'use strict';
const { launch, openPage, login, shooter, main } = require('./console_lib');

const [base, artifacts, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson || '{}');

async function logout(page) {
  await page.click('#logout');
  await page.waitForSelector('#login-form', { state: 'visible' });
}

const signoffs = (page) => page.$$eval('#signoffs li', (lis) => lis.map((li) => ({ discipline: li.dataset.discipline, signed: li.classList.contains('signed') })));

async function sign(page, text) {
  await page.fill('#assessment-text', text);
  await page.click('#sign');
  await page.waitForSelector('#sign-note');
}

main(240000, async (out) => {
  const { ctx } = await launch();
  const page = await openPage(ctx, out.errors);
  const shot = shooter(page, artifacts, 'team-review');
  try {
    // 1. the cardiologist: queue → claim → open the review from the task
    const c = args.cardiology;
    await login(page, base, c.user, c.password);
    await page.click('#nav a[href="#/queue"]');
    await page.waitForSelector('#claim');
    await page.click('#claim');
    await page.waitForSelector('#open-review');
    out.claimed_step = (await page.textContent('#task-info')).trim();
    await shot('task');
    await page.click('#open-review');
    await page.waitForSelector('#review-title');
    out.hash = await page.evaluate(() => location.hash);
    out.review_id = Number(await page.getAttribute('#review-title', 'data-review'));
    out.status_before = await page.getAttribute('#review-status', 'data-status');
    out.signoffs_before = await signoffs(page);
    out.agenda = {
      answer_rows: await page.locator('#agenda-answers tr[data-question]').count(),
      weight_trend: await page.locator('#agenda-answers tr[data-question="weight"] .trend').getAttribute('class').catch(() => null),
      weight_trend_text: (await page.locator('#agenda-answers tr[data-question="weight"] .trend').textContent().catch(() => '')).trim(),
      calls: await page.locator('#agenda-calls li[data-call]').count(),
      recording_links: await page.locator('#agenda-calls a.rec-link').count(),
      transcript_links: await page.locator('#agenda-calls a.tr-link').count(),
      done: Number(await page.getAttribute('#agenda-adherence', 'data-done')),
      missed: Number(await page.getAttribute('#agenda-adherence', 'data-missed')),
      pending: Number(await page.getAttribute('#agenda-adherence', 'data-pending')),
    };
    out.close_disabled_at_start = await page.isDisabled('#close-review');
    await page.selectOption('#rq-nyha_class', 'iii');
    await page.check('input[name="congestion"][value="true"]');
    await page.selectOption('#rq-gdmt_plan', 'uptitrate');
    await shot('agenda');
    await sign(page, 'Mild congestion; up-titrate sacubitril/valsartan at clinic.');
    // the team decides: pharmacist call in 2 days
    await page.selectOption('#action-kind', 'follow_up_task');
    await page.selectOption('#action-assignee', 'pharmacy');
    await page.selectOption('#action-script', 'heart-failure');
    await page.selectOption('#action-role', 'team');
    await page.fill('#action-days', '2');
    await page.click('#add-action');
    await page.waitForSelector('#actions li[data-kind="follow_up_task"]');
    out.action_task = Number(await page.getAttribute('#actions li[data-kind="follow_up_task"]', 'data-task'));
    out.action_text = (await page.textContent('#actions li[data-kind="follow_up_task"]')).trim();
    // …and moves the day-30 review a week later (adjust the pathway)
    await page.selectOption('#action-kind', 'postpone');
    await page.selectOption('#action-task', String(args.day30_task));
    await page.fill('#action-days', '7');
    await page.click('#add-action');
    await page.waitForSelector('#actions li[data-kind="adjust_pathway"]');
    out.postponed_task = Number(await page.getAttribute('#actions li[data-kind="adjust_pathway"]', 'data-task'));
    out.missing_after_cardiology = (await page.textContent('#review-missing')).trim();
    out.close_disabled_after_cardiology = await page.isDisabled('#close-review');
    await shot('cardiology-signed');
    await logout(page);

    // 2. the pharmacist: review list → the review → sign
    const p = args.pharmacy;
    await login(page, base, p.user, p.password);
    await page.click('#nav a[href="#/reviews"]');
    await page.waitForSelector(`.review-item[data-id="${out.review_id}"]`);
    await page.click(`.review-item[data-id="${out.review_id}"]`);
    await page.waitForSelector('#assessment-form');
    out.pharmacy_questions = await page.$$eval('#assessment-form [name]', (els) => [...new Set(els.map((e) => e.name))]);
    await page.selectOption('#rq-med_adherence', 'partial');
    await page.check('input[name="reconciliation_issue"][value="false"]');
    await sign(page, 'Missed evening furosemide twice; pill box and call in 2 days.');
    await shot('pharmacy-signed');
    await logout(page);

    // 3. the nurse signs as nursing and closes the review
    const n = args.nursing;
    await login(page, base, n.user, n.password);
    await page.click('#nav a[href="#/reviews"]');
    await page.waitForSelector(`.review-item[data-id="${out.review_id}"]`);
    await page.click(`.review-item[data-id="${out.review_id}"]`);
    await page.waitForSelector('#assessment-form');
    await page.check('input[name="self_weighing"][value="true"]');
    await page.fill('#rq-education_needed', 'Low-salt diet');
    await sign(page, 'Weighs daily; reinforce low-salt diet.');
    out.close_enabled_when_all_signed = !(await page.isDisabled('#close-review'));
    await page.click('#close-review');
    await page.waitForSelector('#review-status[data-status="closed"]');
    out.status_after = await page.getAttribute('#review-status', 'data-status');
    out.status_text = (await page.textContent('#review-status')).trim();
    out.signoffs_after = await signoffs(page);
    out.action_form_after_close = await page.locator('#action-form').count();
    out.list_after_close = await page.locator(`.review-item[data-id="${out.review_id}"]`).count();
    await shot('closed');
  } finally {
    await ctx.close();
  }
});
