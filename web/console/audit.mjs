// The audit trail (docs/console.md): newest first, filtered by actor (part
// of it), action (a kind, "grant", or one action, "grant.add") and days
// (from, until the end of, in UTC), a page at a time with a link to the
// older entries. GET /api/audit?actor=&action=&since=&until=&before=.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export async function render(ctx) {
  const v = (k) => (ctx.query.get(k) || '').trim();
  const actor = v('actor');
  const action = v('action');
  const since = v('since');
  const until = v('until');
  const before = v('before');
  const errors = {};
  if (since && !DAY.test(since)) errors.since = t('con.audit.err.date');
  if (until && !DAY.test(until)) errors.until = t('con.audit.err.date');
  const q = new URLSearchParams({ limit: '50' });
  if (actor) q.set('actor', actor);
  if (action) q.set('action', action);
  if (since && !errors.since) q.set('since', `${since}T00:00:00Z`);
  if (until && !errors.until) q.set('until', `${until}T23:59:59Z`);
  if (/^\d+$/.test(before)) q.set('before', before);
  const nodes = [];
  if (Object.keys(errors).length) {
    nodes.push(g.errorSummary(Object.entries(errors).map(([k, text]) => ({ href: `#${k}`, text }))));
  }
  nodes.push(g.heading(t('con.audit.title')));
  nodes.push(h('form', {
    method: 'get', action: `${ctx.base}/audit`, id: 'audit-filter',
    on: { submit: (ev) => {
      ev.preventDefault();
      const out = new URLSearchParams();
      for (const k of ['actor', 'action', 'since', 'until']) {
        const x = ev.target.elements[k].value.trim();
        if (x) out.set(k, x);
      }
      ctx.navigate(`${ctx.base}/audit${out.toString() ? `?${out}` : ''}`);
    } },
  }, g.fieldset(t('con.grants.filter'), [
    g.input({ id: 'actor', label: t('con.audit.actor'), hint: t('con.audit.actor.hint'), value: actor, spellcheck: false }),
    g.input({ id: 'action', label: t('con.audit.action'), hint: t('con.audit.action.hint'), value: action, spellcheck: false, width: 20 }),
    g.input({ id: 'since', label: t('con.audit.since'), value: since, error: errors.since, width: 10, inputmode: 'numeric' }),
    g.input({ id: 'until', label: t('con.audit.until'), value: until, error: errors.until, width: 10, inputmode: 'numeric' }),
    g.buttonGroup(g.button(t('con.grants.filter'), { variant: 'secondary' }), g.link(`${ctx.base}/audit`, t('con.grants.clear'))),
  ], { size: 's' })));
  const doc = await api.get(`/api/audit?${q}`);
  const rows = doc.audit || [];
  if (!rows.length) nodes.push(g.p(t('con.audit.none')));
  else {
    nodes.push(g.table({
      id: 'audit',
      head: [t('con.audit.time'), t('con.audit.actor'), t('con.audit.action'), t('con.audit.object'), t('con.audit.remote')],
      rows: rows.map((r) => [formatTime(r.time), r.actor, r.action, r.object, r.remote]),
    }));
  }
  if (doc.next) {
    const next = new URLSearchParams(ctx.query);
    next.set('before', String(doc.next));
    nodes.push(g.p(g.link(`${ctx.base}/audit?${next}`, t('con.audit.older'), { id: 'older' })));
  }
  return { title: t('con.audit.title'), nodes };
}
