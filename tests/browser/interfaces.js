// node tests/browser/interfaces.js BASE_URL ARTIFACT_DIR ARGS_JSON
//
// Issue 17 item 7 in Debian's headless Chromium: the admin opens the interfaces page, reads
// the listener's state and counts, the failed message with its error, the results outbox with
// a result waiting for an EMR that is down, and replays the failed message. ARGS_JSON:
// {user, password, failed_id}. Prints one JSON object with what the page showed (the Rust test
// compares it with the API).
'use strict';
const { launch, openPage, login, shooter, main } = require('./console_lib');

const [base, artifacts, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson || '{}');

main(120000, async (out) => {
  const { ctx } = await launch();
  const page = await openPage(ctx, out.errors);
  const shot = shooter(page, artifacts, 'interfaces');
  try {
    await login(page, base, args.user, args.password);
    await page.click('#nav a[href="#/interfaces"]');
    await page.waitForSelector('#if-listener-state');
    await page.waitForSelector(`#if-messages tr[data-id="${args.failed_id}"]`);
    out.listening = await page.getAttribute('#if-listener-state', 'data-listening');
    out.listener_counts = (await page.textContent('#if-listener-counts')).trim();
    out.results_enabled = await page.getAttribute('#if-results-state', 'data-enabled');
    out.outbox_counts = (await page.textContent('#if-outbox-counts')).trim();
    out.live_tokens = Number(await page.getAttribute('#if-tokens', 'data-live'));
    const row = `#if-messages tr[data-id="${args.failed_id}"]`;
    out.failed_status = await page.getAttribute(row, 'data-status');
    out.failed_error = (await page.textContent(`${row} td.error`)).trim();
    out.outbox_rows = await page.$$eval('#if-outbox tbody tr[data-id]', (trs) => trs.map((tr) => ({
      status: tr.dataset.status, error: tr.querySelector('td.error').textContent.trim(),
    })));
    await shot('page');
    await page.click(`${row} button[data-replay]`);
    await page.waitForSelector('#toast:not([hidden])');
    out.replay_toast = (await page.textContent('#toast')).trim();
    await shot('replayed');
  } finally {
    await ctx.close();
  }
});
