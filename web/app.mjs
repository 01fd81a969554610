// The portal's single-page shell: the header (service navigation, language
// switch, sign-out), the footer, and a History API router that renders one
// page module (web/pages/*.mjs) into <main>. After every client-side
// navigation it sets document.title and moves focus to the page's h1 (or the
// error summary), so screen-reader users hear the new page as they would on
// a full load. The API contract is docs/portal.md.

import { initAll } from '/assets/govuk/govuk-frontend.min.js';
import * as api from './api.mjs';
import { clear } from './dom.mjs';
import * as g from './govuk.mjs';
import { t } from './i18n.mjs';
import * as shell from './shell.mjs';
import { loadProvinces } from './provinces.mjs';

// GOV.UK Frontend's template sets these classes with an inline script; this
// module does it so the page needs no inline script (CSP).
document.body.classList.add('js-enabled');
if ('noModule' in HTMLScriptElement.prototype) document.body.classList.add('govuk-frontend-supported');

const ROUTES = [
  { path: '/', page: 'home', nav: 'home' },
  { path: '/profile', page: 'profile', need: 'citizen', nav: 'profile' },
  { path: '/procedures', page: 'procedures', need: 'citizen', nav: 'procedures' },
  { path: '/procedures/new/household-business', page: 'procedure-new', need: 'citizen', nav: 'procedures', kind: 'household-business' },
  { path: '/procedures/new/residence-change', page: 'procedure-new', need: 'citizen', nav: 'procedures', kind: 'residence-change' },
  { path: '/procedures/:id', page: 'procedure', need: 'citizen', nav: 'procedures' },
  { path: '/notifications', page: 'notifications', need: 'citizen', nav: 'notifications' },
  { path: '/accesses', page: 'accesses', need: 'citizen', nav: 'accesses' },
  { path: '/accesses/report', page: 'access-report', need: 'citizen', nav: 'accesses' },
  { path: '/consents', page: 'consents', need: 'citizen', nav: 'consents' },
  { path: '/consents/:jti/revoke', page: 'consent-revoke', need: 'citizen', nav: 'consents' },
  { path: '/officer', page: 'officer-signin', nav: 'officer' },
  { path: '/officer/queue', page: 'officer-queue', need: 'officer', nav: 'queue' },
  { path: '/officer/procedures/:id', page: 'officer-procedure', need: 'officer', nav: 'queue' },
  { path: '/officer/worklist', page: 'officer-worklist', need: 'officer', nav: 'worklist' },
  { path: '/market', page: 'market', nav: 'market' },
  { path: '/market/datasets/:id', page: 'market-dataset', nav: 'market' },
  { path: '/market/requests', page: 'market-requests', need: 'party', nav: 'market_requests' },
  { path: '/market/requests/:id', page: 'market-negotiation', need: 'party', nav: 'market_requests' },
  { path: '/market/published', page: 'market-published', need: 'party', nav: 'market_published' },
  { path: '/market/publish', page: 'market-publish', need: 'party', nav: 'market_published' },
  { path: '/market/invoices', page: 'market-invoices', need: 'party', nav: 'market_invoices' },
  { path: '/ops', page: 'ops-live', need: 'official', nav: 'ops' },
  { path: '/ops/gateways', page: 'ops-gateways', need: 'official', nav: 'ops_gateways' },
  { path: '/ops/indicators', page: 'ops-indicators', need: 'official', nav: 'ops_indicators' },
  { path: '/ops/cases', page: 'ops-cases', need: 'official', nav: 'ops_cases' },
  { path: '/ops/cases/:id', page: 'ops-case', need: 'official', nav: 'ops_cases' },
  { path: '/admin/officers', page: 'admin-officers', need: 'official', nav: 'admin' },
  { path: '/admin/officers/:username', page: 'admin-officer', need: 'official', nav: 'admin' },
  { path: '/admin/officials', page: 'admin-officials', need: 'official', nav: 'admin' },
  { path: '/admin/officials/:pin', page: 'admin-official', need: 'official', nav: 'admin' },
  { path: '/admin/audit', page: 'admin-audit', need: 'official', nav: 'admin' },
];

const NAV = {
  none: [['home', '/'], ['market', '/market'], ['officer', '/officer']],
  citizen: [['profile', '/profile'], ['procedures', '/procedures'], ['notifications', '/notifications'], ['accesses', '/accesses'], ['consents', '/consents']],
  officer: [['queue', '/officer/queue'], ['worklist', '/officer/worklist']],
  // An official is a citizen too: on the operations centre's pages the
  // navigation is the centre's, elsewhere the citizen's with one link to it.
  official: [['ops', '/ops'], ['ops_cases', '/ops/cases'], ['ops_gateways', '/ops/gateways'], ['ops_indicators', '/ops/indicators'], ['admin', '/admin/officers'], ['profile', '/profile']],
};

