// "Tôi không nhận ra lần đọc này" (/accesses/report): the citizen reports a
// read of their access list they do not recognise. The page is the
// confirmation step: it shows the read, takes a short optional note and
// sends it only when the citizen confirms; the portal sends it to the
// monitoring service with the signed-in citizen's own number, which opens a
// case for the operator. API: docs/portal.md "The citizen's misuse view".

import * as api from '../api.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';

const NOTE_MAX = 500;

export async function render(ctx) {
  const q = ctx.query;
  const read = { gateway: q.get('gateway') || '', message_id: q.get('message_id') || '' };
  if (!read.gateway || !read.message_id) {
    return { title: t('acc.report.title'), nodes: [g.heading(t('acc.report.title')), g.p(t('acc.report.missing')), g.link('/accesses', t('acc.report.back'))] };
  }
  const build = (note = '', error = null) => {
    const nodes = [g.backLink('/accesses', t('acc.report.back'))];
    if (error) nodes.push(g.errorSummary([{ href: error.field ? '#report-note' : '#report-send', text: error.text }]));
    nodes.push(g.heading(t('acc.report.title')),
      g.p(t('acc.report.lead')),
      g.summaryList([
        { key: t('acc.time'), value: formatTime(q.get('time') || '') },
        { key: t('acc.client'), value: q.get('who') || '' },
        { key: t('acc.service'), value: q.get('data') || '' },
      ], { id: 'report-read' }));
    const form = h('form', { novalidate: true, id: 'report-form' },
      g.textarea({ id: 'report-note', name: 'note', label: t('acc.report.note'), hint: t('acc.report.note.hint'), value: note, optional: true, error: error?.field ? error.text : null }),
      g.warningText(t('acc.report.warning')),
      g.buttonGroup(g.button(t('acc.report.send'), { attrs: { id: 'report-send' } }),
        g.link('/accesses', t('acc.report.cancel'), { id: 'report-cancel' })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = String(new FormData(form).get('note') || '').trim();
      if ([...new TextEncoder().encode(text)].length > NOTE_MAX) {
        show(build(text, { field: true, text: t('acc.report.err.long') }));
        return;
      }
      form.querySelector('#report-send').disabled = true;
      try {
        const res = await api.post('/api/me/reports', { ...read, note: text });
        show([g.panel(t('acc.report.done.title'), t(res.status === 'already_reported' ? 'acc.report.done.again' : 'acc.report.done')),
          g.p(t('acc.report.done.next')), g.p(g.link('/accesses', t('acc.report.back'), { id: 'report-back' }))]);
      } catch (e) {
        if (!(e instanceof api.ApiError)) throw e;
        const unknown = e.code === 'unknown_read';
        show(build(text, { field: e.code === 'validation' && !!e.fields.note, text: unknown ? t('acc.report.err.unknown') : e.text() }));
      }
    });
    nodes.push(form);
    return nodes;
  };
  const root = h('div', { id: 'report' });
  const show = (nodes) => {
    root.replaceChildren(...nodes.filter(Boolean));
    ctx.enhance(root);
    ctx.focusPage();
  };
  root.append(...build().filter(Boolean));
  return { title: t('acc.report.title'), nodes: [root] };
}
