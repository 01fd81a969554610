// "Thông tin của tôi": the citizen's population record and household as the
// portal read them through the exchange, and the social insurance
// contributions, which the provider gives only under the citizen's consent.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatMoney } from '../i18n.mjs';
import { recordRows, formatValue, serviceText } from '../format.mjs';

const CITIZEN_ORDER = ['full_name', 'pin', 'birth_date', 'sex', 'birth_province', 'permanent_address',
  'permanent_province', 'temporary_address', 'household_id', 'relation'];
const HOUSEHOLD_ORDER = ['id', 'head_pin', 'address', 'province', 'members'];

const INSURANCE_ORDER = ['from_period', 'to_period', 'employer_code', 'monthly_salary', 'rate_pct'];
const INSURANCE_HIDDEN = new Set(['id', 'pin', 'updated_at']);
const NUMERIC = new Set(['monthly_salary', 'rate_pct', 'salary_vnd', 'amount_vnd']);

function insuranceCell(k, v) {
  if (v === null || v === undefined || v === '') {
    if (k === 'employer_code') return t('ins.voluntary');
    if (k === 'to_period') return t('ins.ongoing');
    return '';
  }
  if (k === 'monthly_salary') return formatMoney(v);
  return formatValue(k, v);
}

async function insuranceSection() {
  const nodes = [h('h2', { class: 'govuk-heading-m', id: 'insurance-heading' }, t('profile.insurance'))];
  let data;
  try {
    data = await api.get('/api/insurance');
  } catch (e) {
    if (!(e instanceof api.ApiError) || e.status === 401) throw e;
    if (e.code === 'consent_required') {
      nodes.push(g.insetText(h('p', { class: 'govuk-body', id: 'insurance-consent-required' }, t('profile.insurance.required'))),
        g.linkButton('/consents', t('profile.insurance.grant'), 'secondary'));
    } else if (e.code === 'consent_refused') {
      nodes.push(h('div', { id: 'insurance-consent-refused' }, g.warningText(t('profile.insurance.refused', { message: e.detail || e.code }))),
        g.linkButton('/consents', t('profile.insurance.grant'), 'secondary'));
    } else {
      nodes.push(h('div', { id: 'insurance-error' }, g.warningText(`${t('profile.insurance.error')} ${e.text()}`)));
    }
    return h('section', { 'aria-labelledby': 'insurance-heading', id: 'insurance' }, nodes);
  }
  const rows = Array.isArray(data.contributions) ? data.contributions : [];
  if (rows.length === 0) {
    nodes.push(g.p(t('profile.insurance.empty')));
  } else if (rows.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    // The registry's bookkeeping (row id, the citizen's own pin, update
    // time) says nothing to the citizen; the periods and amounts do.
    const all = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !INSURANCE_HIDDEN.has(k));
    const keys = [...INSURANCE_ORDER.filter((k) => all.includes(k)), ...all.filter((k) => !INSURANCE_ORDER.includes(k))];
    nodes.push(g.table({
      id: 'insurance-table',
      caption: t('profile.insurance.caption'),
      captionSize: 's',
      head: keys.map((k) => tOr(`f.${k}`, k)),
      numeric: keys.map((k, i) => (NUMERIC.has(k) ? i : -1)).filter((i) => i >= 0),
      rows: rows.map((r) => keys.map((k) => insuranceCell(k, r[k]))),
    }));
  } else {
    nodes.push(h('ul', { class: 'govuk-list govuk-list--bullet', id: 'insurance-table' },
      rows.map((r) => h('li', null, formatValue('', r)))));
  }
  if (data.consent) nodes.push(h('p', { class: 'govuk-hint' }, t('profile.insurance.consent', { jti: data.consent })));
  return h('section', { 'aria-labelledby': 'insurance-heading', id: 'insurance' }, nodes);
}

export async function render() {
  const [profile, insurance] = await Promise.all([api.get('/api/profile'), insuranceSection()]);
  const nodes = [g.heading(t('profile.title'))];
  const citizen = profile.citizen || {};
  nodes.push(g.summaryCard(t('profile.citizen'), g.summaryList(recordRows(citizen, CITIZEN_ORDER), { id: 'citizen' })));
  if (profile.household && typeof profile.household === 'object') {
    nodes.push(g.summaryCard(t('profile.household'), g.summaryList(recordRows(profile.household, HOUSEHOLD_ORDER), { id: 'household' })));
  } else {
    nodes.push(h('h2', { class: 'govuk-heading-m' }, t('profile.household')), g.p(t('profile.no_household')));
  }
  if (profile.read_via && profile.read_via.service) {
    nodes.push(h('p', { class: 'govuk-hint' }, t('profile.read_via', {
      service: serviceText(profile.read_via.service), message_id: profile.read_via.message_id || '',
    })));
  }
  nodes.push(insurance);
  return { title: t('profile.title'), nodes };
}
