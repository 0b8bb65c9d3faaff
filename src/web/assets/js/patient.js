// The patient panel shared by the nurse's workspace and the doctor's inbox: masked number,
// discharge summary, pathway progress, previous calls and answers, trend charts.
import { api } from './api.js';
import { t, stepName } from './i18n.js';
import { $, html, raw, fmtTime, fmtDate, fmtDuration, failure, severityBadge } from './ui.js';
import { trendCharts } from './charts.js';
import { answerText } from './script-form.js';
import { mountNotes, mountTags } from './notes.js';
import { mountSmsStatus } from './sms-status.js';

export async function loadPatient(patientId) {
  const [report, timeline] = await Promise.all([
    api('GET', `/patients/${patientId}/report`),
    api('GET', `/patients/${patientId}/timeline`),
  ]);
  return { report, timeline };
}

function progress(tasks, currentTaskId) {
  return html`<ol class="pathway">${tasks.map((k) => raw(html`<li class="step ${k.status} ${k.id === currentTaskId ? 'current' : ''}">
    <span class="step-name">${stepName(k)}</span> <small>${fmtDate(k.due_at)} · ${t('task.status.' + k.status)}${k.attempts_total ? ` · ${t('queue.attempts')} ${k.attempts_total}` : ''}</small></li>`))}</ol>`;
}

function history(timeline, ctx) {
  const rows = timeline.items.filter((i) => ['call', 'attempt', 'note', 'escalation'].includes(i.kind)).slice(0, 30);
  if (!rows.length) return html`<p class="muted">${t('patient.no_data')}</p>`;
  return html`<ul class="history">${rows.map((i) => {
    const when = fmtTime(i.at);
    switch (i.kind) {
      case 'call': return raw(html`<li>${when} · ${i.direction} · ${i.state}${i.disposition ? ' · ' + t('disp.' + i.disposition) : ''} ${i.duration_ms ? '· ' + fmtDuration(i.duration_ms) : ''}</li>`);
      case 'attempt': return raw(html`<li>☎ ${when} · ${t('disp.' + i.disposition)}${i.note ? ' — ' + i.note : ''}</li>`);
      case 'note': return raw(html`<li>✎ ${when} · ${i.body} <small>${i.author_name || ctx.name(i.author_id)}${i.version > 1 ? ' · v' + i.version : ''}</small></li>`);
      default: return raw(html`<li>⚠ ${when} · ${raw(severityBadge(i.escalation.severity))} ${i.escalation.key.rule} · ${t('status.' + i.escalation.status.status)}</li>`);
    }
  })}</ul>`;
}

function answersByTask(report) {
  if (!report.answers.length) return html`<p class="muted">${t('patient.no_data')}</p>`;
  const groups = new Map();
  for (const a of report.answers) {
    if (!groups.has(a.task_id)) groups.set(a.task_id, { step: stepName(a), items: [] });
    groups.get(a.task_id).items.push(a);
  }
  const q = (a) => (document.documentElement.lang === 'en' ? a.question_en : a.question_zh) || a.question_id;
  return [...groups.values()].map((g) => html`<h4>${g.step}</h4><dl class="answers">${g.items.map((a) => raw(html`<dt>${q(a)}</dt><dd>${answerText(a.value)}</dd>`))}</dl>`).join('');
}

/** Redraws the patient's tags (after an answer's rule set one). */
export async function refreshTags(root, patientId) {
  const box = $('#patient-tags', root);
  if (box) await mountTags(box, patientId);
}

/** Renders the panel; returns the loaded data (the caller may reuse it). */
export async function mountPatient(root, patientId, ctx, { taskId } = {}) {
  root.innerHTML = html`<p class="muted">…</p>`;
  let data;
  try {
    data = await loadPatient(patientId);
  } catch (e) {
    root.innerHTML = html`<p class="error" role="alert">${failure(e, t('patient.panel'))}</p>`;
    return null;
  }
  const { report, timeline } = data;
  const p = report.patient;
  const d = report.discharges[0];
  root.innerHTML = html`<h3 id="patient-name">${p.name} <small>${t('patient.mrn')} ${p.mrn}</small></h3>
    <p><span class="label">${t('patient.phone')}</span> <span id="patient-phone">${p.phone}</span>
      ${p.alt_phone ? raw(html` · <span class="label">${t('patient.alt')}</span> ${p.alt_contact_name || ''} ${p.alt_contact_relation ? '(' + p.alt_contact_relation + ')' : ''} ${p.alt_phone}`) : ''}
      ${p.do_not_call ? raw('<span class="badge sev-urgent">DNC</span>') : ''}</p>
    <p id="patient-tags" class="tags"></p>
    <details open><summary>${t('patient.discharge')}</summary>
      ${d ? raw(html`<p>${fmtDate(d.discharged_at)} · ${document.documentElement.lang === 'en' ? d.department || '' : d.department_zh || d.department || ''}
        · ${t('patient.diagnoses')}: ${d.diagnoses.join(', ')} ${d.attending ? '· ' + d.attending : ''}</p>
        ${d.summary ? raw(html`<p class="summary">${d.summary}</p>`) : ''}
        <p>${t('patient.pathway')}: ${d.pathways.map((w) => `${w.code} v${w.version}`).join(', ')}</p>`) : raw(html`<p class="muted">${t('patient.no_data')}</p>`)}
    </details>
    <details open><summary>${t('patient.pathway')}</summary>${raw(progress(report.tasks, taskId))}</details>
    <details open><summary>${t('patient.trends')}</summary><div id="patient-trends">${raw(trendCharts(report.measurements, report.labs))}</div></details>
    <details open><summary>${t('note.title')}</summary><div id="patient-notes"></div></details>
    <details><summary>${t('sms.title')}</summary><div id="patient-sms"></div></details>
    <details><summary>${t('patient.history')}</summary>${raw(history(timeline, ctx))}${raw(answersByTask(report))}</details>
    <p><a href="/assets/report.html?patient=${p.id}" target="_blank" rel="noopener">${t('patient.report')}</a></p>`;
  await Promise.all([mountTags($('#patient-tags', root), p.id), mountNotes($('#patient-notes', root), p.id),
    mountSmsStatus($('#patient-sms', root), p.id)]);
  return data;
}
