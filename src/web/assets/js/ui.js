// Small DOM helpers shared by every page of the console.
import { t, lang } from './i18n.js';

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** Tagged template that escapes interpolations unless wrapped with raw(). */
export function html(strings, ...values) {
  return strings.reduce((out, s, i) => {
    if (i === 0) return s;
    const v = values[i - 1];
    const text = v && v.__raw !== undefined ? v.__raw
      : Array.isArray(v) ? v.map((x) => (x && x.__raw !== undefined ? x.__raw : esc(x))).join('')
        : esc(v);
    return out + text + s;
  }, '');
}
export const raw = (s) => ({ __raw: String(s ?? '') });

// The hospital's zone (GET /settings); times in the API are UTC.
let zone = 'Asia/Shanghai';
export const timeZone = () => zone;
export async function loadSettings(api) {
  try {
    const s = await api('GET', '/settings');
    if (s.time_zone) zone = s.time_zone;
  } catch { /* keep the default */ }
}
export function fmtTime(iso, withDate = true) {
  if (!iso) return '–';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  const opts = withDate
    ? { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }
    : { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false };
  return d.toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', opts);
}
export function fmtDate(iso) {
  if (!iso) return '–';
  return new Date(iso).toLocaleDateString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: zone });
}
export function fmtDuration(ms) {
  if (ms == null) return '–';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
export const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(1)} %`);
export const num = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));

/** Bilingual text object {zh, en} in the current language. */
export const bi = (o) => (o == null ? '' : typeof o === 'string' ? o : (lang() === 'zh' ? o.zh : o.en) || o.en || o.zh || '');

let toastTimer = null;
/** Status message in the page's live region (screen readers hear it). */
export function toast(message, kind = 'info') {
  const el = $('#toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

/** The message shown when an API call fails: says what to do when the endpoint is missing. */
export function failure(e, what) {
  if (e && e.status === 404 && /route not found/.test(e.message)) return t('err.unavailable', { what });
  if (e && e.status === 0) return t('err.network');
  return `${what}: ${e && e.message ? e.message : e}`;
}

export function severityBadge(sev) {
  return html`<span class="badge sev-${sev}">${t('sev.' + sev)}</span>`;
}
