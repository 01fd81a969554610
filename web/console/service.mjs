// One service (docs/console.md "Pages"): its record (GET /api/services/{id})
// with its personal-data settings, its OpenAPI document as the registry
// publishes it (GET /openapi/{id}): the title, version and each path with
// its operations, then the document itself, shown as text (never as HTML).
// Whoever may change the service (the operator, its member's agency
// administrator) replaces its bulk purposes (PUT
// /api/services/{id}/bulk-purposes) and removes it (remove.mjs).

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

const OPS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

export async function render(ctx, state = {}) {
  const id = ctx.params.rest;
  const svc = await api.get(`/api/services/${api.idPath(id)}`);
  const list = (x) => (x || []).join(', ') || t('none');
  const nodes = [
    f.summary(state),
    g.backLink(`${ctx.base}/services`, t('back')),
    f.banner(ctx),
    g.heading(t('con.service.title', { id })),
    g.summaryList([
      { key: t('con.services.name'), value: svc.title },
      { key: t('con.services.personal'), value: svc.personal ? t('yes') : t('no') },
      { key: t('con.service.purposes'), value: list(svc.purposes) },
      { key: t('con.service.bulk'), value: list(svc.bulk_purposes) },
      { key: t('con.service.consent'), value: svc.consent_required ? t('yes') : t('no') },
    ], { id: 'service' }),
  ];
  if (ctx.may('service', id)) {
    if (svc.personal && !svc.consent_required) {
      nodes.push(f.form({ ...ctx, render }, state, {
        id: 'bulk',
        legend: t('con.service.bulk.set'),
        button: t('con.service.bulk.save'),
        initial: { bulk_purposes: (svc.bulk_purposes || []).join('\n') },
        fields: [{ name: 'bulk_purposes', kind: 'list', optional: true, label: t('con.service.bulk'), hint: t('con.services.bulk.hint') }],
        body: (v) => ({ bulk_purposes: v.bulk_purposes }),
        send: (b) => api.put(`/api/services/${api.idPath(id)}/bulk-purposes`, b),
        done: (out) => ({ to: `${ctx.base}/services/${api.idPath(id)}`, text: t('con.changed', { v: out.conf_version ?? '' }) }),
      }));
    }
    nodes.push(g.p(f.removeLink(ctx, 'service', id)));
  }
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
  return { title: t('con.service.title', { id }), nodes: nodes.filter(Boolean) };
}
