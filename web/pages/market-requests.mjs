// A member's marketplace requests (GET /api/market/negotiations), for its
// officers and agency officials: those received as provider (the ones
// waiting for a decision first) and those the member made as consumer,
// each linked to its page with the terms and the decision.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { inLang, negStateTag, memberText, idSegment } from '../marketview.mjs';

function rows(list, other) {
  return list.map((n) => [
    g.link(`/market/requests/${idSegment(n.provider_pid)}`, n.title ? inLang(n.title) : String(n.service), { 'data-pid': n.provider_pid }),
    memberText(n[other], n[`${other}_name`]),
    formatTime(n.updated_at),
    negStateTag(n.state),
  ]);
}

export async function render(ctx) {
  const data = await api.get('/api/market/negotiations');
  const list = Array.isArray(data.negotiations) ? data.negotiations : [];
  const received = list.filter((n) => n.side === 'provider');
  const made = list.filter((n) => n.side === 'consumer');
  const waiting = received.filter((n) => n.state === 'REQUESTED').length;
  const nodes = [g.heading(t('mk.req.title')), g.p(t('mk.req.member', { member: memberText(data.member) }))];
  nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.req.received')));
  nodes.push(g.p(h('span', { id: 'waiting', 'data-count': String(waiting) }, t('mk.req.waiting', { n: waiting }))));
  if (received.length) {
    nodes.push(g.table({ id: 'received', caption: t('mk.req.received'), captionSize: 's',
      head: [t('mk.req.dataset'), t('mk.req.consumer'), t('mk.req.updated'), t('mk.req.state')], rows: rows(received, 'consumer') }));
  }
  nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.req.made')));
  if (made.length) {
    nodes.push(g.table({ id: 'made', caption: t('mk.req.made'), captionSize: 's',
      head: [t('mk.req.dataset'), t('mk.req.provider'), t('mk.req.updated'), t('mk.req.state')], rows: rows(made, 'provider') }));
  } else {
    nodes.push(g.p(t('mk.req.none'), ' ', g.link('/market', t('mk.req.browse'))));
  }
  return { title: t('mk.req.title'), nodes };
}
