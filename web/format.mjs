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
  if (key === 'province' || key.endsWith('_province')) return `${provinceName(v, key)} (${v})`;
  if (ENUM_KEYS.has(key)) return tOr(`v.${v}`, v);
  if (key.endsWith('_date') || key.endsWith('_on') || key === 'date') return formatTime(String(v));
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
  const colours = { unpaid: 'yellow', submitted: null, information_requested: 'purple', approved: 'turquoise', completed: 'green', rejected: 'red', failed: 'orange' };
  return { text: tOr(`state.${state}`, state), colour: colours[state] ?? 'grey' };
}

export function memberLabel(id, prefix) {
  const key = `${prefix}.${id}`;
  return tOr(key, id);
}

// The member part of a client or service id (VN/GOV/BCA/population → VN/GOV/BCA).
function memberOf(id) {
  return String(id || '').split('/').slice(0, 3).join('/');
}

// An agency in words, never its id: the name the signed global
// configuration gives it (agency_name, from the portal), else the one the
// web UI knows, else "an agency without a name".
export function agencyText(id, name) {
  if (name) return String(name);
  return tOr(`member.${memberOf(id)}`, t('acc.unknown_agency'));
}

// A consumer (client subsystem) or a service in words.
export function consumerText(id) {
  return tOr(`consumer.${id}`, agencyText(id));
}

export function serviceText(id) {
  return tOr(`service.${id}`, t('service.other', { agency: agencyText(id) }));
}

// What a procedure is about, for lists where several of one kind must be
// told apart: the business's name, the new address.
export function procedureName(p) {
  const f = p && p.fields && typeof p.fields === 'object' ? p.fields : {};
  const name = p.kind === 'household-business' ? f.business_name : p.kind === 'residence-change' ? f.address : null;
  return name ? String(name) : tOr(`kind.${p.kind}`, t('proc.unnamed'));
}

// Who made a step of a procedure, in words: the history stores
// "citizen:{pin}", "officer:{user name}" or the portal itself.
export function actorText(actor, p) {
  const a = String(actor || '');
  if (a.startsWith('citizen:')) return p.applicant_name ? t('proc.actor.applicant', { name: p.applicant_name }) : t('proc.actor.applicant.anon');
  if (a.startsWith('treasury:')) return t('proc.actor.treasury');
  if (a.startsWith('officer:')) {
    return t('proc.actor.officer', { agency: agencyText(p.agency, p.agency_name), user: a.slice('officer:'.length) });
  }
  return t('proc.actor.system');
}
