// An officer's queue: the procedures of their agency in one state, oldest
// first (the order they should be handled in).

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { agencyText, procedureName, stateTag } from '../format.mjs';

const STATES = ['submitted', 'approved', 'failed', 'completed', 'rejected'];

export async function render(ctx) {
  const wanted = ctx.query.get('status');
  const state = STATES.includes(wanted) ? wanted : 'submitted';
  const data = await api.get(`/api/officer/procedures?status=${encodeURIComponent(state)}`);
  const list = Array.isArray(data.procedures) ? data.procedures : [];
  const nodes = [];
  if (ctx.flash && ctx.flash.type === 'decided') nodes.push(g.notificationBanner({ success: true, heading: ctx.flash.text }));
  nodes.push(g.heading(t('off.queue.title')));
  if (ctx.session.agency) nodes.push(g.p(t('off.queue.agency', { agency: agencyText(ctx.session.agency, list[0]?.agency_name) })));
  const filter = h('form', { method: 'get', action: '/officer/queue', class: 'ndx-filter', id: 'queue-filter' },
    g.select({ id: 'status', name: 'status', label: t('off.queue.filter'), value: state,
      options: STATES.map((s) => ({ value: s, text: tOr(`state.${s}`, s) })) }),
    g.button(t('off.queue.apply'), { variant: 'secondary' }));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.navigate(`/officer/queue?status=${encodeURIComponent(new FormData(filter).get('status'))}`);
  });
  nodes.push(filter);
  if (list.length === 0) {
    nodes.push(g.p(t('off.queue.empty')));
  } else {
    nodes.push(g.table({
      id: 'queue',
      caption: t('off.queue.caption', { state: tOr(`state.${state}`, state) }),
      head: [t('proc.id'), t('proc.kind'), t('proc.name'), t('proc.applicant'), t('proc.created'), t('proc.state')],
      rows: list.map((p) => {
        const st = stateTag(p.state);
        return [
          g.link(`/officer/procedures/${encodeURIComponent(p.id)}`, String(p.reference),
            { 'data-id': p.id }),
          tOr(`kind.${p.kind}`, p.kind),
          procedureName(p),
          String(p.applicant_name ?? ''),
          formatTime(p.created_at),
          g.tag(st.text, st.colour),
        ];
      }),
    }));
  }
  return { title: t('off.queue.title'), nodes };
}
