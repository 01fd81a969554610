// An officer's decision on one procedure: approve (the portal then writes
// the registries through the exchange) or reject with a reason the citizen
// will read. The decision is recorded only after a check step (GOV.UK
// "check answers": the decision, the reason, a confirm button; "Change" and
// the back link return to the form with the choice kept). The reason is
// required by the portal; its 422 comes back as the error summary like any
// form. When the portal refuses the decision (409: the business name was
// registered meanwhile, another officer holds the application, or it was
// decided already) the page says why in words and shows the application as
// it is now, read again from the portal. Procedures that failed at the
// registry write can be approved again.
//
// The file also shows the processing deadline (from the procedure's
// definition, docs/portal.md), for a household business whether its name
// is registered now, and who holds the application: an officer
// takes it ("assign to me") or gives it back; the portal refuses a
// decision by anyone else. Opening the file reads the applicant's citizen
// record through the exchange in the officer's name and for this procedure
// (the citizen's access list shows that read so); it is shown beside the
// procedure.
//
// An officer may also ask the citizen for more information (a question
// the citizen reads at the top of their application and answers online,
// with a file if they wish): the third choice of the form, confirmed like
// a decision. The questions, the answers and the files attached (with
// their SHA-256) are shown in the file.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import { procedureSummary, procedureFields, procedureHistory } from '../procview.mjs';
import { formatValue } from '../format.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';
import { requestsSection, attachmentsSection } from '../infoview.mjs';

const DECIDABLE = ['submitted', 'failed'];
const APPLICANT_KEYS = ['full_name', 'pin', 'birth_date', 'permanent_address', 'permanent_province'];

function applicantCard(p) {
  const rec = p.applicant_record;
  const body = rec && typeof rec === 'object'
    ? [g.p(h('span', { class: 'govuk-hint' }, t('off.applicant.hint'))),
      g.summaryList(APPLICANT_KEYS.filter((k) => k in rec).map((k) => ({ key: tOr(`f.${k}`, k), value: formatValue(k, rec[k]) })),
        { id: 'applicant-record' })]
    : [g.p(h('span', { id: 'applicant-unavailable' }, t('off.applicant.unavailable')))];
  return g.summaryCard(t('off.applicant'), body);
}

// The deadline in words: the date, the working days and where the figure
// comes from; an overdue one tagged.
export function deadlineText(d) {
  if (!d || typeof d !== 'object') return t('off.deadline.none');
  return h('span', { id: 'procedure-deadline', 'data-overdue': d.overdue ? 'true' : 'false', 'data-paused': d.paused ? 'true' : 'false' },
    formatTime(d.date), ' ',
    d.overdue ? g.tag(t('off.overdue'), 'red') : null,
    d.paused ? g.tag(t('off.deadline.paused'), 'purple') : null,
    h('span', { class: 'govuk-hint govuk-!-display-block govuk-!-margin-bottom-0' },
      t('off.deadline.basis', { days: d.working_days, basis: d.basis }),
      d.paused_days ? ` ${t('off.deadline.paused_days', { n: d.paused_days })}` : ''));
}

// Whether the business name is registered now, as the enterprise registry
// answered when the file was opened (an approval asks again).
function nameCheckText(c) {
  if (!c || typeof c !== 'object') return h('span', { id: 'name-check', 'data-registered': '' }, t('off.namecheck.unknown'));
  return h('span', { id: 'name-check', 'data-registered': c.registered ? 'true' : 'false' },
    c.registered ? [g.tag(t('off.namecheck.taken.tag'), 'red'), ' ', t('off.namecheck.taken')] : t('off.namecheck.free'));
}

export function holderText(p, session) {
  const a = p.assigned_to;
  if (!a || typeof a !== 'object') return t('off.holder.none');
  if (a.username === session.username) return t('off.holder.me');
  return t('off.holder.other', { name: a.name || a.username, user: a.username });
}

// What the portal's refusal means, in words (docs/portal.md: a 409's
// fields name what is in conflict).
function refusalText(err, p) {
  const f = err.fields || {};
  if (f.business_name === 'duplicate') return t('off.err.name_taken', { name: p.fields?.business_name ?? '' });
  if (typeof f.assigned_to === 'string') {
    const a = p.assigned_to && typeof p.assigned_to === 'object' ? p.assigned_to : { username: f.assigned_to };
    return t('off.err.held', { name: a.name || a.username, user: a.username });
  }
  if (typeof f.state === 'string') return t('off.err.state', { state: tOr(`state.${f.state}`, f.state) });
  return err.text();
}

