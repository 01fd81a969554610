// An officer's decision on one procedure: approve (the portal then writes
// the registries through the exchange) or reject with a reason the citizen
// will read. The reason is required by the portal; its 422 comes back as the
// error summary like any form. Procedures that failed at the registry write
// can be approved again. Opening the file reads the applicant's citizen
// record through the exchange in the officer's name and for this procedure
// (the citizen's access list shows that read so); it is shown beside the
// procedure.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { procedureSummary, procedureFields, procedureHistory } from '../procview.mjs';
import { formatValue } from '../format.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';

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

export async function render(ctx) {
  const main = document.getElementById('main-content');
  let p = await api.get(`/api/procedures/${encodeURIComponent(ctx.params.id)}`);
  const title = () => t('off.decide.title', { id: p.reference });

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
          }] : []),
        ],
      }),
      g.button(t('off.submit'), { attrs: { id: 'submit-decision' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const v = { decision: String(fd.get('decision') ?? ''), reason: String(fd.get('reason') ?? '').trim() };
      if (!v.decision) {
        show(v, { byName: { decision: t('off.err.decision') }, summary: [{ href: '#decision', text: t('off.err.decision') }] });
        return;
      }
      form.querySelector('button[type=submit]').disabled = true;
      const body = v.decision === 'reject' ? { decision: 'reject', reason: v.reason } : { decision: 'approve' };
      api.post(`/api/officer/procedures/${encodeURIComponent(p.id)}/decision`, body)
        .then((np) => {
          p = np && np.id ? { ...np, applicant_record: p.applicant_record } : p;
          const key = p.state === 'failed' ? 'off.done.failed' : v.decision === 'reject' ? 'off.done.reject' : 'off.done.approve';
          show(v, null, t(key, { id: p.reference }), p.state === 'failed');
        })
        .catch((err) => {
          if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
          show(v, decisionErrors(v, err));
          return null;
        });
    });
    return form;
  }

  function decisionErrors(v, err) {
    if (!(err instanceof api.ApiError)) return { byName: {}, summary: [{ text: t('api.unknown') }] };
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
    if (err.code === 'conflict') return { byName: {}, summary: [{ text: t('off.not_pending') }] };
    return { byName: {}, summary: [{ text: err.text() }] };
  }

  function build(values, errors, done, warn) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    if (done) {
      nodes.push(warn
        ? g.notificationBanner({ heading: done })
        : g.notificationBanner({ success: true, heading: done }));
    }
    nodes.push(g.backLink('/officer/queue', t('off.back')));
    nodes.push(g.caption(tOr(`kind.${p.kind}`, p.kind)), g.heading(title()));
    nodes.push(procedureSummary(p));
    if ('applicant_record' in p) nodes.push(applicantCard(p));
    nodes.push(...procedureFields(p), procedureHistory(p));
    if (DECIDABLE.includes(p.state)) nodes.push(decisionForm(values, errors));
    else if (!done) nodes.push(g.insetText(t('off.not_pending')));
    return nodes;
  }

  function show(values, errors, done = null, warn = false) {
    clear(main).append(...build(values, errors, done, warn));
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${title()} — ${t('service.name')}`;
    ctx.enhance(main);
    if (done && !errors) {
      const banner = main.querySelector('.govuk-notification-banner');
      banner.setAttribute('tabindex', '-1');
      banner.focus();
    } else {
      ctx.focusPage();
    }
  }

  return { title: title(), nodes: build({ decision: '', reason: '' }, null, null) };
}
