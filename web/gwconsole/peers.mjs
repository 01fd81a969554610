// The connection test to each peer gateway (docs/gateway-console.md):
// POST /console/api/peers/test runs, for every other gateway of the
// configuration held, a TLS handshake, the peer's certificate against the
// configuration (and its revocations) and a signed test call; the result
// is shown until the page is left.

import * as api from '../console/rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { actionForm } from './words.mjs';

let last = null;

const COLOUR = { good: 'green', revoked: 'red', certificate_mismatch: 'red', bad_signature: 'red', tls_failed: 'orange', unreachable: 'grey' };

function certCell(c) {
  if (!c || !c.fingerprint) return t('gcon.peers.no_cert');
  const parts = [c.matches ? t('gcon.peers.cert_listed') : t('gcon.peers.cert_other')];
  if (c.revoked) parts.push(t('gcon.peers.cert_revoked'));
  if (c.key_revoked) parts.push(t('gcon.peers.key_revoked'));
  if (c.not_after) parts.push(t('gcon.peers.not_after', { at: formatTime(c.not_after) }));
  return parts.join('; ');
}

function sigCell(s) {
  if (!s) return t('gcon.peers.not_tried');
  return s.ok ? t('gcon.peers.sig_ok') : t('gcon.peers.sig_bad', { error: s.error || '' });
}

function results(r) {
  if (!r.peers.length) return g.p(t('gcon.peers.none'));
  return h('div', { id: 'peer-results' },
    g.p(t('gcon.peers.tested', { at: formatTime(r.tested_at), v: r.conf_version })),
    g.table({
      id: 'peers',
      head: [t('gcon.peers.gateway'), t('gcon.peers.result'), t('gcon.peers.tls'), t('gcon.peers.cert'), t('gcon.peers.sig')],
      rows: r.peers.map((p) => [
        h('span', null, p.gateway, h('span', { class: 'govuk-body-s ndx-code' }, p.address)),
        h('span', { dataset: { result: p.result } }, g.tag(t(`gcon.peers.r.${p.result}`), COLOUR[p.result])),
        p.tls.ok ? `${p.tls.protocol} (${p.tls.ms} ms)` : (p.tls.error || t('gcon.peers.no_tls')),
        certCell(p.certificate),
        sigCell(p.signature),
      ]),
    }));
}

export async function render(ctx) {
  const shown = last;
  last = null;
  const form = actionForm({
    id: 'test-peers', text: t('gcon.peers.run'), buttonId: 'run-test', ctx,
    action: async () => { last = await api.post('/console/api/peers/test', {}); },
  });
  return {
    title: t('gcon.peers.title'),
    nodes: [g.heading(t('gcon.peers.title')), g.p(t('gcon.peers.body')), form, shown ? results(shown) : null],
  };
}
