// Trend charts drawn as inline SVG (no chart library): print cleanly and scale with the page.
import { esc, fmtDate } from './ui.js';
import { t } from './i18n.js';

const W = 360, H = 150, PAD = { l: 40, r: 12, t: 22, b: 26 };

/** Charts shown for a patient: key → series kinds and reference band. */
export const TRENDS = [
  { key: 'bp', title: 'trend.bp', series: [['sbp', 'trend.sbp', '#b3261e'], ['dbp', 'trend.dbp', '#1d5fa8']], band: [90, 140] },
  { key: 'weight', title: 'trend.weight', series: [['weight_kg', 'trend.weight', '#2e7d32']] },
  { key: 'glucose', title: 'trend.glucose', series: [['glucose_mmol', 'trend.glucose', '#8e4ec6']], band: [3.9, 10] },
];

/**
 * One chart as an SVG string; `measurements` maps kind → [{at, value}] (ISO or Unix seconds).
 * Returns '' when none of the chart's series has a point.
 */
export function trendChart(def, measurements) {
  const series = def.series
    .map(([kind, label, color]) => ({ kind, label: t(label), color, points: (measurements[kind] || []).map((p) => ({ at: +new Date(typeof p.at === 'number' ? p.at * 1000 : p.at), v: p.value })) }))
    .filter((s) => s.points.length);
  if (!series.length) return '';
  const all = series.flatMap((s) => s.points);
  let t0 = Math.min(...all.map((p) => p.at)), t1 = Math.max(...all.map((p) => p.at));
  if (t0 === t1) { t0 -= 43200e3; t1 += 43200e3; }
  let v0 = Math.min(...all.map((p) => p.v)), v1 = Math.max(...all.map((p) => p.v));
  if (def.band) { v0 = Math.min(v0, def.band[0]); v1 = Math.max(v1, def.band[1]); }
  const span = v1 - v0 || Math.abs(v1) * 0.1 || 1;
  v0 -= span * 0.08; v1 += span * 0.08;
  const x = (at) => PAD.l + ((at - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - ((v - v0) / (v1 - v0)) * (H - PAD.t - PAD.b);
  const title = t(def.title);
  const last = series.map((s) => `${s.label} ${s.points[s.points.length - 1].v}`).join(', ');
  const parts = [`<svg class="trend" data-trend="${def.key}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title + ': ' + last)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(title)}</title>`,
    `<text x="${PAD.l}" y="14" class="t-title">${esc(title)}</text>`];
  if (def.band) {
    parts.push(`<rect x="${PAD.l}" y="${y(def.band[1])}" width="${W - PAD.l - PAD.r}" height="${y(def.band[0]) - y(def.band[1])}" class="t-band"/>`);
  }
  for (const v of [v0 + span * 0.08, v1 - span * 0.08]) {
    parts.push(`<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}" class="t-grid"/>`,
      `<text x="${PAD.l - 4}" y="${y(v) + 4}" text-anchor="end" class="t-axis">${+v.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${PAD.l}" y="${H - 6}" class="t-axis">${esc(fmtDate(t0))}</text>`,
    `<text x="${W - PAD.r}" y="${H - 6}" text-anchor="end" class="t-axis">${esc(fmtDate(t1))}</text>`);
  for (const s of series) {
    const pts = s.points.map((p) => `${x(p.at).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of s.points) {
      parts.push(`<circle cx="${x(p.at).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.label} ${p.v} · ${fmtDate(p.at)}`)}</title></circle>`);
    }
  }
  if (series.length > 1) {
    series.forEach((s, i) => parts.push(`<text x="${W - PAD.r - 70 * (series.length - i)}" y="14" fill="${s.color}" class="t-legend">■ ${esc(s.label)}</text>`));
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * One chart per lab series (HL7 ORU^R01 results); `labs` maps lab name → {unit, points:
 * [{at, value, flags, status, range_low, range_high}]}. The band is the latest point's
 * reference range when it has both bounds.
 */
export function labCharts(labs) {
  return Object.entries(labs || {}).map(([name, s]) => {
    const last = s.points[s.points.length - 1] || {};
    const band = last.range_low != null && last.range_high != null ? [last.range_low, last.range_high] : undefined;
    const title = `${t('lab.' + name) === 'lab.' + name ? name : t('lab.' + name)} (${s.unit})`;
    return trendChart({ key: `lab-${name}`, title, series: [[`lab:${name}`, title, '#c75b12']], band }, { [`lab:${name}`]: s.points });
  }).filter(Boolean);
}

/** Every chart with data (measurements, then labs), or a "no data" line. */
export function trendCharts(measurements, labs) {
  const charts = TRENDS.map((d) => trendChart(d, measurements || {})).filter(Boolean).concat(labCharts(labs));
  return charts.length ? `<div class="trends">${charts.join('')}</div>` : `<p class="muted">${esc(t('patient.no_data'))}</p>`;
}
