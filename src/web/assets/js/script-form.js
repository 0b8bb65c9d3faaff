// The task's follow-up script as a form. Every answer autosaves on change
// (PUT /tasks/{id}/answers/{question}); the server evaluates the rules at once, and when an
// answer opens or raises an escalation a live badge says so and to whom. When a rule that fired
// gives advice, the advice is shown under the question that triggered it, in the console's
// language, before the next question: for urgent and emergency findings prominently ("tell the
// patient to call 120 now" must not wait for the end of the script; issue 20 item 1).
import { api } from './api.js';
import { t } from './i18n.js';
import { $, $$, html, raw, bi, failure, toast } from './ui.js';

/** Stored answer value ({type, value} or {type, systolic, diastolic}) → display text. */
export function answerText(v) {
  if (v == null) return '';
  if (typeof v !== 'object') return String(v);
  const bp = v.systolic != null ? v : v.value && v.value.systolic != null ? v.value : null;
  if (bp) return `${bp.systolic}/${bp.diastolic} mmHg`;
  if (v.type === 'yes_no') return v.value ? t('script.yes') : t('script.no');
  if (v.value !== undefined) return typeof v.value === 'object' ? JSON.stringify(v.value) : String(v.value);
  return JSON.stringify(v);
}

function field(q, saved) {
  const k = q.kind;
  const id = `q-${q.id}`;
  const v = saved ? saved.value : null;
  const val = v && v.value !== undefined ? v.value : null;
  switch (k.type) {
    case 'yes_no':
      return html`<fieldset class="yesno" id="${id}"><legend>${bi(q.text)}</legend>
        <label><input type="radio" name="${q.id}" value="true" ${val === true ? raw('checked') : ''}> ${t('script.yes')}</label>
        <label><input type="radio" name="${q.id}" value="false" ${val === false ? raw('checked') : ''}> ${t('script.no')}</label></fieldset>`;
    case 'number':
      return html`<label for="${id}">${bi(q.text)}</label>
        <span class="with-unit"><input id="${id}" name="${q.id}" type="number" inputmode="decimal" min="${k.min}" max="${k.max}"
          step="${k.decimals ? 1 / 10 ** k.decimals : 1}" value="${val ?? ''}"> ${k.unit}</span>`;
    case 'blood_pressure':
      return html`<fieldset id="${id}" class="bp"><legend>${bi(q.text)}</legend>
        <label>${t('script.systolic')} <input name="${q.id}" data-part="systolic" type="number" min="40" max="300" value="${val && val.systolic != null ? val.systolic : ''}"></label> /
        <label>${t('script.diastolic')} <input name="${q.id}" data-part="diastolic" type="number" min="20" max="200" value="${val && val.diastolic != null ? val.diastolic : ''}"></label> mmHg</fieldset>`;
    case 'choice':
      return html`<label for="${id}">${bi(q.text)}</label>
        <select id="${id}" name="${q.id}"><option value=""></option>${k.options.map((o) => raw(html`<option value="${o.id}" ${val === o.id ? raw('selected') : ''}>${bi(o.label)}</option>`))}</select>`;
    case 'scale':
      return html`<label for="${id}">${bi(q.text)} (0–${k.max})</label>
        <input id="${id}" name="${q.id}" type="number" min="0" max="${k.max}" step="1" value="${val ?? ''}">`;
    default:
      return html`<label for="${id}">${bi(q.text)}</label>
        <textarea id="${id}" name="${q.id}" rows="2" maxlength="${k.max_chars || 1000}">${val ?? ''}</textarea>`;
  }
}

function valueOf(form, q) {
  const inputs = $$(`[name="${q.id}"]`, form);
  switch (q.kind.type) {
    case 'yes_no': {
      const c = inputs.find((i) => i.checked);
      return c ? c.value === 'true' : undefined;
    }
    case 'blood_pressure': {
      const s = inputs.find((i) => i.dataset.part === 'systolic').value;
      const d = inputs.find((i) => i.dataset.part === 'diastolic').value;
      return s && d ? { systolic: Number(s), diastolic: Number(d) } : undefined;
    }
    case 'number': case 'scale':
      return inputs[0].value === '' ? undefined : Number(inputs[0].value);
    default:
      return inputs[0].value === '' ? undefined : inputs[0].value;
  }
}

/**
 * Renders the script of `task` into `root`. `opts.callId()` gives the live call (answers record
 * it); `opts.onEscalation(info)` is told about escalations the answers opened.
 */
