// Revocations (docs/console.md "Pages"): the keys and certificates the
// federation no longer trusts (GET /api/revocations); the national operator
// revokes one (POST /api/revocations). A revocation is never taken back, so
// the page has no removal.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import * as f from './forms.mjs';

export async function render(ctx, state = {}) {
  const { revocations = [] } = await api.get('/api/revocations');
  const nodes = [f.summary(state), f.banner(ctx), g.heading(t('con.revocations.title'))];
  nodes.push(revocations.length ? g.table({
    id: 'revocations',
    head: [t('con.revocations.kind'), t('con.revocations.value'), t('con.revocations.reason'), t('con.revocations.at')],
    rows: revocations.map((r) => [t(`con.revocations.kind.${r.kind}`), r.value, r.reason, formatTime(r.revoked_at)]),
  }) : g.p(t('con.revocations.none')));
  if (ctx.may('revocation')) {
    nodes.push(g.sectionBreak(), g.warningText(t('con.revocations.warning')), f.form({ ...ctx, render }, state, {
      id: 'add-revocation',
      legend: t('con.revocations.add'),
      button: t('con.revocations.add'),
      fields: [
        { name: 'kind', kind: 'select', label: t('con.revocations.kind'),
          options: ['key', 'certificate'].map((k) => ({ value: k, text: t(`con.revocations.kind.${k}`) })) },
        { name: 'value', label: t('con.revocations.value'), hint: t('con.revocations.value.hint') },
        { name: 'reason', label: t('con.revocations.reason'), optional: true },
      ],
      body: (v) => ({ kind: v.kind, value: v.value.toLowerCase(), reason: v.reason }),
      send: (b) => api.post('/api/revocations', b),
      done: (out, v) => ({ to: `${ctx.base}/revocations`, text: t('con.revocations.done', { value: v.value, v: out.conf_version ?? '' }) }),
    }));
  }
  return { title: t('con.revocations.title'), nodes: nodes.filter(Boolean) };
}
