// A patient's SMS links and messages in the console's patient panel (issue 19 item 5): where
// each link stands (sent, opened, identity checked, answered, locked after wrong birth years,
// revoked, expired), what was sent and whether Kannel reported it delivered, the patient's
// replies, and an SMS opt-out. Tokens never reach the console: the API shows none.
import { api } from './api.js';
import { t } from './i18n.js';
import { html, raw, fmtTime, failure } from './ui.js';

/** The one state a nurse needs of a link; the order says which wins (a link answered and
 * later revoked by a newer one was answered). */
export function linkState(link, now = Date.now()) {
  if (link.completed_at) return 'completed';
  if (link.locked_at) return 'locked';
  if (link.revoked_at) return 'revoked';
  if (Date.parse(link.expires_at) <= now) return 'expired';
  if (link.verified_at) return 'verified';
  if (link.first_opened_at) return 'opened';
  return 'sent';
}

function links(items) {
  if (!items.length) return html`<p class="muted">${t('sms.no_links')}</p>`;
  return html`<ul class="sms-links">${items.map((l) => {
    const state = linkState(l);
    return raw(html`<li data-link="${l.id}" data-task="${l.task_id}" data-state="${state}">
      <strong>${t('sms.link.' + state)}</strong> · ${t('sms.task')} #${l.task_id} · ${fmtTime(l.created_at)}
      <small>${t('sms.expires')} ${fmtTime(l.expires_at)}${l.identity_failures ? ` · ${t('sms.wrong_tries')} ${l.identity_failures}` : ''}${l.reminded_at ? ` · ${t('sms.reminded')}` : ''}</small></li>`);
  })}</ul>`;
}

function messages(items) {
  if (!items.length) return html`<p class="muted">${t('sms.no_messages')}</p>`;
  return html`<ul class="sms-messages">${items.map((m) => raw(html`<li data-message="${m.id}" data-direction="${m.direction}" data-kind="${m.kind}" data-state="${m.state || ''}">
    ${m.direction === 'in' ? '⇠' : '⇢'} ${fmtTime(m.at)} · ${t('sms.kind.' + m.kind)}${m.state ? ' · ' + t('sms.state.' + m.state) : ''}
    ${m.direction === 'in' ? raw(html`<q>${m.body}</q>`) : ''}${m.last_error ? raw(html` <small class="error">${m.last_error}</small>`) : ''}</li>`))}</ul>`;
}

/** Fills `box` with the patient's SMS status. */
export async function mountSmsStatus(box, patientId) {
  let s;
  try {
    s = await api('GET', `/patients/${patientId}/sms`);
  } catch (e) {
    box.innerHTML = html`<p class="error">${failure(e, t('sms.title'))}</p>`;
    return;
  }
  box.innerHTML = html`${s.opted_out ? raw(html`<p id="sms-opted-out" class="badge sev-urgent">${t('sms.opted_out')}</p>`) : ''}
    <h4>${t('sms.links')}</h4>${raw(links(s.links))}
    <h4>${t('sms.messages')}</h4>${raw(messages(s.messages))}`;
}
