// Clinical notes and tags on the patient panel (issue 20 items 5 and 6): add a free or
// structured note, correct it by a new version (the history stays readable), search every
// note; the patient's tags with a button to take one off (audited on the server).
import { api } from './api.js';
import { t } from './i18n.js';
import { $, $$, html, raw, fmtTime, toast, failure } from './ui.js';

const KINDS = ['free', 'medication_change', 'plan'];
/** A discipline's name; a code the hospital added in config shows as itself. */
export const disc = (code) => { const k = 'discipline.' + code; const s = t(k); return s === k ? code : s; };
const CHANGES = ['start', 'stop', 'dose', 'other'];

/** The structured part of a note, as one line. */
export function noteData(kind, d) {
  if (!d) return '';
  if (kind === 'medication_change') return `${d.drug} · ${t('note.change.' + d.change)}${d.dose ? ' · ' + d.dose : ''}`;
  if (kind === 'plan') return `${d.action}${d.due ? ' · ' + t('note.due') + ' ' + d.due : ''}`;
  return '';
}

function version(v) {
  return html`<li data-version="${v.version}"><span class="muted">v${v.version} · ${fmtTime(v.created_at)} · ${v.author_name}${v.discipline ? ' · ' + disc(v.discipline) : ''}</span>
    ${v.reason ? raw(html`<em>${t('note.reason')}: ${v.reason}</em>`) : ''}<br>${v.body}${v.data ? raw(html`<br><small>${noteData(v.kind, v.data)}</small>`) : ''}</li>`;
}

function noteItem(n) {
  return html`<li class="note" data-note="${n.id}" data-version="${n.version}">
    <p><span class="badge">${t('note.kind.' + n.kind)}</span> <span class="note-body">${n.body}</span></p>
    ${n.data ? raw(html`<p class="note-data small">${noteData(n.kind, n.data)}</p>`) : ''}
    <p class="muted small">${fmtTime(n.created_at)} · ${n.author_name}${n.discipline ? ' · ' + disc(n.discipline) : ''}
      ${n.version > 1 ? raw(html` · <span class="note-corrected">${t('note.corrected', { v: n.version })}</span>`) : ''}
      <button type="button" class="link note-correct" data-note="${n.id}">${t('note.correct')}</button></p>
    ${n.version > 1 ? raw(html`<details class="note-history"><summary>${t('note.history')} (${n.history.length})</summary><ol>${n.history.map((v) => raw(version(v)))}</ol></details>`) : ''}
  </li>`;
}

/** Fields of the structured kinds; `prefix` keeps ids unique between the add and correct forms. */
function fields(prefix, kind, d = {}) {
  if (kind === 'medication_change') {
    return html`<label for="${prefix}-drug">${t('note.drug')}</label><input id="${prefix}-drug" maxlength="100" value="${d.drug || ''}" required>
      <label for="${prefix}-change">${t('note.change')}</label><select id="${prefix}-change">${CHANGES.map((c) => raw(html`<option value="${c}" ${d.change === c ? 'selected' : ''}>${t('note.change.' + c)}</option>`))}</select>
      <label for="${prefix}-dose">${t('note.dose')}</label><input id="${prefix}-dose" maxlength="100" value="${d.dose || ''}">`;
  }
  if (kind === 'plan') {
    return html`<label for="${prefix}-action">${t('note.action')}</label><input id="${prefix}-action" maxlength="200" value="${d.action || ''}" required>
      <label for="${prefix}-due">${t('note.due')}</label><input id="${prefix}-due" type="date" value="${d.due || ''}">`;
  }
  return '';
}

function readData(root, prefix, kind) {
  const v = (id) => { const el = $(`#${prefix}-${id}`, root); return el ? el.value.trim() : ''; };
  if (kind === 'medication_change') return { drug: v('drug'), change: v('change'), ...(v('dose') ? { dose: v('dose') } : {}) };
  if (kind === 'plan') return { action: v('action'), ...(v('due') ? { due: v('due') } : {}) };
  return undefined;
}

