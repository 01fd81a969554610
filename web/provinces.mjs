// The 63 province codes of personal identification numbers and their names,
// as libndx holds them (src/lib/pin.c), fetched once from the portal's
// GET /api/provinces before the first page renders: one table, not two.
// Place names are proper nouns and stay untranslated.

import * as api from './api.mjs';

export let PROVINCES = [];
let byCode = new Map();

export async function loadProvinces() {
  const data = await api.get('/api/provinces');
  PROVINCES = (data.provinces || []).map((p) => [p.code, p.name]);
  byCode = new Map(PROVINCES);
}

export function provinceName(code) {
  return byCode.get(String(code)) ?? String(code ?? '');
}
