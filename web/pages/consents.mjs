// The citizen's consents (from the consent service through the portal) and
// the form to give one. Giving one goes through a check step (GOV.UK "check
// answers"): who may read (the agency by the name the signed configuration
// registers for it), which data, for what, and from which day to which day
// in Vietnam time; "Change" and "Back" return to the form with the choices
// kept, and nothing is granted until "Confirm". Revoking goes through a
// confirmation page (consent-revoke.mjs), as GOV.UK asks for actions that
// cannot be undone.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatDate } from '../i18n.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';
import { consumerText, servicesText, consentStatus, validity, isActive } from '../consentview.mjs';
import { serviceText } from '../format.mjs';

const CONSUMERS = ['VN/GOV/VPCP/portal', 'VN/GOV/TCT/tax'];
const SERVICES = ['VN/GOV/BHXH/insurance/contributions', 'VN/GOV/BCA/population/citizens', 'VN/GOV/TCT/tax/taxpayers'];
const PURPOSES = ['public-service', 'social-insurance', 'tax-administration'];

const DAY_MS = 86_400_000;
const DAYS_MAX = 365; // the consent service's longest validity

const FIELDS = [
  { name: 'consumer', id: 'consent-consumer', label: 'con.grant.consumer' },
  { name: 'services', id: 'consent-service', label: 'con.grant.service' },
  { name: 'purpose', id: 'consent-purpose', label: 'con.grant.purpose' },
  { name: 'days', id: 'consent-days', label: 'con.grant.days' },
];

function option(value, text) {
  return { value, text };
}

