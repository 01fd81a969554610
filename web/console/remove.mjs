// Removing an object (docs/console.md "Pages"): the confirmation page for
// every kind but grants (grant-remove.mjs). It shows the object as the
// registry holds it and what its removal means, and sends the DELETE only
// on the official's confirmation; a refusal (409 while others depend on it,
// 403 for what the role may not remove) is shown on the page. The object is
// named in the query (?id=), so an id with slashes or a URL stays whole.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

const enc = encodeURIComponent;
// kind: {back, one(id) the object, path(id) to DELETE, rows(obj)}
const KINDS = {
  member: {
    back: 'members', path: (id) => `/api/members/${api.idPath(id)}`,
    one: (id) => api.get(`/api/members/${api.idPath(id)}`),
    rows: (o) => [['con.members.id', o.id], ['con.members.name', o.name]],
  },
  subsystem: {
    back: 'members', path: (id) => `/api/subsystems/${api.idPath(id)}`,
    one: (id) => api.get(`/api/subsystems/${api.idPath(id)}`),
    rows: (o) => [['con.subsystems.id', o.id]],
  },
  service: {
    back: 'services', path: (id) => `/api/services/${api.idPath(id)}`,
    one: (id) => api.get(`/api/services/${api.idPath(id)}`),
    rows: (o) => [['con.services.id', o.id], ['con.services.name', o.title]],
  },
  'consent-service': {
    back: 'consent-services', path: (id) => `/api/consent-services/${api.idPath(id)}`,
    one: (id) => api.get(`/api/consent-services/${api.idPath(id)}`),
    rows: (o) => [['con.consent.id', o.id], ['con.consent.url', o.url], ['con.key_id', o.sign_key_id]],
  },
  gateway: {
    back: 'gateways', path: (id) => `/api/gateways/${api.idPath(id)}`,
    one: (id) => api.get(`/api/gateways/${api.idPath(id)}`),
    rows: (o) => [['con.gateways.id', `${o.member}/${o.code}`], ['con.gateways.address', o.address],
      ['con.gateways.cert', o.tls_cert_sha256]],
  },
  embargo: {
    back: 'personal-data', path: (id) => `/api/embargoes/${enc(id)}`,
    one: (id) => api.get(`/api/embargoes/${enc(id)}`),
    rows: (o) => [['con.embargoes.purpose', o.purpose], ['con.embargoes.days', String(o.seconds / 86400)]],
  },
  'id-provider': {
    back: 'personal-data', path: (id) => `/api/id-providers?issuer=${enc(id)}`,
    one: async (id) => {
      const { id_providers: list = [] } = await api.get('/api/id-providers');
      const o = list.find((x) => x.issuer === id);
      if (!o) throw new api.ConsoleError(404, 'Client.NotFound', id);
      return o;
    },
    rows: (o) => [['con.idp.issuer', o.issuer], ['con.key_id', o.sign_key_id]],
  },
  'event-type': {
    back: 'live-data', path: (id) => `/api/event-types/${api.idPath(id)}`,
    one: (id) => api.get(`/api/event-types/${api.idPath(id)}`),
    rows: (o) => [['con.live.service', o.service], ['con.live.name', o.name], ['con.live.title_field', o.title || '']],
  },
  subscription: {
    back: 'live-data', path: (id) => `/api/subscriptions/${enc(id)}`,
    one: async (id) => {
      const { subscriptions: list = [] } = await api.get('/api/subscriptions');
      const o = list.find((x) => String(x.id) === id);
      if (!o) throw new api.ConsoleError(404, 'Client.NotFound', id);
      return o;
    },
    rows: (o) => [['con.live.client', o.client], ['con.live.service', o.service], ['con.live.name', o.event],
      ['con.live.purpose', o.purpose || t('none')]],
  },
  monitoring: {
    back: 'live-data', path: () => '/api/monitoring',
    one: async (id) => {
      const { client } = await api.get('/api/monitoring');
      if (!client || client !== id) throw new api.ConsoleError(404, 'Client.NotFound', id);
      return { client };
    },
    rows: (o) => [['con.live.mon.client', o.client]],
  },
  official: {
    back: 'officials', path: (id) => `/api/officials/${enc(id)}`,
    one: async (id) => {
      const { officials: list = [] } = await api.get('/api/officials');
      const o = list.find((x) => x.subject === id);
      if (!o) throw new api.ConsoleError(404, 'Client.NotFound', id);
      return o;
    },
    rows: (o) => [['con.officials.subject', o.subject], ['con.officials.name', o.name],
      ['con.officials.role', t(`con.role.${o.role}`)], ['con.officials.member', o.member || t('none')]],
  },
};

export async function render(ctx, state = {}) {
  const kind = ctx.params.kind;
  const id = ctx.query.get('id') || '';
  const k = KINDS[kind];
  if (!k || !id) return { title: t('con.nf.title'), nodes: [g.heading(t('con.nf.title'))] };
  const obj = await k.one(id);
  const back = `${ctx.base}/${k.back}`;
  const title = t('con.remove.title', { what: t(`con.kind.${kind}`), id });
  const form = h('form', {
    id: 'remove',
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          const out = await api.del(k.path(id));
          await ctx.navigate(back, { flash: { text: t('con.removed', { what: t(`con.kind.${kind}`), id, v: out.conf_version ?? '' }) } });
        } catch (err) {
          if (!(err instanceof api.ConsoleError) || err.status >= 500 || err.status === 0) throw err;
          const out = await render(ctx, { refusal: err.text() });
          document.getElementById('main-content').replaceChildren(...out.nodes);
          document.querySelector('.govuk-error-summary')?.focus();
        }
      },
    },
  },
  g.buttonGroup(g.button(t('con.remove.confirm'), { variant: 'warning', attrs: { id: 'confirm-remove' } }),
    g.link(back, t('con.remove.cancel'))));
  return {
    title,
    nodes: [
      state.refusal ? g.errorSummary([{ href: '#confirm-remove', text: state.refusal }]) : null,
      g.backLink(back, t('back')),
      g.heading(title),
      g.summaryList(k.rows(obj).map(([key, value]) => ({ key: t(key), value: String(value ?? '') })), { id: 'object' }),
      g.warningText(t(`con.remove.body.${kind}`)),
      ctx.may(kind, id) ? form : null,
    ].filter(Boolean),
  };
}
