// Personal data (docs/console.md "Pages"): what the registry says about
// personal data, for the national operator and the data protection officer.
// The services that carry it with their purposes, bulk purposes and whether
// a consent is required (GET /api/services; each is changed on its own
// page); the embargoed purposes (GET /api/embargoes; the operator sets one,
// PUT /api/embargoes/{purpose}, and ends it through remove.mjs); and the
// e-ID providers whose tokens open a citizen's access list (GET
// /api/id-providers; the operator adds, POST, and removes them).

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

const DAY = 86400;

export async function render(ctx, state = {}) {
  const [{ services = [] }, { embargoes = [] }, { id_providers: idps = [] }] = await Promise.all([
    api.get('/api/services'), api.get('/api/embargoes'), api.get('/api/id-providers')]);
  const personal = services.filter((s) => s.personal);
  const list = (x) => (x || []).join(', ') || t('none');
  const op = ctx.may('embargo');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.pd.title')), g.p(t('con.pd.lead'))];
  nodes.push(g.heading(t('con.pd.services'), 'm', 2));
  nodes.push(personal.length ? g.table({
    id: 'personal-services',
    head: [t('con.services.id'), t('con.service.purposes'), t('con.service.bulk'), t('con.service.consent')],
    rows: personal.map((s) => [g.link(`${ctx.base}/services/${api.idPath(s.id)}`, s.id), list(s.purposes),
      list(s.bulk_purposes), s.consent_required ? t('yes') : t('no')]),
  }) : g.p(t('con.pd.none')));

  nodes.push(g.heading(t('con.embargoes.title'), 'm', 2), g.p(t('con.embargoes.lead')));
  nodes.push(embargoes.length ? g.table({
    id: 'embargoes',
    head: [t('con.embargoes.purpose'), t('con.embargoes.days'), ...(op ? [t('con.actions')] : [])],
    rows: embargoes.map((e) => [e.purpose, String(Math.round((e.seconds / DAY) * 100) / 100),
      ...(op ? [f.removeLink(ctx, 'embargo', e.purpose)] : [])]),
  }) : g.p(t('con.embargoes.none')));
  if (op) {
    nodes.push(f.form({ ...ctx, render }, state, {
      id: 'set-embargo',
      legend: t('con.embargoes.set'),
      button: t('con.embargoes.set'),
      fields: [
        { name: 'purpose', label: t('con.embargoes.purpose'), hint: t('con.embargoes.purpose.hint') },
        { name: 'days', label: t('con.embargoes.days'), width: 5 },
      ],
      body: (v) => {
        const days = Number(v.days);
        if (!/^\d+(\.\d+)?$/.test(v.days) || !(days > 0)) return { errors: { days: t('con.embargoes.err.days') } };
        return { seconds: Math.round(days * DAY), purpose: v.purpose };
      },
      send: (b) => api.put(`/api/embargoes/${encodeURIComponent(b.purpose)}`, { seconds: b.seconds }),
      done: (out, v) => ({ to: `${ctx.base}/personal-data`, text: t('con.embargoes.done', { purpose: v.purpose, v: out.conf_version ?? '' }) }),
    }));
  }

  nodes.push(g.heading(t('con.idp.title'), 'm', 2), g.p(t('con.idp.lead')));
  nodes.push(idps.length ? g.table({
    id: 'id-providers',
    head: [t('con.idp.issuer'), t('con.key_id'), ...(op ? [t('con.actions')] : [])],
    rows: idps.map((x) => [x.issuer, x.sign_key_id, ...(op ? [f.removeLink(ctx, 'id-provider', x.issuer)] : [])]),
  }) : g.p(t('con.idp.none')));
  if (op) {
    nodes.push(f.form({ ...ctx, render }, state, {
      id: 'add-idp',
      legend: t('con.idp.add'),
      button: t('con.idp.add'),
      fields: [
        { name: 'issuer', label: t('con.idp.issuer'), hint: t('con.idp.issuer.hint') },
        { name: 'sign_key', label: t('con.idp.key'), hint: t('con.idp.key.hint') },
      ],
      body: (v) => ({ issuer: v.issuer, sign_key: v.sign_key }),
      send: (b) => api.post('/api/id-providers', b),
      done: (out, v) => ({ to: `${ctx.base}/personal-data`, text: t('con.added', { what: t('con.kind.id-provider'), id: v.issuer, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.pd.title'), nodes: nodes.filter(Boolean) };
}