// A member's officer or agency official (session.market) acts in the data
// marketplace: its requests follow the navigation it has otherwise.
const MARKET = [['market', '/market'], ['market_requests', '/market/requests'], ['market_published', '/market/published'], ['market_invoices', '/market/invoices']];

function navFor(session, route) {
  const items = baseNav(session, route);
  return session.authenticated && session.market ? [...items, ...MARKET] : items;
}

function baseNav(session, route) {
  if (!session.authenticated) return NAV.none;
  if (session.official) {
    return route && route.need === 'official' ? NAV.official : [...NAV.citizen, ['ops', '/ops']];
  }
  return NAV[session.kind] || NAV.none;
}

// Whether the session may see a route that needs `need`.
function allowed(session, need) {
  if (!need) return true;
  if (!session.authenticated) return false;
  if (need === 'official') return !!session.official;
  if (need === 'party') return !!session.market;
  return session.kind === need;
}

// Paths the server answers itself; links to them are real page loads.
const SERVER_PATHS = /^\/(api|auth|static|assets)(\/|$)/;

function match(pathname) {
  return shell.matchRoute(ROUTES, pathname);
}

const main = document.getElementById('main-content');
const header = document.getElementById('app-header');
const footer = document.getElementById('app-footer');
let flash = null;
let renderSeq = 0;

export function navigate(path, { replace = false, flash: f = null } = {}) {
  flash = f;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render({ focus: true });
}

// Initialises GOV.UK Frontend's JavaScript components inside a subtree just
// added to the page (error summary focus, radios' conditional reveal, …).
export function enhance(scope) {
  initAll({ scope, onError: (err) => console.warn('govuk-frontend', err) });
}

