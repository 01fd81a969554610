// A member's marketplace invoices (GET /api/market/invoices), for its
// officers and agency officials: those it has to pay, each open one with
// its VietQR code and the banks' pages to pay it, and those it sells, with
// the form that records the invoice of a usage statement (POST
// /api/market/invoices; the registry checks the statement, and each
// refusal is said at its field). docs/portal.md "The marketplace",
// docs/marketplace.md "Invoices and clearing".

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatMoney, formatTime } from '../i18n.mjs';
import { memberText } from '../marketview.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';
import { qrImage } from '../paymentview.mjs';

function statusTag(s) {
  return s === 'paid' ? g.tag(t('mk.inv.status.paid'), 'green') : g.tag(t('mk.inv.status.open'), 'yellow');
}

function money(v) {
  return `${formatMoney(v)} ₫`;
}

function period(i) {
  return t('mk.inv.period.value', { from: formatTime(i.from), to: formatTime(i.to) });
}

// One invoice as a card: the other party, the period, the amount and the
// account it is paid into, its status; for one the member buys, while it is
// open and its code checked, the code and the banks.
function invoiceCard(i) {
  const buys = i.side === 'buyer';
  const rows = [
    buys ? { key: t('mk.inv.seller'), value: memberText(i.seller, i.other_name) }
      : { key: t('mk.inv.buyer'), value: memberText(i.buyer, i.other_name) },
    { key: t('mk.inv.period'), value: period(i) },
    { key: t('mk.inv.count'), value: String(i.count) },
    { key: t('pay.amount'), value: h('span', { class: 'ndx-invoice-amount' }, money(i.amount_vnd)) },
    { key: t('pay.account'), value: `${i.account} (${i.bin})${i.account_name ? ` — ${i.account_name}` : ''}` },
    { key: t('pay.reference'), value: h('span', { class: 'ndx-invoice-reference' }, i.reference) },
    { key: t('mk.inv.status'), value: statusTag(i.status) },
  ];
  if (i.status === 'paid') rows.push({ key: t('mk.inv.paid_at'), value: formatTime(i.paid_at) });
  const parts = [g.summaryList(rows)];
  if (buys && i.status === 'open' && i.svg) {
    parts.push(h('div', { class: 'ndx-pay' },
      h('figure', { class: 'ndx-pay__qr', 'data-payload': i.vietqr }, qrImage(i.svg),
        h('figcaption', { class: 'govuk-body-s' }, t('pay.qr.caption')))));
    if (Array.isArray(i.banks) && i.banks.length) {
      parts.push(g.buttonGroup(...i.banks.map((b) => g.linkButton(b.url, t('pay.bank.button', { bank: b.name }), 'secondary'))));
    }
  }
  return h('div', { class: 'ndx-invoice', 'data-reference': i.reference, 'data-status': i.status },
    g.summaryCard(t('mk.inv.card', { reference: i.reference }), parts));
}

const FIELDS = [
  { name: 'statement', id: 'statement', label: 'mk.inv.statement' },
  { name: 'bin', id: 'bin', label: 'mk.inv.bin' },
  { name: 'account', id: 'account', label: 'mk.inv.account' },
  { name: 'account_name', id: 'account_name', label: 'mk.inv.account_name' },
];

export async function render(ctx) {
  const root = h('div', null);
  const v = { statement: '', bin: '', account: '', account_name: '' };
  let recorded = null;

  const draw = async (errors = { byName: {}, summary: [] }) => {
    const data = await api.get('/api/market/invoices');
    const list = Array.isArray(data.invoices) ? data.invoices : [];
    const buying = list.filter((i) => i.side === 'buyer');
    const selling = list.filter((i) => i.side === 'seller');
    const nodes = [];
    if (errors.summary.length) nodes.push(g.errorSummary(errors.summary));
    if (recorded) {
      nodes.push(g.notificationBanner({ success: true, heading: t('mk.inv.recorded', { reference: recorded }) }));
    }
    nodes.push(g.heading(t('mk.inv.title')), g.p(t('mk.req.member', { member: memberText(data.member) })));

    nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.inv.buying')));
    if (buying.length) nodes.push(h('div', { id: 'buying' }, ...buying.map(invoiceCard)));
    else nodes.push(g.p(t('mk.inv.buying.none')));

    nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.inv.selling')));
    if (selling.length) nodes.push(h('div', { id: 'selling' }, ...selling.map(invoiceCard)));
    else nodes.push(g.p(t('mk.inv.selling.none')));

    const err = (name) => errors.byName[name];
    const form = h('form', { novalidate: true, id: 'invoice-form' },
      h('h2', { class: 'govuk-heading-m' }, t('mk.inv.record')),
      g.p(t('mk.inv.record.lead')),
      g.textarea({ id: 'statement', label: t('mk.inv.statement'), hint: t('mk.inv.statement.hint'), value: v.statement, rows: 6, error: err('statement') }),
      g.input({ id: 'bin', label: t('mk.inv.bin'), hint: t('mk.inv.bin.hint'), value: v.bin, width: '10', inputmode: 'numeric', error: err('bin') }),
      g.input({ id: 'account', label: t('mk.inv.account'), value: v.account, width: '20', spellcheck: false, error: err('account') }),
      g.input({ id: 'account_name', label: t('mk.inv.account_name'), value: v.account_name, optional: true, error: err('account_name') }));
    const submit = g.button(t('mk.inv.submit'), { attrs: { id: 'record-invoice' } });
    form.append(submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      for (const k of Object.keys(v)) v[k] = String(fd.get(k) ?? '').trim();
      submit.disabled = true;
      try {
        const inv = await api.post('/api/market/invoices', {
          statement: v.statement, bin: v.bin, account: v.account, ...(v.account_name ? { account_name: v.account_name } : {}) });
        recorded = inv.reference;
        Object.assign(v, { statement: '', bin: v.bin, account: v.account, account_name: v.account_name });
        await draw();
      } catch (e) {
        recorded = null;
        if (e instanceof api.ApiError && e.code === 'validation' && Object.keys(e.fields).length) {
          const fields = FIELDS.map((f) => ({ ...f, label: t(f.label) }));
          await draw(mapFieldErrors(fields, e.fields));
        } else {
          await draw({ byName: {}, summary: [{ href: '#invoice-form', text: e instanceof api.ApiError ? tOr(`mk.inv.err.${e.code}`, e.text()) : t('api.unknown') }] });
        }
      }
    });
    nodes.push(form);
    clear(root).append(...nodes);
    // The first drawing is not in the page yet: the app enhances it once it is.
    if (root.isConnected) ctx.enhance(root);
    if (errors.summary.length || recorded) ctx.focusPage();
  };
  await draw();
  return { title: t('mk.inv.title'), nodes: [root] };
}
