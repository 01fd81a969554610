// The fee of an unpaid procedure and how to pay it (docs/portal.md "Fees
// and payment"): the State Treasury's VietQR code, which any bank app
// scans, the transfer's details for typing them in, and a link to each
// bank's own confirmation page. The page asks the portal again every few
// seconds, and shows the procedure anew once the treasury has the money.

import * as api from './api.mjs';
import { h } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, formatMoney } from './i18n.mjs';

const POLL_MS = 2000;

// The QR image the portal drew (its own SVG, one path), as a node (also
// for the marketplace's invoices, pages/market-invoices.mjs).
export function qrImage(svgText) {
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== 'svg') return h('p', t('pay.qr.missing'));
  svg.setAttribute('class', 'ndx-qr');
  return document.importNode(svg, true);
}

function watch(id, ctx) {
  const timer = setInterval(async () => {
    if (!document.getElementById('payment')) { clearInterval(timer); return; }
    try {
      const pay = await api.get(`/api/procedures/${encodeURIComponent(id)}/payment`);
      if (pay.state !== 'unpaid') { clearInterval(timer); ctx.rerender(); }
    } catch (e) {
      // The next round asks again; the page keeps what it shows.
    }
  }, POLL_MS);
}

export async function paymentSection(p, ctx) {
  const nodes = [h('h2', { class: 'govuk-heading-m', id: 'payment-title' }, t('pay.title'))];
  let pay;
  try {
    pay = await api.get(`/api/procedures/${encodeURIComponent(p.id)}/payment`);
  } catch (e) {
    nodes.push(g.warningText(t(e.code === 'payment_unavailable' ? 'pay.unavailable' : 'pay.failed')));
    return h('section', { id: 'payment', 'aria-labelledby': 'payment-title' }, ...nodes);
  }
  nodes.push(g.p(t('pay.lead', { amount: `${formatMoney(pay.amount_vnd)} ₫` })));
  nodes.push(h('div', { class: 'ndx-pay' },
    h('figure', { class: 'ndx-pay__qr', id: 'payment-qr', 'data-payload': pay.payload },
      qrImage(pay.svg), h('figcaption', { class: 'govuk-body-s' }, t('pay.qr.caption'))),
    g.summaryList([
      { key: t('pay.to'), value: pay.account_name },
      { key: t('pay.account'), value: h('span', { id: 'payment-account' }, pay.account) },
      { key: t('pay.amount'), value: h('span', { id: 'payment-amount' }, `${formatMoney(pay.amount_vnd)} ₫`) },
      { key: t('pay.reference'), value: h('span', { id: 'payment-reference' }, pay.reference) },
    ], { id: 'payment-details' })));
  if (Array.isArray(pay.banks) && pay.banks.length) {
    nodes.push(h('h3', { class: 'govuk-heading-s' }, t('pay.bank.title')));
    nodes.push(g.buttonGroup(...pay.banks.map((b) => g.linkButton(b.url, t('pay.bank.button', { bank: b.name }), 'secondary'))));
  }
  nodes.push(g.insetText(t('pay.after')));
  watch(p.id, ctx);
  return h('section', { id: 'payment', 'aria-labelledby': 'payment-title' }, ...nodes);
}

// What became of the fee of a rejected procedure: refunded by the State
// Treasury, or on its way back. Nothing when there was no fee to pay online.
export async function refundNote(p) {
  let pay;
  try {
    pay = await api.get(`/api/procedures/${encodeURIComponent(p.id)}/payment`);
  } catch (e) {
    return null;
  }
  const amount = `${formatMoney(pay.amount_vnd)} ₫`;
  if (pay.status === 'refunded') return g.insetText(h('span', { id: 'refund' }, t('pay.refunded', { amount })));
  if (pay.status === 'paid') return g.insetText(h('span', { id: 'refund' }, t('pay.refund.pending', { amount })));
  return null;
}
