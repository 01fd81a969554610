// The marketplace's shared words (docs/portal.md "The marketplace"): an
// offer's terms (the ODRL subset the portal reads, docs/marketplace.md) and
// a negotiation's state, said in the page's language. Nothing the API
// returns is inserted as HTML.

import { h } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, tOr, lang, formatMoney } from './i18n.mjs';

// A DCAT-AP language map {vi, en} in the page's language (the other one
// when it is missing).
export function inLang(pair) {
  if (!pair || typeof pair !== 'object') return '';
  return String(pair[lang()] ?? pair.vi ?? pair.en ?? '');
}

// The terms of an offer as summary-list rows, each a plain sentence.
export function termsRows(terms) {
  const x = terms && typeof terms === 'object' ? terms : {};
  const purposes = Array.isArray(x.purposes) && x.purposes.length
    ? x.purposes.map((p) => tOr(`purpose.${p}`, p)).join(', ') : t('mk.terms.any_purpose');
  const classes = Array.isArray(x.classes) && x.classes.length < 3
    ? x.classes.map((c) => t(`mk.class.${c}`)).join(', ') : t('mk.terms.every_class');
  const validity = x.validity_days ? t('mk.terms.days', { n: x.validity_days }) : t('mk.terms.no_end');
  const calls = x.max_calls ? t(`mk.terms.calls.${x.period || 'day'}`, { n: formatMoney(x.max_calls) }) : t('mk.terms.no_limit');
  const age = x.max_age_s > 0 ? ageText(x.max_age_s) : t('mk.terms.any_age');
  const price = x.price_vnd > 0 ? t(`mk.terms.price.${x.price_unit || 'call'}`, { amount: formatMoney(x.price_vnd) }) : t('mk.terms.free');
  const rows = [
    { key: t('mk.terms.purposes'), value: h('span', { 'data-term': 'purposes' }, purposes) },
    { key: t('mk.terms.classes'), value: h('span', { 'data-term': 'classes' }, classes) },
    { key: t('mk.terms.validity'), value: h('span', { 'data-term': 'validity' }, validity) },
    { key: t('mk.terms.calls'), value: h('span', { 'data-term': 'calls' }, calls) },
    { key: t('mk.terms.data_age'), value: h('span', { 'data-term': 'data_age' }, age) },
    { key: t('mk.terms.price'), value: h('span', { 'data-term': 'price' }, price) },
  ];
  if (Array.isArray(x.methods)) rows.push({ key: t('mk.terms.methods'), value: x.methods.join(', ') });
  if (x.no_onward_transfer) rows.push({ key: t('mk.terms.onward'), value: t('mk.terms.no_onward') });
  return rows;
}

// The data-age limit (ndx:dataAge, seconds) in the largest unit that
// divides it, as the registry writes it (P2D, PT6H, PT15M, PT30S).
function ageText(s) {
  const n = Number(s);
  const [unit, size] = n % 86400 === 0 ? ['d', 86400] : n % 3600 === 0 ? ['h', 3600] : n % 60 === 0 ? ['m', 60] : ['s', 1];
  const k = n / size;
  return t(`mk.terms.age.${unit}${k === 1 ? '.one' : ''}`, { n: formatMoney(k) });
}

export function negStateTag(state) {
  const colours = { REQUESTED: 'blue', OFFERED: 'yellow', ACCEPTED: 'turquoise', AGREED: 'turquoise', VERIFIED: 'turquoise', FINALIZED: 'green', TERMINATED: 'red' };
  return g.tag(tOr(`mk.state.${state}`, String(state)), colours[state] || 'grey');
}

// A member in words: the name the catalogue gave, else the web UI's own.
export function memberText(id, name) {
  if (name) return String(name);
  return tOr(`member.${id}`, t('mk.unknown_member'));
}

// An id (urn:uuid:…) as a path segment: percent-encoded but for its
// colons, which a path segment may hold and the portal reads as sent.
export function idSegment(id) {
  return encodeURIComponent(String(id)).replace(/%3A/gi, ':');
}
