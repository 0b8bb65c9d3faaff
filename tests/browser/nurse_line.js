// node tests/browser/nurse_line.js BASE_URL FAKE_MIC_WAV USER PASSWORD
//
// Holds a nurse's (or supervisor's) agent line open in Debian's headless Chromium, with a WAV
// as the microphone, while a Rust test drives calls over the API. Prints one JSON line when
// the line is connected ({"ready":true,...}), then obeys commands, one per stdin line:
//   stats   -> prints the softphone state (packets received, audio level…)
//   reload  -> reloads the page, waits for the line to reconnect, prints the state
//   dial N  -> dials task N over the socket, waits until the call is answered, prints the state
//   hangup  -> hangs the call up over the socket, waits until it has ended, prints the state
//   quit    -> (or end of input) prints the final state and exits
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const [base, mic, user, password] = process.argv.slice(2);
if (!base || !mic || !user || !password) {
  console.error('usage: node nurse_line.js BASE_URL FAKE_MIC_WAV USER PASSWORD');
  process.exit(2);
}
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
// headless Chromium never exits by itself: bound the whole run
const HARD_LIMIT_MS = Number(process.env.NURSE_LINE_LIMIT_MS || 180000);
setTimeout(() => { console.error(`nurse_line.js: gave up after ${HARD_LIMIT_MS} ms`); process.exit(3); }, HARD_LIMIT_MS).unref();

const snapshot = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.softphone.state)));

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
  let ok = true;
  const errors = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(45000);
    // failed requests are reported with their URL below; the browser's own favicon probe is not ours
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
      console.error('page:', m.text());
    });
    page.on('response', (r) => {
      // the page asks /api/v1/me before login to learn whether a session exists: 401 is an answer
      const probe = r.status() === 401 && r.url().endsWith('/api/v1/me');
      if (r.status() >= 400 && !probe && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`);
    });
    page.on('pageerror', (e) => { errors.push(e.message); console.error('page error:', e.message); });
    await page.goto(`${base}/assets/softphone.html?loopback=1`);
    await page.fill('#username', user);
    await page.fill('#password', password);
    await page.click('#login');
    await page.waitForSelector('#line-panel:not([hidden])');
    await page.click('#connect');
    const connected = () => window.softphone && window.softphone.state.connectionState === 'connected' &&
      window.softphone.state.lineState === 'connected';
    await page.waitForFunction(connected);
    console.log(JSON.stringify({ ready: true, state: await snapshot(page) }));
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      const cmd = line.trim();
      if (cmd === 'stats') {
        console.log(JSON.stringify({ state: await snapshot(page), errors }));
      } else if (cmd === 'reload') {
        const t0 = Date.now();
        await page.reload();
        await page.waitForFunction(connected);
        console.log(JSON.stringify({ reloaded: true, reconnect_ms: Date.now() - t0, state: await snapshot(page) }));
      } else if (cmd.startsWith('dial ')) {
        const task = Number(cmd.slice(5));
        await page.evaluate((t) => window.softphone.dial(t), task);
        await page.waitForFunction(() => window.softphone.state.call && window.softphone.state.call.state === 'answered',
          null, { timeout: 30000 });
        console.log(JSON.stringify({ dialled: true, state: await snapshot(page) }));
      } else if (cmd === 'hangup') {
        await page.evaluate(() => window.softphone.callCommand({ type: 'hangup' }));
        await page.waitForFunction(() => window.softphone.state.call === null, null, { timeout: 30000 });
        console.log(JSON.stringify({ hung_up: true, state: await snapshot(page) }));
      } else if (cmd === 'quit') {
        break;
      } else if (cmd) {
        console.log(JSON.stringify({ error: `unknown command ${cmd}` }));
      }
    }
    console.log(JSON.stringify({ final: true, state: await snapshot(page), errors }));
  } catch (e) {
    ok = false;
    console.log(JSON.stringify({ ok: false, error: String(e && e.message || e), errors }));
  } finally {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
