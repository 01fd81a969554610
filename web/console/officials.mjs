// The console's officials (docs/console.md "Roles"): GET /api/officials
// for the national operator and the auditor; the operator adds or changes
// one (POST /api/officials: personal identification number, name, role and,
// for an agency administrator, the member) and removes one through
// remove.mjs. Each change is audited; none is part of the configuration.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import * as f from './forms.mjs';

const ROLES = ['operator', 'auditor', 'agency', 'dpo'];

export async function render(ctx, state = {}) {
  const { officials = [] } = await api.get('/api/officials');
  const op = ctx.may('official');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.officials.title'))];
  nodes.push(officials.length ? g.table({
    id: 'officials',
    head: [t('con.officials.subject'), t('con.officials.name'), t('con.officials.role'), t('con.officials.member'), ...(op ? [t('con.actions')] : [])],
    rows: officials.map((o) => [o.subject, o.name, t(`con.role.${o.role}`), o.member || '',
      ...(op ? [f.removeLink(ctx, 'official', o.subject, `${o.name}`)] : [])]),
  }) : g.p(t('con.officials.none')));
  if (op) {
    nodes.push(g.sectionBreak(), f.form({ ...ctx, render }, state, {
      id: 'add-official',
      legend: t('con.officials.add'),
      button: t('con.officials.add'),
      fields: [
        { name: 'subject', label: t('con.officials.subject'), hint: t('con.officials.subject.hint'), width: 20 },
        { name: 'name', label: t('con.officials.name') },
        { name: 'role', kind: 'select', label: t('con.officials.role'), options: ROLES.map((r) => ({ value: r, text: t(`con.role.${r}`) })) },
        { name: 'member', label: t('con.officials.member'), hint: t('con.officials.member.hint'), optional: true },
      ],
      body: (v) => {
        if (v.role === 'agency' && !v.member) return { errors: { member: t('con.officials.err.member') } };
        const b = { subject: v.subject, name: v.name, role: v.role };
        if (v.role === 'agency') b.member = v.member;
        return b;
      },
      send: (b) => api.post('/api/officials', b),
      done: (out, v) => ({ to: `${ctx.base}/officials`, text: t('con.officials.done', { name: v.name }) }),
    }));
  }
  return { title: t('con.officials.title'), nodes: nodes.filter(Boolean) };
}
