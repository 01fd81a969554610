// "Ai đã xem dữ liệu của tôi": every read of the citizen's data that the
// providers' gateways logged, gathered by the portal from each agency's
// transparency service; agencies that did not answer are named, so an empty
// or short list is never mistaken for a complete one.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';

// The providers log either a word or the HTTP status they answered with.
function statusTag(status) {
  const s = String(status ?? '').toLowerCase();
  if (/^\d{3}$/.test(s)) {
    const ok = s.startsWith('2');
    const key = ok ? 'acc.status.ok' : s === '404' ? 'acc.status.not_found' : s.startsWith('4') ? 'acc.status.refused' : 'acc.status.error';
    return g.tag(`${t(key)} (${s})`, ok ? 'green' : s === '404' ? 'grey' : 'red');
  }
  const ok = ['ok', 'allowed', 'success'].includes(s);
  const bad = ['refused', 'denied', 'error'].includes(s);
  return g.tag(tOr(`acc.status.${s}`, s), ok ? 'green' : bad ? 'red' : 'grey');
}

export async function render() {
  const data = await api.get('/api/accesses');
  const list = Array.isArray(data.accesses) ? data.accesses : [];
  const unavailable = Array.isArray(data.unavailable) ? data.unavailable : [];
  const nodes = [g.heading(t('acc.title')), g.p(t('acc.lead'))];
  if (unavailable.length) {
    nodes.push(g.notificationBanner({
      title: t('important'),
      heading: t('acc.unavailable'),
      body: [
        g.p(t('acc.unavailable.lead')),
        h('ul', { class: 'govuk-list govuk-list--bullet', id: 'accesses-unavailable' },
          unavailable.map((u) => h('li', null, `${u.provider ?? ''}${u.error ? ` (${u.error})` : ''}`))),
      ],
    }));
  }
  if (list.length === 0) {
    nodes.push(g.p(t('acc.empty')));
  } else {
    nodes.push(g.table({
      id: 'accesses',
      caption: t('acc.caption'),
      head: [t('acc.time'), t('acc.client'), t('acc.service'), t('acc.purpose'), t('acc.status')],
      rows: list.map((a) => [
        formatTime(a.time),
        [a.client_name ? h('span', { class: 'ndx-block' }, a.client_name) : null,
          h('span', { class: 'govuk-hint govuk-!-margin-0 ndx-code' }, String(a.client ?? ''))],
        [h('span', { class: 'ndx-block' }, tOr(`service.${a.service}`, a.service ?? '')),
          h('span', { class: 'govuk-hint govuk-!-margin-0 ndx-code' }, String(a.service ?? ''))],
        tOr(`purpose.${a.purpose}`, a.purpose ?? ''),
        statusTag(a.status),
      ]),
    }));
  }
  return { title: t('acc.title'), nodes };
}
