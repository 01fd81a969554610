// The resolution's indicators and the implementation tracker
// (/ops/indicators): each indicator of the monitoring service's catalogue
// with its latest value, its target and the distance to it (nationally;
// an agency official also sees its own ministry's row), a chart of how
// far each is from its target, the registries' four measures (đúng, đủ,
// sạch, sống) per agency, the tasks with overdue ones flagged, and for
// the operator and auditors the six-monthly report as a PDF.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, lang, formatDate } from '../i18n.mjs';
import * as ops from '../ops.mjs';

function localised(v) {
  if (v && typeof v === 'object') return String(v[lang()] ?? v.vi ?? '');
  return v === undefined || v === null ? '' : String(v);
}

function unitValue(v, unit) {
  if (v === null || v === undefined) return t('ops.none');
  if (unit === 'percent') return `${ops.num(v, 1)} %`;
  if (unit === 'ms') return ops.ms(v);
  if (unit === 'points') return t('ops.ind.points', { n: ops.num(v, 1) });
  return ops.num(v, 1);
}

function target(ind) {
  const tg = ind.target;
  if (!tg || tg.value === undefined || tg.value === null) return t('ops.none');
  const op = tg.op ? `${tg.op} ` : '';
  const by = ind.deadline ? ` ${t('ops.ind.by', { date: formatDate(ind.deadline) })}` : '';
  return `${op}${unitValue(tg.value, ind.unit)}${by}`;
}

// The rows an official sees: the national one, and for an agency its own.
function rowsOf(view, member) {
  const rows = [];
  for (const ind of view.indicators || []) {
    for (const sc of ind.scopes || []) {
      if (sc.scope === 'national' || sc.scope === member) rows.push({ ind, sc });
    }
    if (!(ind.scopes || []).some((sc) => sc.scope === 'national')) rows.push({ ind, sc: { scope: 'national', current: null } });
  }
  return rows;
}

// The distance the monitoring service gives is signed (past the target
// when met); people read "reached" or how much is left.
function distance(sc, ind) {
  if (sc.distance === null || sc.distance === undefined) return t('ops.none');
  if (sc.met === true) return t('ops.ind.reached');
  return unitValue(Math.abs(Number(sc.distance)), ind.unit);
}

function metTag(sc) {
  if (!sc.current) return g.tag(t('ops.ind.no_value'), 'grey');
  if (sc.met === true) return g.tag(t('ops.ind.met'), 'green');
  if (sc.met === false) return g.tag(t('ops.ind.not_met'), 'orange');
  return g.tag(t('ops.ind.no_target'), 'grey');
}

function indicatorsTable(rows) {
  return ops.scrollTable({
    id: 'ops-indicators-table', caption: t('ops.ind.caption'),
    head: [t('ops.ind.name'), t('ops.ind.scope'), t('ops.ind.value'), t('ops.ind.target'), t('ops.ind.distance'), t('ops.ind.state')],
    rows: rows.map(({ ind, sc }) => [
      localised(ind.name),
      sc.scope === 'national' ? t('ops.ind.national') : ops.memberName(sc.scope),
      sc.current ? `${unitValue(sc.current.value, ind.unit)} (${String(sc.current.period ?? '')})` : t('ops.none'),
      target(ind),
      distance(sc, ind),
      metTag(sc),
    ]),
  });
}

// The registries' four measures, computed by the monitoring service from
// what each registry's measures service reports (docs/indicators.md
// "Registry measures"): a row per agency with its four shares side by
// side, the nation first; an agency official sees the nation and its own.
const REGISTRY_MEASURES = ['accurate', 'sufficient', 'clean', 'live'];

