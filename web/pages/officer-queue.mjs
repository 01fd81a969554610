// An officer's queue: the procedures of their agency, oldest first (the
// order they should be handled in), searched and filtered by the portal
// (GET /api/officer/procedures): by application number (a prefix, any
// case), state, procedure and who holds them. Each row shows the
// processing deadline (overdue ones tagged) and who holds it. The filters
// live in the page's URL, so a search can be bookmarked or sent back to.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { agencyText, procedureName, stateTag } from '../format.mjs';

const STATES = ['submitted', 'information_requested', 'failed', 'approved', 'completed', 'rejected', 'all'];
const KINDS = ['', 'household-business', 'residence-change'];
const ASSIGNED = ['any', 'me', 'none'];
const REF_MAX = 31;

function pick(value, allowed, fallback) {
  return allowed.includes(value) ? value : fallback;
}

export function queueUrl(f) {
  const q = new URLSearchParams();
  if (f.status && f.status !== 'submitted') q.set('status', f.status);
  if (f.kind) q.set('kind', f.kind);
  if (f.ref) q.set('ref', f.ref);
  if (f.assigned && f.assigned !== 'any') q.set('assigned', f.assigned);
  const s = q.toString();
  return `/officer/queue${s ? `?${s}` : ''}`;
}

export async function render(ctx) {
  const f = {
    status: pick(ctx.query.get('status'), STATES, 'submitted'),
    kind: pick(ctx.query.get('kind') ?? '', KINDS, ''),
    ref: String(ctx.query.get('ref') ?? '').trim().slice(0, REF_MAX),
    assigned: pick(ctx.query.get('assigned'), ASSIGNED, 'any'),
  };
  const params = new URLSearchParams({ status: f.status });
  if (f.kind) params.set('kind', f.kind);
  if (f.ref) params.set('ref', f.ref);
  if (f.assigned !== 'any') params.set('assigned', f.assigned);
  // A number that is no application number is the portal's 400: said at
  // the search box, the list left empty.
  let list = [];
  let refError = null;
  try {
    const data = await api.get(`/api/officer/procedures?${params}`);
    list = Array.isArray(data.procedures) ? data.procedures : [];
  } catch (err) {
    if (!(err instanceof api.ApiError) || err.status !== 400 || !f.ref) throw err;
    refError = t('off.queue.err.ref');
  }
  const nodes = [];
  if (refError) nodes.push(g.errorSummary([{ href: '#ref', text: refError }]));
  if (ctx.flash && ctx.flash.type === 'decided') nodes.push(g.notificationBanner({ success: true, heading: ctx.flash.text }));
  nodes.push(g.heading(t('off.queue.title')));
  if (ctx.session.agency) nodes.push(g.p(t('off.queue.agency', { agency: agencyText(ctx.session.agency, list[0]?.agency_name) })));
  const filter = h('form', { method: 'get', action: '/officer/queue', class: 'ndx-filter', id: 'queue-filter', role: 'search' },
    g.input({ id: 'ref', name: 'ref', label: t('off.queue.ref'), hint: t('off.queue.ref.hint'), value: f.ref, width: '10',
      spellcheck: false, autocomplete: 'off', error: refError }),
    g.select({ id: 'status', name: 'status', label: t('off.queue.filter'), value: f.status,
      options: STATES.map((s) => ({ value: s, text: s === 'all' ? t('off.queue.all') : tOr(`state.${s}`, s) })) }),
    g.select({ id: 'kind', name: 'kind', label: t('off.queue.kind'), value: f.kind,
      options: KINDS.map((k) => ({ value: k, text: k ? tOr(`kind.${k}`, k) : t('off.queue.all') })) }),
    g.select({ id: 'assigned', name: 'assigned', label: t('off.queue.assigned'), value: f.assigned,
      options: ASSIGNED.map((a) => ({ value: a, text: t(`off.queue.assigned.${a}`) })) }),
    g.button(t('off.queue.apply'), { variant: 'secondary', attrs: { id: 'queue-apply' } }));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(filter);
    ctx.navigate(queueUrl({
      status: String(fd.get('status') ?? ''), kind: String(fd.get('kind') ?? ''),
      ref: String(fd.get('ref') ?? '').trim(), assigned: String(fd.get('assigned') ?? ''),
    }));
  });
  nodes.push(filter);
  const stateText = f.status === 'all' ? t('off.queue.all') : tOr(`state.${f.status}`, f.status);
  if (list.length === 0) {
    nodes.push(g.p(h('span', { id: 'queue-empty' }, t('off.queue.empty'))));
  } else {
    nodes.push(g.table({
      id: 'queue',
      caption: t('off.queue.caption', { state: stateText }),
      head: [t('proc.id'), t('proc.kind'), t('proc.name'), t('proc.applicant'), t('proc.created'), t('off.deadline'),
        t('off.holder'), t('proc.state')],
      rows: list.map((p) => {
        const st = stateTag(p.state);
        const d = p.deadline && typeof p.deadline === 'object' ? p.deadline : null;
        const a = p.assigned_to && typeof p.assigned_to === 'object' ? p.assigned_to : null;
        return [
          g.link(`/officer/procedures/${encodeURIComponent(p.id)}`, String(p.reference),
            { 'data-id': p.id }),
          tOr(`kind.${p.kind}`, p.kind),
          procedureName(p),
          String(p.applicant_name ?? ''),
          formatTime(p.created_at),
          d ? h('span', { class: 'ndx-deadline', 'data-overdue': d.overdue ? 'true' : 'false', 'data-paused': d.paused ? 'true' : 'false' },
            formatTime(d.date), d.overdue ? [' ', g.tag(t('off.overdue'), 'red')] : null,
            d.paused ? [' ', g.tag(t('off.deadline.paused'), 'purple')] : null) : t('off.deadline.none'),
          h('span', { class: 'ndx-holder', 'data-holder': a ? a.username : '' },
            a ? (a.username === ctx.session.username ? t('off.holder.me') : `${a.name || a.username} (${a.username})`) : t('off.holder.none')),
          g.tag(st.text, st.colour),
        ];
      }),
    }));
  }
  return { title: refError ? `${t('error.prefix')} ${t('off.queue.title')}` : t('off.queue.title'), nodes };
}
