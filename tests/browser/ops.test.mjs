// The operations centre (/ops, docs/portal.md "The operations centre") in
// real Chromium against the demo federation: its two officials (federation
// .json apps.portal.officials) sign in through the e-ID's own page; after
// real exchanges through the gateways (collected by ndx-monitor through the
// exchange) every page renders with those figures, the charts are drawn
// by the charting package, the live figures move without a reload, axe-core
// finds nothing serious, Vietnamese and English, and nothing runs off the
// right edge at 390 px. The agency's official sees its own member only; a
// citizen who is no official gets a clear page.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  check, eventually, launch, newPage, passwordOf, portalMissing, ready, setArtifactPrefix, startDemo, STEP_MS,
} from './lib.mjs';

const TEST_MS = 240_000;
const COLLECT_MS = 60_000; // the demo's monitor collects every 5 s

const portal = (env) => env.fed.apps.portal.url.replace(/\/+$/, '');
const officialOf = (env, role) => {
  const o = (env.fed.apps.portal.officials || []).find((x) => x.role === role);
  assert.ok(o, `federation.json lists no ${role} official`);
  return o;
};

// n reads of a citizen by the tax department through its own gateway and
// the population registry's, and one the provider refuses (a purpose the
// service does not list): figures for every page.
async function exchanges(env, n) {
  const gw = env.fed.gateways.find((x) => x.member === 'VN/GOV/TCT');
  const pin = env.fed.apps.id.demo_accounts[1].pin;
  const read = (purpose) => fetch(`${gw.consumer_url}/r1/VN/GOV/BCA/population/citizens/${pin}`, {
    headers: { 'X-Road-Client': 'VN/GOV/TCT/tax', 'Ndx-Subject': pin, 'Ndx-Purpose': purpose },
  });
  for (let i = 0; i < n; i++) {
    const res = await read('tax-administration');
    assert.equal(res.status, 200, await res.text());
  }
  const refused = await read('marketing');
  assert.notEqual(refused.status, 200);
  await refused.arrayBuffer();
}

// The monitoring service's own count, with its admin token (what the pages
// should show, give or take the exchanges since).
async function monitorExchanges(env) {
  const mon = env.fed.apps.monitor;
  const token = readFileSync(mon.admin_token_file, 'utf8').trim();
  const res = await fetch(`${mon.url}/api/live?window=300`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return (await res.json()).exchanges;
}

async function signInOfficial(page, env, who, { official = true } = {}) {
  await page.goto(`${portal(env)}/ops`);
  await ready(page, 'ops-live');
  await page.getByRole('button', { name: 'Đăng nhập bằng định danh điện tử' }).click();
  await page.waitForSelector('input[name="pin"]');
  await page.fill('input[name="pin"]', who.pin);
  await page.fill('input[name="password"]', passwordOf(who));
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/ops', { timeout: STEP_MS }),
    page.locator('form:has(input[name="pin"]) [type="submit"]').first().click(),
  ]);
  await ready(page, 'ops-live');
  if (official) await page.waitForSelector('#ops-headline');
}

async function go(page, env, route, pageName) {
  await page.goto(`${portal(env)}${route}`);
  await ready(page, pageName);
}

// Nothing wider than the phone's screen: the page does not scroll sideways.
async function fitsPhone(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForSelector('html[data-page]');
  await page.waitForSelector('#main-content:not([aria-busy])', { state: 'attached' });
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `${name}: no horizontal scrolling at 390 px (${scroll} > ${client})`);
  await check(page, `${name}-390`);
  await page.setViewportSize({ width: 1100, height: 900 });
}

const figure = (page, id) => page.textContent(`#fig-${id}`).then((s) => s.trim());
const digits = (s) => Number(String(s).replace(/[^0-9]/g, ''));

// Chart.js drew on the canvas: it is registered and has a size.
async function chartDrawn(page, id) {
  return page.evaluate((cid) => {
    const c = document.getElementById(cid);
    return !!(c && globalThis.Chart && globalThis.Chart.getChart(c) && c.width > 0 && c.height > 0);
  }, `${id}-canvas`);
}

