// The gateways (/ops/gateways): each agency's gateways, up or down as the
// monitoring service last collected them, the state each reported through
// the exchange (configuration version and expiry, TLS certificate expiry,
// message log, event delivery backlog), when it was last collected, the
// reason of a failure, and how many operational records it has given;
// grouped by agency. The table "by province" is by
// agency (member) for now: the configuration does not say where a
// gateway stands (docs/portal.md "The operations centre").

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import * as ops from '../ops.mjs';

function table(gateways) {
  const byMember = new Map();
  for (const gw of gateways) {
    if (!byMember.has(gw.member)) byMember.set(gw.member, []);
    byMember.get(gw.member).push(gw);
  }
  const members = [...byMember.keys()].sort((a, b) => ops.memberName(a).localeCompare(ops.memberName(b)));
  if (!members.length) return g.p(t('ops.gw.none'));
  return h('div', null, members.map((m) => {
    const list = byMember.get(m);
    const down = list.filter((x) => !x.up).length;
    return h('section', { class: 'ndx-gw-group', 'aria-labelledby': `gw-${m.replaceAll('/', '-')}` },
      h('h2', { class: 'govuk-heading-m', id: `gw-${m.replaceAll('/', '-')}` }, ops.memberName(m)),
      g.p(down ? t('ops.gw.some_down', { n: ops.num(down), all: ops.num(list.length) }) : t('ops.gw.all_up', { all: ops.num(list.length) })),
      // Ten columns are wider than the page on a desktop: the table
      // scrolls in its own box there (ops.scrollTable's pattern) and
      // stacks into one block per gateway on a phone.
      h('div', { class: 'ndx-scroll', tabindex: '0', role: 'region', 'aria-label': t('ops.gw.caption', { agency: ops.memberName(m) }) },
      h('table', { class: 'govuk-table ndx-stack-table', dataset: { member: m } },
        h('caption', { class: 'govuk-table__caption govuk-visually-hidden' }, t('ops.gw.caption', { agency: ops.memberName(m) })),
        h('thead', { class: 'govuk-table__head' },
          h('tr', { class: 'govuk-table__row' },
            COLUMNS.map((k) => t(k))
              .map((c) => h('th', { scope: 'col', class: 'govuk-table__header' }, c)))),
        h('tbody', { class: 'govuk-table__body' },
          list.map((x) => h('tr', { class: 'govuk-table__row', dataset: { gateway: x.name, up: String(!!x.up) } },
            cell(t('ops.gw.name'), x.name),
            cell(t('ops.gw.state'), g.tag(x.up ? t('ops.gw.up') : t('ops.gw.down'), x.up ? 'green' : 'red')),
            cell(t('ops.gw.conf'), x.state ? t('ops.gw.conf.value', { v: ops.num(x.state.conf_version) }) : t('ops.none')),
            cell(t('ops.gw.conf_expires'), expiry(x.state && x.state.conf_expires_at, 0)),
            cell(t('ops.gw.cert_expires'), expiry(x.state && x.state.tls_not_after, 14 * 86400)),
            cell(t('ops.gw.log'), !x.state ? t('ops.none')
              : g.tag(x.state.log_writable ? t('ops.gw.log.ok') : t('ops.gw.log.bad'), x.state.log_writable ? 'green' : 'red')),
            cell(t('ops.gw.backlog'), x.state ? t('ops.gw.backlog.value', {
              queued: ops.num(x.state.events_queued), dead: ops.num(x.state.events_dead), unack: ops.num(x.state.events_unacknowledged),
            }) : t('ops.none')),
            cell(t('ops.gw.last_ok'), ops.when(x.last_ok_ms)),
            cell(t('ops.gw.records'), ops.num(x.records)),
            cell(t('ops.gw.error'), x.last_error ? String(x.last_error) : t('ops.none'))))))));
  }));
}

const COLUMNS = ['ops.gw.name', 'ops.gw.state', 'ops.gw.conf', 'ops.gw.conf_expires', 'ops.gw.cert_expires', 'ops.gw.log',
  'ops.gw.backlog', 'ops.gw.last_ok', 'ops.gw.records', 'ops.gw.error'];

// A Unix time in seconds (0: none) as a date with the time left, flagged
// when it is within warnS: 14 days for a certificate, as the alerts fire
// (deploy/prometheus); for the configuration, once it has expired (a
// gateway fetches a new one long before, every few minutes in the demo).
function expiry(sec, warnS) {
  if (!sec) return t('ops.none');
  const left = Math.floor(sec - Date.now() / 1000);
  const date = formatTime(sec * 1000);
  let text;
  if (left < 0) text = t('ops.gw.expired', { date });
  else if (left >= 86400) text = t('ops.gw.expires', { date, days: ops.num(Math.floor(left / 86400)) });
  else text = t('ops.gw.expires.min', { date, min: ops.num(Math.floor(left / 60)) });
  return left <= warnS ? h('strong', { class: 'ndx-warn' }, text) : text;
}

function cell(label, content) {
  return h('td', { class: 'govuk-table__cell', 'data-label': label }, content);
}

export async function render(ctx) {
  const q = ops.figuresQuery(ctx, { windowS: 300 });
  const live = await api.get(`/api/ops/live?${q}`);
  const gws = live.gateways || [];
  const members = [...new Set(gws.map((x) => x.member))].sort();
  const slot = h('div', { id: 'ops-gateways' }, table(gws));
  const status = h('p', { class: 'govuk-body-s', id: 'ops-updated', role: 'status' }, t('ops.updated', { time: ops.clock(new Date()) }));
  const root = h('div', null,
    g.heading(t('ops.gw.title')),
    ops.scopeLine(ctx, live.member),
    ops.filterForm(ctx, { action: '/ops/gateways', windows: [300], windowS: 300, members }),
    g.insetText(t('ops.gw.province_note')),
    status,
    slot);
  ops.keepFresh(root, status, async () => {
    const lv = await api.get(`/api/ops/live?${q}`);
    ops.replaceWith(slot, table(lv.gateways || []));
  });
  return { title: t('ops.gw.title'), nodes: [root] };
}
