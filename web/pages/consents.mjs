// The citizen's consents (from the consent service through the portal) and
// the form to give one. Revoking goes through a confirmation page
// (consent-revoke.mjs), as GOV.UK asks for actions that cannot be undone.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';
import { consumerText, servicesText, consentStatus, validity, isActive } from '../consentview.mjs';

const CONSUMERS = ['VN/GOV/VPCP/portal', 'VN/GOV/TCT/tax'];
const SERVICES = ['VN/GOV/BHXH/insurance/contributions', 'VN/GOV/BCA/population/citizens', 'VN/GOV/TCT/tax/taxpayers'];
const PURPOSES = ['public-service', 'social-insurance', 'tax-administration'];

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
  const main = document.getElementById('main-content');

  function grantForm(values, errors) {
    const e = errors?.byName || {};
    const form = h('form', { novalidate: true, id: 'consent-form' },
      h('h2', { class: 'govuk-heading-m' }, t('con.grant')),
      g.select({ id: 'consent-consumer', name: 'consumer', label: t('con.grant.consumer'), value: values.consumer,
        error: e.consumer, options: CONSUMERS.map((c) => option(c, consumerText(c))) }),
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
      const days = /^\d{1,4}$/.test(v.days) ? Number(v.days) : v.days;
      form.querySelector('button[type=submit]').disabled = true;
      api.post('/api/consents', { consumer: v.consumer, services: [v.service], purpose: v.purpose, days })
        .then(() => ctx.navigate('/consents', { replace: true, flash: { type: 'granted' } }))
        .catch((err) => showErrors(v, err));
    });
    return form;
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
          consumerText(c.consumer),
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
