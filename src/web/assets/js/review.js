// The team review (issue 20 item 4): the list of unclosed reviews, and one review's page —
// the agenda built from the patient's record (answers with trends, escalations, calls with
// recording and transcript, adherence), each discipline's signed assessment, the actions the
// team took (a follow-up task, a pathway change), and closing once every required discipline
// has signed. Opened from a team-review task (#/reviews?id=N) or from the list.
import { api } from './api.js';
import { t, stepName } from './i18n.js';
import { $, $$, html, raw, bi, fmtTime, fmtDate, toast, failure, severityBadge } from './ui.js';
import { answerText } from './script-form.js';

const DISCIPLINES = ['cardiology', 'pharmacy', 'rehabilitation', 'nutrition', 'psychology', 'social_work', 'nursing'];

/** A discipline's name in the console's language (codes a hospital added show as written). */
export const disciplineName = (code) => {
  const s = t('review.d.' + code);
  return s === 'review.d.' + code ? code : s;
};

/** One line saying what an action decided. */
export function actionText(a) {
  if (a.kind === 'follow_up_task') {
    return t('review.action.follow_up_text', {
      who: a.assignee ? disciplineName(a.assignee) : t('review.team'), days: a.in_days, script: a.script,
    });
  }
  const change = a.change || {};
  return change.op === 'postpone'
    ? t('review.action.postpone_text', { task: a.task_id, days: change.days })
    : t('review.action.cancel_text', { task: a.task_id });
}

function trendText(tr) {
  switch (tr.trend) {
    case 'rising': return `↑ +${tr.delta}`;
    case 'falling': return `↓ ${tr.delta}`;
    case 'steady': return `→ ${t('review.trend.steady')}`;
    case 'changed': return `≠ ${t('review.trend.changed')}`;
    default: return '–';
  }
}

function field(q) {
  const k = q.kind;
  const id = `rq-${q.id}`;
  switch (k.type) {
    case 'yes_no':
      return html`<fieldset class="yesno" id="${id}"><legend>${bi(q.text)}</legend>
        <label><input type="radio" name="${q.id}" value="true"> ${t('script.yes')}</label>
        <label><input type="radio" name="${q.id}" value="false"> ${t('script.no')}</label></fieldset>`;
    case 'choice':
      return html`<label for="${id}">${bi(q.text)}</label>
        <select id="${id}" name="${q.id}"><option value=""></option>${k.options.map((o) => raw(html`<option value="${o.id}">${bi(o.label)}</option>`))}</select>`;
    case 'number': case 'scale':
      return html`<label for="${id}">${bi(q.text)}</label>
        <input id="${id}" name="${q.id}" type="number" min="${k.min ?? 0}" max="${k.max ?? ''}" step="any">`;
    default:
      return html`<label for="${id}">${bi(q.text)}</label>
        <textarea id="${id}" name="${q.id}" rows="2" maxlength="${k.max_chars || 1000}"></textarea>`;
  }
}

function valueOf(form, q) {
  const inputs = $$(`[name="${q.id}"]`, form);
  if (!inputs.length) return undefined;
  if (q.kind.type === 'yes_no') {
    const c = inputs.find((i) => i.checked);
    return c ? c.value === 'true' : undefined;
  }
  const v = inputs[0].value;
  if (v === '') return undefined;
  return ['number', 'scale'].includes(q.kind.type) ? Number(v) : v;
}

