// The citizen's procedures, newest first, and the two procedures that can be
// started online.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { procedureName, stateTag } from '../format.mjs';

const KINDS = ['household-business', 'residence-change'];

export async function render() {
  const data = await api.get('/api/procedures');
  const list = Array.isArray(data.procedures) ? data.procedures : [];
  const nodes = [g.heading(t('procs.title'))];
  if (list.length === 0) {
    nodes.push(g.p(t('procs.empty')));
  } else {
    nodes.push(g.table({
      id: 'procedures',
      caption: t('procs.caption'),
      head: [t('proc.name'), t('proc.kind'), t('proc.id'), t('proc.state'), t('proc.created'), t('proc.updated')],
      rows: list.map((p) => {
        const st = stateTag(p.state);
        return [
          g.link(`/procedures/${encodeURIComponent(p.id)}`, procedureName(p),
            { 'data-id': p.id, 'data-reference': p.reference }),
          tOr(`kind.${p.kind}`, p.kind),
          String(p.reference),
          g.tag(st.text, st.colour),
          formatTime(p.created_at),
          formatTime(p.updated_at),
        ];
      }),
    }));
  }
  nodes.push(h('h2', { class: 'govuk-heading-m' }, t('procs.new')));
  nodes.push(h('ul', { class: 'govuk-list ndx-start-list' }, KINDS.map((k) => h('li', null,
    h('h3', { class: 'govuk-heading-s govuk-!-margin-bottom-1' },
      g.link(`/procedures/new/${k}`, t(`procs.new.${k}`), { id: `start-${k}` })),
    h('p', { class: 'govuk-body' }, t(`procs.new.${k}.hint`))))));
  return { title: t('procs.title'), nodes };
}
