// The portal's officials (/admin/officials; docs/portal.md "Administration"):
// people who sign in with the e-ID and have a role. The operator sees every
// one with their personal number and adds, changes and removes them; an
// agency official sees its own member's and an auditor every one, their
// numbers shortened to the last four digits.

import * as api from '../api.mjs';
import * as av from '../adminview.mjs';
import * as g from '../govuk.mjs';
import { t, formatDate } from '../i18n.mjs';

export function roleOptions() {
  return [{ value: '', text: t('adm.f.role.choose') }, ...av.ROLES.map((r) => ({ value: r, text: av.roleName(r) }))];
}

export function officialFields(withPin) {
  return [
    ...(withPin ? [{ name: 'pin', label: t('adm.f.pin'), hint: t('adm.f.pin.hint'), width: 20, spellcheck: false }] : []),
    { name: 'name', label: t('adm.f.name'), hint: t('adm.f.official_name.hint') },
    { name: 'role', label: t('adm.f.role'), kind: 'select', options: roleOptions() },
    { name: 'member', label: t('adm.f.member'), hint: t('adm.f.member.hint'), width: 20, spellcheck: false },
  ];
}

export async function render(ctx) {
  const doc = await api.get('/api/admin/officials');
  const me = ctx.session.official;
  const title = t('adm.officials.title');
  const nodes = [...av.flashBanners(ctx.flash), ...av.head(title, 'officials', me)];
  const list = Array.isArray(doc.officials) ? doc.officials : [];
  nodes.push(list.length ? g.table({
    id: 'officials',
    caption: t('adm.officials.caption', { n: list.length }),
    head: [t('adm.f.name'), t('adm.f.pin'), t('adm.f.role'), t('adm.f.member'), t('adm.f.created'), ...(doc.can_change ? [t('adm.actions')] : [])],
    rows: list.map((o) => [
      o.self ? `${o.name} ${t('adm.you')}` : o.name, o.pin || o.pin_hint, av.roleName(o.role), av.memberText(o.member), formatDate(o.created_at),
      ...(doc.can_change ? [g.link(`/admin/officials/${encodeURIComponent(o.pin)}`, t('adm.manage'), { 'aria-label': t('adm.manage.of', { name: o.name }) })] : []),
    ]),
  }) : g.p(t('adm.officials.none')));
  if (doc.can_change) {
    nodes.push(g.sectionBreak(), av.form(ctx, {
      id: 'official-add',
      legend: t('adm.officials.add'),
      button: t('adm.officials.add'),
      fields: officialFields(true),
      send: async (v) => {
        const out = await api.post('/api/admin/officials', v);
        await ctx.navigate('/admin/officials', { replace: true, flash: { type: 'official_added', name: out.official.name } });
      },
    }));
  } else {
    nodes.push(g.insetText(t('adm.officials.readonly')));
  }
  return { title, nodes };
}
