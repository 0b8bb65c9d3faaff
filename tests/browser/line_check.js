// node tests/browser/line_check.js BASE_URL FAKE_MIC_WAV USER PASSWORD SECONDS
//
// Drives the softphone page in Debian's headless Chromium with a WAV as the microphone:
// log in, connect the line, run a line check, reload the page and wait for the line to come
// back. Prints one JSON object on stdout (the test asserts on it); exits non-zero on failure.
// SOFTPHONE_QUERY adds to the page's query string (e.g. codec=opus).
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [base, mic, user, password, secondsArg] = process.argv.slice(2);
if (!base || !mic || !user || !password) {
  console.error('usage: node line_check.js BASE_URL FAKE_MIC_WAV USER PASSWORD [SECONDS]');
  process.exit(2);
}
const seconds = Number(secondsArg || 5);
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
// headless Chromium never exits by itself: bound the whole run
const HARD_LIMIT_MS = (seconds * 2 + 60) * 1000;
setTimeout(() => { console.error(`line_check.js: gave up after ${HARD_LIMIT_MS} ms`); process.exit(3); }, HARD_LIMIT_MS).unref();

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'suifang-pw-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    timeout: 20000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      `--use-file-for-fake-audio-capture=${mic}`,
    ],
    // Playwright mutes audio by default; a muted page reports audioLevel 0
    ignoreDefaultArgs: ['--mute-audio'],
  });
  const out = {};
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(45000);
    page.on('console', (m) => console.error('page:', m.text()));
    page.on('pageerror', (e) => console.error('page error:', e.message));
    const extra = process.env.SOFTPHONE_QUERY ? '&' + process.env.SOFTPHONE_QUERY : '';
    await page.goto(`${base}/assets/softphone.html?loopback=1${extra}`);
    await page.fill('#username', user);
    await page.fill('#password', password);
    await page.click('#login');
    await page.waitForSelector('#line-panel:not([hidden])');
    const t0 = Date.now();
    await page.click('#connect');
    // both views: the browser's peer connection and the server's line_state message
    const connected = () => window.softphone && window.softphone.state.connectionState === 'connected' &&
      window.softphone.state.lineState === 'connected';
    await page.waitForFunction(connected);
    out.connect_ms = Date.now() - t0;
    await page.fill('#check-seconds', String(seconds));
    await page.click('#line-check');
    await page.waitForFunction(
      () => window.softphone.state.lineChecks.length > 0 || window.softphone.state.lineCheck === 'failed',
      null, { timeout: (seconds * 2 + 20) * 1000 });
    // audioLevel is sampled every 250 ms during playback; take a last sample
    await page.waitForTimeout(500);
    out.first = await page.evaluate(() => JSON.parse(JSON.stringify(window.softphone.state)));
    const t1 = Date.now();
    await page.reload();
    await page.waitForFunction(connected);
    out.reconnect_ms = Date.now() - t1;
    out.after_reload = await page.evaluate(() => JSON.parse(JSON.stringify(window.softphone.state)));
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.message || e);
  } finally {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
