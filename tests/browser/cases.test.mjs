// Misuse cases in real Chromium (docs/portal.md "Misuse cases", "The
// citizen's misuse view"): the demo federation's portal, e-ID, gateways and
// officials, with the portal's monitor pointed at a monitoring service
// played here (the cases contract of issue 19: cases, triage, the citizen's
// confirmed cases and reports), so that every case, proof and refusal is
// known to the test. The demo's portal is stopped and the same binary
// started on the same address with that one change, so that the e-ID's
// sign-in comes back to it. The operator and the tax department's official
// see the case list and a case page; the operator dismisses a case, first
// without a reason (refused, said in words) then with one; an auditor sees
// no triage form; the citizen sees a confirmed case above the access list and
// reports a read. axe-core on every page, English, 390 px.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { openSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  check, eventually, launch, newPage, passwordOf, portalMissing, ready, setArtifactPrefix, signInCitizen, startDemo, STEP_MS,
} from './lib.mjs';

const run = promisify(execFile);
const TEST_MS = 240_000;
const TCT = 'VN/GOV/TCT';
const BCA = 'VN/GOV/BCA';
const KEY = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAstandin+key+for+the+browser+test+only+AAAAAAAA=\n-----END PUBLIC KEY-----\n';

const portal = (env) => env.fed.apps.portal.url.replace(/\/+$/, '');
const officialOf = (env, role) => env.fed.apps.portal.officials.find((x) => x.role === role);
const binary = (name) => path.join(process.env.NDX_BUILD_DIR || path.resolve('build'), 'src', name.split('-')[1], name);

// ---- the monitoring service, played here ----------------------------------------

function caseOf(id, member, subject, state, kind) {
  return {
    id, kind, state, client: `${member}/app`, client_member: member, user_id: `${member}/canbo.lam`,
    subject, opened_ms: Date.now() - id * 60_000, updated_ms: Date.now() - id * 60_000,
    why: 'Không có thủ tục, sự đồng ý hay căn cứ pháp lý nào giải thích lần đọc này', reads: 1,
    explanation: 'Một cán bộ Cục Thuế đã đọc thông tin công dân của bạn mà không có thủ tục nào.',
    explanation_en: 'A Tax Department officer read your citizen record with no procedure.',
  };
}

function standInMonitor(citizenPin) {
  const mon = {
    calls: [], reports: [], procedures: new Map(),
    cases: new Map([
      [101, caseOf(101, TCT, '001095000505', 'open', 'no-explanation')],
      [102, caseOf(102, BCA, '001095000505', 'open', 'bulk')],
      [103, caseOf(103, TCT, citizenPin, 'confirmed', 'no-explanation')],
    ]),
  };
  const doc = (c) => ({
    ...c,
    history: [{ at_ms: c.opened_ms, actor: 'ndx-monitor', action: 'open', reason: c.why }],
    evidence: [{
      time_ms: c.opened_ms, gateway: `${BCA}/gw1`, seq: 42, message_id: `m-${c.id}`, client: c.client,
      service: 'VN/GOV/BCA/population/citizens', purpose: 'public-service', status: 200, user_id: c.user_id,
      issue: '', subjects: [c.subject], explanation: null,
      proof: { version: 1, gateway: `${BCA}/gw1`, seq: 42, leaf: 'ab'.repeat(32), path: ['cd'.repeat(32), 'ef'.repeat(32)], root: '01'.repeat(32), tree_size: 64, signature: 'c2lnbmF0dXJl' },
      proof_error: null, gateway_key: KEY,
    }],
    gateway_key: KEY,
  });
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      const json = body ? JSON.parse(body) : null;
      mon.calls.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: json });
      const answer = (status, obj) => {
        const text = JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.headers.authorization !== `Bearer ${mon.token}`) return answer(401, { type: 'Client.Unauthorized' });
      const q = url.searchParams;
      if (req.method === 'POST' && url.pathname === '/api/procedures') {
        for (const p of json.procedures) mon.procedures.set(p.id, p);
        return answer(200, { stored: json.procedures.length });
      }
      if (req.method === 'GET' && url.pathname === '/api/cases') {
        const list = [...mon.cases.values()].filter((c) => (q.get('state') === 'all' || q.get('state') === c.state) &&
          (!q.get('member') || q.get('member') === c.client_member) && (!q.get('kind') || q.get('kind') === c.kind));
        list.sort((a, b) => b.opened_ms - a.opened_ms);
        return answer(200, { cases: list });
      }
      const m = /^\/api\/cases\/(\d+)(\/triage)?$/.exec(url.pathname);
      const c = m && mon.cases.get(Number(m[1]));
      if (c && req.method === 'GET' && !m[2]) return answer(200, doc(c));
      if (c && req.method === 'POST' && m[2]) {
        if (c.state === 'confirmed' || c.state === 'dismissed') return answer(409, { type: 'Client.Conflict' });
        if (json.action === 'dismiss' && !json.reason) return answer(400, { type: 'Client.BadRequest' });
        c.state = { confirm: 'confirmed', dismiss: 'dismissed', escalate: 'escalated' }[json.action];
        c.history = [{ at_ms: Date.now(), actor: json.actor, action: json.action, reason: json.reason }];
        return answer(200, doc(c));
      }
      if (req.method === 'GET' && url.pathname === '/api/subject-cases') {
        return answer(200, { cases: [...mon.cases.values()].filter((x) => x.subject === q.get('subject') && x.state === 'confirmed').map(doc) });
      }
      if (req.method === 'GET' && url.pathname === '/api/live') {
        return answer(200, { gateways: [{ name: `${q.get('member')}/gw1`, member: q.get('member') }] });
      }
      if (req.method === 'POST' && url.pathname === '/api/subject-reports') {
        if (json.gateway !== `${BCA}/gw1`) return answer(404, { type: 'Client.NotFound' });
        mon.reports.push(json);
        return answer(201, { id: 104, created: true });
      }
      return answer(404, { type: 'Client.NotFound' });
    });
  });
  mon.start = () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    mon.url = `http://127.0.0.1:${server.address().port}`;
    resolve();
  }));
  mon.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return mon;
}

