// The two online procedures' forms. What the registries already know about
// the applicant comes from /api/prefill/{kind} and is shown, not asked for
// ("once only"); form fields whose names the prefill also carries start
// with its value. Validation is the portal's: the form has novalidate, and a
// 422 comes back as the GOV.UK error summary plus inline messages.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import { PROVINCES } from '../provinces.mjs';
import { recordRows } from '../format.mjs';
import { mapFieldErrors } from '../fielderrors.mjs';

const FORMS = {
  'household-business': {
    known: ['owner_name', 'owner_pin', 'owner_birth_date', 'owner_address'],
    fields: [
      { name: 'business_name', type: 'input', label: 'hb.business_name', hint: 'hb.business_name.hint' },
      { name: 'business_line', type: 'input', label: 'hb.business_line' },
      { name: 'province', type: 'province', label: 'hb.province', hint: 'form.province.hint' },
      { name: 'commune', type: 'input', label: 'hb.commune', hint: 'form.commune.hint', autocomplete: 'address-level2' },
      { name: 'address', type: 'input', label: 'hb.address', hint: 'form.address.hint', autocomplete: 'address-line1' },
      { name: 'capital_vnd', type: 'input', label: 'hb.capital_vnd', hint: 'hb.capital_vnd.hint', inputmode: 'numeric',
        width: '10', suffix: 'hb.capital_vnd.suffix', integer: true },
    ],
  },
  'residence-change': {
    known: ['full_name', 'pin', 'permanent_address', 'permanent_province'],
    fields: [
      { name: 'province', type: 'province', label: 'rc.province', hint: 'form.province.hint' },
      { name: 'commune', type: 'input', label: 'rc.commune', hint: 'form.commune.hint', autocomplete: 'address-level2' },
      { name: 'address', type: 'input', label: 'rc.address', hint: 'form.address.hint', autocomplete: 'address-line1' },
      { name: 'reason', type: 'textarea', label: 'rc.reason', optional: true },
    ],
  },
};

function fieldId(name) {
  return `field-${name.replace(/_/g, '-')}`;
}

function fieldNode(f, value, error) {
  const common = { id: fieldId(f.name), name: f.name, label: t(f.label), hint: f.hint ? t(f.hint) : null, value, error };
  if (f.type === 'province') {
    return g.select({
      ...common,
      options: [{ value: '', text: t('form.province.choose') }, ...PROVINCES.map(([code, name]) => ({ value: code, text: name }))],
    });
  }
  if (f.type === 'textarea') return g.textarea({ ...common, optional: f.optional });
  return g.input({
    ...common,
    inputmode: f.inputmode,
    width: f.width,
    autocomplete: f.autocomplete,
    suffix: f.suffix ? t(f.suffix) : null,
    spellcheck: f.integer ? false : undefined,
  });
}

function collect(form, spec) {
  const fd = new FormData(form);
  const out = {};
  for (const f of spec.fields) {
    const v = String(fd.get(f.name) ?? '').trim();
    if (f.integer) {
      // People write 50.000.000 or 50 000 000; the API wants an integer.
      const digits = v.replace(/[\s.,]/g, '');
      out[f.name] = /^\d{1,15}$/.test(digits) ? Number(digits) : v;
    } else {
      out[f.name] = v;
    }
  }
  return out;
}

export async function render(ctx) {
  const kind = ctx.route.kind;
  const spec = FORMS[kind];
  const prefill = (await api.get(`/api/prefill/${kind}`)).fields || {};
  const main = document.getElementById('main-content');
  const title = t(`kind.${kind}`);
  const initial = {};
  for (const f of spec.fields) if (f.name in prefill && prefill[f.name] != null) initial[f.name] = String(prefill[f.name]);
  const known = {};
  for (const [k, v] of Object.entries(prefill)) if (!spec.fields.some((f) => f.name === k)) known[k] = v;

  function build(values, errors) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    nodes.push(g.backLink('/procedures', t('back')));
    nodes.push(g.heading(title));
    nodes.push(h('h2', { class: 'govuk-heading-m' }, t('form.known')));
    nodes.push(h('p', { class: 'govuk-hint' }, t('form.known.hint')));
    nodes.push(g.summaryList(recordRows(known, spec.known, 'pf.'), { id: 'prefill' }));
    const form = h('form', { novalidate: true, id: 'procedure-form', 'data-kind': kind },
      g.fieldset(t('form.details'), spec.fields.map((f) => fieldNode(f, values[f.name] ?? '', errors?.byName[f.name]))),
      g.button(t('form.submit'), { attrs: { id: 'submit-procedure' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submit(form).catch((e) => showErrors(collect(form, spec), e));
    });
    nodes.push(form);
    return nodes;
  }

  function showErrors(values, e) {
    if (e instanceof api.ApiError && e.status === 401) {
      ctx.rerender();
      return;
    }
    const labels = spec.fields.map((f) => ({ name: f.name, id: fieldId(f.name), label: t(f.label), choice: f.type === 'province' }));
    let errors;
    if (e instanceof api.ApiError && e.code === 'validation' && Object.keys(e.fields).length) {
      errors = mapFieldErrors(labels, e.fields);
    } else if (e instanceof api.ApiError && e.code === 'conflict' && kind === 'household-business') {
      const msg = t('err.conflict.business_name');
      errors = { byName: { business_name: msg }, summary: [{ href: `#${fieldId('business_name')}`, text: msg }] };
    } else {
      errors = { byName: {}, summary: [{ text: e instanceof api.ApiError ? e.text() : t('api.unknown') }] };
    }
    const strValues = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
    clear(main).append(...build(strValues, errors));
    document.title = `${t('error.prefix')} ${title} — ${t('service.name')}`;
    ctx.enhance(main);
    ctx.focusPage();
  }

  async function submit(form) {
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const proc = await api.post('/api/procedures', { kind, fields: collect(form, spec) });
      await ctx.navigate(`/procedures/${encodeURIComponent(proc.id)}`, { flash: { type: 'submitted' } });
    } finally {
      button.disabled = false;
    }
  }

  return { title, nodes: build(initial, null) };
}
