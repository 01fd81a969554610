// Consent services (docs/console.md "Pages", docs/registry-api.md
// "Consent services"): GET /api/consent-services; the national operator
// registers one (POST, its subsystem, status URL and Ed25519 public key in
// PEM form) and removes one through remove.mjs.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const { consent_services: list = [] } = await api.get('/api/consent-services');
  const op = ctx.may('consent-service');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.consent.title')), g.p(t('con.consent.lead'))];
  nodes.push(list.length ? g.table({
    id: 'consent-services',
    head: [t('con.consent.id'), t('con.consent.url'), t('con.key_id'), ...(op ? [t('con.actions')] : [])],
    rows: list.map((c) => [c.id, c.url, c.sign_key_id, ...(op ? [f.removeLink(ctx, 'consent-service', c.id)] : [])]),
  }) : g.p(t('con.consent.none')));
  if (op) {
    nodes.push(g.sectionBreak(), f.form({ ...ctx, render }, state, {
      id: 'add-consent',
      legend: t('con.consent.add'),
      button: t('con.consent.add'),
      fields: [
        { name: 'id', label: t('con.consent.id'), hint: t('con.subsystems.id.hint') },
        { name: 'url', label: t('con.consent.url'), hint: t('con.consent.url.hint') },
        { name: 'sign_public_key', kind: 'textarea', rows: 4, label: t('con.consent.key'), hint: t('con.pem.hint') },
      ],
      body: (v) => ({ id: v.id, url: v.url, sign_public_key: `${v.sign_public_key}\n` }),
      send: (b) => api.post('/api/consent-services', b),
      done: (out, v) => ({ to: `${ctx.base}/consent-services`, text: t('con.added', { what: t('con.kind.consent-service'), id: v.id, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.consent.title'), nodes: nodes.filter(Boolean) };
}
