// One dataset of the marketplace (GET /api/market/datasets/{id}): its
// DCAT-AP description (title, description, publisher, themes, licence,
// update frequency, sample) and the offers the visitor may see, each with
// its terms in words. A member's officer or official requests an offer
// here (POST /api/market/requests); the provider's officials then approve,
// counter or decline it on their requests page. A dataset the visitor may
// see no offer of is "not found", as the registry answers it.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { inLang, memberText, termsRows, idSegment } from '../marketview.mjs';

function notFound() {
  return { title: t('mk.nf.title'), nodes: [g.heading(t('mk.nf.title')), g.p(t('mk.nf.body')), g.p(g.link('/market', t('mk.back')))] };
}

function offerCard(ctx, d, o, i) {
  const body = [g.summaryList(termsRows(o.terms))];
  const party = ctx.session.market;
  if (party && party.member !== d.publisher?.id) {
    const btn = g.button(t('mk.request'), { type: 'button', attrs: { 'data-offer': o.id, id: `request-${i + 1}` } });
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const sel = document.getElementById('client');
        const body = { offer: o.id };
        if (sel && sel.value) body.client = sel.value;
        const n = await api.post('/api/market/requests', body);
        await ctx.navigate(`/market/requests/${idSegment(n.provider_pid)}`, { flash: { type: 'requested' } });
      } catch (e) {
        btn.disabled = false;
        const err = document.getElementById('request-error');
        if (err) err.remove();
        btn.before(h('p', { class: 'govuk-error-message', id: 'request-error' }, h('span', { class: 'govuk-visually-hidden' }, `${t('error.prefix')} `),
          e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown')));
      }
    });
    body.push(btn);
  } else if (party) {
    body.push(g.p(h('span', { class: 'govuk-hint' }, t('mk.own'))));
  }
  return h('div', { class: 'ndx-offer', 'data-offer': o.id }, g.summaryCard(t('mk.offer', { n: i + 1 }), body));
}

export async function render(ctx) {
  let d;
  try {
    d = await api.get(`/api/market/datasets/${idSegment(ctx.params.id)}`);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 404) return notFound();
    throw e;
  }
  const offers = Array.isArray(d.offers) ? d.offers : [];
  const nodes = [g.backLink('/market', t('mk.back')), g.caption(t('mk.dataset'), 'l'), g.heading(inLang(d.title)), g.lead(inLang(d.description))];
  const rows = [
    { key: t('mk.dcat.publisher'), value: memberText(d.publisher?.id, d.publisher?.name) },
    { key: t('mk.dcat.theme'), value: Array.isArray(d.themes) && d.themes.length ? d.themes.map((x) => tOr(`mk.theme.${String(x).split('/').pop()}`, String(x).split('/').pop())).join(', ') : t('none') },
    { key: t('mk.dcat.license'), value: String(d.license ?? '') },
    { key: t('mk.dcat.frequency'), value: tOr(`mk.freq.${d.frequency}`, String(d.frequency ?? '')) },
  ];
  // An event type's dataset: delivered as events, its agreement a subscription.
  if (d.event) rows.push({ key: t('mk.dcat.event'), value: h('span', { 'data-term': 'event' }, t('mk.dcat.event.text', { name: String(d.event) })) });
  nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.description')), g.summaryList(rows, { id: 'dcat' }));
  if (d.sample !== undefined) {
    nodes.push(h('details', { class: 'govuk-details' },
      h('summary', { class: 'govuk-details__summary' }, h('span', { class: 'govuk-details__summary-text' }, t('mk.dcat.sample'))),
      h('div', { class: 'govuk-details__text' }, h('pre', { class: 'ndx-sample', tabindex: '0' }, JSON.stringify(d.sample, null, 2)))));
  }
  nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.offers.title')));
  if (!ctx.session.market) {
    nodes.push(g.insetText(ctx.session.authenticated ? t('mk.not_party') : t('mk.signin_to_request'), ' ',
      ctx.session.authenticated ? null : g.link('/officer', t('off.signin'))));
  }
  const party = ctx.session.market;
  if (party && party.member !== d.publisher?.id) {
    // Which of the member's systems will call: the grant is for it.
    const me = await api.get('/api/market/me').catch(() => null);
    const subs = me && Array.isArray(me.subsystems) ? me.subsystems : [];
    if (me && !me.enrolled) nodes.push(g.warningText(t('mk.err.not_enrolled')));
    if (subs.length) {
      nodes.push(g.select({ id: 'client', name: 'client', label: t('mk.client'), hint: t('mk.client.hint'), value: subs[0],
        options: subs.map((c) => ({ value: c, text: c.split('/').pop() })) }));
    }
  }
  nodes.push(...offers.map((o, i) => offerCard(ctx, d, o, i)));
  return { title: inLang(d.title), nodes };
}