async function signOut(kind) {
  let out = {};
  try {
    out = await api.post('/auth/logout');
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  api.forgetSession();
  const url = out && typeof out.logout_url === 'string' ? out.logout_url : '';
  if (kind === 'citizen' && /^https?:\/\//.test(url)) {
    location.assign(url);
    return;
  }
  await navigate(kind === 'officer' ? '/officer' : '/', { flash: { type: 'signed_out' } });
}

function renderHeader(session, route) {
  const kind = session.authenticated ? session.kind : 'none';
  const items = navFor(session, route);
  const active = route ? route.nav : null;
  const navItems = items.map(([key, href]) => shell.navItem(t(`nav.${key}`), href, key === active));
  if (session.authenticated) navItems.push(shell.signOutItem(() => signOut(kind).catch(showFatal)));
  if (items.some(([key]) => key === 'ops_cases')) openCases(navItems);
  if (items.some(([key]) => key === 'notifications')) unreadNotes(navItems);
  shell.renderHeaderInto(header, {
    home: kind === 'officer' ? '/officer/queue' : '/', title: t('service.name'), navItems,
  });
  enhance(header);
}

// The cases entry of the centre's navigation says how many are open (one
// question to the portal; without an answer it shows no number).
function openCases(navItems) {
  api.get('/api/ops/cases?state=open&limit=500').then((doc) => {
    const n = Array.isArray(doc.cases) ? doc.cases.length : null;
    const link = navItems.map((li) => li.querySelector('a[href="/ops/cases"]')).find(Boolean);
    if (n === null || !link) return;
    const label = link.querySelector('strong') || link;
    label.textContent = t('nav.ops_cases.count', { n });
    link.dataset.open = String(n);
  }).catch(() => {});
}

// The notifications entry says how many are unread (one question to the
// portal; without an answer it shows no number). A page that marks some
// read calls it again through refreshUnread.
function unreadNotes(navItems) {
  const link = navItems.map((li) => li.querySelector('a[href="/notifications"]')).find(Boolean);
  if (!link) return;
  api.get('/api/notifications').then((doc) => showUnread(link, doc.unread)).catch(() => {});
}

function showUnread(link, n) {
  if (typeof n !== 'number') return;
  const label = link.querySelector('strong') || link;
  label.textContent = n ? t('nav.notifications.count', { n }) : t('nav.notifications');
  link.dataset.unread = String(n);
}

export function refreshUnread(n) {
  const link = header.querySelector('a[href="/notifications"]');
  if (link) showUnread(link, n);
}

function renderFooter(session) {
  shell.renderFooterInto(footer, t('footer.text'),
    session.authenticated && session.name ? t('footer.signed_in_as', { name: session.name }) : null);
}

function needSignIn(kind, session) {
  if (kind === 'official') {
    // Signed in, but not an official: say so plainly (the API answers 403).
    if (session && session.authenticated) {
      return {
        title: t('ops.not_official.title'),
        nodes: [g.heading(t('ops.not_official.title')), g.p(t('ops.not_official.body'))],
      };
    }
    return {
      title: t('ops.signin.title'),
      nodes: [g.heading(t('ops.signin.title')), g.p(t('ops.signin.body')),
        g.startButton(api.signInAgainUrl(), t('home.start'))],
    };
  }
  if (kind === 'party' && session && session.authenticated) {
    return { title: t('mk.req.title'), nodes: [g.heading(t('mk.req.title')), g.p(t('mk.not_party'))] };
  }
  if (kind === 'officer' || kind === 'party') {
    return {
      title: t('need.title'),
      nodes: [g.heading(t('need.title')), g.p(t('need.officer')), g.linkButton('/officer', t('off.signin'))],
    };
  }
  return {
    title: t('need.title'),
    nodes: [g.heading(t('need.title')), g.p(t('need.citizen')), g.startButton(api.signInUrl(), t('home.start'))],
  };
}

function errorPage(err) {
  const text = err instanceof api.ApiError ? err.text() : t('api.unknown');
  return { title: t('error.title'), nodes: [g.heading(t('error.title')), g.p(text)] };
}

function showFatal(err) {
  console.error(err);
  const out = errorPage(err);
  clear(main).append(...out.nodes);
  main.removeAttribute('aria-busy');
  document.title = `${out.title} — ${t('service.name')}`;
  main.querySelector('h1')?.focus();
}

export function focusPage() {
  shell.focusPage(main);
}

async function render({ focus = false } = {}) {
  const seq = ++renderSeq;
  main.setAttribute('aria-busy', 'true');
  const url = shell.pageUrl();

  const m = match(url.pathname);
  let session;
  try {
    session = await api.session();
  } catch (e) {
    session = { authenticated: false };
    console.warn('session', e);
  }
  if (seq !== renderSeq) return;
  renderHeader(session, m && m.route);
  renderFooter(session);

  const f = flash;
  flash = null;
  let out;
  if (!m) {
    out = { title: t('nf.title'), nodes: [g.heading(t('nf.title')), g.p(t('nf.body'))] };
  } else if (!allowed(session, m.route.need)) {
    out = needSignIn(m.route.need, session);
  } else {
    const ctx = {
      params: m.params,
      route: m.route,
      query: url.searchParams,
      session,
      flash: f,
      navigate,
      enhance,
      focusPage,
      rerender: () => render({ focus: true }),
      refreshUnread,
    };
    try {
      const mod = await import(`./pages/${m.route.page}.mjs`);
      out = await mod.render(ctx);
    } catch (e) {
      if (e instanceof api.ApiError && e.code === 'reauth') {
        out = {
          title: t('reauth.title'),
          nodes: [g.heading(t('reauth.title')), g.p(t('reauth.body')),
            g.linkButton(api.signInAgainUrl(), t('reauth.button'))],
        };
      } else if (e instanceof api.ApiError && e.status === 401) {
        api.forgetSession();
        const fresh = await api.session().catch(() => ({ authenticated: false }));
        if (seq !== renderSeq) return;
        renderHeader(fresh, m.route);
        renderFooter(fresh);
        out = needSignIn(m.route.need || 'citizen', fresh);
      } else {
        console.error(e);
        out = errorPage(e);
      }
    }
  }
  if (seq !== renderSeq) return;
  document.title = `${out.title} — ${t('service.name')}`;
  clear(main).append(...out.nodes);
  // Which page is showing, for styling hooks and for the browser tests to
  // know the render finished.
  document.documentElement.dataset.page = m ? m.route.page : 'not-found';
  main.removeAttribute('aria-busy');
  enhance(main);
  if (focus) focusPage();
}

shell.routeLinks({
  navigate,
  serverPath: (p) => SERVER_PATHS.test(p),
  onLang: () => render({ focus: false }).then(() => {
    header.querySelector('.govuk-language-navigation__text')?.setAttribute('tabindex', '-1');
    header.querySelector('.govuk-language-navigation__text')?.focus();
  }),
});

window.addEventListener('popstate', () => render({ focus: true }));

// Pages name provinces: the table comes first. Without it they show codes.
loadProvinces()
  .catch((e) => console.warn('provinces', e))
  .finally(() => render({ focus: false }));