export async function mountScript(root, task, ctx, opts = {}) {
  if (!task.script_code) {
    root.innerHTML = html`<p class="muted">${t('script.none')}</p>`;
    return;
  }
  let script, saved;
  try {
    [script, saved] = await Promise.all([
      api('GET', `/scripts/${encodeURIComponent(task.script_code)}`),
      api('GET', `/tasks/${task.id}/answers`),
    ]);
  } catch (e) {
    root.innerHTML = html`<p class="error" role="alert">${failure(e, t('script.title'))}</p>`;
    return;
  }
  const byQ = new Map(saved.items.map((a) => [a.question_id, a]));
  const formId = opts.formId || 'script-form';
  root.innerHTML = html`<h3>${t('script.title')} · ${bi(script.title)} <small>v${script.version}</small></h3>
    <div class="badges escalation-badges" id="escalation-badges-${script.code}" aria-live="assertive"></div>
    <form id="${formId}" class="script" data-script="${script.code}" data-task="${task.id}" novalidate>
      ${script.questions.map((q) => raw(html`<div class="q" data-q="${q.id}">${raw(field(q, byQ.get(q.id)))}
        ${q.show_if_text ? raw(html`<small class="muted">${t('script.shown_if', { cond: q.show_if_text })}</small>`) : ''}
        <span class="save-state" id="state-${q.id}" aria-live="polite"></span></div>`))}
    </form>`;
  const form = $(`#${formId}`, root);
  const timers = new Map();
  const save = async (q) => {
    const value = valueOf(form, q);
    if (value === undefined) return;
    const state = $(`#state-${q.id}`, root);
    state.textContent = t('script.saving');
    state.className = 'save-state';
    try {
      const body = { value };
      const callId = opts.callId && opts.callId();
      if (callId) body.call_id = callId;
      const r = await api('PUT', `/tasks/${task.id}/answers/${encodeURIComponent(q.id)}`, body);
      state.textContent = '✓ ' + t('script.saved');
      state.className = 'save-state ok';
      if ((q.measurement || q.kind.type === 'blood_pressure') && opts.onMeasurement) opts.onMeasurement();
      // a rule's tag added (or added again) shows on the patient at once
      if ((r.tags || []).some((g) => g.action === 'add' || g.action === 're_add') && opts.onTags) opts.onTags();
      showAdvice(root, r.escalations || [], q.id);
      const fresh = (r.escalations || []).filter((e) => e.change !== 'unchanged');
      if (fresh.length) await showEscalations(root, task, ctx, fresh, opts);
    } catch (e) {
      state.textContent = e.message;
      state.className = 'save-state error';
    }
  };
  form.addEventListener('change', (ev) => {
    const q = script.questions.find((x) => x.id === ev.target.name);
    if (!q) return;
    clearTimeout(timers.get(q.id));
    save(q);
  });
  form.addEventListener('input', (ev) => {
    const q = script.questions.find((x) => x.id === ev.target.name);
    if (!q || q.kind.type === 'yes_no' || q.kind.type === 'choice') return;
    clearTimeout(timers.get(q.id));
    timers.set(q.id, setTimeout(() => save(q), 1200));
  });
  form.addEventListener('submit', (ev) => ev.preventDefault());
  await restoreAdvice(root, task, script);
}

/**
 * The task's own script and those added to it (GET/POST /tasks/{id}/scripts): a nurse on a
 * call-back who hears chest pain adds the chest-pain script and its rules work during the call.
 */
export async function mountScripts(root, task, ctx, opts = {}) {
  root.innerHTML = html`<div class="script-main"></div><div class="script-extra"></div>
    <p class="add-script"><label for="add-script">${t('script.add')}</label>
      <select id="add-script"><option value=""></option></select>
      <button type="button" id="add-script-go">${t('script.add_go')}</button></p>`;
  const mounted = new Set();
  const mountExtra = async (code) => {
    if (mounted.has(code)) return;
    mounted.add(code);
    const box = document.createElement('div');
    box.className = 'script-added';
    box.dataset.script = code;
    $('.script-extra', root).append(box);
    await mountScript(box, { ...task, script_code: code }, ctx, { ...opts, formId: `script-form-${code}` });
  };
  if (task.script_code) mounted.add(task.script_code);
  const [, list, onTask] = await Promise.all([
    mountScript($('.script-main', root), task, ctx, opts),
    api('GET', '/scripts').catch(() => ({ items: [] })),
    api('GET', `/tasks/${task.id}/scripts`).catch(() => ({ items: [] })),
  ]);
  $('#add-script', root).insertAdjacentHTML('beforeend', list.items.map((s) => html`<option value="${s.code}">${bi(s.title)} (${s.code})</option>`).join(''));
  for (const code of onTask.items) await mountExtra(code);
  $('#add-script-go', root).addEventListener('click', async () => {
    const code = $('#add-script', root).value;
    if (!code || mounted.has(code)) return;
    try {
      await api('POST', `/tasks/${task.id}/scripts`, { script: code });
      await mountExtra(code);
    } catch (e) {
      toast(failure(e, t('script.add')), 'error');
    }
  });
}