/** The notes card of a patient: list, add form, correction forms, search over all notes. */
export async function mountNotes(root, patientId, { onChange } = {}) {
  let notes = [];
  const draw = () => {
    root.innerHTML = html`<form id="note-form" class="note-form">
        <label for="note-kind">${t('note.kind')}</label>
        <select id="note-kind">${KINDS.map((k) => raw(html`<option value="${k}">${t('note.kind.' + k)}</option>`))}</select>
        <div id="note-fields"></div>
        <label for="note-body">${t('note.body')}</label>
        <textarea id="note-body" rows="2" maxlength="4000" required></textarea>
        <button type="submit" class="primary" id="note-add">${t('note.add')}</button>
      </form>
      ${notes.length ? raw(html`<ul class="notes" id="notes-list">${notes.map((n) => raw(noteItem(n)))}</ul>`) : raw(html`<p class="muted" id="notes-list">${t('patient.no_data')}</p>`)}
      <form id="note-search-form" class="inline" role="search">
        <label for="note-search">${t('note.search')}</label> <input id="note-search" type="search" maxlength="200">
        <button type="submit">${t('rec.search_go')}</button>
      </form>
      <ul id="note-hits" class="notes" aria-live="polite"></ul>`;
    $('#note-kind', root).addEventListener('change', () => { $('#note-fields', root).innerHTML = fields('note', $('#note-kind', root).value); });
    $('#note-form', root).addEventListener('submit', add);
    $('#note-search-form', root).addEventListener('submit', search);
    for (const b of $$('.note-correct', root)) b.addEventListener('click', () => openCorrection(Number(b.dataset.note)));
  };
  const load = async () => {
    try {
      notes = (await api('GET', `/patients/${patientId}/notes`)).items;
    } catch (e) {
      root.innerHTML = html`<p class="error" role="alert">${failure(e, t('note.title'))}</p>`;
      return;
    }
    draw();
  };
  async function add(ev) {
    ev.preventDefault();
    const kind = $('#note-kind', root).value;
    const body = { kind, body: $('#note-body', root).value };
    const data = readData(root, 'note', kind);
    if (data) body.data = data;
    try {
      await api('POST', `/patients/${patientId}/notes`, body);
      toast(t('note.saved'), 'ok');
      await load();
      if (onChange) onChange();
    } catch (e) {
      toast(failure(e, t('note.add')), 'error');
    }
  }
  function openCorrection(id) {
    const n = notes.find((x) => x.id === id);
    const li = $(`li.note[data-note="${id}"]`, root);
    if (!n || !li || $('.note-fix', li)) return;
    const prefix = `fix-${id}`;
    const form = document.createElement('form');
    form.className = 'note-fix';
    form.innerHTML = html`${raw(fields(prefix, n.kind, n.data || {}))}
      <label for="${prefix}-body">${t('note.body')}</label><textarea id="${prefix}-body" rows="2" maxlength="4000" required>${n.body}</textarea>
      <label for="${prefix}-reason">${t('note.reason')}</label><input id="${prefix}-reason" maxlength="500">
      <button type="submit" class="primary">${t('note.save_version')}</button>`;
    li.append(form);
    $(`#${prefix}-body`, form).focus();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { body: $(`#${prefix}-body`, form).value };
      const reason = $(`#${prefix}-reason`, form).value.trim();
      if (reason) body.reason = reason;
      const data = readData(form, prefix, n.kind);
      if (data) body.data = data;
      try {
        await api('POST', `/notes/${id}/versions`, body);
        toast(t('note.saved'), 'ok');
        await load();
        if (onChange) onChange();
      } catch (e) {
        toast(failure(e, t('note.correct')), 'error');
      }
    });
  }
  async function search(ev) {
    ev.preventDefault();
    const q = $('#note-search', root).value.trim();
    if (!q) return;
    const box = $('#note-hits', root);
    try {
      const r = await api('GET', `/notes/search?q=${encodeURIComponent(q)}`);
      box.innerHTML = r.items.length
        ? r.items.map((h) => html`<li class="note-hit" data-note="${h.note_id}"><strong>${h.patient_name}</strong> · ${t('note.kind.' + h.kind)} · v${h.version} · ${fmtTime(h.updated_at)}<br>${h.body}</li>`).join('')
        : html`<li class="muted">${t('note.no_hits')}</li>`;
    } catch (e) {
      box.innerHTML = html`<li class="error">${failure(e, t('note.search'))}</li>`;
    }
  }
  await load();
}

/** The patient's tags as chips; staff take one off with its × button. */
export async function mountTags(root, patientId) {
  let tags;
  try {
    tags = (await api('GET', `/patients/${patientId}/tags`)).items;
  } catch (e) {
    root.innerHTML = html`<span class="error">${failure(e, t('tag.title'))}</span>`;
    return;
  }
  root.innerHTML = tags.length
    ? html`<span class="label">${t('tag.title')}</span> ${tags.map((g) => raw(html`<span class="badge tag ${g.source === 'rule' ? 'tag-rule' : ''}" data-tag="${g.tag}" title="${g.rule_id ? t('tag.by_rule', { rule: g.rule_id }) : t('tag.source.' + (g.source || 'manual'))}">${g.tag}
        <button type="button" class="link tag-remove" data-tag="${g.tag}" aria-label="${t('tag.remove', { tag: g.tag })}">×</button></span>`))}`
    : '';
  for (const b of $$('.tag-remove', root)) {
    b.addEventListener('click', async () => {
      try {
        await api('DELETE', `/patients/${patientId}/tags/${encodeURIComponent(b.dataset.tag)}`);
        toast(t('tag.removed', { tag: b.dataset.tag }), 'ok');
        await mountTags(root, patientId);
      } catch (e) {
        toast(failure(e, t('tag.title')), 'error');
      }
    });
  }
}
