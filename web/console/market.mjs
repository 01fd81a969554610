// The marketplace (docs/console.md "Pages", docs/marketplace.md): the
// datasets providers publish with their offers, the contract negotiations
// with their Dataspace Protocol states, the agreements they ended in
// (in force, terminated, expired) and the invoices recorded of their use
// (open, or paid by a bank's receipt: docs/marketplace.md "Invoices and
// clearing"), read through GET /api/market/datasets, /negotiations and
// /invoices (docs/registry-api.md "The marketplace in the management
// API"). Filtered by member: a dataset's provider, either party of a
// negotiation or an invoice. Read only: the parties change the marketplace
// themselves (the portal, /dsp). An agency administrator reads their own
// member's only, which the registry enforces.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime, formatMoney, lang } from '../i18n.mjs';

const STATES = ['REQUESTED', 'OFFERED', 'ACCEPTED', 'AGREED', 'VERIFIED', 'FINALIZED', 'TERMINATED'];
const STATE_COLOUR = { FINALIZED: 'green', TERMINATED: 'grey', AGREED: 'blue', VERIFIED: 'blue' };
const AGREEMENT_COLOUR = { active: 'green', terminated: 'grey', expired: 'yellow' };
const INVOICE_COLOUR = { open: 'yellow', paid: 'green' };

// A text of the dataset's description in the reader's language ({vi, en}).
function words(x) {
  if (!x || typeof x !== 'object') return x ? String(x) : '';
  return x[lang()] || x.vi || x.en || '';
}

function stateTag(state) {
  const known = STATES.includes(state);
  return h('span', null, g.tag(state, STATE_COLOUR[state]), known ? ` ${t(`con.market.state.${state}`)}` : '');
}

function filterForm(ctx, member, members) {
  const fixed = ctx.me.role === 'agency';
  return h('form', {
    method: 'get', action: `${ctx.base}/market`, id: 'market-filter',
    on: { submit: (ev) => {
      ev.preventDefault();
      const m = ev.target.elements.member.value;
      ctx.navigate(`${ctx.base}/market${m ? `?member=${encodeURIComponent(m)}` : ''}`);
    } },
  }, g.fieldset(t('con.grants.filter'), [
    fixed
      ? g.p(t('con.market.own', { member }), h('input', { type: 'hidden', name: 'member', value: member }))
      : g.select({ id: 'member', name: 'member', label: t('con.market.member'), value: member,
        options: [{ value: '', text: t('con.market.all') }, ...members.map((m) => ({ value: m.id, text: `${m.id} — ${m.name}` }))] }),
    fixed ? null : g.buttonGroup(g.button(t('con.grants.filter'), { variant: 'secondary' }), g.link(`${ctx.base}/market`, t('con.grants.clear'))),
  ].filter(Boolean), { size: 's' }));
}

export async function render(ctx) {
  const agency = ctx.me.role === 'agency';
  const member = agency ? ctx.me.member : (ctx.query.get('member') || '').trim();
  const q = member ? `?member=${encodeURIComponent(member)}` : '';
  const [{ members = [] }, { datasets = [] }, { negotiations = [] }, { invoices = [] }] = await Promise.all([
    agency ? Promise.resolve({ members: [] }) : api.get('/api/members'),
    api.get(`/api/market/datasets${q}`), api.get(`/api/market/negotiations${q}`),
    api.get(`/api/market/invoices${q}`),
  ]);
  const nodes = [g.heading(t('con.market.title')), g.p(t('con.market.lead')), filterForm(ctx, member, members)];

  nodes.push(h('h2', { class: 'govuk-heading-m', id: 'datasets-heading' }, t('con.market.datasets')));
  nodes.push(datasets.length ? g.table({
    id: 'datasets',
    head: [t('con.market.dataset'), t('con.services.id'), t('con.market.provider'), t('con.market.offers'), t('con.market.published')],
    rows: datasets.map((d) => [words(d.description && d.description.title) || d.id, d.service,
      d.provider_name ? `${d.provider} (${d.provider_name})` : d.provider, String((d.offers || []).length), formatTime(d.created_at)]),
  }) : g.p(t('con.market.datasets.none')));

  nodes.push(g.sectionBreak(), h('h2', { class: 'govuk-heading-m', id: 'negotiations-heading' }, t('con.market.negotiations')));
  nodes.push(negotiations.length ? g.table({
    id: 'negotiations',
    head: [t('con.market.consumer'), t('con.market.provider'), t('con.services.id'), t('con.market.state'), t('con.market.updated')],
    rows: negotiations.map((n) => [n.client && n.client !== n.consumer ? `${n.consumer} (${n.client})` : n.consumer,
      n.provider, n.service, stateTag(n.state), formatTime(n.updated_at)]),
  }) : g.p(t('con.market.negotiations.none')));

  const agreements = negotiations.filter((n) => n.agreement_id);
  nodes.push(g.sectionBreak(), h('h2', { class: 'govuk-heading-m', id: 'agreements-heading' }, t('con.market.agreements')));
  nodes.push(agreements.length ? g.table({
    id: 'agreements',
    head: [t('con.market.agreement'), t('con.market.consumer'), t('con.market.provider'), t('con.services.id'), t('con.market.agreement_state'), t('con.market.until')],
    rows: agreements.map((n) => [n.agreement_id, n.client || n.consumer, n.provider, n.service,
      g.tag(tOr(`con.market.agreement.${n.agreement_state}`, n.agreement_state || ''), AGREEMENT_COLOUR[n.agreement_state]),
      n.not_after ? formatTime(n.not_after) : t('con.market.no_end')]),
  }) : g.p(t('con.market.agreements.none')));

  nodes.push(g.sectionBreak(), h('h2', { class: 'govuk-heading-m', id: 'invoices-heading' }, t('con.market.invoices')));
  nodes.push(invoices.length ? g.table({
    id: 'invoices',
    head: [t('con.market.reference'), t('con.market.seller'), t('con.market.buyer'), t('con.market.period'), t('con.market.amount'), t('con.market.invoice_state')],
    rows: invoices.map((i) => [i.reference, i.seller, i.buyer, `${formatTime(i.from)} – ${formatTime(i.to)}`,
      `${formatMoney(i.amount_vnd)} ₫`,
      h('span', null, g.tag(tOr(`con.market.invoice.${i.status}`, i.status || ''), INVOICE_COLOUR[i.status]),
        i.paid_at ? ` ${formatTime(i.paid_at)}` : '')]),
  }) : g.p(t('con.market.invoices.none')));
  return { title: t('con.market.title'), nodes };
}
