// The message log (docs/gateway-console.md): its latest signed tree head
// (GET /console/api/log) and a verify run (POST /console/api/log/verify:
// every record, batch and tree head checked with the gateway's own key and
// the witnesses' countersignatures with the anchor), its result shown
// until the page is left.

import * as api from '../console/rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { actionForm } from './words.mjs';

let last = null;

function result(r) {
  const rows = [
    { key: t('gcon.log.records'), value: `${r.records} (${r.first_seq}–${r.last_seq})` },
    { key: t('gcon.log.batches'), value: String(r.batches) },
    { key: t('gcon.log.witnessed'), value: r.witnessed_batch ? String(r.witnessed_batch) : t('none') },
    { key: t('gcon.log.checked_at'), value: formatTime(r.checked_at) },
  ];
  return h('div', { id: 'verify-result' },
    r.ok ? g.notificationBanner({ success: true, heading: t('gcon.log.ok') })
      : g.errorSummary([{ text: t('gcon.log.bad', { error: r.error || '' }) }], t('gcon.log.failed')),
    g.summaryList(rows));
}

export async function render(ctx) {
  const head = await api.get('/console/api/log');
  const shown = last;
  last = null;
  const form = actionForm({
    id: 'verify', text: t('gcon.log.verify'), buttonId: 'run-verify', ctx,
    action: async () => { last = await api.post('/console/api/log/verify', {}); },
  });
  return {
    title: t('gcon.log.title'),
    nodes: [
      g.heading(t('gcon.log.title')),
      shown ? result(shown) : null,
      g.summaryList([
        { key: t('gcon.log.batch'), value: String(head.batch ?? 0) },
        { key: t('gcon.log.records'), value: String(head.records ?? 0) },
        { key: t('gcon.log.covered'), value: String(head.covered ?? 0) },
        { key: t('gcon.log.time'), value: head.time ? formatTime(head.time) : t('none') },
        { key: t('gcon.log.root'), value: head.root ? h('code', { class: 'ndx-code' }, head.root) : t('none') },
      ], { id: 'head' }),
      g.p(t('gcon.log.verify_body')),
      form,
    ],
  };
}
