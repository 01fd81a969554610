// Services (docs/console.md): GET /api/services, each with a link to its
// page and OpenAPI document when it has one.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export async function render(ctx) {
  const { services = [] } = await api.get('/api/services');
  const nodes = [g.heading(t('con.services.title'))];
  if (!services.length) nodes.push(g.p(t('con.services.none')));
  else {
    nodes.push(g.table({
      id: 'services',
      head: [t('con.services.id'), t('con.services.name'), t('con.services.personal'), t('con.services.openapi')],
      rows: services.map((s) => [
        g.link(`${ctx.base}/services/${api.idPath(s.id)}`, s.id),
        s.title,
        s.personal ? t('yes') : t('no'),
        s.openapi_sha256 ? g.link(`${ctx.base}/services/${api.idPath(s.id)}`, t('con.services.view'), { 'aria-label': `${t('con.services.view')} ${s.id}` })
          : t('con.services.no_openapi'),
      ]),
    }));
  }
  return { title: t('con.services.title'), nodes };
}
