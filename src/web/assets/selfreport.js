// The patient's follow-up page (/f/<token>): identity check, then the task's questions one per
// screen, each answer saved at once; an emergency's advice is shown before anything else.
// Plain JS, no framework: it must load fast on an old phone.
'use strict';
(function () {
  const token = location.pathname.split('/')[2] || '';
  const base = `/f/${encodeURIComponent(token)}`;
  const T = {
    zh: {
      'id.title': '请先确认身份', 'id.birth_year': '请输入您的出生年份（4位数字，例如 1956）',
      'id.mrn_last4': '请输入病历号的最后4位', 'id.submit': '确认', 'id.wrong': '与记录不符，还可以再试 {n} 次。',
      'id.empty': '请输入后再确认。',
      'locked.title': '链接已锁定', 'locked.text': '由于多次输入错误，此链接已锁定。医院护士会给您打电话。',
      'q.back': '上一题', 'q.next': '下一题', 'q.progress': '第 {i} 题，共 {n} 题', 'q.required': '请先回答这个问题。',
      'q.yes': '是', 'q.no': '否', 'q.sbp': '高压（收缩压）', 'q.dbp': '低压（舒张压）',
      'q.range': '请输入 {min} 到 {max} 之间的数字。', 'q.invalid': '这个回答无法保存，请检查后再试。',
      'q.saved_offline': '网络不好，回答还没有保存，请稍后再点“下一题”。',
      'sum.title': '请核对您的回答', 'sum.send': '提交', 'sum.missing': '还有问题没有回答。',
      'done.normal.title': '谢谢，您的回答已收到', 'done.normal.text': '一切正常，不需要再打电话。如有不适请及时就医。',
      'done.callback.title': '谢谢，您的回答已收到', 'done.callback.text': '护士会尽快给您打电话。如果情况紧急，请立即拨打120。',
      'done.already.title': '您已经提交过了', 'done.already.text': '谢谢。如有变化请致电医院随访中心。',
      'alarm.title': '请立即拨打 120', 'alarm.call': '拨打 120', 'alarm.close': '我知道了',
      'lang': 'English',
    },
    en: {
      'id.title': 'First, please confirm who you are', 'id.birth_year': 'Enter your year of birth (4 digits, e.g. 1956)',
      'id.mrn_last4': 'Enter the last 4 characters of your record number', 'id.submit': 'Confirm',
      'id.wrong': 'That does not match our record. {n} tries left.', 'id.empty': 'Please enter it first.',
      'locked.title': 'This link is locked', 'locked.text': 'Too many wrong answers. A nurse from the hospital will call you.',
      'q.back': 'Back', 'q.next': 'Next', 'q.progress': 'Question {i} of {n}', 'q.required': 'Please answer this question first.',
      'q.yes': 'Yes', 'q.no': 'No', 'q.sbp': 'Upper (systolic)', 'q.dbp': 'Lower (diastolic)',
      'q.range': 'Enter a number from {min} to {max}.', 'q.invalid': 'This answer could not be saved; please check it.',
      'q.saved_offline': 'The network is slow; your answer is not saved yet. Press Next again in a moment.',
      'sum.title': 'Please check your answers', 'sum.send': 'Send', 'sum.missing': 'Some questions are not answered yet.',
      'done.normal.title': 'Thank you, we have your answers', 'done.normal.text': 'All is well; no call is needed. See a doctor if you feel unwell.',
      'done.callback.title': 'Thank you, we have your answers', 'done.callback.text': 'A nurse will call you soon. If it is urgent, call 120 now.',
      'done.already.title': 'You have already sent your answers', 'done.already.text': 'Thank you. If anything changes, call the follow-up center.',
      'alarm.title': 'Call 120 now', 'alarm.call': 'Call 120', 'alarm.close': 'I understand',
      'lang': '中文',
    },
  };
  let lang = (navigator.language || '').toLowerCase().startsWith('en') ? 'en' : 'zh';
  let langChosen = false;
  let form = null;      // {questions, answers, visible, title, hospital, completed}
  let answers = {};     // question id -> stored value ({type, value})
  let current = null;   // question id on screen
  let screen = 'identity';
  const $ = (id) => document.getElementById(id);
  const t = (k, vars) => (T[lang][k] || k).replace(/\{(\w+)\}/g, (_, v) => (vars && v in vars ? vars[v] : ''));
  const bi = (b) => (b ? (b[lang] || b.zh || b.en || '') : '');

  function show(name) {
    screen = name;
    for (const s of ['identity', 'locked', 'question', 'summary', 'done']) $(`s-${s}`).hidden = s !== name;
    $('main').focus();
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    $('lang').textContent = t('lang');
    $('lang').lang = lang === 'zh' ? 'en' : 'zh';
    if (form) $('hospital').textContent = form.hospital || '';
    if (screen === 'question' && current) renderQuestion(current);
    if (screen === 'summary') renderSummary();
  }

  async function call(method, path, body) {
    const opts = { method, headers: {}, credentials: 'same-origin' };
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    const r = await fetch(base + path, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }

  // ---- identity ----
  $('identity-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const answer = $('identity-answer').value.trim();
    if (!answer) { $('identity-error').textContent = t('id.empty'); return; }
    $('identity-submit').disabled = true;
    const r = await call('POST', '/identity', { answer });
    $('identity-submit').disabled = false;
    if (r.status === 200 && r.data.ok) { $('identity-answer').value = ''; $('identity-error').textContent = ''; await load(); return; }
    if (r.status === 423 || (r.status === 200 && r.data.locked)) { show('locked'); return; }
    if (r.status === 200) { $('identity-error').textContent = t('id.wrong', { n: r.data.tries_left }); return; }
    $('identity-error').textContent = (r.data && r.data.error && r.data.error.message) || String(r.status);
  });

  async function load() {
    const r = await call('GET', '/form');
    if (r.status === 423) { show('locked'); return; }
    if (r.status !== 200) { location.reload(); return; }
    if (r.data.identity_required) {
      $('identity-label').dataset.t = r.data.check === 'mrn_last4' ? 'id.mrn_last4' : 'id.birth_year';
      applyLang();
      show('identity');
      return;
    }
    form = r.data;
    if (!langChosen) lang = form.language === 'en' ? 'en' : 'zh';
    answers = {};
    for (const a of form.answers) answers[a.question_id] = a.value;
    applyLang();
    if (form.completed) { done('already'); return; }
    const next = form.visible.find((q) => !(q in answers));
    if (next) { current = next; renderQuestion(next); show('question'); } else { renderSummary(); show('summary'); }
  }

  // ---- questions ----
  const question = (id) => form.questions.find((q) => q.id === id);

  function input(type, name, value, label) {
    const l = document.createElement('label');
    l.className = 'choice';
    const i = document.createElement('input');
    i.type = type; i.name = name; i.value = value;
    l.append(i, document.createTextNode(label));
    return l;
  }

  function renderQuestion(id) {
    const q = question(id);
    const k = q.kind;
    const box = $('q-input');
    box.textContent = '';
    $('q-text').textContent = bi(q.text);
    $('q-text').dataset.question = id;
    $('q-error').textContent = '';
    const i = form.visible.indexOf(id);
    $('progress').textContent = t('q.progress', { i: i + 1, n: form.visible.length });
    $('q-back').disabled = i <= 0;
    const prev = answers[id] && answers[id].value;
    if (k.type === 'yes_no') {
      box.append(input('radio', 'v', 'true', t('q.yes')), input('radio', 'v', 'false', t('q.no')));
      if (prev !== undefined) box.querySelector(`input[value="${prev}"]`).checked = true;
    } else if (k.type === 'choice') {
      for (const o of k.options) box.append(input('radio', 'v', o.id, bi(o.label)));
      if (prev !== undefined) { const el = box.querySelector(`input[value="${CSS.escape(prev)}"]`); if (el) el.checked = true; }
    } else if (k.type === 'scale') {
      const grid = document.createElement('div'); grid.className = 'scale';
      for (let n = 0; n <= k.max; n++) grid.append(input('radio', 'v', String(n), String(n)));
      box.append(grid);
      if (prev !== undefined) box.querySelector(`input[value="${prev}"]`).checked = true;
    } else if (k.type === 'number') {
      const wrap = document.createElement('div'); wrap.className = 'unit';
      const el = document.createElement('input');
      el.id = 'v'; el.inputMode = k.decimals > 0 ? 'decimal' : 'numeric'; el.autocomplete = 'off';
      el.setAttribute('aria-labelledby', 'q-text');
      if (prev !== undefined) el.value = prev;
      const unit = document.createElement('span'); unit.textContent = k.unit;
      wrap.append(el, unit); box.append(wrap);
    } else if (k.type === 'blood_pressure') {
      for (const [part, key] of [['sbp', 'systolic'], ['dbp', 'diastolic']]) {
        const l = document.createElement('label'); l.htmlFor = `v-${part}`; l.textContent = `${t('q.' + part)} (mmHg)`;
        const el = document.createElement('input'); el.id = `v-${part}`; el.inputMode = 'numeric'; el.autocomplete = 'off';
        if (prev) el.value = prev[key];
        box.append(l, el);
      }
    } else if (k.type === 'date') {
      const el = document.createElement('input'); el.type = 'date'; el.id = 'v';
      el.setAttribute('aria-labelledby', 'q-text');
      if (prev) el.value = prev;
      box.append(el);
    } else {
      const el = document.createElement('textarea'); el.id = 'v'; el.rows = 4; el.maxLength = k.max_chars || 500;
      el.setAttribute('aria-labelledby', 'q-text');
      if (prev) el.value = prev;
      box.append(el);
    }
  }

  /** The value on screen as the API takes it, or undefined when nothing was given. */
  function value(q) {
    const k = q.kind;
    const picked = document.querySelector('#q-input input[name="v"]:checked');
    if (k.type === 'yes_no') return picked ? picked.value === 'true' : undefined;
    if (k.type === 'choice') return picked ? picked.value : undefined;
    if (k.type === 'scale') return picked ? Number(picked.value) : undefined;
    if (k.type === 'number') {
      const s = $('v').value.trim().replace(/[０-９．]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0));
      return s === '' ? undefined : Number(s);
    }
    if (k.type === 'blood_pressure') {
      const s = $('v-sbp').value.trim(), d = $('v-dbp').value.trim();
      return s === '' || d === '' ? undefined : { systolic: Number(s), diastolic: Number(d) };
    }
    const s = $('v').value.trim();
    return s === '' ? undefined : s;
  }

  function rangeMessage(q) {
    const k = q.kind;
    if (k.type === 'number') return t('q.range', { min: k.min, max: k.max });
    if (k.type === 'blood_pressure') return t('q.range', { min: 40, max: 300 });
    return t('q.invalid');
  }

  function showAdvice(advice, emergency) {
    const box = $('advice');
    box.textContent = '';
    for (const a of advice) { const p = document.createElement('p'); p.textContent = lang === 'en' ? a.en : a.zh; box.append(p); }
    box.hidden = advice.length === 0;
    if (emergency) {
      const first = advice.find((a) => a.severity === 'emergency') || advice[0];
      $('alarm-text').textContent = first ? (lang === 'en' ? first.en : first.zh) : '';
      $('alarm').hidden = false;
      $('alarm-call').focus();
    }
  }

  $('alarm-close').addEventListener('click', () => { $('alarm').hidden = true; $('main').focus(); });

  $('question-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = question(current);
    const v = value(q);
    // free text may stay empty: nothing is saved, the patient goes on
    if (v === undefined && q.kind.type === 'text') { next(); return; }
    if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) { $('q-error').textContent = v === undefined ? t('q.required') : rangeMessage(q); return; }
    $('q-next').disabled = true;
    let r;
    try { r = await call('PUT', `/answers/${encodeURIComponent(current)}`, { value: v }); }
    catch (e) { $('q-next').disabled = false; $('q-error').textContent = t('q.saved_offline'); return; }
    $('q-next').disabled = false;
    if (r.status === 422) { $('q-error').textContent = rangeMessage(q); return; }
    if (r.status === 401) { show('identity'); return; }
    if (r.status !== 200) { $('q-error').textContent = (r.data && r.data.error && r.data.error.message) || String(r.status); return; }
    answers = {};
    for (const a of r.data.answers) answers[a.question_id] = a.value;
    form.visible = r.data.visible;
    const advice = r.data.advice || [];
    if (advice.length) {
      showAdvice(advice, r.data.emergency);
      // the patient reads the advice on this screen; "Next" goes on from here
      if (!$('q-next').dataset.adviceShown) { $('q-next').dataset.adviceShown = current; return; }
    }
    delete $('q-next').dataset.adviceShown;
    $('advice').hidden = true;
    next();
  });

  function next() {
    const i = form.visible.indexOf(current);
    const after = form.visible.slice(i + 1).find(() => true);
    if (after) { current = after; renderQuestion(after); show('question'); } else { renderSummary(); show('summary'); }
  }

  $('q-back').addEventListener('click', () => {
    const i = form.visible.indexOf(current);
    if (i > 0) { current = form.visible[i - 1]; $('advice').hidden = true; renderQuestion(current); show('question'); }
  });
  $('sum-back').addEventListener('click', () => {
    current = form.visible[form.visible.length - 1];
    renderQuestion(current); show('question');
  });

  function shown(q, stored) {
    if (!stored) return '—';
    const v = stored.value, k = q.kind;
    if (k.type === 'yes_no') return v ? t('q.yes') : t('q.no');
    if (k.type === 'choice') { const o = k.options.find((o) => o.id === v); return o ? bi(o.label) : v; }
    if (k.type === 'number') return `${v} ${k.unit}`;
    if (k.type === 'blood_pressure') return `${v.systolic}/${v.diastolic} mmHg`;
    return String(v);
  }

  function renderSummary() {
    const dl = $('summary');
    dl.textContent = '';
    for (const id of form.visible) {
      const q = question(id);
      const dt = document.createElement('dt'); dt.textContent = bi(q.text);
      const dd = document.createElement('dd'); dd.textContent = shown(q, answers[id]); dd.dataset.question = id;
      dl.append(dt, dd);
    }
    $('submit-error').textContent = '';
  }

  $('submit').addEventListener('click', async () => {
    $('submit').disabled = true;
    const r = await call('POST', '/submit');
    $('submit').disabled = false;
    if (r.status === 200 && r.data.outcome === 'completed') done('normal');
    else if (r.status === 200 && r.data.outcome === 'call_back') done('callback');
    else if (r.status === 200 && r.data.outcome === 'incomplete') { $('submit-error').textContent = t('sum.missing'); }
    else if (r.status === 409) done('already');
    else $('submit-error').textContent = (r.data && r.data.error && r.data.error.message) || String(r.status);
  });

  function done(kind) {
    $('done-title').textContent = t(`done.${kind}.title`);
    $('done-text').textContent = t(`done.${kind}.text`);
    document.body.dataset.outcome = kind;
    show('done');
  }

  $('lang').addEventListener('click', () => { lang = lang === 'zh' ? 'en' : 'zh'; langChosen = true; applyLang(); });

  applyLang();
  load();
})();