describe('operations centre in the demo federation', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('ops');
  let demo;

  before(async () => {
    demo = await startDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    env.browser = await launch();
    await exchanges(env, 5);
    await eventually(async () => (await monitorExchanges(env)) >= 5, { timeout: COLLECT_MS, every: 1000 });
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('the operator sees the whole federation live, in charts and tables, in both languages and at 390 px', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      // Before signing in: the page says what it is and offers the e-ID.
      await go(page, env, '/ops', 'ops-live');
      assert.match(await page.textContent('h1'), /Trung tâm điều hành/);
      await check(page, 'ops-signin');

      await signInOfficial(page, env, officialOf(env, 'operator'));
      assert.match(await page.textContent('h1'), /Số liệu trực tiếp/);
      assert.match(await page.textContent('#main-content'), /đơn vị vận hành/);
      assert.ok(digits(await figure(page, 'exchanges')) >= 5, await figure(page, 'exchanges'));
      assert.match(await figure(page, 'p95'), /\d+ ms/);
      assert.match(await figure(page, 'gateways-up'), /^\d+ trên \d+$/);
      await eventually(() => chartDrawn(page, 'ops-series'));
      await eventually(() => chartDrawn(page, 'ops-errors'));
      // The charts' text: a summary beside each, the figures in a table.
      assert.match(await page.textContent('#ops-series-summary'), /lượt trao đổi/);
      assert.match(await page.textContent('#ops-errors-summary'), /lỗi/);
      assert.match(await page.textContent('#ops-busiest'), /Thông tin công dân/);
      const agencies = await page.textContent('#ops-agencies');
      assert.match(agencies, /Cục Thuế/);
      assert.match(agencies, /Bộ Công an/);
      await check(page, 'ops-live');

      // Live: new exchanges show up without a reload.
      const before = digits(await figure(page, 'exchanges'));
      const marker = await page.evaluate(() => { window.__ndxSamePage = true; return true; });
      assert.ok(marker);
      await exchanges(env, 3);
      await eventually(async () => digits(await figure(page, 'exchanges')) > before, { timeout: COLLECT_MS, every: 1000 });
      assert.equal(await page.evaluate(() => window.__ndxSamePage), true, 'the figures moved in place');

      // One agency picked by the operator.
      await page.selectOption('#member', 'VN/GOV/TCT');
      await page.click('#ops-filter button');
      await ready(page, 'ops-live');
      await page.waitForURL((u) => u.searchParams.get('member') === 'VN/GOV/TCT');
      assert.match(await page.textContent('#main-content'), /Đang xem: Cục Thuế/);

      // Gateways.
      await go(page, env, '/ops/gateways', 'ops-gateways');
      const rows = await page.locator('#ops-gateways tr[data-gateway]').count();
      assert.ok(rows >= 8, `every gateway listed (${rows})`);
      assert.equal(await page.locator('#ops-gateways tr[data-up="true"]').count(), rows, 'all up');
      assert.match(await page.textContent('#ops-gateways'), /phiên bản \d+/);
      assert.match(await page.textContent('#ops-gateways'), /Chứng thư TLS hết hạn/);
      await check(page, 'ops-gateways');

      // Indicators, tasks and the report.
      await go(page, env, '/ops/indicators', 'ops-indicators');
      await check(page, 'ops-indicators');
      const indRows = await page.locator('#ops-indicators-table tbody tr').count();
      assert.ok(indRows >= 12, `every indicator listed (${indRows}): ${await page.textContent('#main-content')}`);
      const href = await page.getAttribute('#ops-report-link', 'href');
      const pdf = await page.request.get(`${portal(env)}${href}`);
      assert.equal(pdf.status(), 200);
      assert.equal(pdf.headers()['content-type'], 'application/pdf');
      assert.equal((await pdf.body()).subarray(0, 5).toString(), '%PDF-');

      // English.
      await page.click('a[data-lang="en"]');
      await ready(page, 'ops-indicators');
      assert.match(await page.textContent('h1'), /Indicators, tasks and the report/);
      await check(page, 'ops-indicators-en');
      await go(page, env, '/ops', 'ops-live');
      await page.waitForSelector('#ops-headline');
      assert.match(await page.textContent('h1'), /Live figures/);
      assert.match(await page.textContent('#ops-agencies'), /Tax Department/);
      await check(page, 'ops-live-en');
      await go(page, env, '/ops/gateways', 'ops-gateways');
      await check(page, 'ops-gateways-en');

      // A phone's width, every page.
      await page.click('a[data-lang="vi"]');
      await ready(page, 'ops-gateways');
      await fitsPhone(page, 'ops-gateways');
      await go(page, env, '/ops', 'ops-live');
      await fitsPhone(page, 'ops-live');
      await go(page, env, '/ops/indicators', 'ops-indicators');
      await fitsPhone(page, 'ops-indicators');
    } finally {
      await page.context().close();
    }
  });

  it('an agency official sees only its own agency', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      const who = officialOf(env, 'agency');
      await signInOfficial(page, env, who);
      assert.match(await page.textContent('#main-content'), /Đang xem: Cục Thuế/);
      assert.equal(await page.locator('#member').count(), 0, 'no choice of agency');
      assert.ok(digits(await figure(page, 'exchanges')) >= 1);
      const agencies = await page.locator('#ops-agencies tbody tr').allTextContents();
      assert.deepEqual(agencies.map((r) => /Cục Thuế/.test(r)), agencies.map(() => true), agencies.join(' | '));
      await check(page, 'ops-agency-live');
      // Another agency asked for by hand: refused by the portal.
      const other = await page.request.get(`${portal(env)}/api/ops/live?member=VN/GOV/BCA`);
      assert.equal(other.status(), 403);
      assert.equal((await other.json()).error, 'forbidden');
      const report = await page.request.get(`${portal(env)}/api/ops/report?period=2026-H2`);
      assert.equal(report.status(), 403);

      await go(page, env, '/ops/gateways', 'ops-gateways');
      const names = await page.locator('#ops-gateways tr[data-gateway]').evaluateAll((rs) => rs.map((r) => r.dataset.gateway));
      assert.deepEqual(names, ['VN/GOV/TCT/gw1']);
      await check(page, 'ops-agency-gateways');
      await go(page, env, '/ops/indicators', 'ops-indicators');
      assert.equal(await page.locator('#ops-report').count(), 0, 'no report for an agency');
      await check(page, 'ops-agency-indicators');
      await fitsPhone(page, 'ops-agency-indicators');
      await go(page, env, '/ops', 'ops-live');
      await page.waitForSelector('#ops-headline');
      await fitsPhone(page, 'ops-agency-live');
    } finally {
      await page.context().close();
    }
  });

  it('a citizen who is no official is told so', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      await signInOfficial(page, env, env.fed.apps.id.demo_accounts[0], { official: false });
      assert.match(await page.textContent('h1'), /không có quyền vào Trung tâm điều hành/);
      assert.equal(await page.locator('#ops-headline').count(), 0);
      const api = await page.request.get(`${portal(env)}/api/ops/live`);
      assert.equal(api.status(), 403);
      assert.equal((await api.json()).error, 'not_official');
      await check(page, 'ops-not-official');
    } finally {
      await page.context().close();
    }
  });

});
