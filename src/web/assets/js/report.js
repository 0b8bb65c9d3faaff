// The printable patient follow-up report (/assets/report.html?patient=ID): stage summary with
// pathway progress, answers, trends and escalations. window.reportReady turns true when drawn
// (and the article's aria-busy turns false), so print tools can wait for it.
import { api } from './api.js';
import { t, lang, setLang, applyI18n, stepName } from './i18n.js';
import { $, html, raw, fmtDate, fmtTime, failure, loadSettings } from './ui.js';
import { trendCharts } from './charts.js';
import { answerText } from './script-form.js';
import { actionText } from './review.js';
import { noteData, disc } from './notes.js';
import { stageBlock } from './stage.js';

window.reportReady = false;

async function render() {
  applyI18n();
  $('#lang').textContent = t('lang.switch');
  const params = new URLSearchParams(location.search);
  const id = Number(params.get('patient'));
  // report.html?patient=7&stage_days=90: the stage summary's period (30 days unless asked)
  const stageDays = params.get('stage_days');
  const root = $('#report');
  let r;
  try {
    await loadSettings(api);
    r = await api('GET', `/patients/${id}/report${stageDays ? `?stage_days=${encodeURIComponent(stageDays)}` : ''}`);
  } catch (e) {
    root.innerHTML = html`<p role="alert">${failure(e, t('report.title'))}</p>`;
    root.setAttribute('aria-busy', 'false');
    window.reportReady = true;
    return;
  }
  const p = r.patient;
  const d = r.discharges[0];
  document.title = `${t('report.title')} · ${p.name}`;
  const q = (a) => (lang() === 'en' ? a.question_en : a.question_zh) || a.question_id;
  const done = r.tasks.filter((k) => k.status === 'completed').length;
  root.innerHTML = html`<h1>${t('report.title')}</h1>
    <dl class="meta">
      <div><dt>${t('queue.patient')}</dt><dd id="r-name">${p.name} (${p.sex || '–'})</dd></div>
      <div><dt>${t('patient.mrn')}</dt><dd>${p.mrn}</dd></div>
      <div><dt>${t('patient.discharge')}</dt><dd>${d ? fmtDate(d.discharged_at) : '–'} ${d ? (lang() === 'en' ? d.department : d.department_zh) || '' : ''}</dd></div>
      <div><dt>${t('patient.diagnoses')}</dt><dd>${d ? d.diagnoses.join(', ') : '–'}</dd></div>
      <div><dt>${t('patient.pathway')}</dt><dd>${d ? d.pathways.map((w) => `${w.code} v${w.version} (${w.status})`).join(', ') : '–'}</dd></div>
      <div><dt>${t('report.progress')}</dt><dd id="r-progress">${done} / ${r.tasks.length}</dd></div>
      <div><dt>${t('risk.lace')}</dt><dd id="r-risk">${(r.risk || []).length ? `${r.risk[0].lace}${r.risk[0].high_risk ? ' ' + t('risk.high') : ''} (L ${r.risk[0].l_points} A ${r.risk[0].a_points} C ${r.risk[0].c_points} E ${r.risk[0].e_points})` : '–'}</dd></div>
      <div><dt>${t('tag.title')}</dt><dd id="r-tags">${r.tags.length ? r.tags.map((g) => g.tag).join(', ') : '–'}</dd></div>
    </dl>
    ${d && d.summary ? raw(html`<p>${d.summary}</p>`) : ''}
    ${raw(stageBlock(r.stage))}
    <h2>${t('report.progress')}</h2>
    <table id="r-tasks"><thead><tr><th>${t('report.step')}</th><th>${t('report.due')}</th><th>${t('report.status')}</th><th>${t('queue.attempts')}</th></tr></thead>
      <tbody>${r.tasks.map((k) => raw(html`<tr class="step-${k.status}"><td>${stepName(k)}</td><td>${fmtDate(k.due_at)}</td><td>${t('task.status.' + k.status)}</td><td>${k.attempts_total}</td></tr>`))}</tbody></table>
    <h2>${t('report.answers')}</h2>
    ${r.answers.length ? raw(html`<table id="r-answers"><thead><tr><th>${t('report.step')}</th><th>${t('report.question')}</th><th>${t('report.answer')}</th><th>${t('report.answered')}</th></tr></thead>
      <tbody>${r.answers.map((a) => raw(html`<tr><td>${stepName(a)}</td><td>${q(a)}</td><td class="answer">${answerText(a.value)}</td><td>${fmtTime(a.answered_at)}</td></tr>`))}</tbody></table>`)
      : raw(html`<p>${t('report.none')}</p>`)}
    <h2>${t('patient.trends')}</h2>
    <div id="r-trends">${raw(trendCharts(r.measurements, r.labs))}</div>
    <h2>${t('report.escalations')}</h2>
    ${r.escalations.length ? raw(html`<table id="r-escalations"><thead><tr><th>${t('inbox.opened')}</th><th>${t('inbox.level')}</th><th>${t('inbox.evidence')}</th><th>${t('report.status')}</th></tr></thead>
      <tbody>${r.escalations.map((e) => raw(html`<tr><td>${fmtTime(e.opened_at)}</td><td class="sev sev-${e.severity}">${t('sev.' + e.severity)}</td>
        <td>${e.key.rule}: ${e.evidence.flatMap((x) => x.evidence.answers.map(([, qq, aa]) => `${qq} ${aa}`)).join('; ')}</td>
        <td>${t('status.' + e.status.status)}${e.status.note ? ' — ' + e.status.note : ''}</td></tr>`))}</tbody></table>`)
      : raw(html`<p>${t('report.none')}</p>`)}
    <h2>${t('review.title')}</h2>
    ${(r.reviews || []).length ? raw(r.reviews.map((v) => html`<section class="r-review" data-review="${v.id}"><h3>${stepName(v)} · ${fmtTime(v.closed_at)}</h3>
      <ul>${v.assessments.map((a) => raw(html`<li><strong>${t('discipline.' + a.discipline)}</strong> (${a.author_name}, ${fmtTime(a.signed_at)}): ${a.text}</li>`))}</ul>
      ${v.actions.length ? raw(html`<p>${t('review.actions')}: ${v.actions.map((x) => actionText(x.action)).join('; ')}</p>`) : ''}</section>`).join(''))
      : raw(html`<p>${t('report.none')}</p>`)}
    <h2>${t('note.title')}</h2>
    ${r.notes.length ? raw(html`<table id="r-notes"><thead><tr><th>${t('inbox.opened')}</th><th>${t('note.kind')}</th><th>${t('note.body')}</th><th>${t('report.author')}</th></tr></thead>
      <tbody>${r.notes.map((n) => raw(html`<tr data-note="${n.id}"><td>${fmtTime(n.created_at)}</td><td>${t('note.kind.' + n.kind)}</td>
        <td class="note-body">${n.body}${n.data ? raw(html`<br><small>${noteData(n.kind, n.data)}</small>`) : ''}${n.version > 1 ? raw(html`<br><small class="note-corrected">${t('note.corrected', { v: n.version })}, ${fmtTime(n.updated_at)}</small>`) : ''}</td>
        <td>${n.author_name}${n.discipline ? ' · ' + disc(n.discipline) : ''}</td></tr>`))}</tbody></table>`)
      : raw(html`<p>${t('report.none')}</p>`)}
    <footer>${t('report.generated')}: ${fmtTime(r.generated_at)} · suifang · ${p.phone}</footer>`;
  root.setAttribute('aria-busy', 'false');
  window.reportReady = true;
}

$('#print').addEventListener('click', () => window.print());
$('#lang').addEventListener('click', () => { setLang(lang() === 'zh' ? 'en' : 'zh'); render(); });
render();