export async function render(ctx) {
  const main = document.getElementById('main-content');
  const path = `/api/procedures/${encodeURIComponent(ctx.params.id)}`;
  let p = await api.get(path);
  const title = () => t('off.decide.title', { id: p.reference });
  const heldByOther = () => p.assigned_to && typeof p.assigned_to === 'object' && p.assigned_to.username !== ctx.session.username;

  // The application as it is now, after a refusal; the applicant's record
  // read when the file was opened stays (no second read of the citizen).
  async function reread(err) {
    const kept = { applicant_record: p.applicant_record, ...('name_check' in p ? { name_check: p.name_check } : {}) };
    if (err instanceof api.ApiError && err.fields?.business_name === 'duplicate') {
      kept.name_check = { business_name: p.fields?.business_name ?? '', registered: true };
    }
    try {
      const np = await api.get(`${path}?applicant=0`);
      if (np && np.id) p = { ...np, ...kept };
    } catch {
      // The page keeps what it had; the error summary says what failed.
    }
  }

  function handlingCard() {
    const mine = p.assigned_to && p.assigned_to.username === ctx.session.username;
    const rows = [
      { key: t('off.deadline'), value: deadlineText(p.deadline) },
      { key: t('off.holder'), value: h('span', { id: 'procedure-holder' }, holderText(p, ctx.session)) },
    ];
    if ('name_check' in p) rows.push({ key: t('off.namecheck'), value: nameCheckText(p.name_check) });
    const body = [g.summaryList(rows, { id: 'procedure-handling' })];
    if (DECIDABLE.includes(p.state) && !heldByOther()) {
      const form = h('form', { novalidate: true, id: 'hold-form' },
        g.button(mine ? t('off.release') : t('off.take'),
          { variant: 'secondary', attrs: { id: mine ? 'release' : 'take' } }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        form.querySelector('button').disabled = true;
        api.post(`/api/officer/procedures/${encodeURIComponent(p.id)}/assignment`, { action: mine ? 'release' : 'take' })
          .then((np) => {
            p = np && np.id ? { ...np, applicant_record: p.applicant_record } : p;
            show('form', draft, null, t(mine ? 'off.released' : 'off.taken', { id: p.reference }));
          })
          .catch(async (err) => {
            if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
            await reread(err);
            show('form', draft, { byName: {}, summary: [{ text: err instanceof api.ApiError ? refusalText(err, p) : t('api.unknown') }] });
            return null;
          });
      });
      body.push(form);
    }
    return g.summaryCard(t('off.handling'), body);
  }

  let draft = { decision: '', reason: '', question: '' };

  function decisionForm(values, errors) {
    const form = h('form', { novalidate: true, id: 'decision-form' },
      g.radios({
        id: 'decision',
        legend: t('off.decision'),
        value: values.decision,
        error: errors?.byName.decision,
        items: [
          { value: 'approve', text: t('off.approve'), hint: t('off.approve.hint') },
          ...(p.state === 'submitted' ? [{
            value: 'reject',
            text: t('off.reject'),
            conditional: g.textarea({ id: 'reason', label: t('off.reason'), hint: t('off.reason.hint'),
              value: values.reason, error: errors?.byName.reason, rows: 4 }),
          }, {
            value: 'ask',
            text: t('off.ask'),
            hint: t('off.ask.hint'),
            conditional: g.textarea({ id: 'question', label: t('off.question'), hint: t('off.question.hint'),
              value: values.question, error: errors?.byName.question, rows: 4 }),
          }] : []),
        ],
      }),
      g.button(t('off.continue'), { attrs: { id: 'submit-decision' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const v = { decision: String(fd.get('decision') ?? ''), reason: String(fd.get('reason') ?? '').trim(),
        question: String(fd.get('question') ?? '').trim() };
      draft = v;
      if (!v.decision) {
        show('form', v, { byName: { decision: t('off.err.decision') }, summary: [{ href: '#decision', text: t('off.err.decision') }] });
        return;
      }
      if (v.decision === 'reject' && !v.reason) {
        show('form', v, { byName: { reason: t('off.err.reason') }, summary: [{ href: '#reason', text: t('off.err.reason') }] });
        return;
      }
      if (v.decision === 'ask' && !v.question) {
        show('form', v, { byName: { question: t('off.err.question') }, summary: [{ href: '#question', text: t('off.err.question') }] });
        return;
      }
      show('check', v);
    });
    return form;
  }

  // The check step: what will be recorded, each with a way back to change
  // it, and the one button that records it.
  function checkStep(v) {
    const change = (what) => [{ href: '#decision-form', text: t('off.check.change'), hidden: what }];
    const label = { reject: 'off.reject', ask: 'off.ask', approve: 'off.approve' }[v.decision];
    const rows = [{ key: t('off.decision'), value: h('span', { id: 'check-decision' }, t(label)),
      actions: change(t('off.decision')) }];
    if (v.decision === 'reject') rows.push({ key: t('off.reason'), value: h('span', { id: 'check-reason' }, v.reason), actions: change(t('off.reason')) });
    if (v.decision === 'ask') rows.push({ key: t('off.question'), value: h('span', { id: 'check-question' }, v.question), actions: change(t('off.question')) });
    const list = g.summaryList(rows, { id: 'check-answers' });
    list.querySelectorAll('.govuk-summary-list__actions a').forEach((a) => a.addEventListener('click', (ev) => {
      ev.preventDefault();
      show('form', v);
    }));
    const form = h('form', { novalidate: true, id: 'confirm-form' },
      g.warningText(t({ reject: 'off.check.warn.reject', ask: 'off.check.warn.ask', approve: 'off.check.warn.approve' }[v.decision])),
      g.button(t('off.submit'), { attrs: { id: 'confirm-decision' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      form.querySelector('button[type=submit]').disabled = true;
      const body = v.decision === 'reject' ? { decision: 'reject', reason: v.reason } : { decision: 'approve' };
      const call = v.decision === 'ask'
        ? api.post(`/api/officer/procedures/${encodeURIComponent(p.id)}/information-request`, { question: v.question })
        : api.post(`/api/officer/procedures/${encodeURIComponent(p.id)}/decision`, body);
      call
        .then((np) => {
          p = np && np.id ? { ...np, applicant_record: p.applicant_record } : p;
          const key = p.state === 'failed' ? 'off.done.failed' : { reject: 'off.done.reject', ask: 'off.done.ask', approve: 'off.done.approve' }[v.decision];
          draft = { decision: '', reason: '', question: '' };
          show('form', draft, null, t(key, { id: p.reference }), p.state === 'failed');
        })
        .catch(async (err) => {
          if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
          const errors = decisionErrors(v, err);
          // Refused for what changed meanwhile: the page shows the
          // application as it is now, and the reason.
          if (err instanceof api.ApiError && err.status === 409) await reread(err);
          show('form', v, errors);
          return null;
        });
    });
    return [g.heading(t('off.check.title', { id: p.reference })), list, form];
  }

  function decisionErrors(v, err) {
    if (!(err instanceof api.ApiError)) return { byName: {}, summary: [{ text: t('api.unknown') }] };
    if (v.decision === 'ask' && (err.code === 'validation' || err.code === 'invalid')) {
      return { byName: { question: t('off.err.question') }, summary: [{ href: '#question', text: t('off.err.question') }] };
    }
    if (v.decision === 'reject' && (err.code === 'validation' || err.code === 'invalid')) {
      // The reason is the only thing a person can get wrong here.
      const fields = Object.keys(err.fields).length ? err.fields : { reason: 'required' };
      const mapped = mapFieldErrors([{ name: 'reason', id: 'reason', label: t('off.reason') }], fields);
      if (mapped.byName.reason && (fields.reason === 'required' || !v.reason)) {
        mapped.byName.reason = t('off.err.reason');
        mapped.summary[0].text = t('off.err.reason');
      }
      return mapped;
    }
    if (err.status === 409) return { byName: {}, summary: [{ text: refusalText(err, p) }] };
    return { byName: {}, summary: [{ text: err.text() }] };
  }

  function build(step, values, errors, done, warn) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    if (done) {
      nodes.push(warn
        ? g.notificationBanner({ heading: done })
        : g.notificationBanner({ success: true, heading: done }));
    }
    if (step === 'check') {
      const back = g.backLink('#decision-form', t('off.check.back'));
      back.addEventListener('click', (ev) => {
        ev.preventDefault();
        show('form', values);
      });
      nodes.push(back, g.caption(tOr(`kind.${p.kind}`, p.kind)), ...checkStep(values));
      return nodes;
    }
    nodes.push(g.backLink('/officer/queue', t('off.back')));
    nodes.push(g.caption(tOr(`kind.${p.kind}`, p.kind)), g.heading(title()));
    nodes.push(procedureSummary(p), handlingCard());
    if ('applicant_record' in p) nodes.push(applicantCard(p));
    nodes.push(...requestsSection(p), ...attachmentsSection(p));
    if (p.state === 'information_requested') nodes.push(g.insetText(h('span', { id: 'waiting-for-citizen' }, t('off.waiting'))));
    nodes.push(...procedureFields(p), procedureHistory(p));
    if (DECIDABLE.includes(p.state) && heldByOther()) nodes.push(g.insetText(h('span', { id: 'held-by-other' }, holderText(p, ctx.session), ' ', t('off.held.note'))));
    else if (DECIDABLE.includes(p.state)) nodes.push(decisionForm(values, errors));
    else if (!done && p.state !== 'information_requested') nodes.push(g.insetText(t('off.not_pending')));
    return nodes;
  }

  function show(step, values, errors = null, done = null, warn = false) {
    clear(main).append(...build(step, values, errors, done, warn));
    const head = step === 'check' ? t('off.check.title', { id: p.reference }) : title();
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${head} — ${t('service.name')}`;
    ctx.enhance(main);
    if (done && !errors) {
      const banner = main.querySelector('.govuk-notification-banner');
      banner.setAttribute('tabindex', '-1');
      banner.focus();
    } else {
      ctx.focusPage();
    }
  }

  return { title: title(), nodes: build('form', draft, null, null) };
}