function agendaHtml(a) {
  const answers = a.answers.length ? html`<table id="agenda-answers"><thead><tr><th>${t('report.question')}</th>
      <th>${t('review.values')}</th><th>${t('review.trend')}</th></tr></thead><tbody>${a.answers.map((q) => raw(html`<tr data-question="${q.question_id}">
      <td>${bi({ zh: q.question_zh, en: q.question_en }) || q.question_id}</td>
      <td>${q.values.map((v) => `${answerText(v.value)}${q.unit && !/mmHg/.test(q.unit) ? ' ' + q.unit : ''} (${fmtDate(v.answered_at)})`).join(' → ')}</td>
      <td class="trend trend-${q.trend.trend}">${trendText(q.trend)}</td></tr>`))}</tbody></table>`
    : html`<p class="muted" id="agenda-answers">${t('patient.no_data')}</p>`;
  const escRow = (e) => raw(html`<li>${raw(severityBadge(e.severity))} ${e.key.rule} · ${fmtTime(e.opened_at)} · ${t('status.' + e.status.status)}${e.status.note ? ' — ' + e.status.note : ''}</li>`);
  const calls = a.calls.length ? html`<ul id="agenda-calls">${a.calls.map((c) => raw(html`<li data-call="${c.id}">${fmtTime(c.started_at)} · ${c.state}${c.disposition ? ' · ' + t('disp.' + c.disposition) : ''}
      ${c.audio ? raw(html` · <a class="rec-link" href="${c.audio}" target="_blank" rel="noopener">${t('review.recording')}</a>`) : ''}
      ${c.transcript ? raw(html` · <a class="tr-link" href="${c.transcript}" target="_blank" rel="noopener">${t('review.transcript')}</a>`) : ''}</li>`))}</ul>`
    : html`<p class="muted" id="agenda-calls">${t('patient.no_data')}</p>`;
  const ad = a.adherence;
  return html`<h3>${t('review.agenda.answers')}</h3>${raw(answers)}
    <h3>${t('review.agenda.escalations')}</h3>
    <p>${t('review.open_escalations')}: <strong id="agenda-open-esc">${a.open_escalations.length}</strong> ·
      ${t('review.resolved_escalations')}: <strong id="agenda-resolved-esc">${a.resolved_escalations.length}</strong></p>
    <ul class="evidence">${a.open_escalations.map(escRow)}${a.resolved_escalations.map(escRow)}</ul>
    <h3>${t('review.agenda.calls')}</h3>${raw(calls)}
    <h3>${t('review.agenda.adherence')}</h3>
    <p id="agenda-adherence" data-done="${ad.done}" data-missed="${ad.missed}" data-pending="${ad.pending}">
      ${t('task.status.completed')} ${ad.done} · ${t('task.status.missed')} ${ad.missed} · ${t('task.status.pending')} ${ad.pending}${ad.other ? ` · ${t('review.other')} ${ad.other}` : ''}</p>
    <ol class="pathway">${ad.tasks.map((k) => raw(html`<li class="step ${k.status}"><span class="step-name">${stepName(k)}</span> <small>${fmtDate(k.due_at)} · ${t('task.status.' + k.status)}</small></li>`))}</ol>`;
}

