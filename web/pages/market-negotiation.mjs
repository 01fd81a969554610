// One marketplace request (a negotiation of the registry, docs/marketplace.md
// "The state machine") as a member's officer or official sees it: the
// dataset, the parties, the latest terms in words and the state. The
// provider's side decides a request waiting for it: approve (the agreement
// is made, verified and finalised, and its grant is in the next signed
// configuration), counter with other terms, or decline; the consumer's
// side accepts, counters or declines a counter-offer (a counter-offer may
// change the maximum calls, the validity and the price). Either party ends
// an agreement in force. As on the officers' desk every decision goes
// through a check step before anything is sent. An agreement's page says
// what the portal holds for its usage statements and invoices, and how
// the gateways' hosts make and check them.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime, formatMoney } from '../i18n.mjs';
import { inLang, negStateTag, memberText, termsRows, idSegment } from '../marketview.mjs';

function actionsFor(n) {
  if (n.side === 'provider' && n.state === 'REQUESTED') return ['approve', 'counter', 'terminate'];
  if (n.side === 'consumer' && n.state === 'OFFERED') return ['accept', 'counter', 'terminate'];
  if (n.state === 'FINALIZED' && n.agreement_state === 'active') return ['end'];
  if (!['FINALIZED', 'TERMINATED'].includes(n.state)) return ['terminate'];
  return [];
}

const COUNTER = [['max_calls', 10], ['validity_days', 5], ['price_vnd', 10]];

// The counter-offer's fields: the terms it changes, each prefilled with
// the latest one (at least one must differ; the server says so).
function counterFields(choice, errors) {
  return h('div', null, ...COUNTER.map(([k, w]) => g.input({ id: k, name: k, label: t(`mk.counter.${k}`), hint: t(`mk.counter.${k}.hint`),
    value: choice[k], width: String(w), inputmode: 'numeric', optional: true, suffix: k === 'price_vnd' ? '₫' : undefined,
    error: errors.find((e) => e.href === `#${k}`)?.text })));
}

// What the portal holds of an agreement's usage statements and invoices:
// the agreement id, its price and its period; the statements themselves
// are made and checked on the gateways' hosts from their message logs
// (docs/marketplace.md "Metering and statements"), which the portal does
// not hold, so the page says how.
function statements(n) {
  const paid = n.terms && n.terms.price_vnd > 0;
  const cmd = `ndx market statement --db data/msglog.db --key sign.key --conf data/conf --anchor registry.anchor --agreement ${n.agreement} --month YYYY-MM --out statement.json`;
  const check = 'ndx market check-statement statement.json --db data/msglog.db --conf data/conf --anchor registry.anchor --month YYYY-MM';
  return h('section', { id: 'statements', 'aria-labelledby': 'statements-title' },
    h('h2', { class: 'govuk-heading-m', id: 'statements-title' }, t('mk.st.title')),
    g.summaryList([
      { key: t('mk.st.agreement'), value: h('code', { id: 'agreement-id' }, String(n.agreement)) },
      { key: t('mk.terms.price'), value: paid ? t(`mk.terms.price.${n.terms.price_unit || 'call'}`, { amount: formatMoney(n.terms.price_vnd) }) : t('mk.terms.free') },
    ], { id: 'statement-facts' }),
    g.p(t('mk.st.where')),
    g.p(t(n.side === 'provider' ? 'mk.st.make.provider' : 'mk.st.make.consumer')),
    h('pre', { class: 'ndx-pre', tabindex: '0', id: 'statement-command' }, cmd),
    g.p(t('mk.st.check')),
    h('pre', { class: 'ndx-pre', tabindex: '0' }, check),
    g.p(paid ? t('mk.st.invoice') : t('mk.st.free')));
}

