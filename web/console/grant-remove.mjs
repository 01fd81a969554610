// Removing a grant (docs/console.md): the grant (GET /api/grants/{id}) and
// what its removal means, then DELETE /api/grants/{id} on confirmation.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export async function render(ctx) {
  const id = ctx.params.id;
  const grant = await api.get(`/api/grants/${encodeURIComponent(id)}`);
  const title = t('con.grants.remove.title', { id });
  const form = h('form', {
    id: 'remove-grant',
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        const out = await api.del(`/api/grants/${encodeURIComponent(id)}`);
        await ctx.navigate(`${ctx.base}/grants`, { flash: { text: t('con.grants.removed', { id, v: out.conf_version ?? '' }) } });
      },
    },
  },
  g.buttonGroup(g.button(t('con.grants.remove.confirm'), { variant: 'warning', attrs: { id: 'confirm-remove' } }),
    g.link(`${ctx.base}/grants`, t('con.grants.remove.cancel'))));
  return {
    title,
    nodes: [
      g.backLink(`${ctx.base}/grants`, t('back')),
      g.heading(title),
      g.summaryList([
        { key: t('con.grants.client'), value: grant.client },
        { key: t('con.grants.service'), value: grant.service },
        { key: t('con.grants.methods'), value: (grant.methods || []).join(', ') },
        { key: t('con.grants.paths'), value: (grant.paths || []).join(' ') },
      ]),
      g.warningText(t('con.grants.remove.body', { client: grant.client, service: grant.service })),
      ctx.may('grant', grant.service) ? form : null,
    ],
  };
}
