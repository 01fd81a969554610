// One official (/admin/officials/{pin}), for the operator
// (docs/portal.md "Administration"): name, role and member changed in one
// form, and the removal after a confirmation step. The portal refuses an
// official's own removal and a change that would leave no operator; the
// page offers no removal of oneself and says the portal's refusal in words.

import * as api from '../api.mjs';
import * as av from '../adminview.mjs';
import * as g from '../govuk.mjs';
import { t, formatDate } from '../i18n.mjs';
import { officialFields } from './admin-officials.mjs';

export async function render(ctx) {
  const doc = await api.get('/api/admin/officials');
  const o = (doc.officials || []).find((x) => x.pin === ctx.params.pin);
  const back = g.backLink('/admin/officials', t('adm.officials.back'));
  if (!o || !doc.can_change) {
    const title = t('adm.official.none');
    return { title, nodes: [back, g.heading(title), g.p(t('adm.official.none.body'))] };
  }
  const path = `/api/admin/officials/${encodeURIComponent(o.pin)}`;
  const here = `/admin/officials/${encodeURIComponent(o.pin)}`;
  const nodes = [back, ...av.flashBanners(ctx.flash), g.caption(t('adm.official.caption')), g.heading(o.name),
    g.summaryList([
      { key: t('adm.f.pin'), value: o.pin },
      { key: t('adm.f.role'), value: av.roleName(o.role) },
      { key: t('adm.f.member'), value: av.memberText(o.member) },
      { key: t('adm.f.created'), value: formatDate(o.created_at) },
    ], { id: 'official' }),
    av.form(ctx, {
      id: 'official-change',
      legend: t('adm.official.change'),
      button: t('adm.save'),
      values: { name: o.name, role: o.role, member: o.member },
      fields: officialFields(false),
      send: async (v) => {
        await api.post(path, v);
        if (o.self) await api.session(true);
        await ctx.navigate(o.self && v.role !== 'operator' ? '/admin/officials' : here,
          { replace: true, flash: { type: 'official_changed', name: v.name } });
      },
    })];
  if (o.self) {
    nodes.push(g.sectionBreak('m'), g.insetText(t('adm.official.self')));
  } else {
    nodes.push(g.sectionBreak('m'), av.confirmAction(ctx, {
      id: 'official-remove',
      title: t('adm.official.remove'),
      lead: t('adm.official.remove.lead'),
      button: t('adm.official.remove.button'),
      confirm: t('adm.official.remove.confirm'),
      check: t('adm.official.remove.check', { name: o.name }),
      warn: true,
      run: async () => {
        await api.post(`${path}/remove`);
        await ctx.navigate('/admin/officials', { replace: true, flash: { type: 'official_removed', name: o.name } });
      },
    }));
  }
  return { title: o.name, nodes };
}
