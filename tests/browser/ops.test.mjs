// The operations centre (/ops, docs/portal.md "The operations centre") in
// real Chromium against the demo federation: its two officials (federation
// .json apps.portal.officials) sign in through the e-ID's own page; after
// real exchanges through the gateways (collected by ndx-monitor through the
// exchange) every page renders with those figures, the charts are drawn
// by the charting package, the live figures move without a reload, axe-core
// finds nothing serious, Vietnamese and English, and nothing runs off the
// right edge at 390 px; after the tax department and social insurance
// reconcile with the population registry, /ops/indicators shows their four
// measures per agency. The agency's official sees its own member only; a
// citizen who is no official gets a clear page. Misuse detection end to end
// (issue 19), nothing played: a tax officer's read of a citizen that nothing
// explains becomes a no-explanation case in the demo's ndx-monitor, the
// operator finds it in /ops/cases, opens it (the read in evidence, its
// inclusion proof checked offline with `ndx log check-proof`) and confirms
// it through the page's triage form; the citizen then sees it, explained in
// words, above their access list. axe-core and 390 px on those pages too.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  check, eventually, launch, newPage, passwordOf, portalMissing, ready, setArtifactPrefix, signInCitizen, startDemo, STEP_MS,
} from './lib.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ndxBinary = () => path.join(process.env.NDX_BUILD_DIR || path.join(ROOT, 'build'), 'src/cli/ndx');

const TEST_MS = 240_000;
const COLLECT_MS = 60_000; // the demo's monitor collects every 5 s
// The demo's monitor analyses a read once it is 60 s old (--analysis-delay),
// then opens the case in the same round: 150 s leaves room on a busy machine.
const CASE_MS = 150_000;
const OFFICER = 'VN/GOV/TCT/canbo.kiemtra';

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

// A tax officer reads a citizen through the tax department's system with no
// procedure (no X-Road-Issue): the mandate of that system never explains a
// read naming an officer (docs/monitoring.md "Explanations"), so nothing
// does. Its message id is ours, to find the read in the case's evidence.
async function officerRead(env, pin) {
  const gw = env.fed.gateways.find((x) => x.member === 'VN/GOV/TCT');
  const id = randomUUID();
  const res = await fetch(`${gw.consumer_url}/r1/VN/GOV/BCA/population/citizens/${pin}`, {
    headers: {
      'X-Road-Client': 'VN/GOV/TCT/tax', 'X-Road-Id': id, 'X-Road-UserId': OFFICER,
      'Ndx-Subject': pin, 'Ndx-Purpose': 'tax-administration',
    },
  });
  assert.equal(res.status, 200, await res.text());
  return { id, pin, at: Date.now() };
}

// The tax department and social insurance reconcile their records with the
// population registry (ndx-sector reconcile, docs/sectors.md): their four
// measures reach the operations centre through the exchange.
const sectorBinary = () => path.join(process.env.NDX_BUILD_DIR || path.join(ROOT, 'build'), 'src/sector/ndx-sector');
async function reconcile(env) {
  for (const [sector, client] of [['tax', 'VN/GOV/TCT/tax'], ['insurance', 'VN/GOV/BHXH/insurance']]) {
    const member = client.split('/').slice(0, 3).join('/');
    const gw = env.fed.gateways.find((x) => x.member === member);
    await run(sectorBinary(), ['reconcile', '--sector', sector, '--db', path.join(env.fed.sector_dir, `${sector}.db`),
      '--gateway', gw.consumer_url, '--client', client, '--rate', '0', '--quiet'], { timeout: 60_000 });
  }
}