// ---- the portal, pointed at it -----------------------------------------------------

async function waitExit(pid, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > end) throw new Error(`process ${pid} did not stop`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function repointPortal(env, mon) {
  const app = env.fed.apps.portal;
  const cfg = JSON.parse(readFileSync(path.join(app.dir, 'portal.json'), 'utf8'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ndx-cases-'));
  writeFileSync(path.join(dir, 'monitor.token'), `${mon.token}\n`, { mode: 0o600 });
  cfg.monitor = { url: mon.url, token_file: path.join(dir, 'monitor.token'), push_interval_s: 1 };
  const config = path.join(dir, 'portal.json');
  writeFileSync(config, JSON.stringify(cfg, null, 2), { mode: 0o600 });
  // The demo has an operator and an agency official; the auditor is one of
  // its citizens, added here.
  const auditor = env.fed.id.demo_accounts[1];
  await run(binary('ndx-portal'), ['official', 'add', '--config', config, '--pin', auditor.pin, '--name', 'Kiểm toán viên',
    '--role', 'auditor', '--member', 'VN/GOV/KTNN']);
  env.auditor = auditor;
  process.kill(app.pid, 'SIGTERM');
  await waitExit(app.pid, 15_000);
  const log = openSync(path.join(dir, 'portal.stderr'), 'a');
  env.portalProc = spawn(binary('ndx-portal'), ['serve', '--config', config], { stdio: ['ignore', 'ignore', log] });
  env.portalLog = path.join(dir, 'portal.stderr');
  await eventually(async () => (await fetch(`${portal(env)}/healthz`)).ok, { timeout: 20_000, every: 200 });
}

async function signInOfficial(page, env, who, route = '/ops/cases') {
  await page.goto(`${portal(env)}${route}`);
  await ready(page);
  await page.getByRole('button', { name: 'Đăng nhập bằng định danh điện tử' }).click();
  await page.waitForSelector('input[name="pin"]');
  await page.fill('input[name="pin"]', who.pin);
  await page.fill('input[name="password"]', passwordOf(who));
  await Promise.all([
    page.waitForURL((u) => u.pathname === route, { timeout: STEP_MS }),
    page.locator('form:has(input[name="pin"]) [type="submit"]').first().click(),
  ]);
  await ready(page);
}

async function go(page, env, route, pageName) {
  await page.goto(`${portal(env)}${route}`);
  await ready(page, pageName);
}

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

describe('misuse cases in the operations centre and the access list', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('cases');
  let demo;
  let mon;

  before(async () => {
    demo = await startDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    env.citizen = env.fed.id.demo_accounts[0];
    mon = standInMonitor(env.citizen.pin);
    mon.token = 'stand-in-monitor-token';
    await mon.start();
    await repointPortal(env, mon);
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    if (env.portalProc && env.portalProc.exitCode === null) {
      env.portalProc.kill('SIGTERM');
      await waitExit(env.portalProc.pid, 15_000).catch(() => env.portalProc.kill('SIGKILL'));
    }
    await mon?.stop();
    await demo?.down();
  }, { timeout: 120_000 });

  it('the operator lists the cases, reads one with its proof, and dismisses it with a reason', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      await signInOfficial(page, env, officialOf(env, 'operator'));
      await ready(page, 'ops-cases');
      assert.match(await page.textContent('h1'), /Vụ việc nghi sử dụng sai dữ liệu/);
      const rows = await page.locator('#cases tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.case));
      assert.deepEqual(rows, ['101', '102'], 'open cases, newest first');
      await eventually(async () => /Vụ việc \(2 đang mở\)/.test(await page.textContent('.govuk-service-navigation')));
      await check(page, 'cases-operator');
      // Filters: confirmed cases of one kind.
      await page.selectOption('#state', 'confirmed');
      await page.click('#cases-apply');
      await page.waitForURL((u) => u.searchParams.get('state') === 'confirmed');
      await ready(page, 'ops-cases');
      assert.deepEqual(await page.locator('#cases tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.case)), ['103']);
      await fitsPhone(page, 'cases-operator-confirmed');

      await go(page, env, '/ops/cases/102', 'ops-case');
      assert.match(await page.textContent('h1'), /Vụ việc 102/);
      assert.match(await page.textContent('#case-summary'), /Không có thủ tục/);
      assert.match(await page.textContent('#evidence-0'), /Không có lý do/);
      assert.match(await page.textContent('#evidence-0'), /Cán bộ/);
      // The proof is folded; opened, it offers the file, the key and the command.
      assert.equal(await page.locator('#proof-0[open]').count(), 0);
      await page.click('#proof-0 summary');
      assert.equal(await page.textContent('#proof-0-command'), 'ndx log check-proof proof.json --key gateway.pub');
      const proof = await page.request.get(`${portal(env)}${await page.getAttribute('#proof-0-download', 'href')}`);
      assert.equal(proof.status(), 200);
      assert.equal(await page.getAttribute('#proof-0-download', 'download'), 'proof.json');
      assert.deepEqual(await proof.json(), (await (await fetch(`${mon.url}/api/cases/102`, { headers: { Authorization: `Bearer ${mon.token}` } })).json()).evidence[0].proof);
      const key = await page.request.get(`${portal(env)}${await page.getAttribute('#proof-0-key', 'href')}`);
      assert.equal(await key.text(), KEY);
      await check(page, 'case-operator');

      // Dismiss without a reason: the monitoring service refuses, the page says why.
      await page.check('input[name="action"][value="dismiss"]');
      await page.click('#triage-continue');
      await page.waitForSelector('#triage-check');
      await check(page, 'case-triage-check');
      await page.click('#triage-confirm');
      await page.waitForSelector('#triage-form .govuk-error-summary');
      assert.match(await page.textContent('.govuk-error-summary'), /Nhập lý do bỏ qua vụ việc/);
      await check(page, 'case-triage-reason-missing');
      assert.equal(mon.cases.get(102).state, 'open');
      // With a reason.
      await page.fill('#triage-reason', 'Tra cứu theo kế hoạch kiểm tra đã được phê duyệt');
      await page.click('#triage-continue');
      await page.click('#triage-confirm');
      await page.waitForSelector('.govuk-notification-banner--success');
      await ready(page, 'ops-case');
      assert.match(await page.textContent('#case-state'), /Đã bỏ qua/);
      assert.equal(await page.locator('#triage-form').count(), 0);
      const sent = mon.calls.filter((c) => c.path === '/api/cases/102/triage').at(-1).body;
      assert.equal(sent.action, 'dismiss');
      assert.equal(sent.reason, 'Tra cứu theo kế hoạch kiểm tra đã được phê duyệt');
      assert.match(sent.actor, /\(operator, VN\/GOV\/VPCP\)$/);
      assert.ok(sent.actor.startsWith(officialOf(env, 'operator').name), sent.actor);
      await check(page, 'case-dismissed');

      // English, and a phone's width.
      await page.click('a[data-lang="en"]');
      await ready(page, 'ops-case');
      assert.match(await page.textContent('h1'), /Case 102/);
      assert.match(await page.textContent('#case-state'), /Dismissed/);
      await check(page, 'case-en');
      await page.click('a[data-lang="vi"]');
      await ready(page, 'ops-case');
      await fitsPhone(page, 'case-operator');
    } finally {
      await page.context().close();
    }
  });

  it("the tax department's official sees and opens its own cases only", { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      await signInOfficial(page, env, officialOf(env, 'agency'));
      await ready(page, 'ops-cases');
      assert.deepEqual(await page.locator('#cases tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.member)), [TCT]);
      assert.match(await page.textContent('#main-content'), /Đang xem: Cục Thuế/);
      await check(page, 'cases-agency');
      await page.click('#cases tbody tr[data-case="101"] a');
      await ready(page, 'ops-case');
      assert.match(await page.textContent('h1'), /Vụ việc 101/);
      assert.equal(await page.locator('#triage-form').count(), 1, 'the agency triages its own');
      await check(page, 'case-agency');
      await fitsPhone(page, 'case-agency');
      const other = await page.request.get(`${portal(env)}/api/ops/cases/102`);
      assert.equal(other.status(), 403);
      await go(page, env, '/ops/cases/102', 'ops-case');
      assert.match(await page.textContent('h1'), /Có lỗi xảy ra/);
      assert.match(await page.textContent('#main-content'), /không có quyền/);
      await check(page, 'case-agency-other');
    } finally {
      await page.context().close();
    }
  });

  it('an auditor reads a case and is offered no triage', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      await signInOfficial(page, env, env.auditor);
      await go(page, env, '/ops/cases/101', 'ops-case');
      assert.match(await page.textContent('h1'), /Vụ việc 101/);
      assert.equal(await page.locator('#triage-form').count(), 0);
      assert.match(await page.textContent('#triage-readonly'), /kiểm toán/);
      await check(page, 'case-auditor');
    } finally {
      await page.context().close();
    }
  });

  it('the citizen sees a confirmed case above the access list and reports a read', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    try {
      // A read by another agency, for the list to have one.
      const gw = env.fed.gateways.find((x) => x.member === TCT);
      const res = await fetch(`${gw.consumer_url}/r1/VN/GOV/BCA/population/citizens/${env.citizen.pin}`, {
        headers: { 'X-Road-Client': 'VN/GOV/TCT/tax', 'Ndx-Subject': env.citizen.pin, 'Ndx-Purpose': 'tax-administration' },
      });
      assert.equal(res.status, 200, await res.text());
      await signInCitizen(page, portal(env), env.citizen);
      await eventually(async () => {
        await go(page, env, '/accesses', 'accesses');
        return (await page.locator('#accesses tbody tr', { hasText: 'Cục Thuế' }).count()) > 0;
      });
      assert.match(await page.textContent('#misuse-cases'), /Một cán bộ Cục Thuế đã đọc thông tin công dân của bạn/);
      assert.equal(mon.calls.filter((c) => c.path === '/api/subject-cases').at(-1).query.subject, env.citizen.pin);
      await check(page, 'accesses-misuse');
      await fitsPhone(page, 'accesses-misuse');
      await page.click('a[data-lang="en"]');
      await ready(page, 'accesses');
      assert.match(await page.textContent('#misuse-cases'), /A Tax Department officer read your citizen record/);
      await page.click('a[data-lang="vi"]');
      await ready(page, 'accesses');

      const row = page.locator('#accesses tbody tr', { hasText: 'Cục Thuế' }).first();
      await row.locator('a.ndx-report-link').click();
      await ready(page, 'access-report');
      assert.match(await page.textContent('#report-read'), /Cục Thuế/);
      await check(page, 'access-report');
      await page.fill('#report-note', 'Tôi không có việc gì với Cục Thuế.');
      await page.click('#report-send');
      await page.waitForSelector('.govuk-panel');
      assert.match(await page.textContent('#main-content'), /Đã báo cáo; đơn vị vận hành sẽ xem xét/);
      const sent = mon.reports.at(-1);
      assert.equal(sent.subject, env.citizen.pin);
      assert.equal(sent.gateway, `${BCA}/gw1`);
      assert.ok(sent.message_id);
      assert.equal(sent.note, 'Tôi không có việc gì với Cục Thuế.');
      await check(page, 'access-reported');
    } finally {
      await page.context().close();
    }
  });

  it('the portal pushed its procedures to the monitoring service', { timeout: TEST_MS }, async () => {
    // The demo's procedure (an officer opened it at up) is among them.
    const id = env.fed.apps.portal.demo_procedure && env.fed.apps.portal.demo_procedure.id;
    await eventually(() => mon.procedures.size > 0 && (!id || mon.procedures.has(id)), { timeout: 30_000 });
    for (const p of mon.procedures.values()) {
      assert.match(p.subject, /^\d{12}$/);
      assert.ok(p.opened_ms > 0 && p.agency.startsWith('VN/GOV/'), JSON.stringify(p));
    }
  });
});
