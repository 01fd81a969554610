// What the operations centre's pages (web/pages/ops-*.mjs) share: the
// charting package (Chart.js from npm, served by the portal at
// /assets/chartjs/, loaded once and only by these pages), charts that
// always come with their figures as text (a summary sentence and a table:
// a canvas says nothing to a screen reader), names for members and
// services, numbers in the reader's language, and the refresh loop of the
// live figures. API: docs/portal.md "The operations centre".

import * as api from './api.mjs';
import { h, clear } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, tOr, locale, formatTime } from './i18n.mjs';

export const REFRESH_MS = 5000;

let chartLib = null;

// Chart.js's UMD build defines globalThis.Chart when imported as a module.
// Without it (npm ci not run) the pages still show every figure as text.
export async function loadCharts() {
  if (chartLib) return chartLib;
  try {
    await import('/assets/chartjs/chart.umd.min.js');
    chartLib = globalThis.Chart || null;
  } catch (e) {
    console.warn('chart.js', e);
    chartLib = null;
  }
  return chartLib;
}

export function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return t('ops.none');
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(Number(v));
}

export function ms(v) {
  return v === null || v === undefined ? t('ops.none') : t('ops.ms', { n: num(v) });
}

export function memberName(id) {
  return id ? tOr(`member.${id}`, id) : t('ops.all');
}

// A service id (VN/GOV/BCA/population/citizens) in words, with its provider.
export function serviceName(id) {
  const title = tOr(`service.${id}`, null);
  const member = String(id).split('/').slice(0, 3).join('/');
  if (title && title !== 'null') return `${title} — ${memberName(member)}`;
  return String(id);
}

// The official's query: window and, for those who may, a member.
export function figuresQuery(ctx, { windowS }) {
  const q = new URLSearchParams({ window: String(windowS) });
  const m = ctx.query.get('member');
  if (m && ctx.session.official && ctx.session.official.role !== 'agency') q.set('member', m);
  return q;
}

// A chart with its text alternative: the canvas is hidden from assistive
// technology and described by the summary; the same figures are in a table
// in a details element (GOV.UK Details) right below.
export function chartBlock({ id, title, summary, table }) {
  const canvas = h('canvas', { id: `${id}-canvas`, role: 'img', 'aria-label': summary });
  const sum = h('p', { class: 'govuk-body ndx-chart-summary', id: `${id}-summary` }, summary);
  const block = h('section', { class: 'ndx-chart', id, 'aria-labelledby': `${id}-title` },
    h('h2', { class: 'govuk-heading-m', id: `${id}-title` }, title),
    sum,
    h('div', { class: 'ndx-chart__canvas' }, canvas),
    h('details', { class: 'govuk-details' },
      h('summary', { class: 'govuk-details__summary' },
        h('span', { class: 'govuk-details__summary-text' }, t('ops.chart.table'))),
      h('div', { class: 'govuk-details__text ndx-scroll' }, table)));
  return { block, canvas, sum };
}

// The design system's palette (GOV.UK Frontend colours).
export const COLOURS = { blue: '#1d70b8', red: '#d4351c', green: '#00703c', grey: '#505a5f', orange: '#f47738' };

// Draws (or redraws) a chart on canvas; a no-op without the package.
export function drawChart(Chart, canvas, config) {
  if (!Chart) return null;
  const old = Chart.getChart(canvas);
  if (old) {
    old.data = config.data;
    old.update('none');
    return old;
  }
  return new Chart(canvas, {
    ...config,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: config.data.datasets.length > 1 } },
      ...(config.options || {}),
    },
  });
}

// Calls fn now and every REFRESH_MS while root is on the page; stops when
// the router has replaced it. Failures are shown in status, not thrown.
export function keepFresh(root, status, fn) {
  let busy = false;
  const tick = async () => {
    if (!document.body.contains(root)) {
      clearInterval(timer);
      return;
    }
    if (busy || document.hidden) return;
    busy = true;
    try {
      await fn();
      status.textContent = t('ops.updated', { time: clock(new Date()) });
    } catch (e) {
      status.textContent = e instanceof api.ApiError ? e.text() : t('api.unknown');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, REFRESH_MS);
  return tick;
}

export function clock(d) {
  return new Intl.DateTimeFormat(locale(), { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
}

export function when(msEpoch) {
  return msEpoch ? formatTime(msEpoch) : t('ops.never');
}

// A table in a container that scrolls sideways on a phone rather than
// pushing the page wider than the screen.
export function scrollTable(opts) {
  return h('div', { class: 'ndx-scroll', tabindex: '0', role: 'region', 'aria-label': opts.caption }, g.table({ ...opts, stack: false }));
}

// The row of filters: the window, and the member for those who see all.
export function filterForm(ctx, { action, windows, windowS, members }) {
  const official = ctx.session.official;
  if (windows.length < 2 && official.role === 'agency') return null;
  const form = h('form', { method: 'get', action, class: 'ndx-filter', id: 'ops-filter' },
    windows.length > 1
      ? g.select({ id: 'window', name: 'window', label: t('ops.window'), value: String(windowS),
        options: windows.map((w) => ({ value: String(w), text: t(`ops.window.${w}`) })) })
      : null,
    official.role !== 'agency'
      ? g.select({ id: 'member', name: 'member', label: t('ops.member'), value: ctx.query.get('member') || '',
        options: [{ value: '', text: t('ops.all') }, ...members.map((m) => ({ value: m, text: memberName(m) }))] })
      : null,
    g.button(t('ops.apply'), { variant: 'secondary' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    ctx.navigate(`${action}?${q}`);
  });
  return form;
}

// Who is looking, and at what: a line under the heading.
export function scopeLine(ctx, member) {
  const o = ctx.session.official;
  return g.p(t(`ops.role.${o.role}`, { name: o.name, member: memberName(o.member) }), ' ',
    t('ops.showing', { scope: memberName(member) }));
}

export function replaceWith(el, node) {
  clear(el).append(node);
}

export function windowOf(ctx, windows, dflt) {
  const w = Number(ctx.query.get('window'));
  return windows.includes(w) ? w : dflt;
}
