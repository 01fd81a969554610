// The data marketplace's catalogue (GET /api/market/datasets): open to
// anyone without signing in, who sees the offers open to every consumer
// class; a member's officer or official sees those for its member's class
// too. Search by words in the titles and descriptions, with or without
// Vietnamese diacritics ("ho tich" finds "Hộ tịch"): the registry folds
// both with libndx's ndx_fold. The words searched live in the URL.

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';
import { inLang, memberText, idSegment } from '../marketview.mjs';

const Q_MAX = 200;

export async function render(ctx) {
  const q = String(ctx.query.get('q') ?? '').trim().slice(0, Q_MAX);
  const data = await api.get(`/api/market/datasets${q ? `?q=${encodeURIComponent(q)}` : ''}`);
  const list = Array.isArray(data.datasets) ? data.datasets : [];
  const nodes = [g.heading(t('mk.title')), g.p(t('mk.lead'))];
  if (!ctx.session.authenticated) nodes.push(g.insetText(t('mk.anonymous')));
  const form = h('form', { method: 'get', action: '/market', role: 'search', id: 'market-search', class: 'ndx-filter' },
    g.input({ id: 'q', name: 'q', label: t('mk.search'), hint: t('mk.search.hint'), value: q, spellcheck: false, autocomplete: 'off' }),
    g.button(t('mk.search.button'), { variant: 'secondary', attrs: { id: 'market-search-button' } }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = String(new FormData(form).get('q') ?? '').trim();
    ctx.navigate(v ? `/market?q=${encodeURIComponent(v)}` : '/market');
  });
  nodes.push(form);
  nodes.push(g.p(h('span', { id: 'market-count', 'data-count': String(list.length) },
    q ? t('mk.found', { n: list.length, q }) : t('mk.count', { n: list.length }))));
  nodes.push(h('ul', { class: 'govuk-list ndx-market-list', id: 'datasets' },
    list.map((d) => h('li', { class: 'govuk-!-margin-bottom-6', 'data-id': d.id },
      h('h2', { class: 'govuk-heading-m govuk-!-margin-bottom-1' },
        g.link(`/market/datasets/${idSegment(d.id)}`, inLang(d.title), { class: 'govuk-link ndx-dataset-link' })),
      g.p(h('span', { class: 'govuk-hint' }, t('mk.by', { publisher: memberText(d.publisher?.id, d.publisher?.name) }))),
      g.p(inLang(d.description)),
      g.p(h('span', { class: 'ndx-offer-count' }, t('mk.offers', { n: Array.isArray(d.offers) ? d.offers.length : 0 })))))));
  return { title: t('mk.title'), nodes };
}
