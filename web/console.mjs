// The registry's web console (docs/console.md): the shell (header with the
// console's navigation, language switch and sign-out, footer naming the
// signed-in official and their role) and a History API router rendering
// one page module of web/console/ into <main>. Every page reads and changes
// the registry through its management API (/api/..., docs/registry-api.md)
// with the official's session; the registry decides what a role may do,
// the pages only leave out what it would refuse. Design system and words
// are the portal's (govuk.mjs, dom.mjs, i18n.mjs).

import { initAll } from '/console/assets/govuk/govuk-frontend.min.js';
import * as api from './console/rapi.mjs';
import { h, clear } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, lang, setLang, LANGS, LANG_NAMES } from './i18n.mjs';

document.body.classList.add('js-enabled');
if ('noModule' in HTMLScriptElement.prototype) document.body.classList.add('govuk-frontend-supported');

const BASE = '/console';
const ROUTES = [
  { path: '/', page: 'overview', nav: 'overview' },
  { path: '/members', page: 'members', nav: 'members' },
  { path: '/services', page: 'services', nav: 'services' },
  { path: '/services/*', page: 'service', nav: 'services' },
  { path: '/grants', page: 'grants', nav: 'grants' },
  { path: '/grants/:id/remove', page: 'grant-remove', nav: 'grants' },
  { path: '/audit', page: 'audit', nav: 'audit' },
];
const NAV = ['overview', 'members', 'services', 'grants', 'audit'];
const navHref = (key) => (key === 'overview' ? `${BASE}/` : `${BASE}/${key}`);

function match(pathname) {
  const rel = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname;
  const parts = rel.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const rp = r.path.split('/').filter(Boolean);
    if (rp[rp.length - 1] === '*') {
      if (parts.length > rp.length - 1 && rp.slice(0, -1).every((x, i) => x === parts[i])) {
        return { route: r, params: { rest: parts.slice(rp.length - 1).map(decodeURIComponent).join('/') } };
      }
      continue;
    }
    if (rp.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < rp.length && ok; i++) {
      if (rp[i].startsWith(':')) params[rp[i].slice(1)] = decodeURIComponent(parts[i]);
      else ok = rp[i] === parts[i];
    }
    if (ok) return { route: r, params };
  }
  return null;
}

const main = document.getElementById('main-content');
const header = document.getElementById('app-header');
const footer = document.getElementById('app-footer');
let flash = null;
let seqNo = 0;

export function navigate(path, { replace = false, flash: f = null } = {}) {
  flash = f;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render({ focus: true });
}

function enhance(scope) {
  initAll({ scope, onError: (err) => console.warn('govuk-frontend', err) });
}