/** Severities whose advice the nurse must give at once, before the next question. */
const SAY_NOW = new Set(['urgent', 'emergency']);

/**
 * Shows each finding's advice under the question that triggered it (the last of the rule's
 * questions on the form, or `answered` when the rule read none of them: trend rules).
 * `findings`: [{rule, severity, advice: {zh, en}, questions: [...]}].
 */
function showAdvice(root, findings, answered) {
  for (const f of findings) {
    if (!f.advice) continue;
    const qs = (f.questions || []).filter((id) => $(`.q[data-q="${id}"]`, root));
    const at = $(`.q[data-q="${qs.length ? qs[qs.length - 1] : answered}"]`, root);
    if (!at) continue;
    const now = SAY_NOW.has(f.severity);
    const box = html`<div class="advice sev-${f.severity}${now ? ' now' : ''}" data-advice-rule="${f.rule}" data-severity="${f.severity}" role="${now ? 'alert' : 'status'}">
      <strong>${t(now ? 'script.advice_now' : 'script.advice')} · ${t('sev.' + f.severity)}</strong>
      <span class="advice-text">${bi(f.advice)}</span> <small class="muted">(${t('script.advice_rule', { rule: f.rule })})</small></div>`;
    const old = $(`[data-advice-rule="${f.rule}"]`, root);
    if (old) old.remove();
    at.insertAdjacentHTML('beforeend', box);
    if (now) $(`[data-advice-rule="${f.rule}"]`, at).scrollIntoView({ block: 'nearest' });
  }
}

/**
 * After a reload: the advice of the patient's unresolved escalations from this script, from the
 * evidence stored with them, so the nurse still sees what the patient must be told.
 */
async function restoreAdvice(root, task, script) {
  let tl;
  try {
    tl = await api('GET', `/patients/${task.patient_id}/timeline`);
  } catch { return; } // the form works without it; the badge path reports errors
  const findings = [];
  for (const i of tl.items) {
    const e = i.kind === 'escalation' && i.escalation;
    if (!e || e.key.script !== script.code || e.status.status === 'resolved') continue;
    const last = [...e.evidence].reverse().find((x) => x.advice && x.source.kind === 'answer');
    if (!last) continue;
    findings.push({ rule: e.key.rule, severity: last.severity, advice: last.advice, questions: last.evidence.answers.map((a) => a[0]) });
  }
  showAdvice(root, findings, null);
}

/** Badges for escalations the answers opened: severity from the patient's timeline. */
async function showEscalations(root, task, ctx, fresh, opts) {
  let byId = new Map();
  try {
    const tl = await api('GET', `/patients/${task.patient_id}/timeline`);
    byId = new Map(tl.items.filter((i) => i.kind === 'escalation').map((i) => [i.escalation.id, i.escalation]));
  } catch { /* badge without severity */ }
  const box = $('.escalation-badges', root);
  for (const e of fresh) {
    const full = byId.get(e.id);
    const sev = full ? full.severity : e.severity || 'high';
    const who = [...new Set((e.notify || []).map((n) => ctx.name(n.user)))].join(', ') || '—';
    const old = $(`[data-escalation="${e.id}"]`, box);
    const badge = html`<p class="escalation-badge sev-${sev}" data-escalation="${e.id}" role="alert">⚠ ${t('script.escalated', { sev: t('sev.' + sev), who })}
      ${full ? raw(html`<small>(${full.key.rule})</small>`) : ''}</p>`;
    if (old) old.outerHTML = badge; else box.insertAdjacentHTML('beforeend', badge);
    if (opts.onEscalation) opts.onEscalation({ ...e, severity: sev });
  }
}
