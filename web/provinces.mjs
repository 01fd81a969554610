// The province tables, as libndx holds them (src/lib/adminmap.c and
// src/lib/pin.c), fetched once from the portal's GET /api/provinces before
// the first page renders: one table, not two.
//  - PROVINCES: the 34 provinces and centrally run cities since 1 July 2025
//    (Resolution 202/2025/QH15), what forms offer and addresses name;
//  - the 63 former provinces: the birth-registration codes of personal
//    numbers (which never change), and the province of addresses written
//    before the merger, shown with the province they are part of now.
// Place names are proper nouns and stay untranslated.

import * as api from './api.mjs';
import { t } from './i18n.mjs';

export let PROVINCES = [];
let current = new Map();
let former = new Map();

export async function loadProvinces() {
  const data = await api.get('/api/provinces');
  PROVINCES = (data.provinces || []).map((p) => [p.code, `${p.kind} ${p.name}`]);
  current = new Map((data.provinces || []).map((p) => [p.code, p]));
  former = new Map((data.former || []).map((p) => [p.code, p]));
}

// The name of a province code as key uses it: birth_province names where
// a birth was registered, under the former map; any other is an address's
// province, named by today's map, and a former code (an address written
// before 1 July 2025) says which province it is part of now.
export function provinceName(code, key = 'province') {
  const c = String(code ?? '');
  if (key === 'birth_province') return former.get(c)?.name ?? c;
  const now = current.get(c);
  if (now) return `${now.kind} ${now.name}`;
  const old = former.get(c);
  if (!old) return c;
  const unit = current.get(old.now);
  return unit ? t('province.former', { name: old.name, now: `${unit.kind} ${unit.name}` }) : old.name;
}
