// A gateway console's overview (docs/gateway-console.md): the gateway (its
// member, code, keys), the global configuration it holds (version, when it
// was signed, when it expires) and whether it is in maintenance.
// GET /console/api/overview.

import * as api from '../console/rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { maintenanceTag } from './words.mjs';

export async function render() {
  const o = await api.get('/console/api/overview');
  const gw = o.gateway || {};
  const conf = o.conf;
  return {
    title: t('gcon.overview.title'),
    nodes: [
      g.heading(t('gcon.overview.title')),
      g.summaryList([
        { key: t('gcon.overview.gateway'), value: gw.name },
        { key: t('gcon.overview.registry'), value: gw.registry },
        { key: t('gcon.overview.sign_key'), value: h('code', { class: 'ndx-code' }, gw.sign_key_id) },
        { key: t('gcon.overview.tls'), value: h('code', { class: 'ndx-code' }, gw.tls_cert_sha256) },
        { key: t('gcon.nav.maintenance'), value: maintenanceTag(o.maintenance) },
      ], { id: 'gateway' }),
      g.heading(t('gcon.overview.conf'), 'm', 2),
      conf ? g.summaryList([
        { key: t('con.overview.version'), value: String(conf.version) },
        { key: t('con.overview.generated'), value: formatTime(conf.generated_at) },
        { key: t('con.overview.expires'), value: formatTime(conf.expires_at) },
        { key: t('gcon.overview.valid'), value: conf.valid ? g.tag(t('gcon.valid'), 'green') : g.tag(t('gcon.expired'), 'red') },
      ], { id: 'conf' }) : g.p(t('gcon.overview.no_conf')),
    ],
  };
}
