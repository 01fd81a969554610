// "Ai đã xem dữ liệu của tôi": every read of the citizen's data that the
// providers' gateways logged, gathered by the portal from each agency's
// transparency service (docs/portal.md "The access list"). The list opens
// on reads by others; the citizen's own views (proven by their e-ID sign-in)
// are behind the "who read it" filter. Filters (who, agency, purpose,
// period) are the page's query string, so a filtered page can be bookmarked
// and the back button works; the portal and the providers apply them, and
// pages of 20 come back newest first. Every row is words: the agency's
// name, the data's title, the purpose, what happened, and for an officer's
// read the officer and the procedure. Agencies that did not answer are
// named, so a short list is never mistaken for a complete one.
// Above the list, the misuse of the citizen's data the operator has
// confirmed, in plain words in the page's language; on each read by others
// an "I don't recognise this" link to the report page (web/pages/
// access-report.mjs). Without a monitoring service neither appears.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, has, formatTime, lang } from '../i18n.mjs';

const OWN = ['exclude', 'only', 'include'];
const PURPOSES = ['public-service', 'tax-administration', 'social-insurance', 'law-enforcement', 'investigation'];
const FIELDS = ['own', 'agency', 'purpose', 'from', 'to'];
const OUTCOME_COLOUR = { returned: 'green', refused: 'red', no_data: 'grey' };

function filterOf(query) {
  const f = {};
  for (const k of FIELDS) f[k] = (query.get(k) || '').trim();
  if (!OWN.includes(f.own)) f.own = 'exclude';
  const page = Number(query.get('page') || '1');
  f.page = Number.isInteger(page) && page >= 1 ? page : 1;
  return f;
}

