// GOV.UK Frontend components as DOM, with the markup of the design system's
// own templates (node_modules/govuk-frontend/dist/govuk/components/*/
// template.njk), so its CSS and JavaScript (initAll) apply unchanged. Text
// always enters as text nodes (dom.mjs).

import { h, s } from './dom.mjs';
import { t } from './i18n.mjs';

export function heading(text, size = 'l', level = 1, extra = {}) {
  // tabindex -1: the router moves focus to the page's h1 after navigation.
  return h(`h${level}`, { class: `govuk-heading-${size}`, tabindex: level === 1 ? '-1' : null, ...extra }, text);
}

export function caption(text, size = 'l') {
  return h('span', { class: `govuk-caption-${size}` }, text);
}

export function p(...children) {
  return h('p', { class: 'govuk-body' }, ...children);
}

export function lead(text) {
  return h('p', { class: 'govuk-body-l' }, text);
}

export function link(href, text, extra = {}) {
  return h('a', { class: 'govuk-link', href, ...extra }, text);
}

export function hidden(text) {
  return h('span', { class: 'govuk-visually-hidden' }, text);
}

export function button(text, { type = 'submit', variant, attrs = {}, on } = {}) {
  return h('button', {
    type,
    class: ['govuk-button', variant && `govuk-button--${variant}`],
    'data-module': 'govuk-button',
    on,
    ...attrs,
  }, text);
}

export function linkButton(href, text, variant) {
  return h('a', {
    href,
    role: 'button',
    draggable: 'false',
    class: ['govuk-button', variant && `govuk-button--${variant}`],
    'data-module': 'govuk-button',
  }, text);
}

export function startButton(href, text) {
  return h('a', {
    href,
    role: 'button',
    draggable: 'false',
    class: 'govuk-button govuk-button--start',
    'data-module': 'govuk-button',
  }, text, ' ', s('svg', {
    class: 'govuk-button__start-icon', xmlns: 'http://www.w3.org/2000/svg', width: '17.5', height: '19',
    viewBox: '0 0 33 40', 'aria-hidden': 'true', focusable: 'false',
  }, s('path', { fill: 'currentColor', d: 'M0 0h13l20 20-20 20H0l20-20z' })));
}

export function buttonGroup(...children) {
  return h('div', { class: 'govuk-button-group' }, ...children);
}

export function backLink(href, text) {
  return h('a', { href, class: 'govuk-back-link' }, text);
}

export function tag(text, colour) {
  return h('strong', { class: ['govuk-tag', colour && `govuk-tag--${colour}`] }, text);
}

// rows: [{key, value (string|Node|array), actions: [{href, text, hidden}]}]
export function summaryList(rows, { noBorder = false, id } = {}) {
  return h('dl', { class: ['govuk-summary-list', noBorder && 'govuk-summary-list--no-border'], id },
    rows.map((r) => h('div', { class: ['govuk-summary-list__row', !r.actions && 'govuk-summary-list__row--no-actions'] },
      h('dt', { class: 'govuk-summary-list__key' }, r.key),
      h('dd', { class: 'govuk-summary-list__value' }, r.value),
      r.actions ? h('dd', { class: 'govuk-summary-list__actions' },
        r.actions.map((a) => h('a', { class: 'govuk-link', href: a.href }, a.text, a.hidden ? hidden(` ${a.hidden}`) : null))) : null)));
}

export function summaryCard(title, list) {
  return h('div', { class: 'govuk-summary-card' },
    h('div', { class: 'govuk-summary-card__title-wrapper' },
      h('h2', { class: 'govuk-summary-card__title' }, title)),
    h('div', { class: 'govuk-summary-card__content' }, list));
}

// head: [string], rows: [[cell (string|Node)]]; numeric: column indexes.
// stack (the default): on a phone each row becomes a block of labelled
// cells (app.css .ndx-stack-table), so no table is wider than the screen;
// a table inside its own scrolling box (ops.mjs) passes false.
export function table({ caption: cap, captionSize = 'm', head, rows, numeric = [], id, stack = true }) {
  const label = (i) => (stack && head[i] !== undefined ? String(head[i] instanceof Node ? head[i].textContent : head[i]) : null);
  return h('table', { class: ['govuk-table', stack && 'ndx-stack-table'], id },
    cap ? h('caption', { class: `govuk-table__caption govuk-table__caption--${captionSize}` }, cap) : null,
    h('thead', { class: 'govuk-table__head' },
      h('tr', { class: 'govuk-table__row' },
        head.map((c, i) => h('th', {
          scope: 'col',
          class: ['govuk-table__header', numeric.includes(i) && 'govuk-table__header--numeric'],
        }, c)))),
    h('tbody', { class: 'govuk-table__body' },
      rows.map((row) => h('tr', { class: 'govuk-table__row' },
        row.map((c, i) => h(i === 0 && row.rowHeader ? 'th' : 'td', {
          class: ['govuk-table__cell', numeric.includes(i) && 'govuk-table__cell--numeric'],
          'data-label': label(i),
        }, c))))));
}