// A statement pasted here is checked by the portal (POST
// /api/market/statements/check) with the signer's key from the registry's
// signed configuration; the result says what was checked and that the
// comparison with the member's own log is not made here.
function statementCheck(state, onCheck) {
  const form = h('form', { novalidate: true, id: 'statement-form' },
    h('h3', { class: 'govuk-heading-s' }, t('mk.st.check.title')),
    g.textarea({ id: 'statement', name: 'statement', label: t('mk.st.paste'), hint: t('mk.st.paste.hint'), value: state.text, rows: 6, error: state.error }),
    g.button(t('mk.st.check.button'), { variant: 'secondary', attrs: { id: 'statement-check' } }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onCheck(String(new FormData(form).get('statement') ?? '').trim());
  });
  const nodes = [form];
  const v = state.result;
  if (v) {
    const period = `${formatTime(v.from)} – ${formatTime(v.to)}`;
    nodes.push(h('div', { id: 'statement-result', 'data-verified': String(v.verified) },
      h('h3', { class: 'govuk-heading-s' }, t('mk.st.result')),
      g.summaryList([
        { key: t('mk.st.verdict'), value: v.verified ? g.tag(t('mk.st.verified'), 'green') : g.tag(t('mk.st.refused'), 'red') },
        ...(v.verified ? [] : [{ key: t('mk.reason'), value: h('span', { id: 'statement-reason' }, String(v.reason ?? '')) }]),
        { key: t('mk.st.side'), value: t(`mk.st.side.${v.side}`) },
        { key: t('mk.st.period'), value: period },
        { key: t('mk.st.count'), value: h('span', { id: 'statement-count' }, formatMoney(v.count)) },
        { key: t('mk.st.amount'), value: h('span', { id: 'statement-amount' }, t('mk.st.vnd', { amount: formatMoney(v.amount_vnd) })) },
        { key: t('mk.st.hash'), value: h('code', { class: 'ndx-hash' }, String(v.statement_hash)) },
      ], { id: 'statement-facts-checked' }),
      g.insetText(t('mk.st.own_log'))));
  }
  return nodes;
}

function summary(n) {
  const rows = [
    { key: t('mk.neg.dataset'), value: n.title ? inLang(n.title) : String(n.service) },
    { key: t('mk.req.provider'), value: memberText(n.provider, n.provider_name) },
    { key: t('mk.req.consumer'), value: memberText(n.consumer, n.consumer_name) },
    { key: t('mk.req.state'), value: h('span', { id: 'neg-state', 'data-state': n.state }, negStateTag(n.state)) },
    { key: t('mk.neg.offered_by'), value: t(`mk.neg.by.${n.offered_by}`) },
    { key: t('mk.req.updated'), value: formatTime(n.updated_at) },
  ];
  if (n.agreement_state) rows.push({ key: t('mk.neg.agreement'), value: h('span', { id: 'agreement-state' }, tOr(`mk.agreement.${n.agreement_state}`, n.agreement_state)) });
  if (n.not_after) rows.push({ key: t('mk.neg.until'), value: formatTime(n.not_after) });
  return rows;
}

