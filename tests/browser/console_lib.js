// Shared helpers for the console's browser tests: launch Debian's headless Chromium through
// playwright-core, log in through the console's own form, collect console errors, screenshots.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const exe = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch({ mic, profile } = {}) {
  const dir = profile || fs.mkdtempSync(path.join(os.tmpdir(), 'suifang-console-'));
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection', '--password-store=basic',
  ];
  if (mic) args.push(`--use-file-for-fake-audio-capture=${mic}`);
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: exe, headless: true, timeout: 20000, args,
    viewport: { width: 1280, height: 720 },
    ignoreDefaultArgs: ['--mute-audio'],
  });
  return { ctx, dir };
}

/** A page that records console errors and uncaught exceptions. */
async function openPage(ctx, errors) {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(45000);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} @ ${JSON.stringify(m.location())}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // requests still running when the page navigates away are aborted: not an error of the page
    const why = r.failure() && r.failure().errorText;
    if (why !== 'net::ERR_ABORTED') errors.push(`requestfailed: ${r.url()} ${why}`);
  });
  // a server error's body says what broke (the console error only has the status)
  page.on('response', async (r) => {
    if (r.status() >= 500) errors.push(`server error ${r.status()} ${r.url()}: ${await r.text().catch(() => '')}`);
  });
  return page;
}

async function login(page, base, user, password, query = '') {
  await page.goto(`${base}/${query}`);
  await page.waitForSelector('#login-form');
  await page.fill('#login-username', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#nav a[aria-current="page"]');
}

function shooter(page, dir, prefix) {
  fs.mkdirSync(dir, { recursive: true });
  // screenshots of an earlier run of this role would mix with this run's
  for (const f of fs.readdirSync(dir)) if (f.startsWith(prefix + '-') && f.endsWith('.png')) fs.rmSync(path.join(dir, f));
  const shots = [];
  return async (name) => {
    const file = path.join(dir, `${prefix}-${String(shots.length + 1).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: false });
    shots.push(file);
    return file;
  };
}

/** Runs `body(out)` with a hard time limit; prints one JSON line; exit code 0 only if ok. */
function main(limitMs, body) {
  setTimeout(() => { console.log(JSON.stringify({ ok: false, error: `gave up after ${limitMs} ms` })); process.exit(3); }, limitMs).unref();
  const out = { ok: false, errors: [] };
  body(out).then(() => { out.ok = true; }, (e) => { out.error = String(e && e.stack || e); })
    .finally(() => {
      console.log(JSON.stringify(out));
      process.exit(out.ok ? 0 : 1);
    });
}

module.exports = { launch, openPage, login, shooter, main };