// errors: [{href: '#field-id', text}]; the ErrorSummary component moves focus
// to it when initialised.
export function errorSummary(errors, title = t('error.summary')) {
  return h('div', { class: 'govuk-error-summary', 'data-module': 'govuk-error-summary' },
    h('div', { role: 'alert' },
      h('h2', { class: 'govuk-error-summary__title' }, title),
      h('div', { class: 'govuk-error-summary__body' },
        h('ul', { class: 'govuk-list govuk-error-summary__list' },
          errors.map((e) => h('li', null, e.href ? h('a', { href: e.href }, e.text) : e.text))))));
}

let bannerSeq = 0;

export function notificationBanner({ success = false, title, heading: head, body = [] }) {
  const id = `govuk-notification-banner-title-${++bannerSeq}`;
  return h('div', {
    class: ['govuk-notification-banner', success && 'govuk-notification-banner--success'],
    role: success ? 'alert' : 'region',
    'aria-labelledby': id,
    'data-module': 'govuk-notification-banner',
  },
  h('div', { class: 'govuk-notification-banner__header' },
    h('h2', { class: 'govuk-notification-banner__title', id }, title || (success ? t('success') : t('important')))),
  h('div', { class: 'govuk-notification-banner__content' },
    head ? h('p', { class: 'govuk-notification-banner__heading' }, head) : null,
    body));
}

export function panel(title, body) {
  return h('div', { class: 'govuk-panel govuk-panel--confirmation' },
    h('h1', { class: 'govuk-panel__title', tabindex: '-1' }, title),
    body ? h('div', { class: 'govuk-panel__body' }, body) : null);
}

export function insetText(...children) {
  return h('div', { class: 'govuk-inset-text' }, ...children);
}

export function warningText(text) {
  return h('div', { class: 'govuk-warning-text' },
    h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true' }, '!'),
    h('strong', { class: 'govuk-warning-text__text' }, hidden(t('warning')), text));
}

function errorMessage(id, text) {
  return h('p', { id: `${id}-error`, class: 'govuk-error-message' },
    h('span', { class: 'govuk-visually-hidden' }, t('error.prefix')), ' ', text);
}

function describedBy(id, hint, error) {
  const ids = [];
  if (hint) ids.push(`${id}-hint`);
  if (error) ids.push(`${id}-error`);
  return ids.length ? ids.join(' ') : null;
}

function label(id, text, { size, optional } = {}) {
  return h('label', { class: ['govuk-label', size && `govuk-label--${size}`], for: id },
    text, optional ? ` ${t('optional')}` : null);
}

function hintEl(id, hint) {
  return hint ? h('div', { id: `${id}-hint`, class: 'govuk-hint' }, hint) : null;
}

export function input({ id, name = id, label: text, hint, value = '', error, type = 'text', width,
  autocomplete, inputmode, spellcheck, suffix, optional, labelSize }) {
  const el = h('input', {
    class: ['govuk-input', width && `govuk-input--width-${width}`, error && 'govuk-input--error'],
    id, name, type, value,
    autocomplete, inputmode,
    spellcheck: spellcheck === undefined ? null : String(spellcheck),
    'aria-describedby': describedBy(id, hint, error),
  });
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    label(id, text, { optional, size: labelSize }),
    hintEl(id, hint),
    error ? errorMessage(id, error) : null,
    suffix ? h('div', { class: 'govuk-input__wrapper' }, el,
      h('div', { class: 'govuk-input__suffix', 'aria-hidden': 'true' }, suffix)) : el);
}

