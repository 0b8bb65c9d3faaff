// node tests/browser/sms_status.js BASE_URL ARTIFACT_DIR ARGS_JSON
//
// Issue 19 item 5, the console's link status per patient: the on-duty doctor opens an
// escalation (ARGS_JSON.escalation_id) from her inbox; the patient panel under it lists the
// patient's SMS links with their state and the SMS in and out. Prints one JSON object with
// what the panel showed (the Rust test compares it with the API).
'use strict';
const { launch, openPage, login, shooter, main } = require('./console_lib');

const [base, artifacts, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson || '{}');

main(120000, async (out) => {
  const { ctx } = await launch();
  const page = await openPage(ctx, out.errors);
  const shot = shooter(page, artifacts, 'sms-status');
  try {
    await login(page, base, 'doctor', 'doctor-demo-1');
    const item = `#inbox-list .inbox-item[data-id="${args.escalation_id}"]`;
    await page.waitForSelector(item);
    await page.click(item);
    // the panel's SMS section starts folded: open it as a doctor would
    await page.waitForSelector('#esc-patient #patient-sms .sms-messages', { state: 'attached' });
    await page.click('#esc-patient details:has(#patient-sms) > summary');
    await page.waitForSelector('#esc-patient #patient-sms .sms-messages');
    out.links = await page.$$eval('#patient-sms .sms-links li', (lis) => lis.map((li) => ({
      task: Number(li.dataset.task), state: li.dataset.state, text: li.textContent.replace(/\s+/g, ' ').trim(),
    })));
    out.messages = await page.$$eval('#patient-sms .sms-messages li', (lis) => lis.map((li) => ({
      direction: li.dataset.direction, kind: li.dataset.kind, quoted: li.querySelector('q') ? li.querySelector('q').textContent : null,
    })));
    out.opted_out = await page.locator('#sms-opted-out').count() > 0;
    await page.locator('#patient-sms').scrollIntoViewIfNeeded();
    await shot('panel');
    await page.waitForTimeout(300); // late console errors
  } finally {
    await ctx.close().catch(() => {});
  }
});
