// Members and their subsystems (docs/console.md): GET /api/members and
// GET /api/subsystems, one row a member with its subsystems listed.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export async function render() {
  const [{ members = [] }, { subsystems = [] }] = await Promise.all([
    api.get('/api/members'), api.get('/api/subsystems')]);
  const nodes = [g.heading(t('con.members.title'))];
  if (!members.length) {
    nodes.push(g.p(t('con.members.none')));
  } else {
    nodes.push(g.table({
      id: 'members',
      head: [t('con.members.id'), t('con.members.name'), t('con.members.subsystems')],
      rows: members.map((m) => [
        m.id, m.name,
        h('ul', { class: 'govuk-list' }, subsystems.filter((s) => s.member === m.id)
          .map((s) => h('li', null, s.id.slice(m.id.length + 1)))),
      ]),
    }));
  }
  return { title: t('con.members.title'), nodes };
}
