// One marketplace request (a negotiation of the registry, docs/marketplace.md
// "The state machine") as a member's officer or official sees it: the
// dataset, the parties, the latest terms in words and the state. The
// provider's side decides a request waiting for it: approve (the agreement
// is made, verified and finalised, and its grant is in the next signed
// configuration), counter with other terms, or decline; the consumer's
// side accepts or declines a counter-offer. As on the officers' desk the
// decision goes through a check step before anything is sent.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { inLang, negStateTag, memberText, termsRows, idSegment } from '../marketview.mjs';

function actionsFor(n) {
  if (n.side === 'provider' && n.state === 'REQUESTED') return ['approve', 'counter', 'terminate'];
  if (n.side === 'consumer' && n.state === 'OFFERED') return ['accept', 'terminate'];
  if (!['FINALIZED', 'TERMINATED'].includes(n.state)) return ['terminate'];
  return [];
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
  let choice = { action: '', max_calls: '', reason: '' };

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
      if (choice.action === 'counter') rows.push({ key: t('mk.counter.max_calls'), value: String(choice.max_calls) });
      if (choice.action === 'terminate' && choice.reason) rows.push({ key: t('mk.reason'), value: choice.reason });
      const list = g.summaryList(rows, { id: 'check' });
      list.querySelector('a')?.addEventListener('click', (ev) => { ev.preventDefault(); draw([], 'form'); });
      const confirm = g.button(t('mk.confirm'), { type: 'button', attrs: { id: 'confirm' } });
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        const body = { action: choice.action };
        if (choice.action === 'counter') body.max_calls = Number(choice.max_calls);
        if (choice.action === 'terminate' && choice.reason) body.reason = choice.reason;
        try {
          await api.post(`/api/market/negotiations/${idSegment(pid)}/decision`, body);
          await ctx.navigate(`/market/requests/${idSegment(pid)}`, { replace: true, flash: { type: 'decided', action: choice.action } });
        } catch (e) {
          draw([{ text: e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown') }], 'form');
        }
      });
      nodes.push(h('h2', { class: 'govuk-heading-m' }, t('mk.neg.check')), list, g.warningText(t(`mk.warn.${choice.action}`)), confirm);
    } else if (acts.length) {
      const form = h('form', { novalidate: true, id: 'decision-form' },
        g.radios({ id: 'decision', name: 'action', legend: t('mk.neg.decision'), value: choice.action,
          error: errors.find((e) => e.href === '#decision')?.text,
          items: acts.map((a) => ({ value: a, text: t(`mk.act.${a}`), hint: t(`mk.act.${a}.hint`),
            conditional: a === 'counter' ? g.input({ id: 'max_calls', name: 'max_calls', label: t('mk.counter.max_calls'), hint: t('mk.counter.hint'),
              value: choice.max_calls, width: '10', inputmode: 'numeric', error: errors.find((e) => e.href === '#max_calls')?.text }) : null })) }),
        g.textarea({ id: 'reason', name: 'reason', label: t('mk.reason'), value: choice.reason, optional: true }),
        g.button(t('mk.continue'), { attrs: { id: 'continue' } }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const fd = new FormData(form);
        choice = { action: String(fd.get('action') ?? ''), max_calls: String(fd.get('max_calls') ?? '').trim(), reason: String(fd.get('reason') ?? '').trim() };
        const errs = [];
        if (!choice.action) errs.push({ href: '#decision', text: t('mk.err.choose') });
        if (choice.action === 'counter' && !/^[1-9][0-9]{0,8}$/.test(choice.max_calls)) errs.push({ href: '#max_calls', text: t('mk.err.max_calls') });
        draw(errs, errs.length ? 'form' : 'check');
      });
      nodes.push(form);
    }
    clear(root).append(...nodes);
    ctx.enhance(root);
    if (errors.length || step === 'check') ctx.focusPage();
  };
  draw();
  return { title, nodes: [root] };
}
