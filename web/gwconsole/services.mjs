// A gateway's subsystems and backends, the services it provides and the
// grants it holds and gives, from the configuration file and the global
// configuration it holds (docs/gateway-console.md). GET /console/api/services.

import * as api from '../console/rapi.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { joined } from './words.mjs';

function grants(id, caption, list) {
  if (!list.length) return [g.heading(caption, 'm', 2), g.p(t('gcon.grants.none'))];
  return [g.table({
    id, caption,
    head: [t('con.grants.client'), t('con.grants.service'), t('con.grants.methods'), t('con.grants.paths'), t('gcon.grants.until')],
    rows: list.map((x) => [x.client, x.service, joined(x.methods), joined(x.paths, ' '),
      x.not_after ? formatTime(x.not_after) : t('gcon.grants.no_end')]),
  })];
}

export async function render() {
  const o = await api.get('/console/api/services');
  const subs = o.subsystems || [];
  const svcs = o.services || [];
  return {
    title: t('gcon.services.title'),
    nodes: [
      g.heading(t('gcon.services.title')),
      g.table({
        id: 'subsystems', caption: t('gcon.subsystems.title'),
        head: [t('gcon.subsystems.id'), t('gcon.subsystems.connection')],
        rows: subs.map((s) => [s.id, t(`gcon.conn.${s.connection}`)]),
      }),
      svcs.length ? g.table({
        id: 'services', caption: t('gcon.services.provided'),
        head: [t('con.services.id'), t('gcon.services.backend'), t('gcon.services.timeout'), t('gcon.services.registered')],
        rows: svcs.map((s) => [s.id, s.backend, String(s.timeout_ms),
          s.registered ? g.tag(t('yes'), 'green') : g.tag(t('gcon.services.unregistered'), 'red')]),
      }) : g.p(t('gcon.services.none')),
      ...grants('grants-held', t('gcon.grants.held'), o.grants_held || []),
      ...grants('grants-given', t('gcon.grants.given'), o.grants_given || []),
    ],
  };
}