export function passwordInput({ id, name = id, label: text, hint, error, autocomplete = 'current-password' }) {
  return h('div', {
    class: ['govuk-form-group', 'govuk-password-input', error && 'govuk-form-group--error'],
    'data-module': 'govuk-password-input',
    'data-i18n.show-password': t('off.show'),
    'data-i18n.hide-password': t('off.hide'),
    'data-i18n.show-password-aria-label': t('off.show.aria'),
    'data-i18n.hide-password-aria-label': t('off.hide.aria'),
    'data-i18n.password-shown-announcement': t('off.shown'),
    'data-i18n.password-hidden-announcement': t('off.hidden'),
  },
  label(id, text),
  hintEl(id, hint),
  error ? errorMessage(id, error) : null,
  h('div', { class: 'govuk-input__wrapper govuk-password-input__wrapper' },
    h('input', {
      class: ['govuk-input', 'govuk-password-input__input', 'govuk-js-password-input-input', error && 'govuk-input--error'],
      id, name, type: 'password', spellcheck: 'false', autocomplete, autocapitalize: 'none',
      'aria-describedby': describedBy(id, hint, error),
    }),
    h('button', {
      type: 'button',
      class: 'govuk-button govuk-button--secondary govuk-password-input__toggle govuk-js-password-input-toggle',
      'data-module': 'govuk-button',
      'aria-controls': id,
      'aria-label': t('off.show.aria'),
      hidden: true,
    }, t('off.show'))));
}

// options: [{value, text}]
export function select({ id, name = id, label: text, hint, options, value = '', error }) {
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    label(id, text),
    hintEl(id, hint),
    error ? errorMessage(id, error) : null,
    h('select', {
      class: ['govuk-select', error && 'govuk-select--error'],
      id, name,
      value,
      'aria-describedby': describedBy(id, hint, error),
    }, options.map((o) => h('option', { value: o.value, selected: o.value === value }, o.text))));
}

export function textarea({ id, name = id, label: text, hint, value = '', error, rows = 3, optional }) {
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    label(id, text, { optional }),
    hintEl(id, hint),
    error ? errorMessage(id, error) : null,
    h('textarea', {
      class: ['govuk-textarea', error && 'govuk-textarea--error'],
      id, name, rows: String(rows),
      value,
      'aria-describedby': describedBy(id, hint, error),
    }));
}

// items: [{value, text, hint, conditional: Node}]; ids follow the template:
// the first radio takes the group's id, later ones id-2, id-3 …
export function radios({ id, name = id, legend, legendSize = 'm', hint, items, value, error }) {
  const itemId = (i) => (i === 0 ? id : `${id}-${i + 1}`);
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': describedBy(id, hint, error) },
      h('legend', { class: `govuk-fieldset__legend govuk-fieldset__legend--${legendSize}` }, legend),
      hintEl(id, hint),
      error ? errorMessage(id, error) : null,
      h('div', { class: 'govuk-radios', 'data-module': 'govuk-radios' },
        items.map((it, i) => [
          h('div', { class: 'govuk-radios__item' },
            h('input', {
              class: 'govuk-radios__input', id: itemId(i), name, type: 'radio', value: it.value,
              checked: it.value === value,
              'data-aria-controls': it.conditional ? `conditional-${itemId(i)}` : null,
              'aria-describedby': it.hint ? `${itemId(i)}-item-hint` : null,
            }),
            h('label', { class: 'govuk-label govuk-radios__label', for: itemId(i) }, it.text),
            it.hint ? h('div', { id: `${itemId(i)}-item-hint`, class: 'govuk-hint govuk-radios__hint' }, it.hint) : null),
          it.conditional ? h('div', {
            class: ['govuk-radios__conditional', it.value !== value && 'govuk-radios__conditional--hidden'],
            id: `conditional-${itemId(i)}`,
          }, it.conditional) : null,
        ]))));
}

// items: [{value, text}]; values: the checked ones. Ids as radios'.
export function checkboxes({ id, name = id, legend, legendSize = 's', hint, items, values = [], error }) {
  const itemId = (i) => (i === 0 ? id : `${id}-${i + 1}`);
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': describedBy(id, hint, error) },
      h('legend', { class: `govuk-fieldset__legend govuk-fieldset__legend--${legendSize}` }, legend),
      hintEl(id, hint),
      error ? errorMessage(id, error) : null,
      h('div', { class: 'govuk-checkboxes govuk-checkboxes--small', 'data-module': 'govuk-checkboxes' },
        items.map((it, i) => h('div', { class: 'govuk-checkboxes__item' },
          h('input', {
            class: 'govuk-checkboxes__input', id: itemId(i), name, type: 'checkbox', value: it.value,
            checked: values.includes(it.value),
          }),
          h('label', { class: 'govuk-label govuk-checkboxes__label', for: itemId(i) }, it.text))))));
}

export function fieldset(legend, children, { size = 'm' } = {}) {
  return h('fieldset', { class: 'govuk-fieldset' },
    h('legend', { class: `govuk-fieldset__legend govuk-fieldset__legend--${size}` },
      h('h2', { class: 'govuk-fieldset__heading' }, legend)),
    children);
}

export function sectionBreak(size = 'l') {
  return h('hr', { class: `govuk-section-break govuk-section-break--${size} govuk-section-break--visible` });
}