export async function mount(view, ctx) {
  view.innerHTML = html`<div class="review-page">
    <section class="card" aria-labelledby="reviews-title">
      <h2 id="reviews-title">${t('review.list')}</h2>
      <ul id="review-list" class="inbox-list"></ul>
    </section>
    <section class="card" id="review" aria-live="polite"></section>
  </div>`;

  async function loadList(selected) {
    try {
      const r = await api('GET', '/reviews');
      $('#review-list', view).innerHTML = r.items.length ? r.items.map((v) => html`<li>
        <button type="button" class="inbox-item review-item ${v.id === selected ? 'selected' : ''}" data-id="${v.id}">
          <strong>${v.patient_name}</strong> · ${stepName(v)} <span class="muted">${t('review.status.' + v.status)}</span></button></li>`).join('')
        : html`<li class="muted">${t('review.none')}</li>`;
    } catch (e) {
      $('#review-list', view).innerHTML = html`<li class="error">${failure(e, t('review.list'))}</li>`;
    }
  }

  async function open(id) {
    const box = $('#review', view);
    let r;
    try {
      r = await api('GET', `/reviews/${id}`);
    } catch (e) {
      box.innerHTML = html`<p class="error" role="alert">${failure(e, t('review.title'))}</p>`;
      return;
    }
    const v = r.review;
    const script = r.script || { questions: [] };
    const mine = ctx.me.discipline;
    const signedBy = new Map(v.assessments.map((a) => [a.discipline, a]));
    const involved = [...v.required, ...script.questions.map((q) => q.discipline).filter((d) => d && !v.required.includes(d))]
      .filter((d, i, all) => all.indexOf(d) === i);
    const canSign = v.status !== 'closed' && mine && involved.includes(mine) && !signedBy.has(mine)
      && (ctx.me.role === 'doctor' || (ctx.me.role === 'nurse' && mine === 'nursing'));
    const myQuestions = script.questions.filter((q) => !q.discipline || q.discipline === mine);
    const question = (qid) => script.questions.find((x) => x.id === qid);
    const qText = (qid) => (question(qid) ? bi(question(qid).text) : qid);
    // a choice shows its label, not its id
    const aText = (qid, a) => {
      const q = question(qid);
      const o = q && q.kind.type === 'choice' && a && q.kind.options.find((x) => x.id === a.value);
      return o ? bi(o.label) : answerText(a);
    };
    const canAct = v.status !== 'closed' && (ctx.me.role === 'doctor' || ctx.me.role === 'nurse');
    const pending = r.agenda.adherence.tasks.filter((k) => k.status === 'pending' && k.id !== v.task_id);
    box.innerHTML = html`<h2 id="review-title" data-review="${v.id}">${t('review.title')} · ${v.patient_name} · ${stepName(v)}</h2>
      <p>${t('report.status')}: <strong id="review-status" data-status="${v.status}">${t('review.status.' + v.status)}</strong>
        · ${bi(script.title)} · ${t('review.opened')} ${fmtTime(v.opened_at)}</p>
      <h3>${t('review.signoffs')}</h3>
      <ul id="signoffs">${involved.map((d) => raw(html`<li data-discipline="${d}" class="${signedBy.has(d) ? 'signed' : 'unsigned'}">
        ${signedBy.has(d) ? '✔' : '○'} ${disciplineName(d)}${v.required.includes(d) ? '' : raw(html` <small>(${t('review.optional')})</small>`)}
        ${signedBy.has(d) ? raw(html` — ${signedBy.get(d).author_name}, ${fmtTime(signedBy.get(d).signed_at)}: <span class="assessment-text">${signedBy.get(d).text}</span>
          <small>${Object.entries(signedBy.get(d).answers || {}).map(([q, a]) => `${qText(q)}: ${aText(q, a)}`).join(' · ')}</small>`) : ''}</li>`))}</ul>
      <div class="columns">
        <div id="agenda">${raw(agendaHtml(r.agenda))}</div>
        <div>
          ${canSign ? raw(html`<form id="assessment-form" class="script-form"><h3>${t('review.assess', { d: disciplineName(mine) })}</h3>
            ${myQuestions.map((q) => raw(`<div class="q">${field(q)}</div>`))}
            <label for="assessment-text">${t('review.assessment')}</label>
            <textarea id="assessment-text" rows="3" maxlength="10000" required></textarea>
            <button type="submit" id="sign" class="primary">${t('review.sign')}</button></form>`)
            : raw(html`<p class="muted" id="sign-note">${v.status === 'closed' ? t('review.closed_note') : signedBy.has(mine) ? t('review.signed_note') : t('review.cannot_sign')}</p>`)}
          <h3>${t('review.actions')}</h3>
          <ul id="actions">${v.actions.map((x) => raw(html`<li data-kind="${x.action.kind}" data-task="${x.task_id ?? ''}">${actionText(x.action)}
            ${x.discipline ? raw(html` <small>(${disciplineName(x.discipline)})</small>`) : ''}</li>`))}</ul>
          ${canAct ? raw(html`<form id="action-form">
            <label for="action-kind">${t('review.action.kind')}</label>
            <select id="action-kind"><option value="follow_up_task">${t('review.action.follow_up')}</option>
              <option value="postpone">${t('review.action.postpone')}</option><option value="cancel">${t('review.action.cancel')}</option></select>
            <div id="follow-up-fields">
              <label for="action-assignee">${t('review.action.assignee')}</label>
              <select id="action-assignee"><option value="">${t('review.team')}</option>${DISCIPLINES.map((d) => raw(html`<option value="${d}">${disciplineName(d)}</option>`))}</select>
              <label for="action-script">${t('queue.script')}</label>
              <select id="action-script"></select>
              <label for="action-role">${t('review.action.role')}</label>
              <select id="action-role"><option value="team">${t('review.role.team')}</option><option value="nurse">${t('role.nurse')}</option></select>
            </div>
            <div id="pathway-fields" hidden>
              <label for="action-task">${t('report.step')}</label>
              <select id="action-task">${pending.map((k) => raw(html`<option value="${k.id}">${stepName(k)} · ${fmtDate(k.due_at)}</option>`))}</select>
            </div>
            <label for="action-days" id="action-days-label">${t('review.action.in_days')}</label>
            <input id="action-days" type="number" min="1" max="60" value="2">
            <button type="submit" id="add-action">${t('review.action.add')}</button></form>`) : ''}
          <p class="actions"><button type="button" id="close-review" class="primary" ${v.status === 'closed' || v.missing.length ? raw('disabled') : ''}>${t('review.close')}</button>
            <span id="review-missing" class="muted">${v.missing.length ? t('review.waiting', { list: v.missing.map(disciplineName).join(', ') }) : ''}</span></p>
        </div>
      </div>`;

    const form = $('#assessment-form', box);
    if (form) {
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const answers = {};
        for (const q of myQuestions) {
          const val = valueOf(form, q);
          if (val !== undefined) answers[q.id] = val;
        }
        try {
          await api('POST', `/reviews/${id}/assessments`, { text: $('#assessment-text', box).value, answers });
          toast(t('review.signed'), 'ok');
          await loadList(id);
          await open(id);
        } catch (e) { toast(failure(e, t('review.sign')), 'error'); }
      });
    }
    const actionForm = $('#action-form', box);
    if (actionForm) {
      try {
        const s = await api('GET', '/scripts');
        $('#action-script', box).innerHTML = s.items.filter((x) => x.code !== v.script_code)
          .map((x) => html`<option value="${x.code}" ${x.code === 'heart-failure' ? raw('selected') : ''}>${bi(x.title)} (${x.code})</option>`).join('');
      } catch (e) { toast(failure(e, t('queue.script')), 'error'); }
      const kind = $('#action-kind', box);
      kind.addEventListener('change', () => {
        $('#follow-up-fields', box).hidden = kind.value !== 'follow_up_task';
        $('#pathway-fields', box).hidden = kind.value === 'follow_up_task';
        $('#action-days', box).hidden = kind.value === 'cancel';
        $('#action-days-label', box).hidden = kind.value === 'cancel';
      });
      actionForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const days = Number($('#action-days', box).value);
        const body = kind.value === 'follow_up_task'
          ? { kind: 'follow_up_task', script: $('#action-script', box).value, role: $('#action-role', box).value, in_days: days, assignee: $('#action-assignee', box).value || null }
          : { kind: 'adjust_pathway', task_id: Number($('#action-task', box).value), change: kind.value === 'postpone' ? { op: 'postpone', days } : { op: 'cancel' } };
        try {
          await api('POST', `/reviews/${id}/actions`, body);
          toast(t('review.action.added'), 'ok');
          await open(id);
        } catch (e) { toast(failure(e, t('review.action.add')), 'error'); }
      });
    }
    $('#close-review', box).addEventListener('click', async () => {
      try {
        await api('POST', `/reviews/${id}/close`);
        toast(t('review.status.closed'), 'ok');
        await loadList(id);
        await open(id);
      } catch (e) { toast(failure(e, t('review.close')), 'error'); }
    });
  }

  $('#review-list', view).addEventListener('click', (e) => {
    const b = e.target.closest('.review-item');
    if (b) {
      history.replaceState(null, '', `#/reviews?id=${b.dataset.id}`);
      open(Number(b.dataset.id));
    }
  });
  const wanted = Number(new URLSearchParams(location.hash.split('?')[1] || '').get('id'));
  await loadList(wanted);
  if (wanted) await open(wanted);
}
