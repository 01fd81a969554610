// The operations centre's live page (/ops): the headline figures of the
// exchange over the chosen window, exchanges per interval and failures
// (a line chart), errors by type (a bar chart), latency percentiles, the
// busiest services and every agency, refreshed every few seconds in
// place. An agency official sees only its own member (the portal forces
// it); the operator and auditors may pick one. API: docs/portal.md.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as ops from '../ops.mjs';

const WINDOWS = [300, 900, 3600, 86400];
// The series' buckets for each window: 30 to 60 points.
const STEP = { 300: 10, 900: 30, 3600: 60, 86400: 1800 };

// A figure summed over the state the gateways reported (null: none yet).
function sumState(live, fn) {
  const states = (live.gateways || []).map((x) => x.state).filter(Boolean);
  return states.length ? states.reduce((n, st) => n + fn(st), 0) : null;
}

function headline(live) {
  const failedShare = live.exchanges ? (100 * live.failed) / live.exchanges : 0;
  const up = (live.gateways || []).filter((x) => x.up).length;
  const rows = [
    { key: t('ops.exchanges'), value: ops.num(live.exchanges), id: 'exchanges' },
    { key: t('ops.per_second'), value: ops.num(live.per_second, 2), id: 'per-second' },
    { key: t('ops.failed'), value: t('ops.failed.value', { n: ops.num(live.failed), share: ops.num(failedShare, 1) }), id: 'failed' },
    { key: t('ops.p50'), value: ops.ms(live.latency_ms && live.latency_ms.p50), id: 'p50' },
    { key: t('ops.p95'), value: ops.ms(live.latency_ms && live.latency_ms.p95), id: 'p95' },
    { key: t('ops.p99'), value: ops.ms(live.latency_ms && live.latency_ms.p99), id: 'p99' },
    { key: t('ops.gateways_up'), value: t('ops.gateways_up.value', { up: ops.num(up), all: ops.num((live.gateways || []).length) }), id: 'gateways-up' },
    { key: t('ops.deliveries'), value: ops.num(live.deliveries), id: 'deliveries' },
    { key: t('ops.backlog'), value: ops.num(sumState(live, (st) => (st.events_queued || 0) + (st.events_unacknowledged || 0))), id: 'backlog' },
    { key: t('ops.dead'), value: ops.num(sumState(live, (st) => st.events_dead || 0)), id: 'dead' },
  ];
  return h('dl', { class: 'govuk-summary-list ndx-figures', id: 'ops-headline' },
    rows.map((r) => h('div', { class: 'govuk-summary-list__row govuk-summary-list__row--no-actions' },
      h('dt', { class: 'govuk-summary-list__key' }, r.key),
      h('dd', { class: 'govuk-summary-list__value', id: `fig-${r.id}`, dataset: { figure: r.id } }, r.value))));
}

function seriesTable(series) {
  return g.table({
    caption: t('ops.series.caption'), captionSize: 's',
    head: [t('ops.time'), t('ops.exchanges'), t('ops.failed'), t('ops.p95')],
    numeric: [1, 2, 3],
    rows: series.map((b) => [ops.clock(new Date(b.t)), ops.num(b.exchanges), ops.num(b.failed), ops.ms(b.p95_ms)]),
  });
}

function errorsTable(errors) {
  return g.table({
    caption: t('ops.errors.caption'), captionSize: 's',
    head: [t('ops.error_type'), t('ops.count')], numeric: [1],
    rows: errors.length ? errors.map((e) => [String(e.type), ops.num(e.count)]) : [[t('ops.errors.none'), '']],
  });
}

function busiestTable(list) {
  return ops.scrollTable({
    id: 'ops-busiest', caption: t('ops.busiest'),
    head: [t('ops.service'), t('ops.exchanges'), t('ops.failed'), t('ops.mean')],
    numeric: [1, 2, 3],
    rows: list.length ? list.map((s) => [ops.serviceName(s.service), ops.num(s.exchanges), ops.num(s.failed), ops.ms(s.mean_ms)])
      : [[t('ops.nothing'), '', '', '']],
  });
}

function agenciesTable(list) {
  return ops.scrollTable({
    id: 'ops-agencies', caption: t('ops.agencies'),
    head: [t('ops.agency'), t('ops.as_client'), t('ops.as_provider'), t('ops.failed')],
    numeric: [1, 2, 3],
    rows: list.length ? list.map((a) => [ops.memberName(a.member), ops.num(a.as_client), ops.num(a.as_provider), ops.num(a.failed)])
      : [[t('ops.nothing'), '', '', '']],
  });
}

