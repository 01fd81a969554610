// The registry's web console (docs/console.md) in real Chromium against the
// demo federation: its two officials (federation.json registry.console
// .officials) sign in through the e-ID's own page. Every page is checked
// (axe-core, no sideways scrolling at 390 and 1280 px, no JavaScript
// error), in Vietnamese and English. An unsigned visitor is asked to sign
// in; a citizen who is no official gets a clear 403 page; the auditor sees
// every page but no button that changes anything, and the registry refuses
// their change (403) when it is sent anyway; the operator adds a grant with
// methods and paths, finds it in the list, removes it through the
// confirmation page, and finds both in the audit trail under their name;
// the operator adds a member through its form (a refusal of the registry
// shown beside the field it names), removes it through the confirmation
// page, and finds both in the audit trail and the signed configuration; the
// operator makes a citizen an agency administrator on the officials page,
// who then sees only their own member's controls, adds a subsystem and a
// service with its OpenAPI document uploaded from a file and removes both,
// adds and removes a grant on their member's service, and is refused another member's change (403);
// made a data protection officer, the same person reads the personal-data
// pages without a form and is refused the grants (403, said on the page).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  check, launch, newPage, passwordOf, ready, setArtifactPrefix, startDemo, STEP_MS,
} from './lib.mjs';

const TEST_MS = 180_000;
const base = (env) => env.fed.registry.console.url.replace(/\/+$/, '');
const officialOf = (env, role) => {
  const o = env.fed.registry.console.officials.find((x) => x.role === role);
  assert.ok(o, `federation.json lists no ${role} of the console`);
  return o;
};

// The console's start button, then the e-ID's own page (its pin and
// password inputs and submit button only), back to the console.
async function signIn(page, env, who, landing = 'console-overview') {
  await page.goto(`${base(env)}/`);
  await ready(page, 'console-signin');
  await page.getByRole('button', { name: 'Đăng nhập bằng định danh điện tử' }).click();
  await page.waitForSelector('input[name="pin"]');
  await page.fill('input[name="pin"]', who.pin);
  await page.fill('input[name="password"]', passwordOf(who));
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/console/'), { timeout: STEP_MS }),
    page.locator('form:has(input[name="pin"]) [type="submit"]').first().click(),
  ]);
  await ready(page, landing);
}

// A gateway's new keys: an Ed25519 signing public key in PEM and a TLS
// certificate request for a fresh P-256 key (the openssl command, as an
// operator makes one).
function newGatewayKeys() {
  const { publicKey } = generateKeyPairSync('ed25519');
  const csr = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', '/dev/null', '-subj', '/CN=keytest'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }).trim(), csr: csr.trim() };
}

async function visit(page, env, rel, name) {
  await page.goto(`${base(env)}${rel}`);
  await ready(page, `console-${name}`);
}

