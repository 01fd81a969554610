// The audit trail of the administration (/admin/audit; docs/portal.md
// "Administration"): every change made on these pages, newest first, with
// when, the official who made it (name, role, member) or the command line
// (cli:USER), what was done and to whom. An agency official reads its own member's rows; an official's
// personal number is whole for the operator only.

import * as api from '../api.mjs';
import * as av from '../adminview.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';

function details(e) {
  const d = e.detail || {};
  if (e.action === 'officer.rename') return t('adm.audit.renamed', { from: d.from || '', to: d.to || '' });
  if (e.action === 'officer.update' && d.from && d.to) {
    return t('adm.audit.changed', { from: `${d.from.name}, ${d.from.agency}`, to: `${d.to.name}, ${d.to.agency}` });
  }
  if (e.action === 'official.change' && d.from && d.to) {
    return t('adm.audit.changed', {
      from: `${av.roleName(d.from.role)}, ${d.from.member}`, to: `${av.roleName(d.to.role)}, ${d.to.member}`,
    });
  }
  if (d.role) return `${av.roleName(d.role)}, ${d.member || ''}`;
  if (d.agency) return av.memberText(d.agency);
  return t('ops.none');
}

export async function render(ctx) {
  const doc = await api.get('/api/admin/audit');
  const me = ctx.session.official;
  const title = t('adm.audit.title');
  const nodes = [...av.head(title, 'audit', me), g.p(t('adm.audit.lead'))];
  const list = Array.isArray(doc.entries) ? doc.entries : [];
  nodes.push(list.length ? g.table({
    id: 'audit',
    caption: t('adm.audit.caption', { n: list.length }),
    head: [t('adm.audit.at'), t('adm.audit.who'), t('adm.audit.action'), t('adm.audit.target'), t('adm.audit.details')],
    rows: list.map((e) => [
      formatTime(e.at),
      // The command line has no member (docs/portal.md "Administration").
      `${e.actor.name} (${[av.roleName(e.actor.role), e.actor.member].filter(Boolean).join(', ')})`,
      tOr(`adm.audit.${e.action}`, e.action),
      `${e.target_name} (${e.target})`,
      details(e),
    ]),
  }) : g.p(t('adm.audit.none')));
  return { title, nodes };
}
