// What the administration's pages share (/admin/officers, /admin/officials,
// /admin/audit and one officer's or official's page; docs/portal.md
// "Administration"): the sub-navigation between them, the line that says
// who is signed in and what their role lets them do, forms that send to
// /api/admin/ and show the portal's 400 and 409 answers at their fields,
// a confirmation step before a removal or a password reset, and the banner
// that shows a new password once. The portal decides what a role may do;
// the pages leave out only what it would refuse.

import * as api from './api.mjs';
import { h, clear } from './dom.mjs';
import { mapFieldErrors } from './fielderrors.mjs';
import * as g from './govuk.mjs';
import { t, tOr } from './i18n.mjs';

export const ROLES = ['operator', 'agency', 'auditor'];

export const roleName = (role) => tOr(`adm.role.${role}`, String(role || ''));

// A member by its name and id ("Cục Thuế (VN/GOV/TCT)"): the id is what an
// administrator types in the forms.
export function memberText(id) {
  const name = tOr(`member.${id}`, '');
  return name ? `${name} (${id})` : String(id || '');
}

const PAGES = [['officers', '/admin/officers'], ['officials', '/admin/officials'], ['audit', '/admin/audit']];

export function subnav(active) {
  return h('nav', { class: 'ndx-subnav', 'aria-label': t('adm.subnav') },
    h('ul', { class: 'govuk-list ndx-subnav__list' },
      PAGES.map(([key, href]) => h('li', { class: 'ndx-subnav__item' },
        key === active
          ? h('a', { class: 'govuk-link ndx-subnav__current', href, 'aria-current': 'page' }, t(`adm.${key}.title`))
          : g.link(href, t(`adm.${key}.title`))))));
}

export function scopeLine(me) {
  return h('p', { class: 'govuk-body', id: 'admin-scope' },
    t(`adm.scope.${me.role}`, { name: me.name, member: memberText(me.member) }));
}

export function head(title, active, me) {
  return [g.caption(t('adm.caption')), g.heading(title), subnav(active), scopeLine(me)];
}

// The banners a page shows after a change: a success line, and a new
// officer password, shown this once (it is nowhere else to be read again).
export function flashBanners(flash) {
  if (!flash) return [];
  const out = [];
  if (flash.password) {
    out.push(g.notificationBanner({
      success: true,
      heading: t(flash.type === 'added' ? 'adm.pw.added' : 'adm.pw.reset', { user: flash.username }),
      body: [
        g.p(t('adm.pw.lead')),
        h('p', { class: 'govuk-body' }, h('code', { class: 'ndx-password', id: 'new-password' }, flash.password)),
        g.warningText(t('adm.pw.once')),
      ],
    }));
  } else if (flash.type) {
    out.push(g.notificationBanner({ success: true, heading: t(`adm.done.${flash.type}`, { name: flash.name || '' }) }));
  }
  return out;
}

function errorsOf(e, fields) {
  if (e.fields && Object.keys(e.fields).length) return mapFieldErrors(fields, e.fields);
  return { byName: {}, summary: [{ text: tOr(`adm.err.${e.code}`, e.text()) }] };
}

// A form that sends itself: spec {id, legend, fields: [{name, label, hint,
// kind: 'select', options, width}], values, button, send(values)}. The
// portal's refusals are shown at the fields it names, or in the summary.
export function form(ctx, spec) {
  const slot = h('div', { id: `${spec.id}-slot` });
  const fieldId = (f) => `${spec.id}-${f.name}`;
  const show = (values = spec.values || {}, errors = null) => {
    const el = h('form', { novalidate: true, id: spec.id },
      spec.legend ? h('h2', { class: 'govuk-heading-m' }, spec.legend) : null,
      errors ? g.errorSummary(errors.summary) : null,
      spec.fields.map((f) => (f.kind === 'select'
        ? g.select({ id: fieldId(f), name: f.name, label: f.label, hint: f.hint, options: f.options, value: values[f.name] ?? '', error: errors?.byName[f.name] })
        : g.input({
          id: fieldId(f), name: f.name, label: f.label, hint: f.hint, value: values[f.name] ?? '', error: errors?.byName[f.name],
          width: f.width, autocomplete: 'off', spellcheck: f.spellcheck,
        }))),
      g.button(spec.button, { attrs: { id: `${spec.id}-submit` } }));
    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fd = new FormData(el);
      const v = {};
      for (const f of spec.fields) v[f.name] = String(fd.get(f.name) || '').trim();
      el.querySelector(`#${spec.id}-submit`).disabled = true;
      try {
        await spec.send(v);
      } catch (e) {
        if (!(e instanceof api.ApiError)) throw e;
        show(v, errorsOf(e, spec.fields.map((f) => ({ name: f.name, id: fieldId(f), label: f.label, choice: f.kind === 'select' }))));
      }
    });
    clear(slot).append(el);
    ctx.enhance(slot);
    if (errors) slot.querySelector('.govuk-error-summary')?.focus();
  };
  show();
  return slot;
}

// A button that first asks: spec {id, title, lead, button, confirm, warn,
// run()}. "Cancel" goes back to the button; a refusal is said in words.
export function confirmAction(ctx, spec) {
  const slot = h('section', { id: spec.id, 'aria-labelledby': `${spec.id}-title` });
  const start = (error = null) => {
    const go = g.button(spec.button, { type: 'button', variant: spec.warn ? 'warning' : 'secondary', attrs: { id: `${spec.id}-start` } });
    go.addEventListener('click', () => ask());
    clear(slot).append(
      h('h2', { class: 'govuk-heading-m', id: `${spec.id}-title` }, spec.title),
      error ? g.errorSummary([{ text: error }]) : null,
      g.p(spec.lead), go);
    ctx.enhance(slot);
    if (error) slot.querySelector('.govuk-error-summary')?.focus();
  };
  const ask = () => {
    const yes = g.button(spec.confirm, { type: 'button', variant: spec.warn ? 'warning' : undefined, attrs: { id: `${spec.id}-confirm` } });
    const no = g.button(t('adm.cancel'), { type: 'button', variant: 'secondary', attrs: { id: `${spec.id}-cancel` } });
    no.addEventListener('click', () => start());
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await spec.run();
      } catch (e) {
        if (!(e instanceof api.ApiError)) throw e;
        start(tOr(`adm.err.${e.code}`, e.text()));
      }
    });
    clear(slot).append(
      h('h2', { class: 'govuk-heading-m', id: `${spec.id}-title`, tabindex: '-1' }, spec.title),
      g.warningText(spec.check), g.buttonGroup(yes, no));
    slot.querySelector('h2').focus();
  };
  start();
  return slot;
}
