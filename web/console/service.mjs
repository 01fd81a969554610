// One service (docs/console.md): its record (GET /api/services/{id}) and
// its OpenAPI document as the registry publishes it (GET /openapi/{id}):
// the title, version and each path with its operations, then the document
// itself, shown as text (never as HTML).

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

const OPS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

export async function render(ctx) {
  const id = ctx.params.rest;
  const svc = await api.get(`/api/services/${api.idPath(id)}`);
  const nodes = [
    g.backLink(`${ctx.base}/services`, t('back')),
    g.heading(t('con.service.title', { id })),
    g.summaryList([
      { key: t('con.services.name'), value: svc.title },
      { key: t('con.services.personal'), value: svc.personal ? t('yes') : t('no') },
      { key: t('con.service.purposes'), value: (svc.purposes || []).join(', ') || t('none') },
    ]),
  ];
  if (svc.openapi_sha256) {
    const doc = await api.get(`/openapi/${api.idPath(id)}`);
    const paths = doc && typeof doc.paths === 'object' ? Object.entries(doc.paths) : [];
    nodes.push(g.heading(t('con.service.openapi_title'), 'm', 2),
      g.p(`${doc.info?.title ?? ''} ${doc.info?.version ?? ''}`.trim()),
      g.table({
        id: 'openapi-paths',
        caption: t('con.service.paths'), captionSize: 's',
        head: [t('con.grants.paths'), t('con.grants.methods')],
        rows: paths.map(([p, ops]) => [p, OPS.filter((o) => ops && ops[o]).map((o) => o.toUpperCase()).join(', ')]),
      }),
      h('pre', { class: 'ndx-openapi', id: 'openapi', tabindex: '0', 'aria-label': t('con.service.openapi_title') },
        JSON.stringify(doc, null, 2)));
  } else {
    nodes.push(g.p(`${t('con.services.openapi')}: ${t('con.services.no_openapi')}`));
  }
  return { title: t('con.service.title', { id }), nodes };
}
