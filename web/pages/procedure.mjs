// One of the citizen's procedures with its history. Right after filing, the
// page opens with the GOV.UK confirmation panel carrying the reference.
// What the citizen must act on comes first: a rejection's reason, or an
// officer's question with the form to answer it (text and, optionally, a
// file); the answer sends the application back to the officers.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { procedureSummary, procedureFields, procedureHistory } from '../procview.mjs';
import { paymentSection, refundNote } from '../paymentview.mjs';
import { requestsSection, attachmentsSection, upload, fileErrorText, fileInput } from '../infoview.mjs';

const OPEN_TO_FILES = ['unpaid', 'submitted', 'information_requested'];

export async function render(ctx) {
  const p = await api.get(`/api/procedures/${encodeURIComponent(ctx.params.id)}`);
  const main = document.getElementById('main-content');
  const kindTitle = tOr(`kind.${p.kind}`, p.kind);
  const open = Array.isArray(p.information_requests) ? p.information_requests.find((r) => !r.answered_at) : null;
  let title = kindTitle;
  // The payment section and the refund note ask the portal once, before
  // the page is built; a page shown again (an error) reuses them.
  const pay = p.state === 'unpaid' ? await paymentSection(p, ctx) : null;
  const refund = p.state === 'rejected' && p.fee_vnd ? await refundNote(p) : null;

  function answerForm(values, errors) {
    const form = h('form', { novalidate: true, id: 'answer-form' },
      g.textarea({ id: 'answer', label: t('info.answer.label'), hint: t('info.answer.hint'), value: values.answer, error: errors?.byName.answer, rows: 4 }),
      fileInput('answer-file', errors?.byName['answer-file']),
      g.button(t('info.answer.send'), { attrs: { id: 'send-answer' } }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = String(new FormData(form).get('answer') ?? '').trim();
      const file = form.querySelector('#answer-file').files[0];
      if (!text) {
        show({ answer: text }, { byName: { answer: t('info.err.answer') }, summary: [{ href: '#answer', text: t('info.err.answer') }] });
        return;
      }
      form.querySelector('button[type=submit]').disabled = true;
      let ids = [];
      if (file) {
        try {
          ids = [(await upload(p.id, file)).id];
        } catch (err) {
          if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
          const msg = fileErrorText(err);
          show({ answer: text }, { byName: { 'answer-file': msg }, summary: [{ href: '#answer-file', text: msg }] });
          return;
        }
      }
      try {
        await api.post(`/api/procedures/${encodeURIComponent(p.id)}/answer`, { answer: text, attachments: ids });
        ctx.navigate(`/procedures/${encodeURIComponent(p.id)}`, { replace: true, flash: { type: 'answered' } });
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
        show({ answer: text }, { byName: {}, summary: [{ text: err instanceof api.ApiError && err.status === 409 ? t('info.err.nothing') : (err.text ? err.text() : t('api.unknown')) }] });
      }
      return null;
    });
    return form;
  }

  // Files for an application still with the officers, outside an answer.
  function attachForm(error) {
    const form = h('form', { novalidate: true, id: 'attach-form' },
      fileInput('attach-file', error),
      g.button(t('att.add'), { variant: 'secondary', attrs: { id: 'attach' } }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const file = form.querySelector('#attach-file').files[0];
      if (!file) {
        show({ answer: '' }, { byName: { 'attach-file': t('att.err.none') }, summary: [{ href: '#attach-file', text: t('att.err.none') }] });
        return;
      }
      form.querySelector('button[type=submit]').disabled = true;
      try {
        await upload(p.id, file);
        ctx.navigate(`/procedures/${encodeURIComponent(p.id)}`, { replace: true, flash: { type: 'attached' } });
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
        const msg = fileErrorText(err);
        show({ answer: '' }, { byName: { 'attach-file': msg }, summary: [{ href: '#attach-file', text: msg }] });
      }
      return null;
    });
    return form;
  }

  function build(values, errors) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    nodes.push(g.backLink('/procedures', t('proc.back')));
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
    if (ctx.flash && ctx.flash.type === 'answered' && !errors) nodes.push(g.notificationBanner({ success: true, heading: t('info.answered.done') }));
    if (ctx.flash && ctx.flash.type === 'attached' && !errors) nodes.push(g.notificationBanner({ success: true, heading: t('att.done') }));
    // A rejection's reason comes first, not only in the history table below.
    if (p.state === 'rejected') {
      const last = [...(p.history || [])].reverse().find((e) => e.state === 'rejected');
      if (last && last.note) {
        nodes.push(g.notificationBanner({
          title: t('important'),
          heading: t('proc.rejected.title'),
          body: [h('p', { class: 'govuk-body', id: 'rejection-reason' }, t('proc.rejected.reason', { reason: last.note })),
            h('p', { class: 'govuk-body' }, t('proc.rejected.next'))],
        }));
      }
    }
    // The officer's question, and the answer form, come first too.
    if (p.state === 'information_requested' && open) {
      nodes.push(g.notificationBanner({
        title: t('important'),
        heading: t('info.asked.title'),
        body: [h('p', { class: 'govuk-body', id: 'information-question' }, String(open.question)),
          h('p', { class: 'govuk-body govuk-!-margin-bottom-0' }, t('info.asked.by', { name: open.asked_by?.name || '', when: formatTime(open.asked_at) }))],
      }));
      nodes.push(h('h2', { class: 'govuk-heading-m' }, t('info.answer.title')), answerForm(values, errors));
    }
    nodes.push(procedureSummary(p));
    if (pay) nodes.push(pay);
    if (refund) nodes.push(refund);
    nodes.push(...requestsSection(p), ...attachmentsSection(p));
    if (OPEN_TO_FILES.includes(p.state) && p.state !== 'information_requested') {
      nodes.push(h('h2', { class: 'govuk-heading-m' }, t('att.add.title')), attachForm(errors?.byName['attach-file']));
    }
    nodes.push(...procedureFields(p), procedureHistory(p));
    return nodes;
  }

  function show(values, errors) {
    clear(main).append(...build(values, errors));
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${title} — ${t('service.name')}`;
    ctx.enhance(main);
    ctx.focusPage();
  }

  return { title, nodes: build({ answer: '' }, null) };
}