export async function render(ctx) {
  const pid = ctx.params.id;
  const data = await api.get('/api/market/negotiations');
  const n = (Array.isArray(data.negotiations) ? data.negotiations : []).find((x) => x.provider_pid === pid);
  if (!n) return { title: t('mk.nf.title'), nodes: [g.heading(t('mk.nf.title')), g.p(t('mk.neg.nf')), g.p(g.link('/market/requests', t('mk.req.title')))] };
  const root = h('div', null);
  const title = t('mk.neg.title');
  const st = { text: '', result: null, error: null };
  const latest = (k) => (n.terms && n.terms[k] != null ? String(n.terms[k]) : '');
  let choice = { action: '', max_calls: latest('max_calls'), validity_days: latest('validity_days'), price_vnd: latest('price_vnd'), reason: '' };
  const endAgreement = async (btn) => {
    btn.disabled = true;
    try {
      await api.post(`/api/market/agreements/${idSegment(n.agreement)}/termination`, { confirm: true });
      await ctx.navigate(`/market/requests/${idSegment(pid)}`, { replace: true, flash: { type: 'decided', action: 'end' } });
    } catch (e) {
      draw([{ text: e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown') }], 'form');
    }
  };

  const draw = (errors = [], step = 'form') => {
    const nodes = [g.backLink('/market/requests', t('mk.req.title'))];
    if (ctx.flash && ctx.flash.type === 'requested' && step === 'form') nodes.push(g.notificationBanner({ success: true, heading: t('mk.flash.requested') }));
    if (ctx.flash && ctx.flash.type === 'decided' && step === 'form') nodes.push(g.notificationBanner({ success: true, heading: t(`mk.flash.${ctx.flash.action}`) }));
    if (errors.length) nodes.push(g.errorSummary(errors));
    nodes.push(g.heading(title), g.summaryList(summary(n), { id: 'negotiation' }),
      h('h2', { class: 'govuk-heading-m' }, t('mk.neg.terms')), g.summaryList(termsRows(n.terms), { id: 'terms' }));
    const acts = actionsFor(n);
    if (step === 'check') {
      const rows = [{ key: t('mk.neg.decision'), value: t(`mk.act.${choice.action}`), actions: [{ href: '#decision', text: t('off.check.change'), hidden: t('mk.neg.decision') }] }];
      if (choice.action === 'counter') {
        for (const [k] of COUNTER) if (choice[k] !== '') rows.push({ key: t(`mk.counter.${k}`), value: h('span', { 'data-counter': k }, String(choice[k])) });
      }
      if (choice.action === 'terminate' && choice.reason) rows.push({ key: t('mk.reason'), value: choice.reason });
      const list = g.summaryList(rows, { id: 'check' });
      list.querySelector('a')?.addEventListener('click', (ev) => { ev.preventDefault(); draw([], 'form'); });
      const confirm = g.button(t('mk.confirm'), { type: 'button', attrs: { id: 'confirm' } });
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        if (choice.action === 'end') { await endAgreement(confirm); return; }
        const body = { action: choice.action };
        if (choice.action === 'counter') {
          // Only the terms that differ from the latest ones are sent.
          for (const [k] of COUNTER) if (choice[k] !== '' && choice[k] !== latest(k)) body[k] = Number(choice[k]);
        }
        if (choice.action === 'terminate' && choice.reason) body.reason = choice.reason;
        try {
          await api.post(`/api/market/negotiations/${idSegment(pid)}/decision`, body);
          await ctx.navigate(`/market/requests/${idSegment(pid)}`, { replace: true, flash: { type: 'decided', action: choice.action } });
        } catch (e) {
          const f = e instanceof api.ApiError && e.code === 'validation' ? Object.keys(e.fields).find((k) => COUNTER.some(([c]) => c === k)) : null;
          draw([{ href: f ? `#${f}` : undefined, text: f ? t(`mk.err.${f}`) : e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown') }], 'form');
        }
      });
      nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.neg.check')), list, g.warningText(t(`mk.warn.${choice.action}${choice.action === 'counter' ? `.${n.side}` : ''}`)), confirm);
    } else if (acts.length) {
      const form = h('form', { novalidate: true, id: 'decision-form' },
        g.radios({ id: 'decision', name: 'action', legend: t('mk.neg.decision'), value: choice.action,
          error: errors.find((e) => e.href === '#decision')?.text,
          items: acts.map((a) => ({ value: a, text: t(`mk.act.${a}`), hint: t(`mk.act.${a}.hint`),
            conditional: a === 'counter' ? counterFields(choice, errors) : null })) }),
        acts.includes('end') ? null : g.textarea({ id: 'reason', name: 'reason', label: t('mk.reason'), value: choice.reason, optional: true }),
        g.button(t('mk.continue'), { attrs: { id: 'continue' } }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const fd = new FormData(form);
        choice = { action: String(fd.get('action') ?? ''), reason: String(fd.get('reason') ?? '').trim() };
        for (const [k] of COUNTER) choice[k] = String(fd.get(k) ?? '').trim();
        const errs = [];
        if (!choice.action) errs.push({ href: '#decision', text: t('mk.err.choose') });
        if (choice.action === 'counter') {
          if (choice.max_calls !== '' && !/^[1-9][0-9]{0,8}$/.test(choice.max_calls)) errs.push({ href: '#max_calls', text: t('mk.err.max_calls') });
          if (choice.validity_days !== '' && !/^[1-9][0-9]{0,4}$/.test(choice.validity_days)) errs.push({ href: '#validity_days', text: t('mk.err.validity_days') });
          if (choice.price_vnd !== '' && !/^[0-9]{1,13}$/.test(choice.price_vnd)) errs.push({ href: '#price_vnd', text: t('mk.err.price_vnd') });
          if (!errs.length && COUNTER.every(([k]) => choice[k] === '' || choice[k] === latest(k))) errs.push({ href: '#max_calls', text: t('mk.err.counter_same') });
        }
        draw(errs, errs.length ? 'form' : 'check');
      });
      nodes.push(form);
    }
    if (n.agreement && n.state === 'FINALIZED' && step === 'form') {
      nodes.push(statements(n), ...statementCheck(st, async (text) => {
        st.text = text;
        st.result = null;
        st.error = text ? null : t('mk.st.err.required');
        if (text) {
          try {
            st.result = await api.post('/api/market/statements/check', { statement: text });
          } catch (e) {
            st.error = e instanceof api.ApiError && e.code === 'validation' ? t('mk.st.err.invalid')
              : e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown');
          }
        }
        draw(st.error ? [{ href: '#statement', text: st.error }] : [], 'form');
        if (st.result) document.getElementById('statement-result')?.scrollIntoView();
      }));
    }
    clear(root).append(...nodes);
    // The first drawing is not in the page yet: the app enhances it once it is
    // (GOV.UK Frontend's radios look their conditional reveals up by id).
    if (root.isConnected) ctx.enhance(root);
    if (errors.length || step === 'check') ctx.focusPage();
  };
  draw();
  return { title, nodes: [root] };
}
