// Keys and certificates (docs/console.md "Pages", docs/registry-api.md "Key
// and certificate rotation"): for each gateway its signing key and the TLS
// certificate the registry's CA issued, with the certificate's validity
// (tls_not_before, tls_not_after of GET /api/gateways) and whether either
// is in the revocation list (GET /api/revocations). The national operator
// rotates them on rotate.mjs; the others read.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import * as f from './forms.mjs';

const DAY_MS = 86_400_000;
// A certificate this close to its end is shown as due for renewal.
const SOON_DAYS = 30;

// The certificate's state as a tag: expired, due within SOON_DAYS, valid.
function validityTag(notAfter, now) {
  const end = Date.parse(notAfter || '');
  if (Number.isNaN(end)) return g.tag(t('con.keys.unknown'), 'grey');
  const days = Math.floor((end - now) / DAY_MS);
  if (days < 0) return g.tag(t('con.keys.expired'), 'red');
  if (days < SOON_DAYS) return g.tag(t('con.keys.soon', { days }), 'yellow');
  return g.tag(t('con.keys.valid', { days }), 'green');
}

function card(ctx, gw, revoked, now) {
  const id = `${gw.member}/${gw.code}`;
  const keyRevoked = revoked.has(`key:${gw.sign_key_id}`);
  const certRevoked = revoked.has(`certificate:${gw.tls_cert_sha256}`);
  const mark = (bad) => (bad ? [' ', g.tag(t('con.keys.revoked'), 'red')] : []);
  const rotate = ctx.may('rotation', id)
    ? g.link(`${ctx.base}/keys/rotate?id=${encodeURIComponent(id)}`, t('con.keys.rotate'),
      { 'aria-label': `${t('con.keys.rotate')} ${id}`, dataset: { rotate: id } })
    : null;
  return h('div', { class: 'govuk-summary-card', dataset: { gateway: id } },
    h('div', { class: 'govuk-summary-card__title-wrapper' },
      h('h2', { class: 'govuk-summary-card__title' }, id),
      rotate ? h('ul', { class: 'govuk-summary-card__actions' }, h('li', { class: 'govuk-summary-card__action' }, rotate)) : null),
    h('div', { class: 'govuk-summary-card__content' },
      g.summaryList([
        { key: t('con.key_id'), value: h('span', null, gw.sign_key_id, ...mark(keyRevoked)) },
        { key: t('con.gateways.cert'), value: h('span', null, gw.tls_cert_sha256, ...mark(certRevoked)) },
        { key: t('con.keys.not_before'), value: formatTime(gw.tls_not_before) || t('con.keys.unknown') },
        { key: t('con.keys.not_after'), value: h('span', null, formatTime(gw.tls_not_after) || t('con.keys.unknown'), ' ', validityTag(gw.tls_not_after, now)) },
      ]),
      gw.tls_certificate ? f.folded(t('con.gateways.pem'), gw.tls_certificate) : null));
}

export async function render(ctx) {
  const [{ gateways = [] }, { revocations = [] }] = await Promise.all([
    api.get('/api/gateways'), api.get('/api/revocations'),
  ]);
  const revoked = new Set(revocations.map((r) => `${r.kind}:${String(r.value).toLowerCase()}`));
  const now = Date.now();
  const nodes = [f.banner(ctx), g.heading(t('con.keys.title')), g.p(t('con.keys.lead'))];
  if (!gateways.length) nodes.push(g.p(t('con.gateways.none')));
  for (const gw of gateways) nodes.push(card(ctx, gw, revoked, now));
  return { title: t('con.keys.title'), nodes: nodes.filter(Boolean) };
}
