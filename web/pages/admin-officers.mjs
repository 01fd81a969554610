// The portal's officers (/admin/officers; docs/portal.md "Administration"):
// the list an official may see (an agency official: its own member's), and
// for the operator and agency officials the form that adds one. The portal
// makes the new officer's password and answers it once; this page shows it
// in a banner and nowhere else. Each officer's own page (admin-officer.mjs)
// renames, resets the password or removes.

import * as api from '../api.mjs';
import * as av from '../adminview.mjs';
import * as g from '../govuk.mjs';
import { t, formatDate } from '../i18n.mjs';

export async function render(ctx) {
  const doc = await api.get('/api/admin/officers');
  const me = ctx.session.official;
  const title = t('adm.officers.title');
  const nodes = [...av.flashBanners(ctx.flash), ...av.head(title, 'officers', me)];
  const list = Array.isArray(doc.officers) ? doc.officers : [];
  nodes.push(list.length ? g.table({
    id: 'officers',
    caption: t('adm.officers.caption', { n: list.length }),
    head: [t('adm.f.username'), t('adm.f.name'), t('adm.f.agency'), t('adm.f.created'), t('adm.actions')],
    rows: list.map((o) => [o.username, o.name, av.memberText(o.agency), formatDate(o.created_at),
      g.link(`/admin/officers/${encodeURIComponent(o.username)}`, doc.can_change ? t('adm.manage') : t('adm.view'),
        { 'aria-label': t(doc.can_change ? 'adm.manage.of' : 'adm.view.of', { name: o.name }) })]),
  }) : g.p(t('adm.officers.none')));
  if (doc.can_change) {
    const agencyFixed = me.role === 'agency';
    nodes.push(g.sectionBreak(), av.form(ctx, {
      id: 'officer-add',
      legend: t('adm.officers.add'),
      button: t('adm.officers.add'),
      fields: [
        { name: 'username', label: t('adm.f.username'), hint: t('adm.f.username.hint'), width: 20, spellcheck: false },
        { name: 'name', label: t('adm.f.name'), hint: t('adm.f.name.hint') },
        ...(agencyFixed ? [] : [{ name: 'agency', label: t('adm.f.agency'), hint: t('adm.f.member.hint'), width: 20, spellcheck: false }]),
      ],
      send: async (v) => {
        const body = { username: v.username, name: v.name };
        if (!agencyFixed) body.agency = v.agency;
        const out = await api.post('/api/admin/officers', body);
        await ctx.navigate('/admin/officers', { replace: true, flash: { type: 'added', username: out.officer.username, password: out.password } });
      },
    }));
    if (agencyFixed) nodes.push(g.insetText(t('adm.officers.own', { member: av.memberText(me.member) })));
    nodes.push(g.p(t('adm.officers.pw_note')));
  }
  return { title, nodes };
}
