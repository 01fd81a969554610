// The portal's 422 answers name each failing field with a code
// ({"fields": {"business_name": "required"}}); this turns them into the
// GOV.UK error summary's list and the inline messages, in the page's order.

import { t, has } from './i18n.mjs';

export function fieldMessage(code, label, choice = false) {
  const key = choice && code === 'required' ? 'ferr.choose' : has(`ferr.${code}`) ? `ferr.${code}` : 'ferr.other';
  const template = t(key, { field: '\u0000' });
  // Mid-sentence the label loses its capital ("Nhập tên hộ kinh doanh").
  const name = template.startsWith('\u0000') ? label : label.charAt(0).toLocaleLowerCase() + label.slice(1);
  return t(key, { field: name });
}

// fields: [{name, id, label, choice}] in page order (choice: a select, so
// "Chọn …" rather than "Nhập …"); serverFields: {name: code}.
// Returns {byName: {name: message}, summary: [{href, text}]}; codes for
// names the page does not show still reach the summary, unlinked.
export function mapFieldErrors(fields, serverFields) {
  const byName = {};
  const summary = [];
  const seen = new Set();
  for (const f of fields) {
    if (!(f.name in serverFields)) continue;
    const msg = fieldMessage(String(serverFields[f.name]), f.label, f.choice);
    byName[f.name] = msg;
    summary.push({ href: `#${f.id}`, text: msg });
    seen.add(f.name);
  }
  for (const [name, code] of Object.entries(serverFields)) {
    if (!seen.has(name)) summary.push({ text: fieldMessage(String(code), name) });
  }
  return { byName, summary };
}
