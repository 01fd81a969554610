// An officer's correction worklist (docs/portal.md "Correction
// worklists", issue 24): the open tasks of the last reconciliation of the
// registry their agency runs with the population registry, as the
// registry lists them (GET /api/officer/worklist), a page at a time.
// "Correct" opens a one-field form for that task, then a check step (the
// record, the field and the new value, each with "Change", and the one
// button that records it, as the officers' desk's decision check step);
// the registry writes the correction and logs it with the officer
// (POST /api/officer/worklist/corrections). A refusal is said at the field.

import * as api from '../api.mjs';
import { clear, h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';

const PAGE = 50;
const VALUE_MAX = 512;

function offsetOf(query) {
  const n = Number.parseInt(String(query.get('offset') ?? '0'), 10);
  return Number.isInteger(n) && n >= 0 && n <= 100000 ? n : 0;
}

// What the registry writes when the officer gives no value: the status a
// death gives, or the candidate number; null when a value is needed.
function defaultValue(task) {
  if (task.kind === 'deceased-active') return t(task.table === 'taxpayers' ? 'worklist.default.closed' : 'worklist.default.deceased');
  if (typeof task.candidate_pin === 'string') return task.candidate_pin;
  return null;
}

function kindText(k) {
  return tOr(`worklist.kind.${k}`, k);
}

export async function render(ctx) {
  const main = document.getElementById('main-content');
  const offset = offsetOf(ctx.query);
  let doc;
  try {
    doc = await api.get(`/api/officer/worklist?offset=${offset}&limit=${PAGE}`);
  } catch (err) {
    if (!(err instanceof api.ApiError) || err.status !== 403) throw err;
    return {
      title: t('worklist.title'),
      nodes: [g.heading(t('worklist.title')), g.insetText(h('span', { id: 'worklist-none' }, t('worklist.no_registry')))],
    };
  }
  const tasks = Array.isArray(doc.tasks) ? doc.tasks : [];
  let total = Number(doc.total) || 0;
  const sector = String(doc.sector ?? '');

  function listNodes(done) {
    const nodes = [];
    if (done) nodes.push(g.notificationBanner({ success: true, heading: done }));
    nodes.push(g.caption(tOr(`worklist.sector.${sector}`, sector)), g.heading(t('worklist.title')));
    nodes.push(g.p(t('worklist.lead')));
    if (!doc.run) {
      nodes.push(g.insetText(h('span', { id: 'worklist-empty' }, t('worklist.no_run'))));
      return nodes;
    }
    nodes.push(g.p(h('span', { id: 'worklist-count' }, t('worklist.count', { n: total, run: doc.run }))));
    if (tasks.length === 0) {
      nodes.push(g.insetText(h('span', { id: 'worklist-empty' }, t('worklist.empty'))));
      return nodes;
    }
    nodes.push(g.table({
      id: 'worklist',
      caption: t('worklist.caption', { from: offset + 1, to: offset + tasks.length, n: total }),
      head: [t('worklist.table'), t('worklist.record'), t('worklist.kind'), t('worklist.field'), t('worklist.candidate'),
        h('span', { class: 'govuk-visually-hidden' }, t('worklist.action'))],
      rows: tasks.map((task, i) => {
        const b = g.button(t('worklist.correct'), { type: 'button', variant: 'secondary',
          attrs: { 'data-key': task.key, 'data-field': task.field, id: `correct-${i}` } });
        b.append(g.hidden(` ${task.field} ${task.key}`));
        b.addEventListener('click', () => show('form', task, { value: '' }));
        return [task.table, h('span', { class: 'ndx-record' }, task.key), kindText(task.kind), task.field,
          task.candidate_pin ?? '', b];
      }),
    }));
    const pager = [];
    const pageLink = (off, text, id) => {
      const a = g.link(`/officer/worklist?offset=${off}`, text, { id });
      a.addEventListener('click', (ev) => { ev.preventDefault(); ctx.navigate(a.getAttribute('href')); });
      return a;
    };
    if (offset > 0) pager.push(pageLink(Math.max(0, offset - PAGE), t('worklist.prev'), 'worklist-prev'));
    if (offset + tasks.length < total) pager.push(pageLink(offset + PAGE, t('worklist.next'), 'worklist-next'));
    if (pager.length) nodes.push(h('nav', { class: 'govuk-body', 'aria-label': t('worklist.pages') }, ...pager.flatMap((a, i) => (i ? [' · ', a] : [a]))));
    return nodes;
  }

  function taskSummary(task) {
    return g.summaryList([
      { key: t('worklist.table'), value: task.table },
      { key: t('worklist.record'), value: h('span', { id: 'task-key' }, task.key) },
      { key: t('worklist.kind'), value: kindText(task.kind) },
      { key: t('worklist.field'), value: h('span', { id: 'task-field' }, task.field) },
      ...(task.candidate_pin ? [{ key: t('worklist.candidate'), value: task.candidate_pin }] : []),
    ], { id: 'task-summary' });
  }

  function formNodes(task, v, errors) {
    const def = defaultValue(task);
    const form = h('form', { novalidate: true, id: 'correction-form' },
      g.input({ id: 'value', name: 'value', label: t('worklist.value', { field: task.field }), labelSize: 'm',
        hint: def ? t('worklist.value.hint.default', { value: def }) : t('worklist.value.hint'),
        value: v.value, error: errors?.value, spellcheck: false, autocomplete: 'off', optional: !!def }),
      g.button(t('worklist.continue'), { attrs: { id: 'submit-correction' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const value = String(new FormData(form).get('value') ?? '').trim();
      const err = !value && !def ? t('worklist.err.required')
        : value.length > VALUE_MAX ? t('worklist.err.long', { n: VALUE_MAX }) : null;
      if (err) show('form', task, { value }, { value: err, summary: [{ href: '#value', text: err }] });
      else show('check', task, { value });
    });
    const back = g.backLink('/officer/worklist', t('worklist.back'));
    back.addEventListener('click', (ev) => { ev.preventDefault(); show('list'); });
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    nodes.push(back, g.heading(t('worklist.form.title')), taskSummary(task), form);
    return nodes;
  }

  function checkNodes(task, v) {
    const change = [{ href: '#correction-form', text: t('worklist.change'), hidden: t('worklist.new_value') }];
    const shown = v.value || defaultValue(task);
    const list = g.summaryList([
      { key: t('worklist.record'), value: `${task.table} ${task.key}` },
      { key: t('worklist.field'), value: task.field },
      { key: t('worklist.new_value'), value: h('span', { id: 'check-value' }, shown), actions: change },
    ], { id: 'check-answers' });
    list.querySelectorAll('.govuk-summary-list__actions a').forEach((a) => a.addEventListener('click', (ev) => {
      ev.preventDefault();
      show('form', task, v);
    }));
    const form = h('form', { novalidate: true, id: 'confirm-form' },
      g.warningText(t('worklist.check.warn')),
      g.button(t('worklist.submit'), { attrs: { id: 'confirm-correction' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      form.querySelector('button[type=submit]').disabled = true;
      const body = { table: task.table, key: task.key, field: task.field };
      if (v.value) body.value = v.value;
      api.post('/api/officer/worklist/corrections', body)
        .then(() => {
          const i = tasks.indexOf(task);
          if (i >= 0) tasks.splice(i, 1);
          total = Math.max(0, total - 1);
          show('list', null, null, null, t('worklist.done', { field: task.field, key: task.key }));
        })
        .catch((err) => {
          if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
          const text = !(err instanceof api.ApiError) ? t('api.unknown')
            : err.status === 400 ? t('worklist.err.refused', { why: err.detail })
              : err.status === 404 ? t('worklist.err.gone')
                : err.status === 409 ? t('worklist.err.key') : err.text();
          show('form', task, v, { value: text, summary: [{ href: '#value', text }] });
          return null;
        });
    });
    const back = g.backLink('#correction-form', t('worklist.check.back'));
    back.addEventListener('click', (ev) => { ev.preventDefault(); show('form', task, v); });
    return [back, g.heading(t('worklist.check.title')), list, form];
  }

  function show(step, task, v, errors = null, done = null) {
    const nodes = step === 'list' ? listNodes(done) : step === 'check' ? checkNodes(task, v) : formNodes(task, v, errors);
    clear(main).append(...nodes);
    const head = step === 'list' ? t('worklist.title') : step === 'check' ? t('worklist.check.title') : t('worklist.form.title');
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${head} — ${t('service.name')}`;
    ctx.enhance(main);
    if (done) {
      const banner = main.querySelector('.govuk-notification-banner');
      banner.setAttribute('tabindex', '-1');
      banner.focus();
    } else {
      ctx.focusPage();
    }
  }

  return { title: t('worklist.title'), nodes: listNodes(null) };
}
