// Turning registry records and procedure fields into text for people: known
// keys get translated labels and enum values, province codes their names,
// dates the reader's format. Unknown keys the registries may add are still
// shown, under their own name, rather than hidden.

import { t, tOr, formatTime, formatMoney } from './i18n.mjs';
import { provinceName } from './provinces.mjs';

const ENUM_KEYS = new Set(['sex', 'relation']);

export function formatValue(key, v) {
  if (v === null || v === undefined || v === '') return t('none');
  if (Array.isArray(v)) return v.map((x) => formatValue(key, x)).join(', ');
  if (typeof v === 'object') {
    if ('full_name' in v) return String(v.full_name);
    return JSON.stringify(v);
  }
  if (typeof v === 'boolean') return v ? t('yes') : t('no');
  if (key === 'province' || key.endsWith('_province')) return `${provinceName(v)} (${v})`;
  if (ENUM_KEYS.has(key)) return tOr(`v.${v}`, v);
  if (key.endsWith('_date') || key === 'date') return formatTime(String(v));
  if (key.endsWith('_at') || key === 'time') return formatTime(v);
  if (key.endsWith('_vnd')) return `${formatMoney(v)} ₫`;
  return String(v);
}

// Rows for a summary list: `order` first, then whatever else the record has.
export function recordRows(record, order, labelPrefix = 'f.') {
  const keys = [...order.filter((k) => k in record), ...Object.keys(record).filter((k) => !order.includes(k))];
  return keys.map((k) => ({ key: tOr(`${labelPrefix}${k}`, tOr(`f.${k}`, k)), value: formatValue(k, record[k]) }));
}

export function stateTag(state) {
  const colours = { submitted: null, approved: 'turquoise', completed: 'green', rejected: 'red', failed: 'orange' };
  return { text: tOr(`state.${state}`, state), colour: colours[state] ?? 'grey' };
}

export function memberLabel(id, prefix) {
  const key = `${prefix}.${id}`;
  return tOr(key, id);
}
