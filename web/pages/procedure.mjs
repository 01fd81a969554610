// One of the citizen's procedures with its history. Right after filing, the
// page opens with the GOV.UK confirmation panel carrying the reference.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { procedureSummary, procedureFields, procedureHistory } from '../procview.mjs';
import { paymentSection, refundNote } from '../paymentview.mjs';

export async function render(ctx) {
  const p = await api.get(`/api/procedures/${encodeURIComponent(ctx.params.id)}`);
  const nodes = [g.backLink('/procedures', t('proc.back'))];
  const kindTitle = tOr(`kind.${p.kind}`, p.kind);
  let title = kindTitle;
  if (ctx.flash && ctx.flash.type === 'submitted') {
    title = t('proc.submitted.title');
    nodes.push(g.panel(t('proc.submitted.title'), [
      t('proc.submitted.ref'), h('br'), h('strong', { id: 'procedure-ref', 'data-id': p.id }, String(p.reference)),
    ]));
    nodes.push(g.p(t(p.state === 'unpaid' ? 'proc.submitted.next.unpaid' : 'proc.submitted.next')));
    nodes.push(h('h2', { class: 'govuk-heading-l' }, kindTitle));
  } else {
    nodes.push(g.caption(`${t('proc.id')} ${p.reference}`), g.heading(kindTitle));
  }
  // A rejection's reason comes first, not only in the history table below.
  if (p.state === 'rejected') {
    const last = [...(p.history || [])].reverse().find((e) => e.state === 'rejected');
    if (last && last.note) {
      nodes.push(g.notificationBanner({
        title: t('important'),
        heading: t('proc.rejected.title'),
        body: h('p', { class: 'govuk-body', id: 'rejection-reason' }, t('proc.rejected.reason', { reason: last.note })),
      }));
    }
  }
  nodes.push(procedureSummary(p));
  if (p.state === 'unpaid') nodes.push(await paymentSection(p, ctx));
  if (p.state === 'rejected' && p.fee_vnd) nodes.push(await refundNote(p));
  nodes.push(...procedureFields(p), procedureHistory(p));
  return { title, nodes };
}
