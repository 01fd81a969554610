// Building DOM without HTML strings: h('p', {class: 'govuk-body'}, 'text')
// creates elements and text nodes only, so data from the API can never be
// parsed as markup. Attributes named on* are not accepted as strings; event
// handlers go in {on: {click: fn}}.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    } else if (k === 'value' && 'value' in el && el.tagName !== 'OPTION' && el.tagName !== 'BUTTON') {
      el.value = v;
    } else if (/^on/i.test(k)) {
      throw new Error(`h(): use {on: {...}} for ${k}`);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  apply(el, attrs);
  append(el, children);
  // A <textarea>'s or <select>'s value can only be set once it has children.
  if (attrs && 'value' in attrs && (tag === 'select' || tag === 'textarea') && attrs.value != null) {
    el.value = attrs.value;
  }
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}
