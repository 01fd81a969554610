// What an application holds beyond its form (docs/portal.md "More
// information" and "Attachments"): the officers' questions with the
// citizen's answers, the files attached (name, type, size and SHA-256,
// which the officer compares with what the citizen holds), and the
// citizen's answer form. A file is sent as base64 in JSON after the
// browser has read it; the portal checks its content, not its name.

import * as api from './api.mjs';
import { h } from './dom.mjs';
import * as g from './govuk.mjs';
import { t, formatTime } from './i18n.mjs';

export const FILE_ACCEPT = '.pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png';
export const FILE_MAX = 2 * 1024 * 1024;

function sizeText(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} kB`;
}

// The questions asked and their answers, newest last.
export function requestsSection(p) {
  const reqs = Array.isArray(p.information_requests) ? p.information_requests : [];
  if (!reqs.length) return [];
  return [h('h2', { class: 'govuk-heading-m' }, t('info.requests')),
    ...reqs.map((r) => g.summaryList([
      { key: t('info.question'), value: h('span', { class: 'ndx-info-question', 'data-seq': String(r.seq) }, String(r.question)) },
      { key: t('info.asked'), value: `${formatTime(r.asked_at)} — ${r.asked_by?.name || ''}` },
      { key: t('info.answer'), value: r.answer ? h('span', { class: 'ndx-info-answer' }, String(r.answer)) : g.tag(t('info.waiting'), 'purple') },
      ...(r.answered_at ? [{ key: t('info.answered'), value: formatTime(r.answered_at) }] : []),
    ]))];
}

// The files attached, with their SHA-256 and a link to download each.
export function attachmentsSection(p) {
  const files = Array.isArray(p.attachments) ? p.attachments : [];
  if (!files.length) return [];
  return [g.table({
    id: 'attachments',
    caption: t('att.title'),
    head: [t('att.name'), t('att.size'), t('att.sha256'), t('att.when')],
    rows: files.map((f) => [
      h('a', { class: 'govuk-link', href: `/api/procedures/${encodeURIComponent(p.id)}/attachments/${encodeURIComponent(f.id)}`, download: f.name }, f.name),
      sizeText(f.size),
      h('code', { class: 'ndx-hash', 'data-sha256': f.sha256 }, f.sha256),
      f.request_seq ? t('att.with_answer', { when: formatTime(f.uploaded_at) }) : formatTime(f.uploaded_at),
    ]),
  })];
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

// Uploads file to procedure id: the stored file's description. Too large
// a file is refused here, before it is read (the portal refuses it too).
export async function upload(id, file) {
  if (file.size > FILE_MAX) throw new api.ApiError(413, 'too_large', '', {});
  const content = await readBase64(file);
  return api.post(`/api/procedures/${encodeURIComponent(id)}/attachments`, { name: file.name, content_base64: content });
}

// A file refusal in words.
export function fileErrorText(err) {
  if (err instanceof api.ApiError && err.status === 413) return t('att.err.too_large');
  if (err instanceof api.ApiError && err.status === 415) return t('att.err.type');
  if (err instanceof api.ApiError && err.status === 409) return t('att.err.closed');
  if (err instanceof api.ApiError) return err.text();
  return t('api.unknown');
}

export function fileInput(id, error) {
  return h('div', { class: ['govuk-form-group', error && 'govuk-form-group--error'] },
    h('label', { class: 'govuk-label', for: id }, t('att.label')),
    h('div', { class: 'govuk-hint', id: `${id}-hint` }, t('att.hint')),
    error ? h('p', { class: 'govuk-error-message', id: `${id}-error` }, h('span', { class: 'govuk-visually-hidden' }, `${t('error.prefix')} `), error) : null,
    h('input', { class: ['govuk-file-upload', error && 'govuk-file-upload--error'], id, name: id, type: 'file', accept: FILE_ACCEPT,
      'aria-describedby': `${id}-hint${error ? ` ${id}-error` : ''}` }));
}
