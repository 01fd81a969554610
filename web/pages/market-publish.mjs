// Publishing a dataset in the marketplace (POST /api/market/datasets), for
// a member's officers and agency officials: the dataset's DCAT-AP
// description (title and description in Vietnamese and English, themes,
// licence, update frequency, an optional JSON sample) and one to eight
// offers, each a usage policy of the ODRL subset built from plain fields
// (purposes, consumer classes, methods, validity, maximum calls a period,
// price, no onward transfer). The portal reads each offer back with the
// registry's own parser and the registry checks the whole; every error is
// said at its field (docs/portal.md "The marketplace").

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';

const THEMES = ['AGRI', 'ECON', 'EDUC', 'ENER', 'ENVI', 'GOVE', 'HEAL', 'INTR', 'JUST', 'REGI', 'SOCI', 'TECH', 'TRAN'];
const FREQUENCIES = ['CONT', 'DAILY', 'WEEKLY', 'MONTHLY', 'QUARTERLY', 'ANNUAL', 'IRREG', 'UNKNOWN'];
const CLASSES = ['state', 'enterprise', 'research'];
const METHODS = ['GET', 'HEAD', 'POST'];
const OFFERS_MAX = 8;
const CC_BY = 'https://creativecommons.org/licenses/by/4.0/';

function newOffer() {
  return { purposes: '', classes: [...CLASSES], methods: [], validity_days: '', max_calls: '', period: 'day', max_age_minutes: '', price_vnd: '', price_unit: 'call', no_onward_transfer: true };
}

// A whole number typed in a field as a number (the server judges its
// range), the text itself when it is not one (the server says so), absent
// when empty.
function num(v) {
  const s = String(v ?? '').trim();
  if (!s) return undefined;
  return /^[0-9]{1,15}$/.test(s) ? Number(s) : s;
}

// The form's field of a server's field name: "offers.0.max_calls" is the
// first offer's "offer-1-max_calls".
function fieldId(name) {
  const m = /^offers\.([0-9]+)\.?(.*)$/.exec(name);
  if (m) return m[2] && m[2] !== 'offer' ? `offer-${Number(m[1]) + 1}-${m[2]}` : `offer-${Number(m[1]) + 1}`;
  return name;
}

function fieldText(name, code) {
  const field = name.replace(/^offers\.[0-9]+\./, 'offer.');
  return tOr(`mk.pub.err.${field}.${code}`, tOr(`mk.pub.err.${field}`, t('mk.pub.err.field')));
}

