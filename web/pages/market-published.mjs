// The datasets a member publishes in the marketplace (GET
// /api/market/published), for its officers and agency officials: each with
// its offers and a withdrawal that goes through a confirmation step before
// anything is sent (POST /api/market/datasets/{id}/withdrawal; agreements
// in force stay). A link leads to the publishing form.

import * as api from '../api.mjs';
import { h, clear } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, tOr } from '../i18n.mjs';
import { inLang, idSegment } from '../marketview.mjs';

export async function render(ctx) {
  const data = await api.get('/api/market/published');
  const list = Array.isArray(data.datasets) ? data.datasets : [];
  const root = h('div', null);
  const title = t('mk.pub.list.title');

  const draw = (confirming = null, errors = []) => {
    const nodes = [];
    if (ctx.flash && ['published', 'withdrawn'].includes(ctx.flash.type) && !confirming && !errors.length) {
      nodes.push(g.notificationBanner({ success: true, heading: t(`mk.flash.${ctx.flash.type}`) }));
    }
    if (errors.length) nodes.push(g.errorSummary(errors));
    nodes.push(g.heading(title), g.p(t('mk.pub.list.lead')),
      g.linkButton('/market/publish', t('mk.pub.new')));
    nodes.push(g.p(h('span', { id: 'published-count', 'data-count': String(list.length) }, t('mk.pub.count', { n: list.length }))));
    nodes.push(h('ul', { class: 'govuk-list', id: 'published' }, list.map((d) => {
      const item = h('li', { class: 'govuk-!-margin-bottom-6', 'data-id': d.id },
        h('h2', { class: 'govuk-heading-m govuk-!-margin-bottom-1' },
          g.link(`/market/datasets/${idSegment(d.id)}`, inLang(d.title), { class: 'govuk-link ndx-dataset-link' })),
        g.p(h('span', { class: 'govuk-hint' }, String(d.service ?? ''))),
        g.p(t('mk.offers', { n: Array.isArray(d.offers) ? d.offers.length : 0 })));
      if (confirming === d.id) {
        const confirm = g.button(t('mk.pub.withdraw.confirm'), { type: 'button', variant: 'warning', attrs: { id: 'withdraw-confirm' } });
        confirm.addEventListener('click', async () => {
          confirm.disabled = true;
          try {
            await api.post(`/api/market/datasets/${idSegment(d.id)}/withdrawal`, {});
            await ctx.navigate('/market/published', { replace: true, flash: { type: 'withdrawn' } });
          } catch (e) {
            draw(null, [{ text: e instanceof api.ApiError ? tOr(`mk.err.${e.code}`, e.text()) : t('api.unknown') }]);
          }
        });
        const cancel = h('a', { href: '/market/published', class: 'govuk-link', id: 'withdraw-cancel' }, t('mk.cancel'));
        cancel.addEventListener('click', (ev) => { ev.preventDefault(); draw(); });
        item.append(h('div', { id: 'withdraw-check' }, g.warningText(t('mk.pub.withdraw.warn', { title: inLang(d.title) })), g.buttonGroup(confirm, cancel)));
      } else {
        const btn = g.button(t('mk.pub.withdraw'), { type: 'button', variant: 'secondary', attrs: { 'data-withdraw': d.id } });
        btn.addEventListener('click', () => draw(d.id));
        item.append(btn);
      }
      return item;
    })));
    clear(root).append(...nodes);
    // The first drawing is not in the page yet: the app enhances it once it is
    // (GOV.UK Frontend's radios look their conditional reveals up by id).
    if (root.isConnected) ctx.enhance(root);
    if (confirming || errors.length) {
      if (errors.length) ctx.focusPage();
      else document.getElementById('withdraw-confirm')?.focus();
    }
  };
  draw();
  return { title, nodes: [root] };
}
