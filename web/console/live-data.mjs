// Live data (docs/console.md "Pages", docs/registry-api.md "Event types and
// subscriptions", "The monitoring client"): the event types providers
// publish, who subscribes to which, and the subsystem that receives the
// gateways' operational monitoring records. The national operator adds
// event types (name, title, the payload's JSON Schema) and subscriptions
// (a purpose for a personal service, the retry schedule optional), sets or
// clears the monitoring client, and removes through remove.mjs; the others
// read.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

const RETRY_FIELDS = ['first_s', 'max_s', 'give_up_after_s'];

function retryText(r) {
  if (!r) return t('con.live.retry.default');
  return t('con.live.retry.text', { first: r.first_s, max: r.max_s, give_up: r.give_up_after_s });
}

// A whole number of seconds from a field, or an error for the form.
function seconds(v, label, errors, name) {
  if (!/^[0-9]{1,9}$/.test(v)) {
    errors[name] = t('con.live.err.seconds', { field: label });
    return 0;
  }
  return Number(v);
}

function eventTypeForm(ctx, state) {
  return f.form({ ...ctx, render }, state, {
    id: 'add-event-type',
    legend: t('con.live.types.add'),
    button: t('con.live.types.add'),
    fields: [
      { name: 'service', label: t('con.live.service'), hint: t('con.live.service.hint') },
      { name: 'name', label: t('con.live.name'), hint: t('con.live.name.hint') },
      { name: 'title', label: t('con.live.title_field'), optional: true },
      { name: 'schema', kind: 'textarea', rows: 6, label: t('con.live.schema'), hint: t('con.live.schema.hint') },
    ],
    body: (v) => {
      let schema;
      try {
        schema = JSON.parse(v.schema);
      } catch {
        return { errors: { schema: t('con.live.err.schema') } };
      }
      if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return { errors: { schema: t('con.live.err.schema') } };
      return { service: v.service, name: v.name, ...(v.title ? { title: v.title } : {}), schema };
    },
    send: (b) => api.post('/api/event-types', b),
    done: (out, v) => ({
      to: `${ctx.base}/live-data`,
      text: t('con.added', { what: t('con.kind.event-type'), id: `${v.service}/${v.name}`, v: out.conf_version ?? '' }),
    }),
  });
}

function subscriptionForm(ctx, state) {
  return f.form({ ...ctx, render }, state, {
    id: 'add-subscription',
    legend: t('con.live.subs.add'),
    button: t('con.live.subs.add'),
    fields: [
      { name: 'client', label: t('con.live.client'), hint: t('con.subsystems.id.hint') },
      { name: 'service', label: t('con.live.service'), hint: t('con.live.service.hint') },
      { name: 'event', label: t('con.live.name') },
      { name: 'purpose', label: t('con.live.purpose'), hint: t('con.live.purpose.hint'), optional: true },
      { name: 'first_s', label: t('con.live.retry.first_s'), optional: true, width: 10 },
      { name: 'max_s', label: t('con.live.retry.max_s'), optional: true, width: 10 },
      { name: 'give_up_after_s', label: t('con.live.retry.give_up_after_s'), optional: true, width: 10 },
    ],
    body: (v) => {
      const b = { client: v.client, service: v.service, event: v.event };
      if (v.purpose) b.purpose = v.purpose;
      const given = RETRY_FIELDS.filter((k) => v[k] !== '');
      if (given.length) {
        const errors = {};
        if (given.length < RETRY_FIELDS.length) {
          for (const k of RETRY_FIELDS) if (v[k] === '') errors[k] = t('con.live.err.retry_all');
          return { errors };
        }
        b.retry = {};
        for (const k of RETRY_FIELDS) b.retry[k] = seconds(v[k], t(`con.live.retry.${k}`), errors, k);
        if (Object.keys(errors).length) return { errors };
      }
      return b;
    },
    send: (b) => api.post('/api/subscriptions', b),
    done: (out, v) => ({
      to: `${ctx.base}/live-data`,
      text: t('con.added', { what: t('con.kind.subscription'), id: `${v.client} → ${v.service}/${v.event}`, v: out.conf_version ?? '' }),
    }),
  });
}

function monitoringForm(ctx, state, current) {
  return f.form({ ...ctx, render }, state, {
    id: 'set-monitoring',
    legend: t('con.live.mon.set'),
    button: t('con.live.mon.set'),
    initial: { client: current || '' },
    fields: [{ name: 'client', label: t('con.live.mon.client'), hint: t('con.subsystems.id.hint') }],
    body: (v) => ({ client: v.client }),
    send: (b) => api.put('/api/monitoring', b),
    done: (out, v) => ({
      to: `${ctx.base}/live-data`,
      text: t('con.live.mon.done', { id: v.client, v: out.conf_version ?? '' }),
    }),
  });
}

export async function render(ctx, state = {}) {
  const [{ event_types: types = [] }, { subscriptions: subs = [] }, { client: monitoring = null }] = await Promise.all([
    api.get('/api/event-types'), api.get('/api/subscriptions'), api.get('/api/monitoring'),
  ]);
  const op = ctx.may('event-type');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.live.title')), g.p(t('con.live.lead'))];

  nodes.push(h('h2', { class: 'govuk-heading-m', id: 'event-types-heading' }, t('con.live.types.title')));
  nodes.push(types.length ? g.table({
    id: 'event-types',
    head: [t('con.live.service'), t('con.live.name'), t('con.live.title_field'), t('con.live.schema'), ...(op ? [t('con.actions')] : [])],
    rows: types.map((e, i) => [e.service, e.name, e.title || '',
      f.folded(t('con.live.schema.show'), JSON.stringify(e.schema, null, 2), `schema-${i}`),
      ...(op ? [f.removeLink(ctx, 'event-type', `${e.service}/${e.name}`)] : [])]),
  }) : g.p(t('con.live.types.none')));
  if (op) nodes.push(eventTypeForm(ctx, state));

  nodes.push(g.sectionBreak(), h('h2', { class: 'govuk-heading-m', id: 'subscriptions-heading' }, t('con.live.subs.title')));
  nodes.push(subs.length ? g.table({
    id: 'subscriptions',
    head: [t('con.live.client'), t('con.live.service'), t('con.live.name'), t('con.live.purpose'), t('con.live.retry'), ...(op ? [t('con.actions')] : [])],
    rows: subs.map((s) => [s.client, s.service, s.event, s.purpose || t('none'), retryText(s.retry),
      ...(op ? [f.removeLink(ctx, 'subscription', String(s.id), `${s.client} → ${s.service}/${s.event}`)] : [])]),
  }) : g.p(t('con.live.subs.none')));
  if (op) nodes.push(subscriptionForm(ctx, state));

  nodes.push(g.sectionBreak(), h('h2', { class: 'govuk-heading-m', id: 'monitoring-heading' }, t('con.live.mon.title')));
  nodes.push(g.p(t('con.live.mon.lead')));
  nodes.push(g.summaryList([{ key: t('con.live.mon.client'), value: monitoring || t('con.live.mon.none') }], { id: 'monitoring' }));
  if (op && monitoring) nodes.push(h('p', { class: 'govuk-body' }, f.removeLink(ctx, 'monitoring', monitoring)));
  if (op) nodes.push(monitoringForm(ctx, state, monitoring));
  return { title: t('con.live.title'), nodes: nodes.filter(Boolean) };
}
