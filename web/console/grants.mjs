// Grants (docs/console.md): who may call which service, with which methods
// and on which paths. The list filters by client and service (the query
// string, GET /api/grants?client=&service=); an operator adds a grant with
// the form below it (POST /api/grants) and removes one through a
// confirmation page (grant-remove.mjs). An agency administrator adds and
// removes the grants on their member's services (the grants it gives); an
// auditor sees neither: the registry would refuse them anyway (403).

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function filterForm(ctx, client, service) {
  return h('form', { method: 'get', action: `${ctx.base}/grants`, id: 'filter', on: { submit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['client', 'service']) {
      const v = ev.target.elements[k].value.trim();
      if (v) q.set(k, v);
    }
    ctx.navigate(`${ctx.base}/grants${q.toString() ? `?${q}` : ''}`);
  } } },
    g.fieldset(t('con.grants.filter'), [
      g.input({ id: 'client', label: t('con.grants.client'), hint: t('con.grants.filter.client.hint'), value: client, spellcheck: false }),
      g.input({ id: 'service', label: t('con.grants.service'), hint: t('con.grants.filter.service.hint'), value: service, spellcheck: false }),
      g.buttonGroup(g.button(t('con.grants.filter'), { variant: 'secondary' }),
        g.link(`${ctx.base}/grants`, t('con.grants.clear'))),
    ]));
}

function addForm(ctx, state) {
  const e = state.errors || {};
  const form = h('form', { id: 'add-grant', novalidate: true, on: { submit: (ev) => submit(ev, ctx) } },
    g.fieldset(t('con.grants.add'), [
      g.input({ id: 'add-client', name: 'client', label: t('con.grants.client'), hint: t('con.grants.filter.client.hint'), value: state.client || '', error: e.client, spellcheck: false }),
      g.input({ id: 'add-service', name: 'service', label: t('con.grants.service'), hint: t('con.grants.filter.service.hint'), value: state.service || '', error: e.service, spellcheck: false }),
      g.checkboxes({ id: 'add-methods', name: 'methods', legend: t('con.grants.add.methods'), items: METHODS.map((m) => ({ value: m, text: m })), values: state.methods || ['GET'], error: e.methods }),
      g.textarea({ id: 'add-paths', name: 'paths', label: t('con.grants.paths'), hint: t('con.grants.add.paths.hint'), value: state.paths || '', error: e.paths, optional: true }),
      g.button(t('con.grants.add'), { attrs: { id: 'add-submit' } }),
    ], { size: 'm' }));
  return form;
}

async function submit(ev, ctx) {
  ev.preventDefault();
  const f = ev.target.elements;
  const state = {
    client: f.client.value.trim(),
    service: f.service.value.trim(),
    methods: [...ev.target.querySelectorAll('input[name=methods]:checked')].map((x) => x.value),
    paths: f.paths.value,
    errors: {},
  };
  if (!state.client) state.errors.client = t('con.grants.err.client');
  if (!state.service) state.errors.service = t('con.grants.err.service');
  if (!state.methods.length) state.errors.methods = t('con.grants.err.methods');
  if (!Object.keys(state.errors).length) {
    const paths = state.paths.split('\n').map((x) => x.trim()).filter(Boolean);
    const body = { client: state.client, service: state.service, methods: state.methods };
    if (paths.length) body.paths = paths;
    try {
      const out = await api.post('/api/grants', body);
      const id = out.grant ? out.grant.id : out.id;
      await ctx.navigate(`${ctx.base}/grants`, { flash: { text: t('con.grants.added', { id, v: out.conf_version ?? '' }) } });
      return;
    } catch (err) {
      if (!(err instanceof api.ConsoleError) || err.status >= 500 || err.status === 0) throw err;
      state.errors.form = err.text();
    }
  }
  ctx.rerenderWith(state);
}

function grantsTable(ctx, grants) {
  const head = [t('con.grants.client'), t('con.grants.service'), t('con.grants.methods'), t('con.grants.paths')];
  const removable = grants.some((x) => ctx.may('grant', x.service));
  if (removable) head.push(t('con.grants.actions'));
  return g.table({
    id: 'grants',
    caption: t('con.grants.count', { n: grants.length }), captionSize: 's',
    head,
    rows: grants.map((x) => {
      const row = [x.client, x.service, (x.methods || []).join(', '), (x.paths || []).join(' ')];
      if (removable && !ctx.may('grant', x.service)) row.push('');
      else if (removable) {
        row.push(g.link(`${ctx.base}/grants/${x.id}/remove`, t('con.grants.remove'),
          { 'aria-label': `${t('con.grants.remove')} ${x.id}: ${x.client} → ${x.service}`, dataset: { grant: String(x.id) } }));
      }
      return row;
    }),
  });
}

export async function render(ctx, state = {}) {
  const client = ctx.query.get('client') || '';
  const service = ctx.query.get('service') || '';
  const q = new URLSearchParams();
  if (client) q.set('client', client);
  if (service) q.set('service', service);
  const { grants = [] } = await api.get(`/api/grants${q.toString() ? `?${q}` : ''}`);
  const nodes = [];
  if (ctx.flash) nodes.push(g.notificationBanner({ success: true, heading: ctx.flash.text }));
  if (state.errors && Object.keys(state.errors).length) {
    nodes.push(g.errorSummary(Object.entries(state.errors).map(([k, text]) => ({
      href: k === 'form' ? '#add-grant' : `#add-${k}`, text,
    }))));
  }
  nodes.push(g.heading(t('con.grants.title')), filterForm(ctx, client, service));
  nodes.push(grants.length ? grantsTable(ctx, grants) : g.p(t('con.grants.none')));
  if (ctx.may('grant', ctx.me.member ? `${ctx.me.member}/x` : undefined)) {
    const rerenderWith = async (s) => {
      const out = await render(ctx, s);
      const main = document.getElementById('main-content');
      main.replaceChildren(...out.nodes);
      main.querySelector('.govuk-error-summary')?.focus();
    };
    nodes.push(g.sectionBreak(), addForm({ ...ctx, rerenderWith }, state));
  }
  return { title: t('con.grants.title'), nodes };
}
