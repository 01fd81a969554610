// One misuse case (/ops/cases/{id}): what was read, by whom (the system
// and the officer), when, why it was flagged; every read in evidence with
// its explanation or "no explanation" and its inclusion proof (folded,
// downloadable as proof.json exactly as the monitoring service gave it,
// with the gateway's key and the one-line command that checks it offline);
// the case's history; and the triage (confirm, dismiss with a reason,
// escalate) with a confirmation step. The operator and an agency's official
// (its own member's cases) triage; an auditor only reads. The monitoring
// service's refusals are said in words (already decided, reason missing).
// API: docs/portal.md "Misuse cases".

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';
import * as ops from '../ops.mjs';
import * as cs from '../cases.mjs';

const ACTIONS = ['confirm', 'dismiss', 'escalate'];
const CHECK = 'ndx log check-proof proof.json --key gateway.pub';

function explanationText(ex) {
  if (!ex || !ex.how) return h('strong', { class: 'ndx-warn' }, t('case.ex.none'));
  return t(`case.ex.${ex.how}`, { ref: ex.ref || '' });
}

function proofBlock(c, ev, i) {
  const base = `/api/ops/cases/${encodeURIComponent(c.id)}`;
  if (!ev.proof) {
    return g.p(ev.proof_error ? t('case.proof.error', { error: String(ev.proof_error) })
      : ev.pending ? t('case.proof.pending') : t('case.proof.none'));
  }
  return h('details', { class: 'govuk-details ndx-proof', id: `proof-${i}` },
    h('summary', { class: 'govuk-details__summary' },
      h('span', { class: 'govuk-details__summary-text' }, t('case.proof.show'))),
    h('div', { class: 'govuk-details__text' },
      g.p(t('case.proof.lead')),
      h('ul', { class: 'govuk-list' },
        h('li', null, g.link(`${base}/proof/${i}`, t('case.proof.download'), { download: 'proof.json', id: `proof-${i}-download` })),
        h('li', null, g.link(`${base}/key/${i}`, t('case.proof.key', { gateway: ev.gateway || '' }), { download: 'gateway.pub', id: `proof-${i}-key` }))),
      g.p(t('case.proof.command')),
      h('pre', { class: 'ndx-pre', id: `proof-${i}-command` }, h('code', null, CHECK)),
      h('pre', { class: 'ndx-pre', tabindex: '0', 'aria-label': t('case.proof.json') }, h('code', null, JSON.stringify(ev.proof, null, 2)))));
}

function evidenceCard(c, ev, i) {
  const rows = [
    { key: t('case.ev.time'), value: formatTime(ev.time_ms) },
    { key: t('case.ev.service'), value: ops.serviceName(ev.service || '') },
    { key: t('case.ev.purpose'), value: tOr(`purpose.${ev.purpose}`, ev.purpose || '') },
    { key: t('case.ev.client'), value: String(ev.client || '') },
    { key: t('case.ev.officer'), value: cs.officerOf(ev.user_id) || t('ops.none') },
    { key: t('case.ev.issue'), value: ev.issue ? String(ev.issue) : t('ops.none') },
    { key: t('case.ev.subjects'), value: (ev.subjects || []).join(', ') || t('ops.none') },
    { key: t('case.ev.status'), value: Number(ev.status) >= 400 ? t('case.ev.refused', { status: ev.status }) : t('case.ev.returned') },
    { key: t('case.ev.record'), value: t('case.ev.record.value', { gateway: ev.gateway || '', seq: ev.seq ?? '', id: ev.message_id || '' }) },
    { key: t('case.ev.explanation'), value: explanationText(ev.explanation) },
  ];
  return h('div', { class: 'govuk-summary-card', id: `evidence-${i}`, dataset: { explained: String(!!(ev.explanation && ev.explanation.how)) } },
    h('div', { class: 'govuk-summary-card__title-wrapper' },
      h('h3', { class: 'govuk-summary-card__title' }, t('case.ev.title', { n: i + 1, time: formatTime(ev.time_ms) }))),
    h('div', { class: 'govuk-summary-card__content' }, g.summaryList(rows), proofBlock(c, ev, i)));
}

function historyTable(list) {
  return ops.scrollTable({
    id: 'case-history', caption: t('case.history'),
    head: [t('case.history.at'), t('case.history.actor'), t('case.history.action'), t('case.history.reason')],
    rows: list.map((x) => [formatTime(x.at_ms), String(x.actor || ''), tOr(`case.action.${x.action}`, x.action || ''), x.reason ? String(x.reason) : t('ops.none')]),
  });
}