function seriesSummary(series, step) {
  const total = series.reduce((n, b) => n + (b.exchanges || 0), 0);
  const peak = series.reduce((m, b) => Math.max(m, b.exchanges || 0), 0);
  const failed = series.reduce((n, b) => n + (b.failed || 0), 0);
  return t('ops.series.summary', { total: ops.num(total), failed: ops.num(failed), peak: ops.num(peak), step: ops.num(step) });
}

function errorsSummary(errors) {
  if (!errors.length) return t('ops.errors.none');
  return t('ops.errors.summary', { list: errors.slice(0, 5).map((e) => `${e.type} ${ops.num(e.count)}`).join(', ') });
}

export async function render(ctx) {
  const windowS = ops.windowOf(ctx, WINDOWS, 300);
  const step = STEP[windowS];
  const q = ops.figuresQuery(ctx, { windowS });
  const sq = new URLSearchParams(q);
  sq.set('step', String(step));
  const [live, Chart] = await Promise.all([api.get(`/api/ops/live?${q}`), ops.loadCharts()]);
  let series = null;
  try {
    series = await api.get(`/api/ops/series?${sq}`);
  } catch (e) {
    // The series route may be missing on an older monitoring service:
    // the page then shows the live figures without the line chart.
    if (!(e instanceof api.ApiError) || e.status < 500) throw e;
  }

  const members = [...new Set([...(live.agencies || []).map((a) => a.member), ...(live.gateways || []).map((x) => x.member)])].sort();
  const status = h('p', { class: 'govuk-body-s', id: 'ops-updated', role: 'status' }, t('ops.updated', { time: ops.clock(new Date()) }));
  const headSlot = h('div', null, headline(live));
  const lineChart = ops.chartBlock({
    id: 'ops-series', title: t('ops.series.title', { step: ops.num(step) }),
    summary: series ? seriesSummary(series.series, step) : t('ops.series.missing'),
    table: seriesTable(series ? series.series : []),
  });
  const barChart = ops.chartBlock({
    id: 'ops-errors', title: t('ops.errors.title'), summary: errorsSummary(live.errors || []), table: errorsTable(live.errors || []),
  });
  const busySlot = h('div', null, busiestTable(live.busiest_services || []));
  const agSlot = h('div', null, agenciesTable(live.agencies || []));

  const root = h('div', { id: 'ops-live' },
    g.heading(t('ops.live.title')),
    ops.scopeLine(ctx, live.member),
    ops.filterForm(ctx, { action: '/ops', windows: WINDOWS, windowS, members }),
    status,
    headSlot,
    lineChart.block,
    barChart.block,
    busySlot,
    agSlot);

  const draw = (lv, sr) => {
    if (sr) {
      ops.drawChart(Chart, lineChart.canvas, {
        type: 'line',
        data: {
          labels: sr.series.map((b) => ops.clock(new Date(b.t))),
          datasets: [
            { label: t('ops.exchanges'), data: sr.series.map((b) => b.exchanges), borderColor: ops.COLOURS.blue, backgroundColor: ops.COLOURS.blue, tension: 0.2, pointRadius: 0 },
            { label: t('ops.failed'), data: sr.series.map((b) => b.failed), borderColor: ops.COLOURS.red, backgroundColor: ops.COLOURS.red, tension: 0.2, pointRadius: 0 },
          ],
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    const errs = lv.errors || [];
    ops.drawChart(Chart, barChart.canvas, {
      type: 'bar',
      data: { labels: errs.map((e) => e.type), datasets: [{ label: t('ops.count'), data: errs.map((e) => e.count), backgroundColor: ops.COLOURS.red }] },
      options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  };
  // Drawn once the page is in the document (Chart.js measures its box).
  requestAnimationFrame(() => draw(live, series));

  const refresh = ops.keepFresh(root, status, async () => {
    const lv = await api.get(`/api/ops/live?${q}`);
    let sr = null;
    try {
      sr = await api.get(`/api/ops/series?${sq}`);
    } catch (e) {
      if (!(e instanceof api.ApiError) || e.status < 500) throw e;
    }
    ops.replaceWith(headSlot, headline(lv));
    ops.replaceWith(busySlot, busiestTable(lv.busiest_services || []));
    ops.replaceWith(agSlot, agenciesTable(lv.agencies || []));
    barChart.sum.textContent = errorsSummary(lv.errors || []);
    barChart.canvas.setAttribute('aria-label', barChart.sum.textContent);
    clear(barChart.block.querySelector('.govuk-details__text')).append(errorsTable(lv.errors || []));
    if (sr) {
      lineChart.sum.textContent = seriesSummary(sr.series, step);
      lineChart.canvas.setAttribute('aria-label', lineChart.sum.textContent);
      clear(lineChart.block.querySelector('.govuk-details__text')).append(seriesTable(sr.series));
    }
    draw(lv, sr);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
  });
  void refresh;
  return { title: t('ops.live.title'), nodes: [root] };
}