async function signOut() {
  let out = {};
  try {
    out = await api.signOut();
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  if (out && /^https?:\/\//.test(out.logout_url || '')) location.assign(out.logout_url);
  else await navigate(`${BASE}/`);
}

function renderHeader(me, route) {
  const official = me && me.role;
  const navItems = official ? NAV.map((key) => {
    const current = route && route.nav === key;
    return h('li', { class: ['govuk-service-navigation__item', current && 'govuk-service-navigation__item--active'] },
      h('a', { class: 'govuk-service-navigation__link', href: navHref(key), 'aria-current': current ? 'page' : null },
        current ? h('strong', { class: 'govuk-service-navigation__active-fallback' }, t(`con.nav.${key}`)) : t(`con.nav.${key}`)));
  }) : [];
  if (me) {
    navItems.push(h('li', { class: 'govuk-service-navigation__item' },
      h('button', {
        type: 'button', class: 'govuk-service-navigation__link ndx-nav-button', id: 'sign-out',
        on: { click: () => signOut().catch(showFatal) },
      }, t('nav.signout'))));
  }
  const langNav = h('nav', { class: 'govuk-language-navigation', 'aria-label': t('nav.lang') },
    h('ul', { class: 'govuk-language-navigation__list' },
      LANGS.map((l) => h('li', { class: 'govuk-language-navigation__list-item' },
        l === lang()
          ? h('span', { class: 'govuk-language-navigation__text', lang: l, 'aria-current': 'true' }, LANG_NAMES[l])
          : h('a', {
            class: 'govuk-language-navigation__link', href: `?lang=${l}`, lang: l, hreflang: l, rel: 'alternate',
            dataset: { lang: l },
          }, LANG_NAMES[l])))));
  clear(header).append(
    h('div', { class: 'govuk-generic-header' },
      h('div', { class: 'govuk-generic-header__container govuk-width-container' },
        h('div', { class: 'govuk-generic-header__logo' },
          h('a', { href: `${BASE}/`, class: 'govuk-generic-header__homepage-link' }, t('con.service'))))),
    h('section', { 'aria-label': t('nav.label'), class: 'govuk-service-navigation', 'data-module': 'govuk-service-navigation' },
      h('div', { class: 'govuk-width-container' },
        h('div', { class: 'govuk-service-navigation__container' },
          h('nav', { 'aria-label': t('nav.menu'), class: 'govuk-service-navigation__wrapper' },
            h('button', {
              type: 'button', class: 'govuk-service-navigation__toggle govuk-js-service-navigation-toggle',
              'aria-controls': 'navigation', hidden: true, 'aria-hidden': 'true',
            }, t('nav.menu')),
            h('ul', { class: 'govuk-service-navigation__list', id: 'navigation' }, navItems))),
        langNav)));
  enhance(header);
}

function renderFooter(me) {
  clear(footer).append(
    h('div', { class: 'govuk-width-container' },
      h('div', { class: 'govuk-footer__meta' },
        h('div', { class: 'govuk-footer__meta-item govuk-footer__meta-item--grow' },
          h('p', { class: 'govuk-body-s ndx-footer-text' }, t('con.footer')),
          me && me.role
            ? h('p', { class: 'govuk-body-s ndx-footer-text', id: 'signed-in-as', dataset: { role: me.role } },
              t('con.signed_in', { name: me.name, role: t(`con.role.${me.role}`) }))
            : null))));
}

function signInPage(query) {
  const nodes = [g.heading(t('con.signin.title'))];
  if (query.get('error')) nodes.push(g.errorSummary([{ href: '#signin', text: t('con.signin.failed') }], t('error.title')));
  nodes.push(g.p(t('con.signin.body')));
  const start = g.startButton(api.signInUrl(lang(), location.pathname + location.search.replace(/[?&]error=[^&]*/, '')),
    t('con.signin.button'));
  start.id = 'signin';
  nodes.push(start);
  return { title: t('con.signin.title'), page: 'signin', nodes };
}

function forbiddenPage(me) {
  return {
    title: t('con.forbidden.title'),
    page: 'forbidden',
    nodes: [g.heading(t('con.forbidden.title')), g.p(t('con.forbidden.body', { name: me.name }))],
  };
}

function errorPage(err) {
  const text = err instanceof api.ConsoleError ? err.text() : t('api.unknown');
  return { title: t('error.title'), page: 'error', nodes: [g.heading(t('error.title')), g.p(text)] };
}

function showFatal(err) {
  console.error(err);
  const out = errorPage(err);
  clear(main).append(...out.nodes);
  main.removeAttribute('aria-busy');
}

function focusPage() {
  const target = main.querySelector('.govuk-error-summary') || main.querySelector('.govuk-notification-banner') ||
    main.querySelector('h1');
  if (target) {
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  }
}

async function render({ focus = false } = {}) {
  const seq = ++seqNo;
  main.setAttribute('aria-busy', 'true');
  const url = new URL(location.href);
  const wanted = url.searchParams.get('lang');
  if (wanted && LANGS.includes(wanted)) {
    setLang(wanted);
    url.searchParams.delete('lang');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  document.documentElement.lang = lang();
  document.getElementById('skip-link').textContent = t('skip');
  const m = match(url.pathname);
  let me = null;
  let out;
  try {
    me = await api.whoami();
  } catch (e) {
    out = errorPage(e);
  }
  if (seq !== seqNo) return;
  renderHeader(me, m && m.route);
  renderFooter(me);
  const f = flash;
  flash = null;
  if (out) {
    // the registry could not say who is signed in
  } else if (!me) {
    out = signInPage(url.searchParams);
  } else if (!me.role) {
    out = forbiddenPage(me);
  } else if (!m) {
    out = { title: t('con.nf.title'), page: 'not-found', nodes: [g.heading(t('con.nf.title'))] };
  } else {
    const ctx = {
      params: m.params, query: url.searchParams, me, flash: f, navigate, base: BASE,
      canChange: me.role === 'operator', rerender: () => render({ focus: true }),
    };
    try {
      const mod = await import(`./console/${m.route.page}.mjs`);
      out = await mod.render(ctx);
      out.page = m.route.page;
    } catch (e) {
      if (e instanceof api.ConsoleError && e.status === 401) out = signInPage(url.searchParams);
      else {
        console.error(e);
        out = errorPage(e);
      }
    }
  }
  if (seq !== seqNo) return;
  document.title = `${out.title} — ${t('con.service')}`;
  clear(main).append(...out.nodes);
  document.documentElement.dataset.page = `console-${out.page || 'error'}`;
  main.removeAttribute('aria-busy');
  enhance(main);
  if (focus) focusPage();
}

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  if (a.dataset.lang) {
    ev.preventDefault();
    setLang(a.dataset.lang);
    render({ focus: false });
    return;
  }
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`) ||
      /^\/console\/(auth|static|assets)\//.test(url.pathname)) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => render({ focus: true }));
render({ focus: false });
