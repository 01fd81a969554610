// The portal's JSON API (docs/portal.md, "API") seen from the browser: one
// fetch wrapper that sends the session's CSRF token on every POST, turns the
// portal's error bodies into ApiError, and retries once when the token was
// stale (the session may have been renewed in another tab). A "reauth"
// answer (the citizen's e-ID sign-in has ended, docs/portal.md) sends the
// browser through the e-ID again and back to the same page: while the e-ID's
// single sign-on lasts that takes no password. If the portal asks again
// within a minute of such a round trip, the page says so instead of looping.

import { t, has, lang } from './i18n.mjs';

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.detail = message || '';
    this.fields = fields && typeof fields === 'object' ? fields : {};
  }

  // The user-facing text: the code's translation; the server's message only
  // where it names something useful (the exchange or consent failures) and
  // never personal data (docs/portal.md promises that).
  text() {
    const key = `api.${this.code}`;
    const base = has(key) ? t(key) : t(this.status >= 500 ? 'api.server' : 'api.unknown');
    if (this.detail && (this.code === 'exchange' || this.code === 'consent_refused')) {
      return `${base} ${t('api.detail', { message: this.detail })}`;
    }
    return base;
  }
}

const STATUS_CODES = {
  400: 'invalid', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found',
  409: 'conflict', 422: 'validation', 502: 'exchange',
};

const REAUTH_KEY = 'ndx-reauth-at';
const REAUTH_QUIET_MS = 60_000;

// The e-ID sign-in, in the page's language (the portal passes it on as
// ui_locales), coming back to next when given.
export function signInUrl(next) {
  return `/auth/login?lang=${lang()}${next ? `&next=${encodeURIComponent(next)}` : ''}`;
}

// The sign-in URL that comes back to the page the citizen is on.
export function signInAgainUrl() {
  return signInUrl(location.pathname + location.search);
}

function reauthenticate(err) {
  let last = 0;
  try {
    last = Number(sessionStorage.getItem(REAUTH_KEY)) || 0;
    if (Date.now() - last > REAUTH_QUIET_MS) sessionStorage.setItem(REAUTH_KEY, String(Date.now()));
  } catch {
    last = Date.now(); // no storage: never redirect automatically, ask
  }
  if (Date.now() - last <= REAUTH_QUIET_MS) throw err;
  location.assign(signInAgainUrl());
  return new Promise(() => {}); // the page is going away
}

let csrf = null;
let sessionCache = null;

async function raw(method, path, body, token = csrf) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && token) headers['X-CSRF-Token'] = token;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = (data && typeof data.error === 'string' && data.error) ||
      STATUS_CODES[res.status] || (res.status >= 500 ? 'server' : 'unknown');
    const err = new ApiError(res.status, code, data && typeof data.message === 'string' ? data.message : '',
      data && data.fields);
    if (code === 'reauth') return reauthenticate(err);
    throw err;
  }
  return data ?? {};
}

export async function session(refresh = false) {
  if (sessionCache && !refresh) return sessionCache;
  try {
    sessionCache = await raw('GET', '/api/session');
  } catch (e) {
    if (e.status === 401) sessionCache = { authenticated: false };
    else throw e;
  }
  csrf = sessionCache.authenticated ? sessionCache.csrf || null : null;
  return sessionCache;
}

export function forgetSession() {
  sessionCache = null;
  csrf = null;
}

// An officer's sign-in (POST /auth/officer) carries the pre-session token that
// GET /auth/officer gives with its cookie (docs/portal.md "Officer sign-in"):
// a page of another site can neither read the token nor set the cookie.
export async function signInOfficer(username, password) {
  const { csrf: token } = await raw('GET', '/auth/officer');
  return raw('POST', '/auth/officer', { username, password }, token);
}

export async function get(path) {
  return raw('GET', path);
}

export async function post(path, body = {}) {
  if (!csrf) await session(true);
  try {
    return await raw('POST', path, body);
  } catch (e) {
    if (e.code !== 'csrf') throw e;
    await session(true);
    return raw('POST', path, body);
  }
}
