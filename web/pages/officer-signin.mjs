// Officers' sign-in with the account their agency was given
// (GET then POST /auth/officer, with the pre-session token). The portal answers the same 401 for an unknown user
// and a wrong password, and so does this page.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export async function render(ctx) {
  if (ctx.session.authenticated && ctx.session.kind === 'officer') {
    queueMicrotask(() => ctx.navigate('/officer/queue', { replace: true }));
  }
  const main = document.getElementById('main-content');
  const title = t('off.signin.title');

  function build(username, errors) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    if (ctx.flash && ctx.flash.type === 'signed_out' && !errors) {
      nodes.push(g.notificationBanner({ success: true, heading: t('home.signed_out') }));
    }
    nodes.push(g.heading(title), g.p(t('off.signin.lead')));
    const form = h('form', { novalidate: true, id: 'officer-signin' },
      g.input({ id: 'username', label: t('off.username'), value: username, error: errors?.byName.username,
        autocomplete: 'username', spellcheck: false, width: '20' }),
      g.passwordInput({ id: 'password', label: t('off.password'), error: errors?.byName.password }),
      g.button(t('off.signin'), { attrs: { id: 'officer-signin-submit' } }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const u = String(fd.get('username') ?? '').trim();
      const p = String(fd.get('password') ?? '');
      const missing = { byName: {}, summary: [] };
      if (!u) {
        missing.byName.username = t('off.err.username');
        missing.summary.push({ href: '#username', text: t('off.err.username') });
      }
      if (!p) {
        missing.byName.password = t('off.err.password');
        missing.summary.push({ href: '#password', text: t('off.err.password') });
      }
      if (missing.summary.length) {
        show(u, missing);
        return;
      }
      form.querySelector('button[type=submit]').disabled = true;
      api.signInOfficer(u, p)
        .then(async () => {
          await api.session(true);
          await ctx.navigate('/officer/queue', { replace: true });
        })
        .catch((err) => {
          const text = err instanceof api.ApiError
            ? (err.status === 401 ? t('api.bad_credentials') : err.text())
            : t('api.unknown');
          show(u, { byName: { password: text }, summary: [{ href: '#password', text }] });
        });
    });
    nodes.push(form);
    return nodes;
  }

  function show(username, errors) {
    clear(main).append(...build(username, errors));
    document.title = `${t('error.prefix')} ${title} — ${t('service.name')}`;
    ctx.enhance(main);
    ctx.focusPage();
  }

  return { title, nodes: build('', null) };
}
