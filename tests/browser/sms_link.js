// node tests/browser/sms_link.js BASE_URL ARTIFACT_DIR ARGS_JSON
//
// Issue 19 in Debian's headless Chromium on a 360×740 phone screen: the patient opens the link
// from the SMS, confirms the birth year, answers the task's questions one per screen and sends
// them. ARGS_JSON: {url, lang: "zh"|"en", prefix, birth_year, wrong_years: [...],
// answers: {question: true|false|number|{systolic, diastolic}|"text"}}. Prints one JSON object:
// each screen seen, the advice and alarm shown, the outcome, screenshots, console errors.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { openPage, shooter, main } = require('./console_lib');

const [, artifacts, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson || '{}');

main(180000, async (out) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'suifang-sms-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, timeout: 20000,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--password-store=basic'],
    viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    locale: args.lang === 'en' ? 'en-US' : 'zh-CN',
  });
  const page = await openPage(ctx, out.errors);
  const shot = shooter(page, artifacts, args.prefix || 'sms-link');
  out.screens = [];
  out.questions = [];
  out.advice = [];
  out.alarm = null;
  try {
    await page.goto(args.url);
    await page.waitForSelector('#s-identity:not([hidden])');
    if (args.lang === 'en' && (await page.getAttribute('html', 'lang')) !== 'en') await page.click('#lang');
    out.lang = await page.getAttribute('html', 'lang');
    out.identity_label = (await page.textContent('#identity-label')).trim();
    await shot('identity');
    out.wrong = [];
    for (const y of args.wrong_years || []) {
      await page.fill('#identity-answer', String(y));
      await page.click('#identity-submit');
      await page.waitForFunction(() => document.querySelector('#identity-error').textContent.trim() !== '');
      out.wrong.push((await page.textContent('#identity-error')).trim());
      await page.evaluate(() => { document.querySelector('#identity-error').textContent = ''; });
    }
    await page.fill('#identity-answer', String(args.birth_year));
    await page.click('#identity-submit');
    await page.waitForSelector('#s-question:not([hidden]), #s-summary:not([hidden])');
    out.hospital = (await page.textContent('#hospital')).trim();
    // a page with the language chosen from the patient's record: switch if the test asks otherwise
    const want = args.lang === 'en' ? 'en' : 'zh-CN';
    if ((await page.getAttribute('html', 'lang')) !== want) await page.click('#lang');
    for (let n = 0; n < 40; n++) {
      if (await page.isVisible('#s-summary')) break;
      const q = await page.getAttribute('#q-text', 'data-question');
      const text = (await page.textContent('#q-text')).trim();
      const progress = (await page.textContent('#progress')).trim();
      out.questions.push({ id: q, text, progress });
      if (out.questions.length <= 2) await shot(`question-${q}`);
      const v = args.answers[q];
      if (v === undefined) throw new Error(`no answer given for question ${q}`);
      if (typeof v === 'boolean') await page.check(`#q-input input[value="${v}"]`);
      else if (typeof v === 'number' && await page.$('#q-input input[type="radio"]')) await page.check(`#q-input input[value="${v}"]`);
      else if (typeof v === 'number') await page.fill('#v', String(v));
      else if (v && typeof v === 'object') { await page.fill('#v-sbp', String(v.systolic)); await page.fill('#v-dbp', String(v.diastolic)); }
      else if (await page.$('#q-input input[type="radio"]')) await page.check(`#q-input input[value="${v}"]`);
      else await page.fill('#v', String(v));
      await page.click('#q-next');
      // the answer is saved, then either the next screen or this one's advice
      await page.waitForFunction((id) => {
        const $ = (s) => document.querySelector(s);
        const moved = $('#q-text').dataset.question !== id || $('#s-question').hidden;
        return moved || !$('#advice').hidden || !$('#alarm').hidden || $('#q-error').textContent.trim() !== '';
      }, q);
      if (await page.isVisible('#alarm')) {
        out.alarm = { question: q, title: (await page.textContent('#alarm-title')).trim(), text: (await page.textContent('#alarm-text')).trim() };
        await shot('emergency');
        await page.click('#alarm-close');
      }
      if (await page.isVisible('#advice') && (await page.getAttribute('#q-text', 'data-question')) === q) {
        out.advice.push({ question: q, text: (await page.textContent('#advice')).trim() });
        await shot(`advice-${q}`);
        await page.click('#q-next');
        await page.waitForFunction((id) => document.querySelector('#q-text').dataset.question !== id || !document.querySelector('#s-summary').hidden, q);
      }
      const err = (await page.textContent('#q-error')).trim();
      if (err) throw new Error(`question ${q}: ${err}`);
    }
    await page.waitForSelector('#s-summary:not([hidden])');
    out.summary = await page.$$eval('#summary dd', (dds) => dds.map((d) => ({ question: d.dataset.question, shown: d.textContent })));
    await shot('summary');
    await page.click('#submit');
    await page.waitForSelector('#s-done:not([hidden])');
    out.outcome = await page.getAttribute('body', 'data-outcome');
    out.done = (await page.textContent('#done-title')).trim();
    await shot('done');
    // reopened after sending: the same answers cannot be sent twice
    await page.reload();
    await page.waitForSelector('#s-done:not([hidden]), #s-identity:not([hidden])');
    out.reopened = await page.getAttribute('body', 'data-outcome');
    out.shots = fs.readdirSync(artifacts).filter((f) => f.startsWith((args.prefix || 'sms-link') + '-'));
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
