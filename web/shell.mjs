// What the portal's shell (app.mjs) and the registry console's (console.mjs)
// share: route matching, the GOV.UK header with its service navigation and
// language switch, the footer, focus after a navigation, and the click
// handler that keeps in-app links in the single-page router.

import { h, clear } from './dom.mjs';
import { t, lang, setLang, LANGS, LANG_NAMES } from './i18n.mjs';

// The route of routes whose path matches pathname: segments equal, ':name'
// taking one (decoded) into params.name, a final '*' taking one or more
// into params.rest (joined by '/'). {route, params} or null.
export function matchRoute(routes, pathname) {
  const parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const r of routes) {
    const rp = r.path.split('/').filter(Boolean);
    const rest = rp[rp.length - 1] === '*';
    const fixed = rest ? rp.slice(0, -1) : rp;
    if (rest ? parts.length <= fixed.length : parts.length !== fixed.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < fixed.length && ok; i++) {
      if (fixed[i].startsWith(':')) params[fixed[i].slice(1)] = decodeURIComponent(parts[i]);
      else ok = fixed[i] === parts[i];
    }
    if (rest) params.rest = parts.slice(fixed.length).map(decodeURIComponent).join('/');
    if (ok) return { route: r, params };
  }
  return null;
}

// The page's URL after its ?lang= (a language link followed from outside)
// has set the language and left the address; the document's lang and the
// skip link follow the language.
export function pageUrl() {
  const url = new URL(location.href);
  const wanted = url.searchParams.get('lang');
  if (wanted && LANGS.includes(wanted)) {
    setLang(wanted);
    url.searchParams.delete('lang');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  document.documentElement.lang = lang();
  document.getElementById('skip-link').textContent = t('skip');
  return url;
}

// One entry of the service navigation; current marks the page's own.
export function navItem(text, href, current) {
  return h('li', { class: ['govuk-service-navigation__item', current && 'govuk-service-navigation__item--active'] },
    h('a', { class: 'govuk-service-navigation__link', href, 'aria-current': current ? 'page' : null },
      current ? h('strong', { class: 'govuk-service-navigation__active-fallback' }, text) : text));
}

// The sign-out entry: a POST, so a button styled as a link.
export function signOutItem(onClick) {
  return h('li', { class: 'govuk-service-navigation__item' },
    h('button', {
      type: 'button', class: 'govuk-service-navigation__link ndx-nav-button', id: 'sign-out',
      on: { click: onClick },
    }, t('nav.signout')));
}

function languageNav() {
  return h('nav', { class: 'govuk-language-navigation', 'aria-label': t('nav.lang') },
    h('ul', { class: 'govuk-language-navigation__list' },
      LANGS.map((l) => h('li', { class: 'govuk-language-navigation__list-item' },
        l === lang()
          ? h('span', { class: 'govuk-language-navigation__text', lang: l, 'aria-current': 'true' }, LANG_NAMES[l])
          : h('a', {
            class: 'govuk-language-navigation__link', href: `?lang=${l}`, lang: l, hreflang: l, rel: 'alternate',
            dataset: { lang: l },
          }, LANG_NAMES[l])))));
}

// Fills header: the service's name linking to home, the navigation items
// and the language switch.
export function renderHeaderInto(header, { home, title, navItems }) {
  clear(header).append(
    h('div', { class: 'govuk-generic-header' },
      h('div', { class: 'govuk-generic-header__container govuk-width-container' },
        h('div', { class: 'govuk-generic-header__logo' },
          h('a', { href: home, class: 'govuk-generic-header__homepage-link' }, title)))),
    h('section', { 'aria-label': t('nav.label'), class: 'govuk-service-navigation', 'data-module': 'govuk-service-navigation' },
      h('div', { class: 'govuk-width-container' },
        h('div', { class: 'govuk-service-navigation__container' },
          h('nav', { 'aria-label': t('nav.menu'), class: 'govuk-service-navigation__wrapper' },
            h('button', {
              type: 'button', class: 'govuk-service-navigation__toggle govuk-js-service-navigation-toggle',
              'aria-controls': 'navigation', hidden: true, 'aria-hidden': 'true',
            }, t('nav.menu')),
            h('ul', { class: 'govuk-service-navigation__list', id: 'navigation' }, navItems))),
        languageNav())));
}

// Fills footer: the service's line and, when given, who is signed in.
export function renderFooterInto(footer, text, signedIn, dataset) {
  clear(footer).append(
    h('div', { class: 'govuk-width-container' },
      h('div', { class: 'govuk-footer__meta' },
        h('div', { class: 'govuk-footer__meta-item govuk-footer__meta-item--grow' },
          h('p', { class: 'govuk-body-s ndx-footer-text' }, text),
          signedIn ? h('p', { class: 'govuk-body-s ndx-footer-text', id: 'signed-in-as', dataset }, signedIn) : null))));
}

// Moves focus after a navigation: the error summary if the page has one (a
// form shown again with errors), else the page's h1.
export function focusPage(main) {
  const target = main.querySelector('.govuk-error-summary') || main.querySelector('h1');
  if (target) {
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  }
}

// Keeps same-origin links in the router: navigate(path) for those the app
// renders, the language links switch the language and call onLang(); links
// for which serverPath(pathname) is true are left to the browser.
export function routeLinks({ navigate, serverPath, onLang }) {
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    if (a.dataset.lang) {
      ev.preventDefault();
      setLang(a.dataset.lang);
      onLang();
      return;
    }
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || serverPath(url.pathname)) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
}