function registriesTable(view, member) {
  const inds = REGISTRY_MEASURES.map((m) => (view.indicators || []).find((i) => i.id === `registry_${m}`));
  if (inds.some((i) => !i)) return null;
  const scopes = new Set();
  for (const ind of inds) {
    for (const sc of ind.scopes || []) {
      if (sc.current && (sc.scope === 'national' || (sc.kind === 'member' && (!member || sc.scope === member)))) scopes.add(sc.scope);
    }
  }
  const list = [...scopes].sort((a, b) => (a === 'national' ? -1 : b === 'national' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const cur = (ind, scope) => (ind.scopes || []).find((sc) => sc.scope === scope)?.current || null;
  const body = list.length ? g.p(t('ops.reg.lead')) : g.p(t('ops.reg.none'));
  const table = list.length ? ops.scrollTable({
    id: 'ops-registries-table', caption: t('ops.reg.caption'),
    head: [t('ops.reg.agency'), ...REGISTRY_MEASURES.map((m) => t(`ops.reg.${m}`)), t('ops.reg.period')],
    rows: list.map((scope) => [
      scope === 'national' ? t('ops.ind.national') : ops.memberName(scope),
      ...inds.map((ind) => { const c = cur(ind, scope); return c ? unitValue(c.value, 'percent') : t('ops.none'); }),
      String(cur(inds.find((ind) => cur(ind, scope)), scope)?.period ?? ''),
    ]),
  }) : null;
  return h('section', { id: 'ops-registries', 'aria-labelledby': 'ops-registries-title' },
    h('h2', { class: 'govuk-heading-m', id: 'ops-registries-title' }, t('ops.reg.title')),
    body, table);
}

function tasksTable(tasks) {
  if (!tasks.length) return g.p(t('ops.tasks.none'));
  return ops.scrollTable({
    id: 'ops-tasks-table', caption: t('ops.tasks.caption'),
    head: [t('ops.tasks.title_col'), t('ops.tasks.lead'), t('ops.tasks.deadline'), t('ops.tasks.status'), t('ops.tasks.evidence')],
    rows: tasks.map((x) => [
      String(x.title ?? ''),
      ops.memberName(x.lead),
      formatDate(x.deadline),
      x.overdue ? g.tag(t('ops.tasks.overdue'), 'red') : g.tag(t(`ops.tasks.status.${x.status}`), x.status === 'done' ? 'green' : 'blue'),
      x.evidence ? String(x.evidence) : t('ops.none'),
    ]),
  });
}

// The half-years a report can be asked for: this one and the three before.
function halfYears(now = new Date()) {
  let y = now.getUTCFullYear();
  let half = now.getUTCMonth() < 6 ? 1 : 2;
  const out = [];
  for (let i = 0; i < 4; i++) {
    out.push(`${y}-H${half}`);
    if (half === 2) half = 1;
    else {
      half = 2;
      y -= 1;
    }
  }
  return out;
}

function reportForm() {
  const periods = halfYears();
  const link = h('a', { class: 'govuk-button', id: 'ops-report-link', role: 'button', draggable: 'false',
    'data-module': 'govuk-button', href: `/api/ops/report?period=${periods[0]}`, download: `ndx-report-${periods[0]}.pdf` },
  t('ops.report.button'));
  const select = g.select({ id: 'report-period', name: 'period', label: t('ops.report.period'), value: periods[0],
    options: periods.map((p) => ({ value: p, text: t('ops.report.half', { half_words: t(`ops.report.half.${p.slice(-1)}`), year: p.slice(0, 4) }) })) });
  select.querySelector('select').addEventListener('change', (ev) => {
    link.href = `/api/ops/report?period=${encodeURIComponent(ev.target.value)}`;
    link.setAttribute('download', `ndx-report-${ev.target.value}.pdf`);
  });
  return h('section', { id: 'ops-report', 'aria-labelledby': 'ops-report-title' },
    h('h2', { class: 'govuk-heading-m', id: 'ops-report-title' }, t('ops.report.title')),
    g.p(t('ops.report.lead')),
    select, link);
}

export async function render(ctx) {
  const official = ctx.session.official;
  const [view, tasks, Chart] = await Promise.all([
    api.get('/api/ops/indicators'), api.get('/api/ops/tasks'), ops.loadCharts()]);
  const rows = rowsOf(view, official.role === 'agency' ? official.member : null);
  const national = rows.filter((r) => r.sc.scope === 'national');
  const withValue = national.filter((r) => r.sc.current);
  const met = withValue.filter((r) => r.sc.met === true);
  const list = Array.isArray(tasks.tasks) ? tasks.tasks : [];
  const overdue = list.filter((x) => x.overdue);

  // How far each indicator with a value and a target is, as a share of
  // the target (100 % = met): one scale for percentages, points and counts.
  const charted = withValue.filter((r) => r.ind.target && Number(r.ind.target.value));
  const share = (r) => {
    const v = Number(r.sc.current.value);
    const tv = Number(r.ind.target.value);
    // Capped at 100: beyond the target is "met", not a longer bar that
    // would squash the others.
    return Math.min(100, r.ind.direction === 'lower' ? (v ? (100 * tv) / v : 100) : (100 * v) / tv);
  };
  const chartTable = g.table({
    caption: t('ops.ind.chart.caption'), captionSize: 's',
    head: [t('ops.ind.name'), t('ops.ind.of_target')], numeric: [1],
    rows: charted.length ? charted.map((r) => [localised(r.ind.name), `${ops.num(share(r), 0)} %`]) : [[t('ops.ind.chart.none'), '']],
  });
  const chart = ops.chartBlock({
    id: 'ops-ind-chart', title: t('ops.ind.chart.title'),
    summary: t('ops.ind.summary', { n: ops.num(national.length), with: ops.num(withValue.length), met: ops.num(met.length) }),
    table: chartTable,
  });
  requestAnimationFrame(() => ops.drawChart(Chart, chart.canvas, {
    type: 'bar',
    data: {
      labels: charted.map((r) => localised(r.ind.name)),
      datasets: [{ label: t('ops.ind.of_target'), data: charted.map(share), backgroundColor: charted.map((r) => (r.sc.met ? ops.COLOURS.green : ops.COLOURS.orange)) }],
    },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, max: 100 } } },
  }));

  const nodes = [
    g.heading(t('ops.ind.title')),
    ops.scopeLine(ctx, official.role === 'agency' ? official.member : null),
    g.p(view.period ? t('ops.ind.period', { period: String(view.period), date: formatDate(view.as_of) }) : t('ops.ind.latest')),
    chart.block,
    indicatorsTable(rows),
    registriesTable(view, official.role === 'agency' ? official.member : null),
    h('h2', { class: 'govuk-heading-m', id: 'ops-tasks' }, t('ops.tasks.title')),
    g.p(overdue.length ? t('ops.tasks.overdue_n', { n: ops.num(overdue.length), all: ops.num(list.length) })
      : t('ops.tasks.on_time', { all: ops.num(list.length) })),
    tasksTable(list),
  ];
  if (official.role !== 'agency') nodes.push(reportForm());
  return { title: t('ops.ind.title'), nodes: [h('div', { id: 'ops-indicators' }, nodes)] };
}
