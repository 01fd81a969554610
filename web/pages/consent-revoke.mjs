// Confirming a revocation before it is sent: revoking cannot be undone.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { consumerText, servicesText, consentStatus, validity, isActive } from '../consentview.mjs';

export async function render(ctx) {
  const data = await api.get('/api/consents');
  const c = (Array.isArray(data.consents) ? data.consents : []).find((x) => x.jti === ctx.params.jti);
  if (!c || !isActive(c)) {
    return {
      title: t('con.notfound'),
      nodes: [g.backLink('/consents', t('back')), g.heading(t('con.notfound')), g.p(g.link('/consents', t('con.title')))],
    };
  }
  const errorBox = h('div');
  const nodes = [errorBox, g.backLink('/consents', t('back')), g.heading(t('con.confirm.title'))];
  nodes.push(g.summaryList([
    { key: t('con.consumer'), value: consumerText(c.consumer) },
    { key: t('con.services'), value: servicesText(c.services) },
    { key: t('con.purpose'), value: tOr(`purpose.${c.purpose}`, c.purpose ?? '') },
    { key: t('con.valid'), value: validity(c) },
    { key: t('con.status'), value: consentStatus(c) },
  ]));
  nodes.push(g.warningText(t('con.confirm.body', { consumer: consumerText(c.consumer) })));
  const form = h('form', { novalidate: true, id: 'revoke-form' },
    g.buttonGroup(
      g.button(t('con.confirm.yes'), { variant: 'warning', attrs: { id: 'confirm-revoke' } }),
      g.link('/consents', t('con.confirm.no'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    form.querySelector('button[type=submit]').disabled = true;
    api.post(`/api/consents/${encodeURIComponent(c.jti)}/revoke`)
      .then(() => ctx.navigate('/consents', { replace: true, flash: { type: 'revoked' } }))
      .catch((err) => {
        if (err instanceof api.ApiError && err.status === 401) return ctx.rerender();
        form.querySelector('button[type=submit]').disabled = false;
        errorBox.replaceChildren(g.errorSummary([{ text: err instanceof api.ApiError ? err.text() : t('api.unknown') }]));
        ctx.enhance(errorBox);
        ctx.focusPage();
        return null;
      });
  });
  nodes.push(form);
  return { title: t('con.confirm.title'), nodes };
}
