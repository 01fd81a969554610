// A gateway's web console (docs/gateway-console.md) in real Chromium, against
// the federation of tests/e2e/test_gateway_console.py (a registry, three
// gateways, BCA's with its console, a test e-ID that signs in the person the
// test names), which tests/e2e/gateway_console_env.py brings up. Every page
// is checked (axe-core, no sideways scrolling at 390 and 1280 px, no
// JavaScript error). A citizen who is no official gets a clear 403 page; the
// auditor sees every page, runs a verify of the message log and the
// connection test, sees no maintenance switch and is refused (403) when the
// change is sent anyway; the administrator switches maintenance on and off
// and finds both changes under their name; once the registry revokes a peer's
// certificate, the connection test shows it as revoked.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { check, launch, newPage, ready, setArtifactPrefix, STEP_MS } from './lib.mjs';

const TEST_MS = 180_000;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENV_SCRIPT = path.resolve(HERE, '../e2e/gateway_console_env.py');

// The federation: its first line, then a command and its answer at a time.
function startEnv() {
  const proc = spawn('/usr/bin/python3', [ENV_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const lines = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise((resolve, reject) => {
    waiting.push(resolve);
    proc.once('exit', (code) => reject(new Error(`gateway_console_env.py exited with ${code}`)));
  });
  return {
    first: next().then((l) => JSON.parse(l)),
    async command(text) {
      const answer = next();
      proc.stdin.write(`${text}\n`);
      assert.equal(await answer, 'ok', text);
    },
    down: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode);
      proc.once('exit', resolve);
      proc.stdin.end();
    }),
  };
}

describe('a gateway console', { timeout: 900_000 }, () => {
  let env;
  let fed;
  let browser;
  setArtifactPrefix('gwconsole');

  before(async () => {
    env = startEnv();
    fed = await env.first;
    browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await browser?.close();
    const code = await env?.down();
    assert.equal(code, 0, 'the federation stopped with a failure');
  }, { timeout: 120_000 });

  const base = () => fed.console.replace(/\/+$/, '');

  async function signIn(who, landing = 'console-overview') {
    await env.command(`user ${who[0]} ${who[1]}`);
    const page = await newPage(browser);
    await page.goto(`${base()}/`);
    await ready(page, 'console-signin');
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/console/', { timeout: STEP_MS }),
      page.getByRole('button', { name: 'Đăng nhập bằng định danh điện tử' }).click(),
    ]);
    await ready(page, landing);
    return page;
  }

  async function visit(page, rel, name) {
    await page.goto(`${base()}${rel}`);
    await ready(page, `console-${name}`);
  }

  it('asks an unsigned visitor to sign in and refuses a citizen who is no official', { timeout: TEST_MS }, async () => {
    const page = await newPage(browser);
    await page.goto(`${base()}/maintenance`);
    await ready(page, 'console-signin');
    await check(page, 'gwconsole-sign-in');
    await page.context().close();
    const citizen = await signIn(fed.citizen, 'console-forbidden');
    assert.match(await citizen.textContent('h1'), /không có quyền/);
    assert.match(await citizen.textContent('main'), new RegExp(fed.citizen[1]));
    assert.equal(await citizen.locator('#navigation a').count(), 0);
    await check(citizen, 'gwconsole-forbidden');
    assert.equal(await citizen.evaluate(() => fetch('/console/api/overview').then((r) => r.status)), 403);
    await citizen.context().close();
  });

  it('shows the auditor every page, a verify run and the test, and no change', { timeout: TEST_MS }, async () => {
    const page = await signIn(fed.officials.auditor);
    assert.match(await page.textContent('#signed-in-as'), /kiểm toán viên/);
    assert.match(await page.textContent('#gateway'), /VN\/GOV\/BCA\/gw1/);
    await check(page, 'gwconsole-overview');
    await visit(page, '/services', 'services');
    assert.match(await page.textContent('#services'), /VN\/GOV\/BCA\/population\/citizens/);
    assert.match(await page.textContent('#grants-given'), /VN\/GOV\/BTC\/tax/);
    await check(page, 'gwconsole-services');
    await visit(page, '/log', 'log');
    await page.click('#run-verify');
    await page.waitForSelector('#verify-result');
    assert.match(await page.textContent('#verify-result'), /toàn vẹn/);
    await check(page, 'gwconsole-log');
    await visit(page, '/maintenance', 'maintenance');
    assert.equal(await page.locator('#toggle-maintenance').count(), 0);
    assert.match(await page.textContent('main'), /chỉ xem/);
    await check(page, 'gwconsole-maintenance-auditor');
    const status = await page.evaluate(async () => {
      const me = await (await fetch('/console/auth/me')).json();
      const r = await fetch('/console/api/maintenance', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf }, body: '{"on":true}',
      });
      return r.status;
    });
    assert.equal(status, 403);
    await visit(page, '/peers', 'peers');
    await page.click('#run-test');
    await page.waitForSelector('#peers');
    assert.equal(await page.locator('#peers [data-result="good"]').count(), 2);
    assert.equal(await page.locator('#peers [data-result="unreachable"]').count(), 1);
    await check(page, 'gwconsole-peers');
    // English too.
    await page.click('a[data-lang="en"]');
    await ready(page, 'console-peers');
    assert.match(await page.textContent('h1'), /Connection test/);
    await check(page, 'gwconsole-peers-en');
    await page.context().close();
  });

  it('lets the administrator switch maintenance on and off, journaled under their name', { timeout: TEST_MS }, async () => {
    const admin = fed.officials.administrator;
    const page = await signIn(admin);
    assert.match(await page.textContent('#signed-in-as'), /quản trị viên/);
    await visit(page, '/maintenance', 'maintenance');
    await page.click('#toggle-maintenance');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.match(await page.textContent('#maintenance'), /Đang bảo trì/);
    assert.match(await page.textContent('#maintenance'), new RegExp(admin[1]));
    await check(page, 'gwconsole-maintenance-on');
    await visit(page, '/', 'overview');
    assert.match(await page.textContent('#gateway'), /Đang bảo trì/);
    await visit(page, '/maintenance', 'maintenance');
    await page.click('#toggle-maintenance');
    await page.waitForFunction(() => /Đang hoạt động/.test(document.querySelector('#maintenance')?.textContent || ''));
    const rows = await page.locator('#changes tbody tr').allTextContents();
    assert.match(rows[0], /Tắt bảo trì/);
    assert.match(rows[1], /Bật bảo trì/);
    for (const r of rows.slice(0, 2)) assert.match(r, new RegExp(`official:${admin[0]} \\(${admin[1]}\\)`));
    await check(page, 'gwconsole-maintenance-off');
    await page.context().close();
  });

  it('reports a peer whose certificate the registry revoked as revoked', { timeout: TEST_MS }, async () => {
    await env.command('revoke BHXH');
    const page = await signIn(fed.officials.administrator);
    await visit(page, '/peers', 'peers');
    await page.click('#run-test');
    await page.waitForSelector('#peers');
    const revoked = page.locator('#peers tr', { has: page.locator('[data-result="revoked"]') });
    assert.equal(await revoked.count(), 1);
    assert.match(await revoked.textContent(), /VN\/GOV\/BHXH\/gw1/);
    assert.match(await revoked.textContent(), /Chứng thư đã bị thu hồi/);
    await check(page, 'gwconsole-peers-revoked');
    await page.context().close();
  });
});
