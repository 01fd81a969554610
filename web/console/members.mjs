// Members and their subsystems (docs/console.md "Pages"): GET /api/members
// and GET /api/subsystems, one row a member with its subsystems. The
// national operator adds members (POST /api/members) and subsystems; an
// agency administrator adds subsystems of their own member (POST
// /api/subsystems, the registry refuses another's with 403). Removal goes
// through the confirmation page (remove.mjs).

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const [{ members = [] }, { subsystems = [] }] = await Promise.all([
    api.get('/api/members'), api.get('/api/subsystems')]);
  const self = (c) => ({ ...c, render });
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.members.title'))];
  if (!members.length) {
    nodes.push(g.p(t('con.members.none')));
  } else {
    const head = [t('con.members.id'), t('con.members.name'), t('con.members.subsystems')];
    if (ctx.may('member')) head.push(t('con.actions'));
    nodes.push(g.table({
      id: 'members',
      head,
      rows: members.map((m) => {
        const row = [
          m.id, m.name,
          h('ul', { class: 'govuk-list' }, subsystems.filter((s) => s.member === m.id)
            .map((s) => h('li', null, s.id.slice(m.id.length + 1),
              ctx.may('subsystem', s.id) ? [' ', f.removeLink(ctx, 'subsystem', s.id)] : null))),
        ];
        if (ctx.may('member')) row.push(f.removeLink(ctx, 'member', m.id, `${m.id} ${m.name}`));
        return row;
      }),
    }));
  }
  if (ctx.may('member')) {
    nodes.push(g.sectionBreak(), f.form(self(ctx), state, {
      id: 'add-member',
      legend: t('con.members.add'),
      button: t('con.members.add'),
      fields: [
        { name: 'id', label: t('con.members.id'), hint: t('con.members.id.hint') },
        { name: 'name', label: t('con.members.name') },
      ],
      body: (v) => ({ id: v.id, name: v.name }),
      send: (b) => api.post('/api/members', b),
      done: (out, v) => ({ to: `${ctx.base}/members`, text: t('con.added', { what: t('con.kind.member'), id: v.id, v: out.conf_version ?? '' }) }),
    }));
  }
  if (ctx.may('subsystem', ctx.me.member ? `${ctx.me.member}/x` : undefined)) {
    nodes.push(g.sectionBreak(), f.form(self(ctx), state, {
      id: 'add-subsystem',
      legend: t('con.subsystems.add'),
      button: t('con.subsystems.add'),
      initial: { id: ctx.me.member ? `${ctx.me.member}/` : '' },
      fields: [{ name: 'id', label: t('con.subsystems.id'), hint: t('con.subsystems.id.hint') }],
      body: (v) => ({ id: v.id }),
      send: (b) => api.post('/api/subsystems', b),
      done: (out, v) => ({ to: `${ctx.base}/members`, text: t('con.added', { what: t('con.kind.subsystem'), id: v.id, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.members.title'), nodes: nodes.filter(Boolean) };
}