async function monitorGet(env, route) {
  const mon = env.fed.apps.monitor;
  const token = readFileSync(mon.admin_token_file, 'utf8').trim();
  const res = await fetch(`${mon.url}${route}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `${route}: ${res.status}`);
  return res.json();
}

// The monitoring service's own count, with its admin token (what the pages
// should show, give or take the exchanges since).
async function monitorExchanges(env) {
  return (await monitorGet(env, '/api/live?window=300')).exchanges;
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
    // First, so that the monitor's analysis delay runs while the other
    // tests do.
    env.misuse = await officerRead(env, env.fed.apps.id.demo_accounts[0].pin);
    env.browser = await launch();
    await exchanges(env, 5);
    await reconcile(env);
    await eventually(async () => (await monitorExchanges(env)) >= 5, { timeout: COLLECT_MS, every: 1000 });
    // the demo's monitor reads the registries' measures every 30 s
    await eventually(async () => {
      const view = await monitorGet(env, '/api/indicators');
      const clean = view.indicators.find((i) => i.id === 'registry_clean');
      return ['VN/GOV/TCT', 'VN/GOV/BHXH'].every((m) => clean.scopes.some((sc) => sc.scope === m && sc.current));
    }, { timeout: COLLECT_MS, every: 1000 });
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
      assert.ok(indRows >= 16, `every indicator listed (${indRows}): ${await page.textContent('#main-content')}`);
      // The registries' four measures: the nation, then each agency that reported.
      const regRows = await page.locator('#ops-registries-table tbody tr').allTextContents();
      assert.equal(regRows.length, 3, regRows.join(' | '));
      assert.match(regRows[0], /Toàn quốc/);
      assert.ok(regRows.some((r) => /Cục Thuế/.test(r)) && regRows.some((r) => /Bảo hiểm xã hội/.test(r)), regRows.join(' | '));
      assert.match(regRows[1], /\d+(,\d)? %.*\d+(,\d)? %.*\d+(,\d)? %.*\d+(,\d)? %/);
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
      // its own registry's measures beside the nation's, no other agency's
      const regRows = await page.locator('#ops-registries-table tbody tr').allTextContents();
      assert.equal(regRows.length, 2, regRows.join(' | '));
      assert.match(regRows[1], /Cục Thuế/);
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

  it("an officer's read nothing explains: the monitor opens a case, the operator confirms it in the page, the citizen sees it", { timeout: CASE_MS + TEST_MS }, async () => {
    const read = env.misuse;
    // The detector's own case, found by the read's message id in its evidence.
    const found = await eventually(async () => {
      const { cases } = await monitorGet(env, '/api/cases?kind=no-explanation');
      for (const c of cases.filter((x) => x.user_id === OFFICER && x.subject === read.pin)) {
        const doc = await monitorGet(env, `/api/cases/${c.id}`);
        if (doc.evidence.some((e) => e.message_id === read.id)) return doc;
      }
      return null;
    }, { timeout: CASE_MS, every: 2000 });
    assert.equal(found.state, 'open');
    assert.equal(found.client, 'VN/GOV/TCT/tax');
    assert.equal(found.client_member, 'VN/GOV/TCT');
    const id = String(found.id);
    const operator = officialOf(env, 'operator');

    const page = await newPage(env.browser);
    try {
      await signInOfficial(page, env, operator);
      await go(page, env, '/ops/cases', 'ops-cases');
      assert.match(await page.textContent('h1'), /Vụ việc nghi sử dụng sai dữ liệu/);
      const row = page.locator(`#cases tbody tr[data-case="${id}"]`);
      assert.equal(await row.count(), 1, `case ${id} in the open cases: ${await page.textContent('#main-content')}`);
      assert.equal(await row.getAttribute('data-member'), 'VN/GOV/TCT');
      const rowText = await row.textContent();
      assert.match(rowText, /Đọc dữ liệu không có lý do/);
      assert.match(rowText, /Cán bộ canbo\.kiemtra của Cục Thuế/);
      assert.match(rowText, /Đang mở/);
      await eventually(async () => /Vụ việc \(\d+ đang mở\)/.test(await page.textContent('.govuk-service-navigation')));
      await check(page, 'cases-real');
      await fitsPhone(page, 'cases-real');

      await row.locator('a').click();
      await ready(page, 'ops-case');
      assert.match(await page.textContent('h1'), new RegExp(`Vụ việc ${id}`));
      assert.match(await page.textContent('#case-state'), /Đang mở/);
      const summary = await page.textContent('#case-summary');
      assert.match(summary, /Cán bộ canbo\.kiemtra của Cục Thuế/);
      assert.ok(summary.includes(read.pin), summary);
      // The read in evidence, as the provider's gateway logged it: the
      // officer, no procedure, and nothing explaining it.
      const n = found.evidence.findIndex((e) => e.message_id === read.id);
      const card = page.locator(`#evidence-${n}`);
      assert.equal(await card.getAttribute('data-explained'), 'false');
      const cardText = await card.textContent();
      assert.match(cardText, /Không có lý do/);
      assert.match(cardText, /canbo\.kiemtra/);
      assert.ok(cardText.includes(read.id), cardText);
      assert.ok(cardText.includes(read.pin), cardText);
      // Its inclusion proof, once the monitor has fetched it from the
      // gateway, checks offline with nothing but the gateway's key.
      await eventually(async () => {
        await go(page, env, `/ops/cases/${id}`, 'ops-case');
        return (await page.locator(`#proof-${n}`).count()) === 1;
      }, { timeout: COLLECT_MS, every: 2000 });
      await check(page, 'case-real');
      const proof = await page.request.get(`${portal(env)}${await page.getAttribute(`#proof-${n}-download`, 'href')}`);
      const key = await page.request.get(`${portal(env)}${await page.getAttribute(`#proof-${n}-key`, 'href')}`);
      assert.equal(proof.status(), 200);
      assert.equal(key.status(), 200);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ndx-ops-proof-'));
      try {
        writeFileSync(path.join(dir, 'proof.json'), await proof.body());
        writeFileSync(path.join(dir, 'gateway.pub'), await key.body());
        const { stdout } = await run(ndxBinary(), ['log', 'check-proof', path.join(dir, 'proof.json'), '--key', path.join(dir, 'gateway.pub')]);
        assert.match(stdout, /^proof OK/);
        assert.ok(stdout.includes(`user id: ${OFFICER}`), stdout);
        assert.match(stdout, /issue: -/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }

      // Confirmed through the page's form, with its check step.
      await page.check('input[name="action"][value="confirm"]');
      await page.fill('#triage-reason', 'Cán bộ tra cứu công dân khi không có hồ sơ nào');
      await page.click('#triage-continue');
      await page.waitForSelector('#triage-check');
      await check(page, 'case-real-triage-check');
      await page.click('#triage-confirm');
      await page.waitForSelector('.govuk-notification-banner--success');
      await ready(page, 'ops-case');
      assert.match(await page.textContent('#case-state'), /Đã xác nhận vi phạm/);
      assert.equal(await page.locator('#triage-form').count(), 0);
      assert.equal(await page.locator('#triage-final').count(), 1);
      await check(page, 'case-real-confirmed');
      await fitsPhone(page, 'case-real-confirmed');
      // The monitor recorded it, with the signed-in operator as the actor.
      const decided = await monitorGet(env, `/api/cases/${id}`);
      assert.equal(decided.state, 'confirmed');
      const step = decided.history.at(-1);
      assert.equal(step.action, 'confirm');
      assert.equal(step.reason, 'Cán bộ tra cứu công dân khi không có hồ sơ nào');
      assert.ok(step.actor.startsWith(operator.name) && step.actor.endsWith('(operator, VN/GOV/VPCP)'), step.actor);
    } finally {
      await page.context().close();
    }

    // The citizen: the confirmed case above the list of who read their data,
    // and the officer's read itself in that list.
    const citizen = await newPage(env.browser);
    try {
      await signInCitizen(citizen, portal(env), env.fed.apps.id.demo_accounts[0]);
      await go(citizen, env, '/accesses', 'accesses');
      const item = citizen.locator(`#misuse-cases li[data-case="${id}"]`);
      assert.equal(await item.count(), 1, await citizen.textContent('#main-content'));
      const said = await item.textContent();
      // The agency and the service by the names the configuration gives them, never their ids.
      assert.match(said, /Một cán bộ của Cục Thuế đã tra cứu dữ liệu của bạn qua dịch vụ Tra cứu thông tin công dân/);
      assert.ok(!said.includes('VN/GOV'), `no member or service id for the citizen: ${said}`);
      assert.match(said, /Trung tâm điều hành đã xác nhận/);
      assert.ok(!said.includes('canbo.kiemtra'), `no officer's id for the citizen: ${said}`);
      const officerRow = citizen.locator('#accesses tbody tr[data-officer="true"]', { hasText: 'canbo.kiemtra' });
      assert.ok((await officerRow.count()) >= 1, await citizen.textContent('#accesses'));
      assert.match(await officerRow.first().textContent(), /Cán bộ Cục Thuế \(canbo\.kiemtra\)/);
      await check(citizen, 'accesses-misuse-real');
      await fitsPhone(citizen, 'accesses-misuse-real');
      await citizen.click('a[data-lang="en"]');
      await ready(citizen, 'accesses');
      assert.match(await citizen.textContent(`#misuse-cases li[data-case="${id}"]`), /An official of Cục Thuế looked up your data/);
      await check(citizen, 'accesses-misuse-real-en');
    } finally {
      await citizen.context().close();
    }
  });
});
