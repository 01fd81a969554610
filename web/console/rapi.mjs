// The registry's management API (docs/registry-api.md) seen from the
// console: the session's CSRF token on every change (docs/console.md), the
// registry's X-Road style errors ({type, message, detail}) turned into
// ConsoleError with a text in the reader's language.

import { t } from '../i18n.mjs';

export class ConsoleError extends Error {
  constructor(status, type, detail) {
    super(detail || type || String(status));
    this.status = status;
    this.type = type || '';
    this.detail = detail || '';
  }

  text() {
    if (this.status === 403) {
      return this.type === 'Client.Csrf' ? t('con.api.csrf') : t('con.api.forbidden', { detail: this.detail });
    }
    if (this.status === 409) return t('con.api.conflict', { detail: this.detail });
    if (this.status === 404) return t('con.api.not_found', { detail: this.detail });
    if (this.status === 400) return t('con.api.invalid', { detail: this.detail });
    return t('con.api.server');
  }
}

let me = null;

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && me && me.csrf) headers['X-CSRF-Token'] = me.csrf;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ConsoleError(0, 'network', '');
  }
  let data = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    throw new ConsoleError(res.status, data && data.type, data && (data.detail || data.message));
  }
  return data ?? {};
}

// Who is signed in: {subject, name, role, csrf}, role '' for someone who
// signed in with the e-ID but is no official (the registry answers 403
// with the name), null for no one.
export async function whoami() {
  const res = await fetch('/console/auth/me', { credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) return null;
  const data = await res.json().catch(() => null);
  if (res.status === 403 && data) return { ...data, role: '' };
  if (!res.ok || !data) throw new ConsoleError(res.status, '', '');
  me = data;
  return me;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

export async function signOut() {
  const out = await call('POST', '/console/auth/logout');
  me = null;
  return out;
}

export function signInUrl(lang, next) {
  return `/console/auth/login?lang=${lang}${next ? `&next=${encodeURIComponent(next)}` : ''}`;
}

// An id in a path: each part percent-encoded, the slashes kept.
export function idPath(id) {
  return id.split('/').map(encodeURIComponent).join('/');
}
