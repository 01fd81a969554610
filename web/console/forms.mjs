// The console's forms (docs/console.md "Pages"): one change through the
// management API a form. A form's fields are described as data; on submit
// the required ones are checked on the page, then the body goes to the API,
// and a refusal comes back on the same page: an error summary at the top,
// the message beside the field the registry named (its `detail` starts with
// the field, "name: a control character at byte 3 is not allowed"), or
// above the form when it named none (403, 404, 409). A success goes back to
// the page with a banner naming the new configuration version.

import * as api from './rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

// A field of the body: {name, kind: 'input' | 'textarea' | 'bool' | 'select'
// | 'file' | 'list', label, hint, options (select), optional}. 'list' is a
// textarea of one value a line (an array in the body), 'bool' a yes/no
// checkbox, 'file' a JSON file read in the browser.
function fieldNode(formId, f, value, error) {
  const id = `${formId}-${f.name}`;
  if (f.kind === 'textarea' || f.kind === 'list') {
    return g.textarea({ id, name: f.name, label: f.label, hint: f.hint, value: value ?? '', error, optional: f.optional, rows: f.rows || 3 });
  }
  if (f.kind === 'select') {
    return g.select({ id, name: f.name, label: f.label, hint: f.hint, options: f.options, value: value ?? f.options[0].value, error });
  }
  if (f.kind === 'bool') {
    return g.checkboxes({ id, name: f.name, legend: f.label, hint: f.hint, items: [{ value: 'yes', text: t('yes') }], values: value ? ['yes'] : [], error });
  }
  if (f.kind === 'file') {
    return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
      h('label', { class: 'govuk-label', for: id }, f.label, f.optional ? ` ${t('optional')}` : null),
      f.hint ? h('div', { id: `${id}-hint`, class: 'govuk-hint' }, f.hint) : null,
      error ? h('p', { id: `${id}-error`, class: 'govuk-error-message' }, h('span', { class: 'govuk-visually-hidden' }, t('error.prefix')), ' ', error) : null,
      h('input', {
        class: ['govuk-file-upload', error && 'govuk-file-upload--error'], id, name: f.name, type: 'file', accept: f.accept,
        'aria-describedby': [f.hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || null,
      }));
  }
  return g.input({ id, name: f.name, label: f.label, hint: f.hint, value: value ?? '', error, optional: f.optional, spellcheck: false, width: f.width });
}

async function readField(form, f) {
  const el = form.elements[f.name];
  if (f.kind === 'bool') return !!form.querySelector(`input[name="${f.name}"]:checked`);
  if (f.kind === 'list') return el.value.split('\n').map((x) => x.trim()).filter(Boolean);
  if (f.kind === 'file') {
    const file = el.files && el.files[0];
    if (!file) return undefined;
    const text = await file.text();
    try { return { parsed: JSON.parse(text), name: file.name }; } catch { return { bad: file.name }; }
  }
  return el.value.trim();
}

// The field of the API's 400 detail ("field: why", "bulk_purposes[1]: why").
function fieldOf(detail, fields) {
  const m = /^([a-z_]+)(\[\d+\])?:/.exec(detail || '');
  return m && fields.some((f) => f.name === m[1]) ? m[1] : null;
}

// The error summary for a page's forms' errors (state.forms[id].errors).
export function summary(state) {
  const items = [];
  for (const [formId, s] of Object.entries(state.forms || {})) {
    for (const [k, text] of Object.entries(s.errors || {})) {
      items.push({ href: k === '' ? `#${formId}` : `#${formId}-${k}`, text });
    }
  }
  return items.length ? g.errorSummary(items) : null;
}

// Renders the page again with state (its forms' values and errors) and
// moves the focus to the error summary.
export async function redraw(ctx, render, state) {
  const out = await render(ctx, state);
  const main = document.getElementById('main-content');
  main.replaceChildren(...out.nodes);
  main.querySelector('.govuk-error-summary')?.focus();
}

// A form: {id, legend, fields, button, body(values) -> API body or
// {errors}, send(body) -> promise of the API's answer, done(answer) ->
// {to, text} where to go and the banner}. ctx.render is the page's render.
export function form(ctx, state, spec) {
  const mine = (state.forms || {})[spec.id] || {};
  const values = mine.values || spec.initial || {};
  const errors = mine.errors || {};
  return h('form', {
    id: spec.id, novalidate: true,
    on: { submit: (ev) => submit(ev, ctx, state, spec) },
  },
  g.fieldset(spec.legend, [
    errors[''] ? h('p', { class: 'govuk-error-message', id: `${spec.id}-refusal` }, errors['']) : null,
    ...spec.fields.map((f) => fieldNode(spec.id, f, f.kind === 'file' ? undefined : values[f.name], errors[f.name])),
    g.button(spec.button, { attrs: { id: `${spec.id}-submit` } }),
  ], { size: 'm' }));
}

async function submit(ev, ctx, state, spec) {
  ev.preventDefault();
  const values = {};
  const errors = {};
  for (const f of spec.fields) {
    values[f.name] = await readField(ev.target, f);
    const v = values[f.name];
    if (f.kind === 'file' && v && v.bad) errors[f.name] = t('con.form.err.json', { file: v.bad });
    else if (!f.optional && f.kind !== 'bool' && (v === undefined || v === '' || (Array.isArray(v) && !v.length))) {
      errors[f.name] = t('con.form.err.required', { field: f.label });
    }
  }
  if (!Object.keys(errors).length) {
    const body = spec.body(values);
    if (body.errors) Object.assign(errors, body.errors);
    else {
      try {
        const out = await spec.send(body);
        const next = spec.done(out, values);
        await ctx.navigate(next.to, { flash: { text: next.text } });
        return;
      } catch (err) {
        if (!(err instanceof api.ConsoleError) || err.status >= 500 || err.status === 0) throw err;
        const field = err.status === 400 ? fieldOf(err.detail, spec.fields) : null;
        errors[field || ''] = err.text();
      }
    }
  }
  for (const f of spec.fields) if (f.kind === 'file') delete values[f.name];
  await redraw(ctx, ctx.render, { ...state, forms: { ...(state.forms || {}), [spec.id]: { values, errors } } });
}

// The banner of a page reached after a change (ctx.flash).
export function banner(ctx) {
  return ctx.flash ? g.notificationBanner({ success: true, heading: ctx.flash.text }) : null;
}

// A link to the confirmation page that removes an object (remove.mjs).
export function removeLink(ctx, kind, id, label) {
  return g.link(`${ctx.base}/remove/${kind}?id=${encodeURIComponent(id)}`, t('con.remove'),
    { 'aria-label': `${t('con.remove')} ${label || id}`, dataset: { remove: `${kind}:${id}` } });
}

// A PEM or other long text shown as it is (never as HTML), folded away.
export function folded(summaryText, text, id) {
  return h('details', { class: 'govuk-details', id },
    h('summary', { class: 'govuk-details__summary' }, h('span', { class: 'govuk-details__summary-text' }, summaryText)),
    h('div', { class: 'govuk-details__text' }, h('pre', { class: 'ndx-openapi', tabindex: '0' }, text)));
}