function queryOf(f, page = 1) {
  const q = new URLSearchParams();
  if (f.own !== 'exclude') q.set('own', f.own);
  for (const k of ['agency', 'purpose', 'from', 'to']) if (f[k]) q.set(k, f[k]);
  if (page > 1) q.set('page', String(page));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// dd/mm/yyyy (or d/m/yyyy) naming a real day, as the portal accepts it.
function dayOk(v) {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v);
  if (!m) return false;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1970 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function dayValue(v) {
  const [d, m, y] = v.split('/').map(Number);
  return Date.UTC(y, m - 1, d);
}

// The filter's errors by field, as the portal's 422 or as checked here first.
function filterErrors(f, fields) {
  const byName = {};
  const summary = [];
  const add = (name, text) => {
    if (byName[name]) return;
    byName[name] = text;
    summary.push({ href: `#filter-${name}`, text });
  };
  for (const name of ['from', 'to']) {
    if (fields[name] === 'invalid' || (f[name] && !dayOk(f[name]))) add(name, t('acc.err.date'));
  }
  if (fields.to === 'out_of_range' || (dayOk(f.from) && dayOk(f.to) && dayValue(f.to) < dayValue(f.from))) {
    add('to', t('acc.err.to_before_from'));
  }
  for (const name of Object.keys(fields)) if (!byName[name]) add(name === 'page' ? 'own' : name, t('acc.err.filter'));
  return summary.length ? { byName, summary } : null;
}

function agencyName(a) {
  return a.agency_name || t('acc.unknown_agency');
}

function procedureTitle(p) {
  return p && p.kind && has(`kind.${p.kind}`) ? t(`kind.${p.kind}`) : null;
}

// Who read it, in words: the agency; an officer with their agency and the
// procedure; or the citizen themself.
function whoCell(a) {
  if (a.officer) {
    const agency = a.officer.agency_name || agencyName(a);
    const user = a.officer.user || '';
    const title = procedureTitle(a.procedure);
    let text;
    if (title) text = t('acc.officer', { agency, user, procedure: title });
    else if (a.procedure && a.procedure.id) {
      text = t('acc.officer.issue', { agency, user, issue: [a.procedure.kind, a.procedure.id].filter(Boolean).join('/') });
    } else text = t('acc.officer.none', { agency, user });
    return [h('span', { class: 'ndx-block' }, text),
      h('span', { class: 'govuk-hint govuk-!-margin-0 ndx-block' }, t('acc.via', { agency: agencyName(a) }))];
  }
  if (a.own) return t('acc.own_row', { agency: agencyName(a) });
  return agencyName(a);
}

function dataCell(a) {
  const title = a.service_title || tOr(`service.${a.service}`, t('acc.unknown_service'));
  return [h('span', { class: 'ndx-block' }, title),
    a.provider_name ? h('span', { class: 'govuk-hint govuk-!-margin-0 ndx-block' }, t('acc.held_by', { name: a.provider_name })) : null];
}

function outcomeTag(outcome) {
  const key = ['returned', 'refused', 'no_data'].includes(outcome) ? outcome : 'refused';
  return g.tag(t(`acc.outcome.${key}`), OUTCOME_COLOUR[key]);
}

// A table that becomes one block per row on a phone (app.css), each cell
// labelled by its column.
// The report page's address for a read: what it needs to name the read
// (the provider and the message id) and what it shows the citizen.
function reportHref(a) {
  const q = new URLSearchParams({
    gateway: a.provider || '', message_id: a.message_id || '', time: a.time || '',
    who: a.officer ? `${a.officer.agency_name || agencyName(a)} (${a.officer.user || ''})` : agencyName(a),
    data: a.service_title || tOr(`service.${a.service}`, t('acc.unknown_service')),
  });
  return `/accesses/report?${q}`;
}

function statusCell(a, canReport) {
  if (!canReport || a.own || !a.message_id || !a.provider) return outcomeTag(a.outcome);
  return [outcomeTag(a.outcome), h('span', { class: 'ndx-block govuk-!-margin-top-2' },
    g.link(reportHref(a), t('acc.report.link'), { class: 'govuk-link ndx-report-link' }))];
}

// Confirmed misuse of the citizen's data, in the page's language.
function misuseBanner(cases) {
  if (!cases || !cases.length) return null;
  return g.notificationBanner({
    title: t('important'),
    heading: t('acc.misuse.title', { n: cases.length }),
    body: [
      h('ul', { class: 'govuk-list govuk-list--bullet', id: 'misuse-cases' },
        cases.map((c) => h('li', { dataset: { case: String(c.id) } },
          h('strong', null, formatTime(c.opened_ms)), ': ',
          (lang() === 'en' ? c.explanation_en || c.explanation : c.explanation || c.explanation_en) || t('acc.misuse.none')))),
      g.p(t('acc.misuse.lead')),
    ],
  });
}

function accessTable(list, canReport) {
  const head = [t('acc.time'), t('acc.client'), t('acc.service'), t('acc.purpose'), t('acc.status')];
  return h('table', { class: 'govuk-table ndx-stack-table', id: 'accesses' },
    h('caption', { class: 'govuk-table__caption govuk-table__caption--m' }, t('acc.caption')),
    h('thead', { class: 'govuk-table__head' },
      h('tr', { class: 'govuk-table__row' }, head.map((c) => h('th', { scope: 'col', class: 'govuk-table__header' }, c)))),
    h('tbody', { class: 'govuk-table__body' },
      list.map((a) => h('tr', {
        class: 'govuk-table__row',
        dataset: { own: a.own ? 'true' : 'false', officer: a.officer ? 'true' : 'false' },
      },
      [formatTime(a.time), whoCell(a), dataCell(a), tOr(`purpose.${a.purpose}`, a.purpose || ''), statusCell(a, canReport)]
        .map((c, i) => h('td', { class: 'govuk-table__cell', 'data-label': head[i] }, c))))));
}

function arrow(dir) {
  const d = dir === 'prev'
    ? 'm6.5938-0.0078125-6.7266 6.7266 6.7441 6.4062 1.377-1.449-4.1856-3.9768h12.896v-2h-12.984l4.2931-4.293-1.414-1.414z'
    : 'm8.107-0.0078125-1.4136 1.414 4.2926 4.293h-12.986v2h12.896l-4.1855 3.9766 1.377 1.4492 6.7441-6.4062-6.7246-6.7266z';
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  for (const [k, v] of Object.entries({
    class: `govuk-pagination__icon govuk-pagination__icon--${dir}`, xmlns: 'http://www.w3.org/2000/svg',
    height: '13', width: '15', 'aria-hidden': 'true', focusable: 'false', viewBox: '0 0 15 13',
  })) svg.setAttribute(k, v);
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

// GOV.UK Frontend's pagination: previous, numbered pages (first, last and
// the current one's neighbours, ellipses between), next.
function pagination(f, page, pages) {
  if (pages <= 1) return null;
  const nums = [...new Set([1, page - 1, page, page + 1, pages])].filter((n) => n >= 1 && n <= pages).sort((a, b) => a - b);
  const items = [];
  nums.forEach((n, i) => {
    if (i > 0 && n - nums[i - 1] > 1) items.push(h('li', { class: 'govuk-pagination__item govuk-pagination__item--ellipses' }, '⋯'));
    items.push(h('li', { class: ['govuk-pagination__item', n === page && 'govuk-pagination__item--current'] },
      h('a', {
        class: 'govuk-link govuk-pagination__link', href: `/accesses${queryOf(f, n)}`,
        'aria-label': t('acc.page', { n }), 'aria-current': n === page ? 'page' : null,
      }, String(n))));
  });
  return h('nav', { class: 'govuk-pagination', 'aria-label': t('acc.pages'), id: 'accesses-pages' },
    page > 1 ? h('div', { class: 'govuk-pagination__prev' },
      h('a', { class: 'govuk-link govuk-pagination__link', href: `/accesses${queryOf(f, page - 1)}`, rel: 'prev' },
        arrow('prev'), h('span', { class: 'govuk-pagination__link-title' }, t('acc.prev')))) : null,
    h('ul', { class: 'govuk-pagination__list' }, items),
    page < pages ? h('div', { class: 'govuk-pagination__next' },
      h('a', { class: 'govuk-link govuk-pagination__link', href: `/accesses${queryOf(f, page + 1)}`, rel: 'next' },
        h('span', { class: 'govuk-pagination__link-title' }, t('acc.next')), arrow('next'))) : null);
}

function filterForm(ctx, f, agencies, errors) {
  const own = g.radios({
    id: 'filter-own', name: 'own', legend: t('acc.filter.own'), legendSize: 's', value: f.own,
    items: OWN.map((v) => ({ value: v, text: t(`acc.filter.own.${v}`) })),
  });
  own.querySelector('.govuk-radios').classList.add('govuk-radios--small', 'govuk-radios--inline');
  const agencyOptions = [{ value: '', text: t('acc.filter.agency.any') },
    ...agencies.map((a) => ({ value: a.id, text: a.name || t('acc.unknown_agency') }))];
  if (f.agency && !agencies.some((a) => a.id === f.agency)) agencyOptions.push({ value: f.agency, text: t('acc.unknown_agency') });
  const purposes = PURPOSES.includes(f.purpose) || !f.purpose ? PURPOSES : [...PURPOSES, f.purpose];
  const form = h('form', { novalidate: true, id: 'accesses-filter', method: 'get', action: '/accesses' },
    h('h2', { class: 'govuk-heading-m' }, t('acc.filter.title')),
    own,
    h('div', { class: 'ndx-filter' },
      g.select({ id: 'filter-agency', name: 'agency', label: t('acc.filter.agency'), value: f.agency, options: agencyOptions }),
      g.select({
        id: 'filter-purpose', name: 'purpose', label: t('acc.filter.purpose'), value: f.purpose,
        options: [{ value: '', text: t('acc.filter.purpose.any') }, ...purposes.map((p) => ({ value: p, text: tOr(`purpose.${p}`, p) }))],
      }),
      g.input({ id: 'filter-from', name: 'from', label: t('acc.filter.from'), hint: t('acc.filter.date.hint'), value: f.from, width: 10, autocomplete: 'off', error: errors?.byName.from }),
      g.input({ id: 'filter-to', name: 'to', label: t('acc.filter.to'), hint: t('acc.filter.date.hint'), value: f.to, width: 10, autocomplete: 'off', error: errors?.byName.to })),
    g.buttonGroup(g.button(t('acc.filter.apply'), { attrs: { id: 'apply-filter' } }),
      h('a', { class: 'govuk-link', href: '/accesses', id: 'clear-filter' }, t('acc.filter.clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const next = { page: 1 };
    for (const k of FIELDS) next[k] = String(fd.get(k) ?? '').trim();
    if (!OWN.includes(next.own)) next.own = 'exclude';
    ctx.navigate(`/accesses${queryOf(next)}`);
  });
  return form;
}

function unavailableBanner(unavailable) {
  if (!unavailable.length) return null;
  return g.notificationBanner({
    title: t('important'),
    heading: t('acc.unavailable'),
    body: [
      g.p(t('acc.unavailable.lead')),
      h('ul', { class: 'govuk-list govuk-list--bullet', id: 'accesses-unavailable' },
        unavailable.map((u) => h('li', null,
          `${u.provider_name || t('acc.unknown_agency')}: ${tOr(`acc.reason.${u.reason}`, t('acc.reason.unexpected'))}`))),
      unavailable.some((u) => u.reason === 'sign_in_refused')
        ? g.linkButton(api.signInAgainUrl(), t('reauth.button'), 'secondary') : null,
    ],
  });
}

export async function render(ctx) {
  const f = filterOf(ctx.query);
  let errors = filterErrors(f, {});
  let data = null;
  if (!errors) {
    try {
      data = await api.get(`/api/accesses${queryOf(f, f.page)}`);
    } catch (e) {
      if (!(e instanceof api.ApiError) || e.code !== 'validation') throw e;
      errors = filterErrors(f, e.fields);
    }
  }
  if (!data) {
    // The filter does not check: the form with its errors, the agencies
    // from an unfiltered list.
    data = await api.get(`/api/accesses${queryOf({ own: f.own })}`);
    data.accesses = null;
  }
  const list = Array.isArray(data.accesses) ? data.accesses : [];
  // The monitoring service's view: none when there is none (503) or it
  // fails; the access list stands without it.
  const misuse = await api.get('/api/me/misuse').catch(() => null);
  const canReport = !!(misuse && Array.isArray(misuse.cases));
  const nodes = [];
  if (errors) nodes.push(g.errorSummary(errors.summary));
  nodes.push(g.heading(t('acc.title')), g.p(t('acc.lead')));
  nodes.push(misuseBanner(canReport ? misuse.cases : null));
  nodes.push(unavailableBanner(Array.isArray(data.unavailable) ? data.unavailable : []));
  nodes.push(filterForm(ctx, f, Array.isArray(data.agencies) ? data.agencies : [], errors));
  if (data.accesses !== null) {
    const total = Number(data.total) || 0;
    const pages = Number(data.pages) || 0;
    const page = Number(data.page) || f.page;
    nodes.push(g.p(h('span', { id: 'accesses-count' },
      pages > 1 ? t('acc.count', { total, page, pages }) : t('acc.count.one', { total }))));
    if (data.truncated) nodes.push(g.insetText(t('acc.truncated')));
    if (list.length === 0) nodes.push(g.p(h('span', { id: 'accesses-empty' }, t('acc.empty'))));
    else nodes.push(accessTable(list, canReport));
    nodes.push(pagination(f, page, pages));
  }
  return { title: `${errors ? `${t('error.prefix')} ` : ''}${t('acc.title')}`, nodes: nodes.filter(Boolean) };
}
