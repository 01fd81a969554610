// One procedure as the citizen and the officer both see it: its summary,
// the fields filed, the result, and the history of its states.

import { h } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, tOr, formatTime } from './i18n.mjs';
import { actorText, agencyText, formatValue, stateTag } from './format.mjs';

const FIELD_LABELS = {
  'household-business': { business_name: 'hb.business_name', business_line: 'hb.business_line', province: 'hb.province',
    commune: 'hb.commune', address: 'hb.address', capital_vnd: 'hb.capital_vnd' },
  'residence-change': { province: 'rc.province', commune: 'rc.commune', address: 'rc.address', reason: 'rc.reason' },
};

export function procedureSummary(p) {
  const st = stateTag(p.state);
  const rows = [
    { key: t('proc.id'), value: String(p.reference) },
    { key: t('proc.kind'), value: tOr(`kind.${p.kind}`, p.kind) },
    { key: t('proc.state'), value: h('span', { id: 'procedure-state', 'data-state': p.state }, g.tag(st.text, st.colour)) },
    { key: t('proc.applicant'), value: `${p.applicant_name || ''}${p.subject ? ` (${p.subject})` : ''}` },
    { key: t('proc.agency'), value: h('span', { id: 'procedure-agency' }, agencyText(p.agency, p.agency_name)) },
    ...(p.fee_vnd ? [{ key: t('proc.fee'), value: h('span', { id: 'procedure-fee' }, formatValue('fee_vnd', p.fee_vnd)) }] : []),
    { key: t('proc.created'), value: formatTime(p.created_at) },
    { key: t('proc.updated'), value: formatTime(p.updated_at) },
  ];
  if (p.result && typeof p.result === 'object') {
    for (const [k, v] of Object.entries(p.result)) {
      rows.push({ key: tOr(`result.${k}`, k), value: h('span', { id: `result-${k.replace(/_/g, '-')}` }, formatValue(k, v)) });
    }
  }
  return g.summaryList(rows, { id: 'procedure-summary' });
}

export function procedureFields(p) {
  const labels = FIELD_LABELS[p.kind] || {};
  const fields = p.fields && typeof p.fields === 'object' ? p.fields : {};
  return [
    h('h2', { class: 'govuk-heading-m' }, t('proc.fields')),
    g.summaryList(Object.entries(fields).map(([k, v]) => ({
      key: labels[k] ? t(labels[k]) : tOr(`f.${k}`, k),
      value: formatValue(k, v),
    })), { id: 'procedure-fields' }),
  ];
}

export function procedureHistory(p) {
  const hist = Array.isArray(p.history) ? p.history : [];
  return g.table({
    id: 'procedure-history',
    caption: t('proc.history'),
    head: [t('proc.history.at'), t('proc.state'), t('proc.history.actor'), t('proc.history.note')],
    rows: hist.map((e) => {
      const st = stateTag(e.state);
      return [formatTime(e.at), g.tag(st.text, st.colour), actorText(e.actor, p), String(e.note ?? '')];
    }),
  });
}
