// Rotating a gateway's signing key and TLS certificate (docs/console.md
// "Pages", docs/registry-api.md "Key and certificate rotation"): the
// gateway as the registry holds it, then a form for a new signing public
// key, a new certificate request or both, and whether to revoke the
// replaced ones in the same change (POST
// /api/gateways/{memberId}/{code}/rotation). Only the national operator
// sees the form; the registry refuses anyone else anyway.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const id = ctx.query.get('id') || '';
  if (!id.includes('/')) return { title: t('con.nf.title'), nodes: [g.heading(t('con.nf.title'))] };
  const gw = await api.get(`/api/gateways/${api.idPath(id)}`);
  const back = `${ctx.base}/keys`;
  const title = t('con.keys.rotate.title', { id });
  const nodes = [
    f.summary(state),
    g.backLink(back, t('back')),
    g.heading(title),
    g.summaryList([
      { key: t('con.gateways.address'), value: gw.address },
      { key: t('con.key_id'), value: gw.sign_key_id },
      { key: t('con.gateways.cert'), value: gw.tls_cert_sha256 },
      { key: t('con.keys.not_after'), value: formatTime(gw.tls_not_after) || t('con.keys.unknown') },
    ], { id: 'object' }),
  ];
  if (!ctx.may('rotation', id)) return { title, nodes: nodes.filter(Boolean) };
  nodes.push(g.insetText(t('con.keys.rotate.lead')), f.form({ ...ctx, render }, state, {
    id: 'rotate',
    legend: t('con.keys.rotate.legend'),
    button: t('con.keys.rotate'),
    fields: [
      { name: 'sign_public_key', kind: 'textarea', rows: 4, label: t('con.keys.new_sign'), hint: t('con.pem.hint'), optional: true },
      { name: 'tls_csr', kind: 'textarea', rows: 6, label: t('con.keys.new_csr'), hint: t('con.gateways.csr.hint'), optional: true },
      { name: 'revoke_old', kind: 'bool', label: t('con.keys.revoke_old'), hint: t('con.keys.revoke_old.hint') },
      { name: 'reason', label: t('con.revocations.reason'), hint: t('con.keys.reason.hint'), optional: true },
    ],
    body: (v) => {
      if (!v.sign_public_key && !v.tls_csr) return { errors: { sign_public_key: t('con.keys.err.nothing') } };
      if (v.reason && !v.revoke_old) return { errors: { reason: t('con.keys.err.reason') } };
      const b = {};
      if (v.sign_public_key) b.sign_public_key = `${v.sign_public_key}\n`;
      if (v.tls_csr) b.tls_csr = `${v.tls_csr}\n`;
      if (v.revoke_old) b.revoke_old = true;
      if (v.reason) b.reason = v.reason;
      return b;
    },
    send: (b) => api.post(`/api/gateways/${api.idPath(id)}/rotation`, b),
    done: (out) => ({
      to: back,
      text: t('con.keys.rotated', { id, revoked: (out.revoked || []).length, v: out.conf_version ?? '' }),
    }),
  }));
  return { title, nodes: nodes.filter(Boolean) };
}
