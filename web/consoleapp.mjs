// What the registry's console (console.mjs, docs/console.md) and a
// gateway's (gateway-console.mjs, docs/gateway-console.md) share: the shell
// (header with the console's navigation, language switch and sign-out,
// footer naming the signed-in official and their role) and a History API
// router rendering one page module into <main>. Each console names its
// routes, its navigation, where its page modules are, the prefix of its
// words in i18n.mjs and which roles may change; the daemon decides what a
// role may do, the pages only leave out what it would refuse. Design
// system and words are the portal's (govuk.mjs, dom.mjs, i18n.mjs).

import { initAll } from '/console/assets/govuk/govuk-frontend.min.js';
import * as api from './console/rapi.mjs';
import { clear } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, lang } from './i18n.mjs';
import * as shell from './shell.mjs';

const BASE = '/console';
const navHref = (key) => (key === 'overview' ? `${BASE}/` : `${BASE}/${key}`);

// The routes of pages that are their own navigation entry: 'overview' at
// '/', any other NAME at '/NAME'.
export const navRoutes = (names) => names.map((name) => ({ path: name === 'overview' ? '/' : `/${name}`, page: name, nav: name }));

// Set by startConsole: { routes, nav (the navigation's page names, or
// (me) => names for a navigation by role), load(page) => import(...),
// words, canChange(role), may(me) (optional: (kind, id) => whether me may
// change that thing; by default canChange of the role) }.
let app = null;

function match(pathname) {
  return shell.matchRoute(app.routes, pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname);
}

const w = (key, params) => t(`${app.words}.${key}`, params);

let main;
let header;
let footer;
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
  const navItems = me && me.role
    ? (typeof app.nav === 'function' ? app.nav(me) : app.nav).map((key) => shell.navItem(w(`nav.${key}`), navHref(key), route && route.nav === key)) : [];
  if (me) navItems.push(shell.signOutItem(() => signOut().catch(showFatal)));
  shell.renderHeaderInto(header, { home: `${BASE}/`, title: w('service'), navItems });
  enhance(header);
}

function renderFooter(me) {
  shell.renderFooterInto(footer, w('footer'),
    me && me.role ? t('con.signed_in', { name: me.name, role: me.member ? `${w(`role.${me.role}`)}, ${me.member}` : w(`role.${me.role}`) }) : null,
    me && me.role ? { role: me.role } : undefined);
}

function signInPage(query) {
  const nodes = [g.heading(t('con.signin.title'))];
  if (query.get('error')) nodes.push(g.errorSummary([{ href: '#signin', text: t('con.signin.failed') }], t('error.title')));
  nodes.push(g.p(w('signin.body')));
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
    nodes: [g.heading(t('con.forbidden.title')), g.p(w('forbidden.body', { name: me.name }))],
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

async function render({ focus = false } = {}) {
  const seq = ++seqNo;
  main.setAttribute('aria-busy', 'true');
  const url = shell.pageUrl();
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
      canChange: app.canChange(me.role),
      may: app.may ? app.may(me) : () => app.canChange(me.role),
      rerender: () => render({ focus: true }),
    };
    try {
      const mod = await app.load(m.route.page);
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
  document.title = `${out.title} — ${w('service')}`;
  clear(main).append(...out.nodes);
  document.documentElement.dataset.page = `console-${out.page || 'error'}`;
  main.removeAttribute('aria-busy');
  enhance(main);
  if (focus) shell.focusPage(main);
}

// Starts the console described by config (see app above).
export function startConsole(config) {
  app = config;
  document.body.classList.add('js-enabled');
  if ('noModule' in HTMLScriptElement.prototype) document.body.classList.add('govuk-frontend-supported');
  main = document.getElementById('main-content');
  header = document.getElementById('app-header');
  footer = document.getElementById('app-footer');
  shell.routeLinks({
    navigate,
    serverPath: (p) => !p.startsWith(`${BASE}/`) || /^\/console\/(auth|static|assets|api)\//.test(p),
    onLang: () => render({ focus: false }),
  });
  window.addEventListener('popstate', () => render({ focus: true }));
  render({ focus: false });
}