describe('registry console in the demo federation', { timeout: 900_000 }, () => {
  const env = {};
  setArtifactPrefix('console');
  let demo;

  before(async () => {
    demo = await startDemo();
    env.fed = demo.fed;
    assert.ok(env.fed.registry && env.fed.registry.console, 'federation.json has no registry.console');
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('asks an unsigned visitor to sign in, and refuses a citizen who is no official', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    await page.goto(`${base(env)}/grants`);
    await ready(page, 'console-signin');
    await check(page, 'console-sign-in');
    const citizen = env.fed.id.demo_accounts[0];
    await signIn(page, env, citizen, 'console-forbidden');
    assert.match(await page.textContent('h1'), /không có quyền/);
    assert.match(await page.textContent('main'), new RegExp(citizen.name));
    assert.equal(await page.locator('#navigation a').count(), 0);
    await check(page, 'console-forbidden');
    const status = await page.evaluate(() => fetch('/api/grants').then((r) => r.status));
    assert.equal(status, 403);
    await page.context().close();
  });

  it('shows the auditor every page and no change', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    const auditor = officialOf(env, 'auditor');
    await signIn(page, env, auditor);
    assert.match(await page.textContent('#signed-in-as'), /kiểm toán viên/);
    assert.match(await page.textContent('#conf'), /\d/);
    await check(page, 'console-overview');
    await visit(page, env, '/members', 'members');
    assert.ok(await page.locator('#members tbody tr').count() >= 3);
    await check(page, 'console-members');
    await visit(page, env, '/services', 'services');
    await check(page, 'console-services');
    const withDoc = await page.evaluate(() => fetch('/api/services').then((r) => r.json())
      .then((d) => (d.services.find((s) => s.openapi_sha256) || d.services[0]).id));
    await visit(page, env, `/services/${withDoc}`, 'service');
    await check(page, 'console-service');
    await visit(page, env, '/grants', 'grants');
    assert.ok(await page.locator('#grants tbody tr').count() >= 1);
    assert.equal(await page.locator('#add-grant').count(), 0, 'the auditor is offered the add form');
    assert.equal(await page.locator('#grants a[data-grant]').count(), 0, 'the auditor is offered a remove link');
    await check(page, 'console-grants-auditor');
    const first = await page.evaluate(() => fetch('/api/grants').then((r) => r.json()).then((d) => d.grants[0].id));
    await visit(page, env, `/grants/${first}/remove`, 'grant-remove');
    assert.equal(await page.locator('#confirm-remove').count(), 0);
    // Sent anyway, with the session's CSRF token: the registry refuses.
    const refused = await page.evaluate(async (id) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      const r = await fetch(`/api/grants/${id}`, { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf } });
      return r.status;
    }, first);
    assert.equal(refused, 403);
    for (const name of ['live-data', 'personal-data', 'consent-services', 'gateways', 'revocations', 'officials']) {
      await visit(page, env, `/${name}`, name);
      assert.equal(await page.locator('main form').count(), 0, `the auditor is offered a form on ${name}`);
      assert.equal(await page.locator('main a[data-remove]').count(), 0, `the auditor is offered a removal on ${name}`);
      await check(page, `console-${name}-auditor`);
    }
    await visit(page, env, '/audit', 'audit');
    await check(page, 'console-audit');
    // English, on the page that has the most words.
    await page.click('a[data-lang="en"]');
    await ready(page, 'console-audit');
    assert.equal(await page.textContent('h1'), 'Audit trail');
    await check(page, 'console-audit-en');
    await page.click('a[data-lang="vi"]');
    await page.context().close();
  });

  it('lets the operator add and remove a grant, both in the audit trail', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    const operator = officialOf(env, 'operator');
    await signIn(page, env, operator);
    await visit(page, env, '/grants', 'grants');
    await check(page, 'console-grants-operator');
    const service = env.fed.services[0].id;
    const clientId = env.fed.members.find((m) => !service.startsWith(`${m.id}/`)).subsystems[0];
    // The form refuses nothing chosen, on the page.
    await page.fill('#add-client', '');
    await page.click('#add-submit');
    await page.waitForSelector('.govuk-error-summary');
    await check(page, 'console-grants-errors');
    await page.fill('#add-client', clientId);
    await page.fill('#add-service', service);
    await page.check('#add-methods-3'); // POST besides GET
    await page.fill('#add-paths', '/console-test/*\n/console-test');
    await page.click('#add-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    const id = (await page.textContent('.govuk-notification-banner--success')).match(/số (\d+)/)[1];
    const row = page.locator(`#grants tr:has(a[data-grant="${id}"])`);
    assert.match(await row.textContent(), /GET, POST/);
    assert.match(await row.textContent(), /\/console-test\/\*/);
    await row.locator(`a[data-grant="${id}"]`).click();
    await ready(page, 'console-grant-remove');
    await check(page, 'console-grant-remove');
    await page.click('#confirm-remove');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.match(await page.textContent('.govuk-notification-banner--success'), new RegExp(`số ${id}`));
    assert.equal(await page.locator(`a[data-grant="${id}"]`).count(), 0);
    await visit(page, env, '/audit', 'audit');
    await page.fill('#actor', operator.pin);
    await page.fill('#action', 'grant');
    await page.click('#audit-filter button');
    await page.waitForURL((u) => u.search.includes('action=grant'));
    await ready(page, 'console-audit');
    const rows = await page.locator('#audit tbody tr').allTextContents();
    assert.ok(rows.length >= 2, rows.join('\n'));
    assert.match(rows[0], new RegExp(`grant\\.delete.*${id}`));
    assert.match(rows[1], new RegExp(`grant\\.add.*${id}`));
    for (const r of rows.slice(0, 2)) assert.match(r, new RegExp(`official:${operator.pin} \\(${operator.name}\\)`));
    await check(page, 'console-audit-filtered');
    await page.context().close();
  });

  it('lets the operator add a member and remove it, in the audit trail and the configuration', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    const operator = officialOf(env, 'operator');
    await signIn(page, env, operator);
    for (const name of ['personal-data', 'consent-services', 'gateways', 'revocations', 'officials']) {
      await visit(page, env, `/${name}`, name);
      assert.ok(await page.locator('main form').count() >= 1, `no form on ${name}`);
      await check(page, `console-${name}-operator`);
    }
    await visit(page, env, '/members', 'members');
    await check(page, 'console-members-operator');
    const instance = env.fed.members[0].id.split('/')[0];
    const id = `${instance}/GOV/CTEST`;
    // Nothing entered: the page says what is missing.
    await page.click('#add-member-submit');
    await page.waitForSelector('.govuk-error-summary');
    assert.equal(await page.locator('#add-member-id-error').count(), 1);
    await check(page, 'console-members-errors');
    // A refusal of the registry comes back beside the field it names.
    await page.fill('#add-member-id', `${instance}/GOV/bad id`);
    await page.fill('#add-member-name', 'Bộ Thử nghiệm');
    await page.click('#add-member-submit');
    // The page's own error stays until the registry's answer replaces it.
    await page.waitForFunction(() => /không hợp lệ/.test(document.querySelector('#add-member-id-error')?.textContent || ''));
    assert.equal(await page.inputValue('#add-member-name'), 'Bộ Thử nghiệm');
    await page.fill('#add-member-id', id);
    await page.click('#add-member-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.match(await page.textContent('.govuk-notification-banner--success'), new RegExp(id));
    // no-store: /conf is cacheable for up to a minute
    const conf = () => page.evaluate(() => fetch('/conf', { cache: 'no-store' }).then((r) => r.json()));
    assert.ok((await conf()).members.some((m) => m.id === id), 'the member is not in the next configuration');
    const row = page.locator('#members tbody tr', { hasText: id });
    assert.match(await row.textContent(), /Bộ Thử nghiệm/);
    // In English, the same page and its confirmation.
    await page.click('a[data-lang="en"]');
    await ready(page, 'console-members');
    assert.equal(await page.textContent('h1'), 'Members and subsystems');
    await check(page, 'console-members-en');
    await row.locator(`a[data-remove="member:${id}"]`).click();
    await ready(page, 'console-remove');
    assert.match(await page.textContent('h1'), new RegExp(`Remove member ${id}`));
    await check(page, 'console-remove-en');
    await page.click('a[data-lang="vi"]');
    await ready(page, 'console-remove');
    await check(page, 'console-remove');
    await page.click('#confirm-remove');
    await ready(page, 'console-members');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator(`a[data-remove="member:${id}"]`).count(), 0);
    assert.ok(!(await conf()).members.some((m) => m.id === id), 'the removed member is still in the configuration');
    await visit(page, env, `/audit?actor=${operator.pin}&action=member`, 'audit');
    const rows = await page.locator('#audit tbody tr').allTextContents();
    assert.ok(rows.length >= 2, rows.join('\n'));
    assert.match(rows[0], new RegExp(`member\\.delete.*${id}`));
    assert.match(rows[1], new RegExp(`member\\.add.*${id}`));
    for (const r of rows.slice(0, 2)) assert.match(r, new RegExp(`official:${operator.pin} \\(${operator.name}\\)`));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('lets the operator add an event type and a subscription, and remove both in order', { timeout: TEST_MS }, async () => {
    const page = await newPage(env.browser);
    const operator = officialOf(env, 'operator');
    await signIn(page, env, operator);
    await visit(page, env, '/live-data', 'live-data');
    // The demo's own: its event types, their subscribers and the monitoring client.
    assert.ok(await page.locator('#event-types tbody tr').count() >= 3);
    assert.ok(await page.locator('#subscriptions tbody tr').count() >= 3);
    assert.match(await page.textContent('#monitoring'), /VN\/GOV\/VPCP\/monitoring/);
    await check(page, 'console-live-data-operator');
    const service = 'VN/GOV/BCA/population/citizens';
    const name = 'console-test-changed';
    const client = env.fed.members.find((m) => !m.id.endsWith('/BCA') && m.subsystems.length).subsystems[0];
    // A schema that is no JSON object is refused on the page; a name the
    // registry refuses comes back beside the name.
    await page.fill('#add-event-type-service', service);
    await page.fill('#add-event-type-name', 'Bad Name');
    await page.fill('#add-event-type-schema', '[1, 2');
    await page.click('#add-event-type-submit');
    await page.waitForSelector('#add-event-type-schema-error');
    await page.fill('#add-event-type-schema', '{"type": "object", "required": ["pin"], "properties": {"pin": {"type": "string"}}}');
    await page.click('#add-event-type-submit');
    await page.waitForSelector('#add-event-type-name-error');
    assert.match(await page.textContent('#add-event-type-name-error'), /không hợp lệ/);
    await check(page, 'console-live-data-errors');
    await page.fill('#add-event-type-name', name);
    await page.fill('#add-event-type-title', 'Thử bảng điều khiển');
    await page.click('#add-event-type-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    const conf = () => page.evaluate(() => fetch('/conf', { cache: 'no-store' }).then((r) => r.json()));
    assert.ok((await conf()).event_types.some((e) => e.service === service && e.name === name));
    // A retry schedule given in part is refused on the page; whole, it is sent.
    await page.fill('#add-subscription-client', client);
    await page.fill('#add-subscription-service', service);
    await page.fill('#add-subscription-event', name);
    await page.fill('#add-subscription-purpose', 'public-service');
    await page.fill('#add-subscription-first_s', '5');
    await page.click('#add-subscription-submit');
    await page.waitForSelector('#add-subscription-max_s-error');
    await page.fill('#add-subscription-max_s', '60');
    await page.fill('#add-subscription-give_up_after_s', '3600');
    await page.click('#add-subscription-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    const sub = page.locator('#subscriptions tbody tr', { hasText: name });
    assert.match(await sub.textContent(), new RegExp(client));
    assert.match(await sub.textContent(), /sau 5 giây, tối đa 60 giây, bỏ sau 3600 giây/);
    const subId = (await sub.locator('a[data-remove]').getAttribute('data-remove')).split(':')[1];
    assert.ok((await conf()).subscriptions.some((x) => x.client === client && x.event === name));
    // The event type cannot go while a subscription names it: said on the page.
    await page.locator(`a[data-remove="event-type:${service}/${name}"]`).click();
    await ready(page, 'console-remove');
    await page.click('#confirm-remove');
    await page.waitForSelector('.govuk-error-summary');
    assert.match(await page.textContent('.govuk-error-summary'), /từ chối/);
    await check(page, 'console-remove-event-type-refused');
    // The subscription first, then the event type.
    await visit(page, env, `/remove/subscription?id=${subId}`, 'remove');
    await page.click('#confirm-remove');
    await ready(page, 'console-live-data');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator('#subscriptions tbody tr', { hasText: name }).count(), 0);
    await page.locator(`a[data-remove="event-type:${service}/${name}"]`).click();
    await ready(page, 'console-remove');
    await page.click('#confirm-remove');
    await ready(page, 'console-live-data');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator('#event-types tbody tr', { hasText: name }).count(), 0);
    assert.ok(!(await conf()).event_types.some((e) => e.name === name));
    await page.click('a[data-lang="en"]');
    await ready(page, 'console-live-data');
    assert.equal(await page.textContent('h1'), 'Live data');
    await check(page, 'console-live-data-en');
    await page.click('a[data-lang="vi"]');
    await visit(page, env, `/audit?actor=${operator.pin}&action=subscription`, 'audit');
    const rows = await page.locator('#audit tbody tr').allTextContents();
    assert.ok(rows.length >= 2, rows.join('\n'));
    assert.match(rows[0], /subscription\.delete/);
    assert.match(rows[1], /subscription\.add/);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('makes an agency administrator who changes only their own member', { timeout: TEST_MS }, async () => {
    const op = await newPage(env.browser);
    await signIn(op, env, officialOf(env, 'operator'));
    const who = env.fed.id.demo_accounts[0];
    const service = env.fed.services[0].id;
    const member = service.split('/').slice(0, 3).join('/');
    const other = env.fed.members.find((m) => m.id !== member);
    await visit(op, env, '/officials', 'officials');
    await op.fill('#add-official-subject', who.pin);
    await op.fill('#add-official-name', who.name);
    await op.selectOption('#add-official-role', 'agency');
    await op.click('#add-official-submit');
    await op.waitForSelector('#add-official-member-error');
    await check(op, 'console-officials-errors');
    await op.fill('#add-official-member', member);
    await op.click('#add-official-submit');
    await op.waitForSelector('.govuk-notification-banner--success');
    const row = op.locator('#officials tbody tr', { hasText: who.pin });
    assert.match(await row.textContent(), new RegExp(member));

    const page = await newPage(env.browser);
    await signIn(page, env, who);
    assert.match(await page.textContent('#signed-in-as'), new RegExp(`quản trị viên của cơ quan, ${member}`));
    const nav = await page.locator('#navigation a').allTextContents();
    assert.ok(!nav.some((x) => /Cán bộ|Nhật ký/.test(x)), nav.join(', '));
    await visit(page, env, '/members', 'members');
    assert.equal(await page.locator('#add-member').count(), 0);
    assert.equal(await page.inputValue('#add-subsystem-id'), `${member}/`);
    assert.equal(await page.locator('a[data-remove^="member:"]').count(), 0);
    for (const a of await page.locator('a[data-remove^="subsystem:"]').all()) {
      assert.ok((await a.getAttribute('data-remove')).startsWith(`subsystem:${member}/`));
    }
    await check(page, 'console-members-agency');
    // Their own subsystem and a service on it with its OpenAPI document
    // uploaded from a file, then both removed again.
    const sub = `${member}/consoletest`;
    await page.fill('#add-subsystem-id', sub);
    await page.click('#add-subsystem-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    await visit(page, env, '/services', 'services');
    const svc = `${sub}/births`;
    await page.fill('#add-service-id', svc);
    await page.fill('#add-service-title', 'Khai sinh (thử)');
    await page.setInputFiles('#add-service-openapi', { name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{not json') });
    await page.click('#add-service-submit');
    await page.waitForSelector('#add-service-openapi-error');
    assert.match(await page.textContent('#add-service-openapi-error'), /bad\.json/);
    await check(page, 'console-services-errors');
    const doc = { openapi: '3.0.3', info: { title: 'Khai sinh', version: '1' },
      paths: { '/births/{id}': { get: { responses: { 200: { description: 'ok' } } } } } };
    await page.setInputFiles('#add-service-openapi', { name: 'births.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
    await page.click('#add-service-submit');
    await ready(page, 'console-service');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.match(await page.textContent('#openapi-paths'), /\/births\/\{id\}.*GET/s);
    await check(page, 'console-service-agency');
    await page.click(`a[data-remove="service:${svc}"]`);
    await ready(page, 'console-remove');
    await page.click('#confirm-remove');
    await ready(page, 'console-services');
    await visit(page, env, '/members', 'members');
    await page.click(`a[data-remove="subsystem:${sub}"]`);
    await ready(page, 'console-remove');
    await page.click('#confirm-remove');
    await ready(page, 'console-members');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator(`a[data-remove="subsystem:${sub}"]`).count(), 0);
    await visit(page, env, '/grants', 'grants');
    await page.fill('#add-client', other.subsystems[0]);
    await page.fill('#add-service', service);
    await page.fill('#add-paths', '/agency-test/*');
    await page.click('#add-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    const id = (await page.textContent('.govuk-notification-banner--success')).match(/số (\d+)/)[1];
    for (const a of await page.locator('#grants tbody tr:has(a[data-grant])').all()) {
      assert.match(await a.textContent(), new RegExp(member.replace(/\//g, '\\/')));
    }
    await check(page, 'console-grants-agency');
    await page.click(`a[data-grant="${id}"]`);
    await ready(page, 'console-grant-remove');
    await page.click('#confirm-remove');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator(`a[data-grant="${id}"]`).count(), 0);
    // Another member's service on the same form: the registry's 403, on the page.
    const theirs = env.fed.services.find((s) => !s.id.startsWith(`${member}/`));
    if (theirs) {
      await page.fill('#add-client', other.subsystems[0]);
      await page.fill('#add-service', theirs.id);
      await page.click('#add-submit');
      await page.waitForSelector('.govuk-error-summary');
      assert.match(await page.textContent('.govuk-error-summary'), /không được phép/);
    }
    const refused = await page.evaluate(async () => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      const r = await fetch('/api/members', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'VN/GOV/NO', name: 'x' }) });
      return [r.status, (await fetch('/api/audit')).status];
    });
    assert.deepEqual(refused, [403, 403]);
    assert.deepEqual(page.errors, []);
    await page.context().close();

    // The same person made a data protection officer: the personal-data
    // pages, read only; another page is the registry's 403, said on the page.
    await visit(op, env, '/officials', 'officials');
    await op.fill('#add-official-subject', who.pin);
    await op.fill('#add-official-name', who.name);
    await op.selectOption('#add-official-role', 'dpo');
    await op.click('#add-official-submit');
    await op.waitForSelector('.govuk-notification-banner--success');
    const dpo = await newPage(env.browser);
    await signIn(dpo, env, who);
    assert.deepEqual(await dpo.locator('#navigation a').allTextContents(),
      ['Tổng quan', 'Dịch vụ', 'Dữ liệu cá nhân', 'Dịch vụ đồng ý', 'Nhật ký kiểm toán']);
    await visit(dpo, env, '/personal-data', 'personal-data');
    assert.equal(await dpo.locator('main form').count(), 0);
    assert.ok(await dpo.locator('#personal-services tbody tr').count() >= 1);
    await check(dpo, 'console-personal-data-dpo');
    await visit(dpo, env, '/grants', 'error');
    assert.match(await dpo.textContent('main'), /không được phép.*bảo vệ dữ liệu|data protection officer reads/);
    await check(dpo, 'console-error-dpo');
    await dpo.context().close();

    // The operator takes the role away again, through the confirmation page.
    await visit(op, env, '/officials', 'officials');
    await op.click(`a[data-remove="official:${who.pin}"]`);
    await ready(op, 'console-remove');
    await check(op, 'console-remove-official');
    await op.click('#confirm-remove');
    await ready(op, 'console-officials');
    await op.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await op.locator('#officials tbody tr', { hasText: who.pin }).count(), 0);
    await op.context().close();
  });
  it('shows each gateway\'s key and certificate and lets only the operator rotate them', { timeout: TEST_MS }, async () => {
    const op = await newPage(env.browser);
    const operator = officialOf(env, 'operator');
    await signIn(op, env, operator);
    // A gateway of the test's own, so that the demo's keep their keys.
    const member = env.fed.members[0].id;
    const gwId = `${member}/keytest`;
    const first = newGatewayKeys();
    const added = await op.evaluate(async (b) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      const r = await fetch('/api/gateways', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
      return [r.status, await r.json()];
    }, { member, code: 'keytest', address: 'https://127.0.0.1:4999', sign_public_key: first.pem, tls_csr: first.csr });
    assert.equal(added[0], 201, JSON.stringify(added[1]));
    const old = added[1];
    await visit(op, env, '/keys', 'keys');
    const card = op.locator(`[data-gateway="${gwId}"]`);
    assert.match(await card.textContent(), new RegExp(old.sign_key_id));
    assert.match(await card.textContent(), new RegExp(old.tls_cert_sha256));
    assert.match(await card.textContent(), /còn \d+ ngày/);
    await check(op, 'console-keys-operator');
    await card.locator(`a[data-rotate="${gwId}"]`).click();
    await ready(op, 'console-rotate');
    // Nothing given, and a reason without a revocation: said on the page.
    await op.click('#rotate-submit');
    await op.waitForSelector('#rotate-sign_public_key-error');
    await check(op, 'console-rotate-errors');
    const next = newGatewayKeys();
    await op.fill('#rotate-sign_public_key', next.pem);
    await op.fill('#rotate-reason', 'thử xoay vòng');
    await op.click('#rotate-submit');
    await op.waitForSelector('#rotate-reason-error');
    // The registry's refusal beside the field: a certificate request that is none.
    await op.fill('#rotate-tls_csr', 'not a request');
    await op.fill('#rotate-reason', '');
    await op.click('#rotate-submit');
    await op.waitForFunction(() => /tls_csr/.test(document.querySelector('#rotate-tls_csr-error')?.textContent || ''));
    await op.fill('#rotate-tls_csr', next.csr);
    await op.check('#rotate-revoke_old');
    await op.fill('#rotate-reason', 'thử xoay vòng');
    await op.click('#rotate-submit');
    await ready(op, 'console-keys');
    await op.waitForSelector('.govuk-notification-banner--success');
    assert.match(await op.textContent('.govuk-notification-banner--success'), new RegExp(`${gwId}.*2 mục bị thu hồi`));
    const now = await op.evaluate((id) => fetch(`/api/gateways/${id}`).then((r) => r.json()), gwId);
    assert.notEqual(now.sign_key_id, old.sign_key_id);
    assert.notEqual(now.tls_cert_sha256, old.tls_cert_sha256);
    assert.match(await card.textContent(), new RegExp(now.sign_key_id));
    const conf = await op.evaluate(() => fetch('/conf', { cache: 'no-store' }).then((r) => r.json()));
    assert.equal(conf.gateways.find((x) => `${x.member}/${x.code}` === gwId).sign_key_id, now.sign_key_id);
    assert.ok(conf.revocations.some((r) => r.value === old.sign_key_id), 'the old key is not revoked');
    assert.ok(conf.revocations.some((r) => r.value === old.tls_cert_sha256), 'the old certificate is not revoked');
    await visit(op, env, `/audit?actor=${operator.pin}&action=gateway.rotate`, 'audit');
    const rows = await op.locator('#audit tbody tr').allTextContents();
    assert.match(rows[0], new RegExp(`gateway\\.rotate.*${gwId}`));
    assert.match(rows[0], new RegExp(`official:${operator.pin} \\(${operator.name}\\)`));
    await visit(op, env, '/keys', 'keys');
    await op.click('a[data-lang="en"]');
    await ready(op, 'console-keys');
    assert.equal(await op.textContent('h1'), 'Gateway signing keys and TLS certificates');
    assert.match(await op.locator(`[data-gateway="${gwId}"]`).textContent(), /\d+ days left/);
    await check(op, 'console-keys-en');
    await op.click('a[data-lang="vi"]');
    await ready(op, 'console-keys');

    // The auditor reads, with no rotation, and the registry refuses one.
    const aud = await newPage(env.browser);
    await signIn(aud, env, officialOf(env, 'auditor'));
    await visit(aud, env, '/keys', 'keys');
    assert.ok(await aud.locator(`[data-gateway="${gwId}"]`).count() === 1);
    assert.equal(await aud.locator('a[data-rotate]').count(), 0, 'the auditor is offered a rotation');
    await check(aud, 'console-keys-auditor');
    await visit(aud, env, `/keys/rotate?id=${encodeURIComponent(gwId)}`, 'rotate');
    assert.equal(await aud.locator('main form').count(), 0, 'the auditor is offered the rotation form');
    await check(aud, 'console-rotate-auditor');
    const rotateAnyway = (page, id, b) => page.evaluate(async ([i, body]) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      const r = await fetch(`/api/gateways/${i}/rotation`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return r.status;
    }, [id, b]);
    assert.equal(await rotateAnyway(aud, gwId, { tls_csr: newGatewayKeys().csr }), 403);
    await aud.context().close();

    // An agency administrator of the gateway's own member reads it; the
    // registry refuses their rotation (docs/console.md "Roles").
    const who = env.fed.id.demo_accounts[1] || env.fed.id.demo_accounts[0];
    const setRole = (role) => op.evaluate(async (b) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      return (await fetch('/api/officials', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify(b) })).status;
    }, { subject: who.pin, name: who.name, role, ...(role === 'agency' ? { member } : {}) });
    assert.equal(await setRole('agency'), 201);
    const ag = await newPage(env.browser);
    await signIn(ag, env, who);
    await visit(ag, env, '/keys', 'keys');
    assert.equal(await ag.locator(`[data-gateway="${gwId}"]`).count(), 1);
    assert.equal(await ag.locator('a[data-rotate]').count(), 0, 'the agency administrator is offered a rotation');
    await check(ag, 'console-keys-agency');
    assert.equal(await rotateAnyway(ag, gwId, { tls_csr: newGatewayKeys().csr }), 403);
    await ag.context().close();
    // A data protection officer is refused the page: not in their
    // navigation, the registry's 403 said on the page.
    assert.equal(await setRole('dpo'), 201);
    const dpo = await newPage(env.browser);
    await signIn(dpo, env, who);
    assert.ok(!(await dpo.locator('#navigation a').allTextContents()).includes('Khoá và chứng thư'));
    await visit(dpo, env, '/keys', 'error');
    assert.match(await dpo.textContent('main'), /không được phép/);
    await check(dpo, 'console-keys-dpo');
    await dpo.context().close();
    const cleanup = await op.evaluate(async ([id, pin]) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      const h = { 'X-CSRF-Token': me.csrf };
      return [(await fetch(`/api/gateways/${id}`, { method: 'DELETE', headers: h })).status,
        (await fetch(`/api/officials/${pin}`, { method: 'DELETE', headers: h })).status];
    }, [gwId, who.pin]);
    assert.deepEqual(cleanup, [200, 200]);
    assert.deepEqual(op.errors, []);
    await op.context().close();
  });
  it('shows the marketplace by member to every role that reads it, and only their own to an agency administrator', { timeout: TEST_MS }, async () => {
    const op = await newPage(env.browser);
    await signIn(op, env, officialOf(env, 'operator'));
    await visit(op, env, '/market', 'market');
    // The demo's own: its datasets, negotiations and agreements.
    assert.ok(await op.locator('#datasets tbody tr').count() >= 1, 'no dataset');
    assert.ok(await op.locator('#negotiations tbody tr').count() >= 1, 'no negotiation');
    assert.ok(await op.locator('#agreements tbody tr').count() >= 1, 'no agreement');
    assert.match(await op.textContent('#negotiations'), /FINALIZED/);
    assert.match(await op.textContent('#agreements'), /đang có hiệu lực/);
    // Invoices recorded in the registry (docs/marketplace.md "Invoices and clearing"):
    // the demo records none, and the page says so.
    assert.equal(await op.textContent('#invoices-heading'), 'Hoá đơn');
    const invoices = await op.evaluate(() => fetch('/api/market/invoices').then((r) => r.json()));
    assert.equal(await op.locator('#invoices tbody tr').count(), invoices.invoices.length);
    if (!invoices.invoices.length) assert.match(await op.textContent('main'), /Không có hoá đơn nào\./);
    assert.equal(await op.locator('main form').count(), 1, 'the marketplace page changes something');
    await check(op, 'console-market');
    const negs = await op.evaluate(() => fetch('/api/market/negotiations').then((r) => r.json()).then((d) => d.negotiations));
    const member = negs[0].consumer;
    await op.selectOption('#member', member);
    await op.click('#market-filter button');
    await op.waitForURL((u) => u.search.includes('member='));
    await ready(op, 'console-market');
    const mine = negs.filter((n) => n.consumer === member || n.provider === member);
    assert.equal(await op.locator('#negotiations tbody tr').count(), mine.length);
    for (const row of await op.locator('#negotiations tbody tr').allTextContents()) assert.ok(row.includes(member), row);
    await check(op, 'console-market-filtered');
    await op.click('a[data-lang="en"]');
    await ready(op, 'console-market');
    assert.equal(await op.textContent('h1'), 'Data marketplace');
    assert.match(await op.textContent('#agreements'), /in force/);
    await check(op, 'console-market-en');
    await op.click('a[data-lang="vi"]');
    await ready(op, 'console-market');

    const aud = await newPage(env.browser);
    await signIn(aud, env, officialOf(env, 'auditor'));
    await visit(aud, env, '/market', 'market');
    assert.equal(await aud.locator('#negotiations tbody tr').count(), negs.length);
    await check(aud, 'console-market-auditor');
    await aud.context().close();

    // An agency administrator sees their member's only; the registry
    // refuses them the others' and the whole list.
    const who = env.fed.id.demo_accounts[1] || env.fed.id.demo_accounts[0];
    const setRole = (role) => op.evaluate(async (b) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      return (await fetch('/api/officials', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify(b) })).status;
    }, { subject: who.pin, name: who.name, role, ...(role === 'agency' ? { member } : {}) });
    assert.equal(await setRole('agency'), 201);
    const ag = await newPage(env.browser);
    await signIn(ag, env, who);
    assert.ok((await ag.locator('#navigation a').allTextContents()).includes('Sàn dữ liệu'));
    await visit(ag, env, '/market', 'market');
    assert.equal(await ag.locator('#member').count(), 0, 'the agency administrator may choose another member');
    assert.equal(await ag.locator('#negotiations tbody tr').count(), mine.length);
    await check(ag, 'console-market-agency');
    const other = env.fed.members.find((m) => m.id !== member).id;
    const statuses = await ag.evaluate((o) => Promise.all([
      fetch('/api/market/negotiations').then((r) => r.status),
      fetch(`/api/market/datasets?member=${encodeURIComponent(o)}`).then((r) => r.status),
    ]), other);
    assert.deepEqual(statuses, [403, 403]);
    await ag.context().close();
    assert.equal(await setRole('dpo'), 201);
    const dpo = await newPage(env.browser);
    await signIn(dpo, env, who);
    assert.ok(!(await dpo.locator('#navigation a').allTextContents()).includes('Sàn dữ liệu'));
    await visit(dpo, env, '/market', 'error');
    assert.match(await dpo.textContent('main'), /không được phép/);
    await check(dpo, 'console-market-dpo');
    await dpo.context().close();
    const removed = await op.evaluate(async (pin) => {
      const me = await fetch('/console/auth/me').then((r) => r.json());
      return (await fetch(`/api/officials/${pin}`, { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf } })).status;
    }, who.pin);
    assert.equal(removed, 200);
    assert.deepEqual(op.errors, []);
    await op.context().close();
  });
});