export async function render(ctx) {
  const data = await api.get('/api/consents');
  const list = Array.isArray(data.consents) ? data.consents : [];
  const members = data.members && typeof data.members === 'object' ? data.members : {};
  const main = document.getElementById('main-content');

  function grantForm(values, errors) {
    const e = errors?.byName || {};
    const form = h('form', { novalidate: true, id: 'consent-form' },
      h('h2', { class: 'govuk-heading-m' }, t('con.grant')),
      g.select({ id: 'consent-consumer', name: 'consumer', label: t('con.grant.consumer'), value: values.consumer,
        error: e.consumer, options: CONSUMERS.map((c) => option(c, consumerWords(c))) }),
      g.select({ id: 'consent-service', name: 'service', label: t('con.grant.service'), value: values.service,
        error: e.services, options: SERVICES.map((s) => option(s, servicesText(s))) }),
      g.select({ id: 'consent-purpose', name: 'purpose', label: t('con.grant.purpose'), value: values.purpose,
        error: e.purpose, options: PURPOSES.map((p) => ({ value: p, text: tOr(`purpose.${p}`, p) })) }),
      g.input({ id: 'consent-days', name: 'days', label: t('con.grant.days'), hint: t('con.grant.days.hint'),
        value: values.days, error: e.days, width: '3', inputmode: 'numeric', suffix: t('con.grant.days.suffix') }),
      g.button(t('con.grant.submit'), { attrs: { id: 'grant-consent' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const v = Object.fromEntries(['consumer', 'service', 'purpose', 'days'].map((k) => [k, String(fd.get(k) ?? '').trim()]));
      if (!/^\d{1,3}$/.test(v.days) || Number(v.days) < 1 || Number(v.days) > DAYS_MAX) {
        show(v, { byName: { days: t('con.err.days') }, summary: [{ href: '#consent-days', text: t('con.err.days') }] });
        return;
      }
      showCheck(v);
    });
    return form;
  }

  // The agency that will read, as the signed configuration registers it
  // (GET /api/consents "members"), with the part of it that reads.
  function consumerWords(id) {
    const member = String(id).split('/').slice(0, 3).join('/');
    const name = members[member];
    const part = consumerText(id);
    return name && name !== part ? t('con.check.consumer.of', { part, name }) : (name || part);
  }

  // What one record of the service holds, in words: the fields its OpenAPI
  // document names (GET /api/consents/service), each by the label the
  // portal gives that field, else its own name.
  function fieldsOf(desc) {
    if (!desc || !Array.isArray(desc.fields)) return h('p', { class: 'govuk-body', id: 'check-fields-unknown' }, t('con.check.fields.unknown'));
    return h('ul', { class: 'govuk-list govuk-list--bullet', id: 'check-fields' },
      desc.fields.map((f) => h('li', { 'data-field': f }, tOr(`f.${f}`, f))));
  }

  // The check step: exactly what will be shared, with whom, for what and
  // until when; the one button that grants it.
  function checkStep(v, desc) {
    const from = Date.now();
    const to = from + Number(v.days) * DAY_MS;
    const change = (what) => [{ href: '#consent-form', text: t('con.check.change'), hidden: what }];
    const list = g.summaryList([
      { key: t('con.check.consumer'), value: h('span', { id: 'check-consumer' }, consumerWords(v.consumer)),
        actions: change(t('con.check.consumer')) },
      { key: t('con.check.service'), value: [h('p', { class: 'govuk-body', id: 'check-service' }, serviceText(v.service)),
        h('p', { class: 'govuk-body govuk-!-margin-bottom-1' }, t('con.check.fields')), fieldsOf(desc)],
      actions: change(t('con.check.service')) },
      { key: t('con.check.purpose'), value: h('span', { id: 'check-purpose' }, tOr(`purpose.${v.purpose}`, v.purpose)),
        actions: change(t('con.check.purpose')) },
      { key: t('con.check.valid'), value: h('span', { id: 'check-valid' },
        t('con.check.valid.range', { from: formatDate(from), to: formatDate(to), days: v.days })),
        actions: change(t('con.check.valid')) },
    ], { id: 'check-answers' });
    list.querySelectorAll('.govuk-summary-list__actions a').forEach((a) => a.addEventListener('click', (ev) => {
      ev.preventDefault();
      show(v);
    }));
    const form = h('form', { novalidate: true, id: 'confirm-consent-form' },
      g.warningText(t('con.check.warn')),
      g.button(t('con.check.confirm'), { attrs: { id: 'confirm-consent' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      form.querySelector('button[type=submit]').disabled = true;
      api.post('/api/consents', { consumer: v.consumer, services: [v.service], purpose: v.purpose, days: Number(v.days) })
        .then(() => ctx.navigate('/consents', { replace: true, flash: { type: 'granted' } }))
        .catch((err) => showErrors(v, err));
    });
    const back = g.backLink('#consent-form', t('con.check.back'));
    back.addEventListener('click', (ev) => {
      ev.preventDefault();
      show(v);
    });
    return [back, g.heading(t('con.check.title')), g.p(t('con.check.lead', { page: t('acc.title') })), list, form];
  }

  async function showCheck(v) {
    let desc = null;
    try {
      desc = await api.get(`/api/consents/service?id=${encodeURIComponent(v.service)}`);
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
      // else the step says the description could not be had
    }
    clear(main).append(...checkStep(v, desc));
    document.title = `${t('con.check.title')} — ${t('service.name')}`;
    ctx.enhance(main);
    ctx.focusPage();
  }

  // Back to the list and the form, the choices kept.
  function show(v, errors = null) {
    clear(main).append(...build(v, errors, null));
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${t('con.title')} — ${t('service.name')}`;
    ctx.enhance(main);
    if (errors) ctx.focusPage();
    else main.querySelector('#consent-form h2')?.scrollIntoView();
  }

  function build(values, errors, flash) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    if (flash === 'granted') nodes.push(g.notificationBanner({ success: true, heading: t('con.granted') }));
    if (flash === 'revoked') nodes.push(g.notificationBanner({ success: true, heading: t('con.revoked') }));
    nodes.push(g.heading(t('con.title')), g.p(t('con.lead')));
    if (list.length === 0) {
      nodes.push(g.p(t('con.empty')));
    } else {
      nodes.push(g.table({
        id: 'consents',
        caption: t('con.caption'),
        head: [t('con.consumer'), t('con.services'), t('con.purpose'), t('con.valid'), t('con.status'), t('con.action')],
        rows: list.map((c) => [
          consumerWords(c.consumer),
          servicesText(c.services),
          tOr(`purpose.${c.purpose}`, c.purpose ?? ''),
          validity(c),
          consentStatus(c),
          isActive(c)
            ? g.link(`/consents/${encodeURIComponent(c.jti)}/revoke`, t('con.revoke'), { 'data-jti': c.jti, class: 'govuk-link ndx-revoke' })
            : '',
        ]).map((cells, i) => {
          // screen readers hear which consent each "Revoke" link is for
          const a = cells[5];
          if (a instanceof Node) a.append(g.hidden(` ${t('con.revoke.hidden', { jti: list[i].jti })}`));
          return cells;
        }),
      }));
    }
    nodes.push(grantForm(values, errors));
    return nodes;
  }

  function showErrors(values, err) {
    if (err instanceof api.ApiError && err.status === 401) {
      ctx.rerender();
      return;
    }
    let errors;
    if (err instanceof api.ApiError && err.code === 'validation' && Object.keys(err.fields).length) {
      errors = mapFieldErrors(FIELDS.map((f) => ({ ...f, label: t(f.label) })), err.fields);
    } else {
      errors = { byName: {}, summary: [{ text: err instanceof api.ApiError ? err.text() : t('api.unknown') }] };
    }
    clear(main).append(...build(values, errors, null));
    document.title = `${t('error.prefix')} ${t('con.title')} — ${t('service.name')}`;
    ctx.enhance(main);
    ctx.focusPage();
  }

  const defaults = { consumer: CONSUMERS[0], service: SERVICES[0], purpose: PURPOSES[0], days: '90' };
  return { title: t('con.title'), nodes: build(defaults, null, ctx.flash?.type) };
}