// The triage: choose and give a reason, then confirm; the answer of the
// portal (and the monitoring service behind it) said in words.
function triage(ctx, c) {
  const slot = h('div', { id: 'triage' });
  const show = (values = { action: '', reason: '' }, errors = null) => {
    const form = h('form', { novalidate: true, id: 'triage-form' },
      h('h2', { class: 'govuk-heading-m' }, t('case.triage.title')),
      errors ? g.errorSummary(errors.summary) : null,
      g.radios({
        id: 'triage-action', name: 'action', legend: t('case.triage.action'), legendSize: 's', value: values.action,
        error: errors?.byName.action,
        items: ACTIONS.map((a) => ({ value: a, text: t(`case.triage.${a}`), hint: t(`case.triage.${a}.hint`) })),
      }),
      g.textarea({ id: 'triage-reason', name: 'reason', label: t('case.triage.reason'), hint: t('case.triage.reason.hint'), value: values.reason, error: errors?.byName.reason }),
      g.button(t('case.triage.continue'), { attrs: { id: 'triage-continue' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const v = { action: String(fd.get('action') || ''), reason: String(fd.get('reason') || '').trim() };
      if (!ACTIONS.includes(v.action)) {
        show(v, { byName: { action: t('case.triage.err.action') }, summary: [{ href: '#triage-action', text: t('case.triage.err.action') }] });
        return;
      }
      confirmStep(v);
    });
    clear(slot).append(form);
    ctx.enhance(slot);
    if (errors) slot.querySelector('.govuk-error-summary')?.focus();
  };
  const confirmStep = (v) => {
    const yes = g.button(t('case.triage.yes'), { type: 'button', variant: v.action === 'dismiss' ? 'warning' : undefined, attrs: { id: 'triage-confirm' } });
    const no = g.button(t('case.triage.no'), { type: 'button', variant: 'secondary', attrs: { id: 'triage-back' } });
    const box = h('div', { id: 'triage-check' },
      h('h2', { class: 'govuk-heading-m', tabindex: '-1', id: 'triage-check-title' }, t('case.triage.check')),
      g.summaryList([
        { key: t('case.triage.action'), value: t(`case.triage.${v.action}`) },
        { key: t('case.triage.reason'), value: v.reason || t('ops.none') },
        { key: t('case.triage.as'), value: ctx.session.official.name },
      ]),
      g.buttonGroup(yes, no));
    no.addEventListener('click', () => show(v));
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await api.post(`/api/ops/cases/${encodeURIComponent(c.id)}/triage`, { action: v.action, reason: v.reason });
        ctx.navigate(`/ops/cases/${encodeURIComponent(c.id)}`, { replace: true, flash: { type: 'triaged', action: v.action } });
      } catch (e) {
        if (!(e instanceof api.ApiError)) throw e;
        let text = e.text();
        if (e.code === 'validation' && e.fields.reason) text = t('case.triage.err.reason');
        const name = e.code === 'validation' ? 'reason' : 'action';
        show(v, { byName: { [name]: text }, summary: [{ href: `#triage-${name}`, text }] });
      }
    });
    clear(slot).append(box);
    box.querySelector('h2').focus();
  };
  show();
  return slot;
}

export async function render(ctx) {
  const c = await api.get(`/api/ops/cases/${encodeURIComponent(ctx.params.id)}`);
  const ev = Array.isArray(c.evidence) ? c.evidence : [];
  const nodes = [g.backLink('/ops/cases', t('case.back'))];
  if (ctx.flash && ctx.flash.type === 'triaged') {
    nodes.push(g.notificationBanner({ success: true, heading: t(`case.triaged.${ctx.flash.action}`) }));
  }
  nodes.push(
    g.caption(cs.kindName(c.kind)),
    g.heading(t('case.title', { id: c.id })),
    h('p', { class: 'govuk-body', id: 'case-state' }, cs.stateTag(c.state)),
    g.summaryList([
      { key: t('case.why'), value: String(c.why || '') },
      { key: t('case.reader'), value: cs.readerText(c) },
      { key: t('case.officer'), value: cs.officerOf(c.user_id) || t('ops.none') },
      { key: t('case.subject'), value: c.subject ? String(c.subject) : t('ops.none') },
      { key: t('case.opened'), value: formatTime(c.opened_ms) },
      { key: t('case.updated'), value: formatTime(c.updated_ms) },
      { key: t('case.reads'), value: ops.num(c.reads ?? ev.length) },
    ], { id: 'case-summary' }),
    h('h2', { class: 'govuk-heading-m' }, t('case.evidence', { n: ops.num(ev.length) })),
    g.p(t('case.evidence.lead')),
    h('div', { id: 'case-evidence' }, ev.map((x, i) => evidenceCard(c, x, i))),
    historyTable(Array.isArray(c.history) ? c.history : []));
  if (c.can_triage) nodes.push(triage(ctx, c));
  else if (c.state === 'confirmed' || c.state === 'dismissed') nodes.push(g.insetText(h('span', { id: 'triage-final' }, t('case.triage.final'))));
  else nodes.push(g.insetText(h('span', { id: 'triage-readonly' }, t('case.triage.readonly'))));
  return { title: t('case.title', { id: c.id }), nodes };
}
