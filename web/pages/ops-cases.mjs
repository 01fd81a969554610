// The misuse cases (/ops/cases): what the monitoring service flagged,
// newest first, filtered by state (open by default) and kind, each linking
// to its page. An agency official sees its own member's cases only (the
// portal forces it). API: docs/portal.md "Misuse cases".

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import * as ops from '../ops.mjs';
import * as cs from '../cases.mjs';

function filterForm(ctx, state, kind) {
  const form = h('form', { method: 'get', action: '/ops/cases', class: 'ndx-filter', id: 'cases-filter' },
    g.select({ id: 'state', name: 'state', label: t('case.filter.state'), value: state,
      options: cs.STATES.map((s) => ({ value: s, text: t(`case.state.${s}`) })) }),
    g.select({ id: 'kind', name: 'kind', label: t('case.filter.kind'), value: kind,
      options: [{ value: '', text: t('case.kind.any') }, ...cs.KINDS.map((k) => ({ value: k, text: cs.kindName(k) }))] }),
    g.button(t('ops.apply'), { variant: 'secondary', attrs: { id: 'cases-apply' } }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    ctx.navigate(`/ops/cases?${q}`);
  });
  return form;
}

function casesTable(list) {
  const head = [t('case.opened'), t('case.kind'), t('case.reader'), t('case.state'), t('case.reads'), t('case.open_link')];
  return h('table', { class: 'govuk-table ndx-stack-table', id: 'cases' },
    h('caption', { class: 'govuk-table__caption govuk-table__caption--m' }, t('case.list.caption')),
    h('thead', { class: 'govuk-table__head' },
      h('tr', { class: 'govuk-table__row' }, head.map((c) => h('th', { scope: 'col', class: 'govuk-table__header' }, c)))),
    h('tbody', { class: 'govuk-table__body' },
      list.map((c) => h('tr', { class: 'govuk-table__row', dataset: { case: String(c.id), member: c.client_member || '' } },
        [formatTime(c.opened_ms), cs.kindName(c.kind), cs.readerText(c), cs.stateTag(c.state), ops.num(c.reads),
          g.link(`/ops/cases/${encodeURIComponent(c.id)}`, [t('case.open_link.text', { id: c.id }), g.hidden(` ${cs.kindName(c.kind)}`)])]
          .map((cell, i) => h('td', { class: 'govuk-table__cell', 'data-label': head[i] }, cell))))));
}

export async function render(ctx) {
  const state = cs.STATES.includes(ctx.query.get('state')) ? ctx.query.get('state') : 'open';
  const kind = cs.KINDS.includes(ctx.query.get('kind')) ? ctx.query.get('kind') : '';
  const q = new URLSearchParams({ state });
  if (kind) q.set('kind', kind);
  const m = ctx.query.get('member');
  if (m && ctx.session.official.role !== 'agency') q.set('member', m);
  const doc = await api.get(`/api/ops/cases?${q}`);
  const list = Array.isArray(doc.cases) ? doc.cases : [];
  const nodes = [
    g.heading(t('case.list.title')),
    ops.scopeLine(ctx, doc.member),
    g.p(t('case.list.lead')),
    filterForm(ctx, state, kind),
    g.p(h('span', { id: 'cases-count' }, t('case.list.count', { n: ops.num(list.length), state: t(`case.state.${state}`).toLowerCase() }))),
    list.length ? casesTable(list) : g.p(h('span', { id: 'cases-empty' }, t('case.list.empty'))),
  ];
  return { title: t('case.list.title'), nodes };
}
