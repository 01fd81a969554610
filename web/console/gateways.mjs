// Gateways and their certificates (docs/console.md "Pages"): GET
// /api/gateways, each with its address, signing key id and the TLS
// certificate the registry's CA issued (its SHA-256 and the PEM, folded
// away). The national operator registers a gateway (POST /api/gateways
// with its signing public key and a TLS certificate request, which the CA
// signs) and removes one through remove.mjs.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const { gateways = [] } = await api.get('/api/gateways');
  const op = ctx.may('gateway');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.gateways.title'))];
  if (!gateways.length) nodes.push(g.p(t('con.gateways.none')));
  for (const gw of gateways) {
    const id = `${gw.member}/${gw.code}`;
    nodes.push(h('div', { class: 'govuk-summary-card', dataset: { gateway: id } },
      h('div', { class: 'govuk-summary-card__title-wrapper' },
        h('h2', { class: 'govuk-summary-card__title' }, id),
        op ? h('ul', { class: 'govuk-summary-card__actions' },
          h('li', { class: 'govuk-summary-card__action' }, f.removeLink(ctx, 'gateway', id))) : null),
      h('div', { class: 'govuk-summary-card__content' },
        g.summaryList([
          { key: t('con.gateways.address'), value: gw.address },
          { key: t('con.key_id'), value: gw.sign_key_id },
          { key: t('con.gateways.cert'), value: gw.tls_cert_sha256 },
        ]),
        gw.tls_certificate ? f.folded(t('con.gateways.pem'), gw.tls_certificate) : null)));
  }
  if (op) {
    nodes.push(g.sectionBreak(), f.form({ ...ctx, render }, state, {
      id: 'add-gateway',
      legend: t('con.gateways.add'),
      button: t('con.gateways.add'),
      fields: [
        { name: 'member', label: t('con.members.id'), hint: t('con.members.id.hint') },
        { name: 'code', label: t('con.gateways.code'), hint: t('con.gateways.code.hint') },
        { name: 'address', label: t('con.gateways.address'), hint: t('con.gateways.address.hint') },
        { name: 'sign_public_key', kind: 'textarea', rows: 4, label: t('con.gateways.sign'), hint: t('con.pem.hint') },
        { name: 'tls_csr', kind: 'textarea', rows: 6, label: t('con.gateways.csr'), hint: t('con.gateways.csr.hint') },
      ],
      body: (v) => ({ member: v.member, code: v.code, address: v.address,
        sign_public_key: `${v.sign_public_key}\n`, tls_csr: `${v.tls_csr}\n` }),
      send: (b) => api.post('/api/gateways', b),
      done: (out, v) => ({ to: `${ctx.base}/gateways`, text: t('con.added', { what: t('con.kind.gateway'), id: `${v.member}/${v.code}`, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.gateways.title'), nodes: nodes.filter(Boolean) };
}
