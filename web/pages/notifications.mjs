// The citizen's notification centre (docs/portal.md "Notifications and
// e-mail"): what happened to their applications (more information asked,
// a decision, a fee received or refunded), newest first, unread ones
// tagged, each linking to its application; marking one or all read; and
// the e-mail address the portal may write to, kept only with the
// citizen's consent (withdrawing it deletes the address).

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr, formatTime } from '../i18n.mjs';

export async function render(ctx) {
  const main = document.getElementById('main-content');
  let doc = await api.get('/api/notifications');
  let contact = await api.get('/api/me/contact');

  function list() {
    const items = Array.isArray(doc.notifications) ? doc.notifications : [];
    if (!items.length) return [g.p(h('span', { id: 'no-notifications' }, t('notes.none')))];
    const rows = items.map((n) => {
      const mark = n.read ? null : h('form', { novalidate: true, class: 'ndx-inline-form' },
        g.button(t('notes.mark'), { variant: 'secondary', attrs: { id: `read-${n.id}`, class: 'govuk-!-margin-bottom-0' } }));
      if (mark) {
        mark.addEventListener('submit', (ev) => {
          ev.preventDefault();
          mark.querySelector('button').disabled = true;
          markRead(String(n.id));
        });
      }
      return [
        h('span', { class: 'ndx-note', 'data-kind': n.kind, 'data-id': String(n.id) }, tOr(`notes.kind.${n.kind}`, n.kind)),
        h('a', { class: 'govuk-link', href: `/procedures/${encodeURIComponent(n.procedure_id)}` }, String(n.reference)),
        formatTime(n.created_at),
        n.read ? g.tag(t('notes.read'), 'grey') : [g.tag(t('notes.unread'), 'blue'), ' ', mark],
      ];
    });
    const nodes = [g.table({ id: 'notifications', caption: t('notes.title'), captionSize: 's', head: [t('notes.what'), t('notes.app'), t('notes.when'), t('notes.status')], rows })];
    if (doc.unread) {
      const all = h('form', { novalidate: true, id: 'read-all-form' }, g.button(t('notes.mark_all'), { variant: 'secondary', attrs: { id: 'read-all' } }));
      all.addEventListener('submit', (ev) => {
        ev.preventDefault();
        all.querySelector('button').disabled = true;
        markRead('all');
      });
      nodes.push(all);
    }
    return nodes;
  }

  function markRead(which) {
    api.post(`/api/notifications/${encodeURIComponent(which)}/read`, {})
      .then((d) => {
        doc = d;
        if (ctx.refreshUnread) ctx.refreshUnread(d.unread);
        show(null, null);
      })
      .catch((err) => {
        if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
        show({ byName: {}, summary: [{ text: err instanceof api.ApiError ? err.text() : t('api.unknown') }] }, null);
        return null;
      });
  }

  function emailSection(errors, values) {
    const nodes = [h('h2', { class: 'govuk-heading-m' }, t('notes.email.title'))];
    if (!contact.email_enabled) {
      nodes.push(g.p(h('span', { id: 'email-off' }, t('notes.email.off'))));
      return nodes;
    }
    if (contact.email) nodes.push(g.p(h('span', { id: 'email-current', class: 'ndx-wrap' }, t('notes.email.current', { email: contact.email }))));
    const form = h('form', { novalidate: true, id: 'email-form' },
      g.input({ id: 'email', label: t('notes.email.label'), hint: t('notes.email.hint'), type: 'email', autocomplete: 'email', spellcheck: false,
        value: values?.email ?? contact.email ?? '', error: errors?.byName.email }),
      g.checkboxes({ id: 'email-consent', name: 'consent', legend: t('notes.email.consent.legend'), error: errors?.byName['email-consent'],
        items: [{ value: 'yes', text: t('notes.email.consent') }], values: (values ? values.consent : !!contact.consent) ? ['yes'] : [] }),
      g.buttonGroup(g.button(t('notes.email.save'), { attrs: { id: 'email-save' } })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const v = { email: String(fd.get('email') ?? '').trim(), consent: fd.get('consent') === 'yes' };
      if (v.consent && !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(v.email)) {
        show({ byName: { email: t('notes.email.err.invalid') }, summary: [{ href: '#email', text: t('notes.email.err.invalid') }] }, null, v);
        return;
      }
      if (!v.consent && v.email && !contact.email) {
        show({ byName: { 'email-consent': t('notes.email.err.consent') }, summary: [{ href: '#email-consent', text: t('notes.email.err.consent') }] }, null, v);
        return;
      }
      form.querySelector('button[type=submit]').disabled = true;
      api.post('/api/me/contact', v.consent ? { email: v.email, consent: true } : { email: null, consent: false })
        .then((c) => {
          contact = c;
          show(null, t(c.email ? 'notes.email.saved' : 'notes.email.removed'));
        })
        .catch((err) => {
          if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
          const msg = err instanceof api.ApiError && err.status === 422 ? t('notes.email.err.invalid') : (err.text ? err.text() : t('api.unknown'));
          show({ byName: { email: msg }, summary: [{ href: '#email', text: msg }] }, null, v);
          return null;
        });
    });
    nodes.push(form);
    return nodes;
  }

  function build(errors, done, values) {
    const nodes = [];
    if (errors) nodes.push(g.errorSummary(errors.summary));
    if (done) nodes.push(g.notificationBanner({ success: true, heading: done }));
    nodes.push(g.heading(t('notes.title')), ...list(), ...emailSection(errors, values));
    return nodes;
  }

  function show(errors, done, values) {
    clear(main).append(...build(errors, done, values));
    document.title = `${errors ? `${t('error.prefix')} ` : ''}${t('notes.title')} — ${t('service.name')}`;
    ctx.enhance(main);
    if (done && !errors) {
      const banner = main.querySelector('.govuk-notification-banner');
      banner.setAttribute('tabindex', '-1');
      banner.focus();
    } else {
      ctx.focusPage();
    }
  }

  return { title: t('notes.title'), nodes: build(null, null) };
}
