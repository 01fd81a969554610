// Services (docs/console.md "Pages"): GET /api/services, each with a link
// to its page and OpenAPI document. The national operator, and an agency
// administrator for their own member's subsystems, registers a service
// (POST /api/services) with its personal-data settings (personal, purposes,
// bulk purposes, consent required) and its OpenAPI document, a JSON file
// read in the browser and sent as the body's `openapi`.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const { services = [] } = await api.get('/api/services');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.services.title'))];
  const removable = services.some((s) => ctx.may('service', s.id));
  if (!services.length) nodes.push(g.p(t('con.services.none')));
  else {
    const head = [t('con.services.id'), t('con.services.name'), t('con.services.personal'), t('con.services.openapi')];
    if (removable) head.push(t('con.actions'));
    nodes.push(g.table({
      id: 'services',
      head,
      rows: services.map((s) => {
        const row = [
          g.link(`${ctx.base}/services/${api.idPath(s.id)}`, s.id),
          s.title,
          s.personal ? t('yes') : t('no'),
          s.openapi_sha256 ? g.link(`${ctx.base}/services/${api.idPath(s.id)}`, t('con.services.view'), { 'aria-label': `${t('con.services.view')} ${s.id}` })
            : t('con.services.no_openapi'),
        ];
        if (removable) row.push(ctx.may('service', s.id) ? f.removeLink(ctx, 'service', s.id) : '');
        return row;
      }),
    }));
  }
  if (ctx.may('service', ctx.me.member ? `${ctx.me.member}/x` : undefined)) {
    nodes.push(g.sectionBreak(), f.form({ ...ctx, render }, state, {
      id: 'add-service',
      legend: t('con.services.add'),
      button: t('con.services.add'),
      initial: { id: ctx.me.member ? `${ctx.me.member}/` : '' },
      fields: [
        { name: 'id', label: t('con.services.id'), hint: t('con.services.id.hint') },
        { name: 'title', label: t('con.services.name') },
        { name: 'personal', kind: 'bool', label: t('con.services.personal'), hint: t('con.services.personal.hint') },
        { name: 'purposes', kind: 'list', optional: true, label: t('con.service.purposes'), hint: t('con.services.purposes.hint') },
        { name: 'bulk_purposes', kind: 'list', optional: true, label: t('con.service.bulk'), hint: t('con.services.bulk.hint') },
        { name: 'consent_required', kind: 'bool', label: t('con.service.consent'), hint: t('con.services.consent.hint') },
        { name: 'openapi', kind: 'file', optional: true, accept: '.json,application/json', label: t('con.service.openapi_title'), hint: t('con.services.openapi.hint') },
      ],
      body: (v) => {
        const b = { id: v.id, title: v.title, personal: v.personal, purposes: v.purposes, consent_required: v.consent_required };
        if (v.bulk_purposes.length) b.bulk_purposes = v.bulk_purposes;
        if (v.openapi) b.openapi = v.openapi.parsed;
        return b;
      },
      send: (b) => api.post('/api/services', b),
      done: (out, v) => ({ to: `${ctx.base}/services/${api.idPath(v.id)}`, text: t('con.added', { what: t('con.kind.service'), id: v.id, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.services.title'), nodes: nodes.filter(Boolean) };
}
