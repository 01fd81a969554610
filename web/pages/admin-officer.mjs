// One officer (/admin/officers/{username}; docs/portal.md "Administration"):
// who they are, and for those who may change them, a new name, a new
// password made by the portal (shown once, the officer's open sessions
// ended) and the removal (their sessions end with it), each removal or
// reset after a confirmation step.

import * as api from '../api.mjs';
import * as av from '../adminview.mjs';
import * as g from '../govuk.mjs';
import { t, formatDate } from '../i18n.mjs';

export async function render(ctx) {
  const doc = await api.get('/api/admin/officers');
  const o = (doc.officers || []).find((x) => x.username === ctx.params.username);
  const back = g.backLink('/admin/officers', t('adm.officers.back'));
  if (!o) {
    const title = t('adm.officer.none');
    return { title, nodes: [back, g.heading(title), g.p(t('adm.officer.none.body'))] };
  }
  const path = `/api/admin/officers/${encodeURIComponent(o.username)}`;
  const here = `/admin/officers/${encodeURIComponent(o.username)}`;
  const nodes = [back, ...av.flashBanners(ctx.flash), g.caption(t('adm.officer.caption')), g.heading(o.name),
    g.summaryList([
      { key: t('adm.f.username'), value: o.username },
      { key: t('adm.f.name'), value: o.name },
      { key: t('adm.f.agency'), value: av.memberText(o.agency) },
      { key: t('adm.f.created'), value: formatDate(o.created_at) },
    ], { id: 'officer' })];
  if (!doc.can_change) return { title: o.name, nodes };
  nodes.push(
    av.form(ctx, {
      id: 'officer-rename',
      legend: t('adm.officer.rename'),
      button: t('adm.save'),
      values: { name: o.name },
      fields: [{ name: 'name', label: t('adm.f.name'), hint: t('adm.f.name.hint') }],
      send: async (v) => {
        await api.post(path, { name: v.name });
        await ctx.navigate(here, { replace: true, flash: { type: 'renamed', name: v.name } });
      },
    }),
    g.sectionBreak('m'),
    av.confirmAction(ctx, {
      id: 'officer-password',
      title: t('adm.officer.pw'),
      lead: t('adm.officer.pw.lead'),
      button: t('adm.officer.pw.button'),
      confirm: t('adm.officer.pw.confirm'),
      check: t('adm.officer.pw.check', { name: o.name }),
      run: async () => {
        const out = await api.post(`${path}/password`);
        await ctx.navigate(here, { replace: true, flash: { type: 'reset', username: o.username, password: out.password } });
      },
    }),
    g.sectionBreak('m'),
    av.confirmAction(ctx, {
      id: 'officer-remove',
      title: t('adm.officer.remove'),
      lead: t('adm.officer.remove.lead'),
      button: t('adm.officer.remove.button'),
      confirm: t('adm.officer.remove.confirm'),
      check: t('adm.officer.remove.check', { name: o.name }),
      warn: true,
      run: async () => {
        await api.post(`${path}/remove`);
        await ctx.navigate('/admin/officers', { replace: true, flash: { type: 'officer_removed', name: o.name } });
      },
    }));
  return { title: o.name, nodes };
}