export async function render(ctx) {
  const me = await api.get('/api/market/me').catch(() => null);
  const root = h('div', null);
  const title = t('mk.pub.title');
  const v = { service: '', title_vi: '', title_en: '', description_vi: '', description_en: '', themes: [], license: CC_BY, frequency: 'DAILY', sample: '', offers: [newOffer()] };

  const read = (form) => {
    const fd = new FormData(form);
    const s = (k) => String(fd.get(k) ?? '').trim();
    // Descriptions are one paragraph of display text: line breaks become spaces.
    const para = (k) => s(k).replace(/\s*[\r\n]+\s*/g, ' ');
    Object.assign(v, { service: s('service'), title_vi: s('title_vi'), title_en: s('title_en'),
      description_vi: para('description_vi'), description_en: para('description_en'),
      themes: fd.getAll('themes').map(String), license: s('license'), frequency: s('frequency'), sample: s('sample') });
    v.offers = v.offers.map((_, i) => {
      const p = `offer-${i + 1}-`;
      return { purposes: s(`${p}purposes`), classes: fd.getAll(`${p}classes`).map(String), methods: fd.getAll(`${p}methods`).map(String),
        validity_days: s(`${p}validity_days`), max_calls: s(`${p}max_calls`), period: s(`${p}period`), max_age_minutes: s(`${p}max_age_minutes`),
        price_vnd: s(`${p}price_vnd`), price_unit: s(`${p}price_unit`) || 'call', no_onward_transfer: fd.getAll(`${p}no_onward_transfer`).length > 0 };
    });
  };

  const body = () => ({
    service: v.service, title_vi: v.title_vi, title_en: v.title_en, description_vi: v.description_vi, description_en: v.description_en,
    themes: v.themes, license: v.license, frequency: v.frequency, ...(v.sample ? { sample: v.sample } : {}),
    offers: v.offers.map((o) => {
      const x = { purposes: o.purposes ? o.purposes.split(',').map((p) => p.trim()).filter(Boolean) : [], classes: o.classes, methods: o.methods, no_onward_transfer: o.no_onward_transfer };
      const days = num(o.validity_days); const calls = num(o.max_calls); const price = num(o.price_vnd);
      const age = num(o.max_age_minutes);
      if (days !== undefined) x.validity_days = days;
      if (age !== undefined) x.max_age_minutes = age;
      if (calls !== undefined) { x.max_calls = calls; x.period = o.period; }
      if (price !== undefined) { x.price_vnd = price; if (price !== 0) x.price_unit = o.price_unit; }
      return x;
    }),
  });

  const offerFields = (o, i, err) => {
    const p = `offer-${i + 1}-`;
    return h('div', { class: 'ndx-offer-form', id: `offer-${i + 1}`, 'data-offer-index': String(i) },
      g.fieldset(t('mk.offer', { n: i + 1 }), [
        g.input({ id: `${p}purposes`, label: t('mk.pub.purposes'), hint: t('mk.pub.purposes.hint'), value: o.purposes, optional: true, spellcheck: false, error: err(`${p}purposes`) }),
        g.checkboxes({ id: `${p}classes`, legend: t('mk.terms.classes'), hint: t('mk.pub.classes.hint'), values: o.classes, error: err(`${p}classes`),
          items: CLASSES.map((c) => ({ value: c, text: t(`mk.class.${c}`) })) }),
        g.checkboxes({ id: `${p}methods`, legend: t('mk.terms.methods'), hint: t('mk.pub.methods.hint'), values: o.methods, error: err(`${p}methods`),
          items: METHODS.map((m) => ({ value: m, text: m })) }),
        g.input({ id: `${p}validity_days`, label: t('mk.pub.validity'), hint: t('mk.pub.validity.hint'), value: o.validity_days, width: '5', inputmode: 'numeric', optional: true, error: err(`${p}validity_days`) }),
        g.input({ id: `${p}max_calls`, label: t('mk.terms.calls'), hint: t('mk.pub.calls.hint'), value: o.max_calls, width: '10', inputmode: 'numeric', optional: true, error: err(`${p}max_calls`) }),
        g.select({ id: `${p}period`, label: t('mk.pub.period'), value: o.period, error: err(`${p}period`),
          options: ['hour', 'day', 'month'].map((x) => ({ value: x, text: t(`mk.pub.period.${x}`) })) }),
        g.input({ id: `${p}max_age_minutes`, label: t('mk.pub.data_age'), hint: t('mk.pub.data_age.hint'), value: o.max_age_minutes, width: '10', inputmode: 'numeric', optional: true, error: err(`${p}max_age_minutes`) }),
        g.input({ id: `${p}price_vnd`, label: t('mk.pub.price'), hint: t('mk.pub.price.hint'), value: o.price_vnd, width: '10', inputmode: 'numeric', optional: true, suffix: '₫', error: err(`${p}price_vnd`) }),
        g.radios({ id: `${p}price_unit`, legend: t('mk.pub.price_unit'), legendSize: 's', value: o.price_unit, error: err(`${p}price_unit`),
          items: ['call', 'month'].map((x) => ({ value: x, text: t(`mk.pub.price_unit.${x}`) })) }),
        g.checkboxes({ id: `${p}no_onward_transfer`, legend: t('mk.terms.onward'), values: o.no_onward_transfer ? ['yes'] : [], error: err(`${p}no_onward_transfer`),
          items: [{ value: 'yes', text: t('mk.terms.no_onward') }] }),
      ]));
  };

  const draw = (errors = []) => {
    const byId = Object.fromEntries(errors.map((e) => [e.href.slice(1), e.text]));
    const err = (id) => byId[id];
    const nodes = [g.backLink('/market/published', t('mk.pub.list.title'))];
    if (errors.length) nodes.push(g.errorSummary(errors));
    nodes.push(g.heading(title), g.p(t('mk.pub.lead')));
    if (me && !me.enrolled) nodes.push(g.warningText(t('mk.err.not_enrolled')));
    const form = h('form', { novalidate: true, id: 'publish-form' },
      h('h2', { class: 'govuk-heading-m' }, t('mk.description')),
      g.input({ id: 'service', label: t('mk.pub.service'), hint: t('mk.pub.service.hint', { member: me?.member ?? '' }), value: v.service, spellcheck: false, autocomplete: 'off', error: err('service') }),
      g.input({ id: 'title_vi', label: t('mk.pub.title_vi'), value: v.title_vi, error: err('title_vi') }),
      g.input({ id: 'title_en', label: t('mk.pub.title_en'), value: v.title_en, error: err('title_en') }),
      g.textarea({ id: 'description_vi', label: t('mk.pub.description_vi'), value: v.description_vi, error: err('description_vi') }),
      g.textarea({ id: 'description_en', label: t('mk.pub.description_en'), value: v.description_en, error: err('description_en') }),
      g.checkboxes({ id: 'themes', legend: t('mk.dcat.theme'), hint: t('mk.pub.themes.hint'), values: v.themes, error: err('themes'),
        items: THEMES.map((x) => ({ value: x, text: tOr(`mk.theme.${x}`, x) })) }),
      g.input({ id: 'license', label: t('mk.dcat.license'), hint: t('mk.pub.license.hint'), value: v.license, spellcheck: false, error: err('license') }),
      g.select({ id: 'frequency', label: t('mk.dcat.frequency'), value: v.frequency, error: err('frequency'),
        options: FREQUENCIES.map((x) => ({ value: x, text: t(`mk.freq.${x}`) })) }),
      g.textarea({ id: 'sample', label: t('mk.dcat.sample'), hint: t('mk.pub.sample.hint'), value: v.sample, optional: true, error: err('sample') }),
      h('h2', { class: 'govuk-heading-m' }, t('mk.offers.title')),
      err('offers') ? h('p', { class: 'govuk-error-message', id: 'offers' }, err('offers')) : null,
      ...v.offers.map((o, i) => offerFields(o, i, err)));
    if (v.offers.length < OFFERS_MAX) {
      const add = g.button(t('mk.pub.add_offer'), { type: 'button', variant: 'secondary', attrs: { id: 'add-offer' } });
      add.addEventListener('click', () => { read(form); v.offers.push(newOffer()); draw(); document.getElementById(`offer-${v.offers.length}-purposes`)?.focus(); });
      form.append(add);
    }
    const submit = g.button(t('mk.pub.submit'), { attrs: { id: 'publish' } });
    form.append(submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      read(form);
      submit.disabled = true;
      try {
        const d = await api.post('/api/market/datasets', body());
        await ctx.navigate('/market/published', { flash: { type: 'published', id: d.id } });
      } catch (e) {
        if (e instanceof api.ApiError && e.code === 'validation' && Object.keys(e.fields).length) {
          draw(Object.entries(e.fields).map(([name, code]) => ({ href: `#${fieldId(name)}`, text: fieldText(name, code) })));
        } else {
          draw([{ href: '#publish-form', text: e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown') }]);
        }
      }
    });
    nodes.push(form);
    clear(root).append(...nodes);
    // The first drawing is not in the page yet: the app enhances it once it is
    // (GOV.UK Frontend's radios look their conditional reveals up by id).
    if (root.isConnected) ctx.enhance(root);
    if (errors.length) ctx.focusPage();
  };
  draw();
  return { title, nodes: [root] };
}
