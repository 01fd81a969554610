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
import { clear } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, lang } from './i18n.mjs';
import * as shell from './shell.mjs';

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
  { path: '/personal-data', page: 'personal-data', nav: 'personal-data' },
  { path: '/consent-services', page: 'consent-services', nav: 'consent-services' },
  { path: '/gateways', page: 'gateways', nav: 'gateways' },
  { path: '/revocations', page: 'revocations', nav: 'revocations' },
  { path: '/officials', page: 'officials', nav: 'officials' },
  { path: '/remove/:kind', page: 'remove', nav: null },
  { path: '/audit', page: 'audit', nav: 'audit' },
];
// The pages each role reads (docs/console.md "Roles"); the registry refuses
// the others' API calls with 403 whatever the page does.
const ALL = ['overview', 'members', 'services', 'grants', 'personal-data', 'consent-services',
  'gateways', 'revocations', 'officials', 'audit'];
const NAV = {
  operator: ALL,
  auditor: ALL,
  agency: ALL.filter((k) => k !== 'officials' && k !== 'audit'),
  dpo: ['overview', 'services', 'personal-data', 'consent-services', 'audit'],
};

// What the signed-in official may change (the pages leave out the rest; the
// registry decides): the operator everything, an agency administrator the
// subsystems and services of their member and the grants on those services
// (id: the subsystem's, the service's, the grant's service), no one else
// anything.
function mayChange(me) {
  const own = (id) => !!(me.member && id && id.startsWith(`${me.member}/`));
  return (kind, id) => me.role === 'operator'
    || (me.role === 'agency' && ['subsystem', 'service', 'grant'].includes(kind) && own(id));
}
const navHref = (key) => (key === 'overview' ? `${BASE}/` : `${BASE}/${key}`);

function match(pathname) {
  return shell.matchRoute(ROUTES, pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname);
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
  const navItems = me && me.role
    ? (NAV[me.role] || []).map((key) => shell.navItem(t(`con.nav.${key}`), navHref(key), route && route.nav === key)) : [];
  if (me) navItems.push(shell.signOutItem(() => signOut().catch(showFatal)));
  shell.renderHeaderInto(header, { home: `${BASE}/`, title: t('con.service'), navItems });
  enhance(header);
}

function renderFooter(me) {
  shell.renderFooterInto(footer, t('con.footer'),
    me && me.role ? t('con.signed_in', { name: me.name, role: me.member ? `${t(`con.role.${me.role}`)}, ${me.member}` : t(`con.role.${me.role}`) }) : null,
    me && me.role ? { role: me.role } : undefined);
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
      canChange: me.role === 'operator', may: mayChange(me), rerender: () => render({ focus: true }),
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
  if (focus) shell.focusPage(main);
}

shell.routeLinks({
  navigate,
  serverPath: (p) => !p.startsWith(`${BASE}/`) || /^\/console\/(auth|static|assets)\//.test(p),
  onLang: () => render({ focus: false }),
});

window.addEventListener('popstate', () => render({ focus: true }));
render({ focus: false });
