// The officers' desk in real Chromium against the demo federation
// (docs/portal.md "The officers' desk", issue 22): the queue searched by
// application number and filtered by state, procedure and holder (a bad
// number said at the search box); the processing deadline (an overdue one
// tagged) and who holds an
// application, whether its business name is registered now; "assign to
// me"; the check step before a decision is
// recorded, whose "Change" and back link keep the choice; and the portal's
// refusals in words with the application as it is now: the business name
// registered meanwhile by another application, and an application another
// officer took after the page was opened. A second officer of the
// enterprise registry's agency is added to the demo's portal with
// `ndx-portal officer add`. axe-core and the 390/1280 px widths on every
// page checked.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { account, confirmDecision, fileProcedure, go, guard, portal, stateOf } from './flows.mjs';
import {
  check, eventually, launch, officerOf, portalMissing, ready, setArtifactPrefix, signInCitizen, signInOfficer, sharedDemo,
} from './lib.mjs';

const run = promisify(execFile);
const TEST_MS = 300_000;
const BTC = 'VN/GOV/BTC';
const binary = (name) => path.join(process.env.NDX_BUILD_DIR || path.resolve('build'), 'src', name.split('-')[1], name);

function business(name) {
  return async (p) => {
    await p.fill('#field-business-name', name);
    await p.fill('#field-business-line', 'Dịch vụ ăn uống');
    await p.selectOption('#field-province', '001');
    await p.fill('#field-commune', 'Phường Hoàn Kiếm');
    await p.fill('#field-address', '21 Hàng Buồm');
    await p.fill('#field-capital-vnd', '30000000');
  };
}

async function referenceOf(page, env, id) {
  const doc = await (await page.request.get(`${portal(env)}/api/procedures/${encodeURIComponent(id)}`)).json();
  return doc.reference;
}

// A call to the portal's API with the page's session, as another tab of
// the same officer would make it.
async function apiPost(page, env, route, body) {
  const s = await (await page.request.get(`${portal(env)}/api/session`)).json();
  const res = await page.request.post(`${portal(env)}${route}`, { data: body, headers: { 'X-CSRF-Token': s.csrf } });
  assert.equal(res.status(), 200, await res.text());
  return res.json();
}

// Moves procedure id's arrival at the officers days back, in the demo
// portal's own store (SQLite, WAL: the running portal reads it at once).
async function moveBack(env, id, days) {
  const db = path.join(env.fed.apps.portal.dir, 'data', 'portal.db');
  await run('python3', ['-c', 'import sqlite3, sys\n'
    + 'with sqlite3.connect(sys.argv[1], timeout=10) as db:\n'
    + '    n = db.execute("UPDATE procedures SET submitted_at = submitted_at - ? WHERE id = ?", (int(sys.argv[3]) * 86400, sys.argv[2])).rowcount\n'
    + 'assert n == 1, n\n', db, id, String(days)], { timeout: 30_000 });
}

async function openFile(page, env, id) {
  await go(page, env, `/officer/procedures/${encodeURIComponent(id)}`, 'officer-procedure');
}

describe('the officers\' desk in the demo federation', { timeout: 1_500_000 }, () => {
  const env = {};
  setArtifactPrefix('officer');
  let demo;

  before(async () => {
    demo = await sharedDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    const first = officerOf(env.fed, BTC);
    env.second = { username: 'canbo2.btc', name: 'Phạm Quốc Dũng', agency: BTC, password_file: first.password_file };
    await run(binary('ndx-portal'), ['officer', 'add', '--config', path.join(env.fed.apps.portal.dir, 'portal.json'),
      '--username', env.second.username, '--name', env.second.name, '--agency', BTC,
      '--password-file', first.password_file, '--cost', 'min'], { timeout: 30_000 });
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('queue search and filters, deadline, assign to me, the check step keeps the choice', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const citizen = await open();
    await signInCitizen(citizen, portal(env), account(env, 0));
    const id = await fileProcedure(citizen, env, 'household-business', business(`Hộ kinh doanh Bàn Ghế ${Date.now()}`));
    const ref = await referenceOf(citizen, env, id);

    const page = await open();
    await signInOfficer(page, portal(env), officerOf(env.fed, BTC));
    // Search by application number, typed in lower case: that one only.
    await eventually(async () => {
      await go(page, env, '/officer/queue', 'officer-queue');
      return page.locator(`#queue a[data-id="${id}"]`).count();
    });
    await page.fill('#ref', ref.toLowerCase());
    await page.click('#queue-apply');
    await page.waitForURL((u) => u.searchParams.get('ref') === ref.toLowerCase());
    await ready(page, 'officer-queue');
    assert.deepEqual(await page.locator('#queue a[data-id]').evaluateAll((as) => as.map((a) => a.dataset.id)), [id]);
    const row = page.locator('#queue tbody tr').first();
    assert.equal(await row.locator('.ndx-deadline').getAttribute('data-overdue'), 'false');
    assert.match(await row.locator('.ndx-deadline').textContent(), /\d{2}\/\d{2}\/\d{4}/);
    assert.equal(await row.locator('.ndx-holder').getAttribute('data-holder'), '');
    await check(page, 'queue-search');
    // Filed weeks ago (its date moved back in the portal's store): overdue,
    // tagged so in the queue and on the file.
    await moveBack(env, id, 30);
    await page.reload();
    await ready(page, 'officer-queue');
    assert.equal(await row.locator('.ndx-deadline').getAttribute('data-overdue'), 'true');
    assert.match(await row.locator('.ndx-deadline').textContent(), /Quá hạn/);
    await check(page, 'queue-overdue');
    // Another procedure, or "assigned to me": not there.
    await go(page, env, `/officer/queue?ref=${ref}&kind=residence-change`, 'officer-queue');
    assert.equal(await page.locator('#queue-empty').count(), 1);
    assert.equal(await page.inputValue('#kind'), 'residence-change');
    await go(page, env, `/officer/queue?ref=${ref}&assigned=me`, 'officer-queue');
    assert.equal(await page.locator('#queue-empty').count(), 1);
    // Not an application number: said at the box, by the portal's 400.
    await page.fill('#ref', "HS'; --");
    await page.click('#queue-apply');
    await page.waitForSelector('.govuk-error-summary a[href="#ref"]');
    assert.ok(await page.locator('#ref-error').isVisible());
    await check(page, 'queue-bad-ref');

    // The file: its deadline (overdue), nobody holding it; assign to me.
    await openFile(page, env, id);
    assert.match(await page.textContent('#procedure-deadline'), /3 ngày làm việc.*Nghị định 01\/2021\/NĐ-CP/);
    assert.equal(await page.getAttribute('#procedure-deadline', 'data-overdue'), 'true');
    assert.equal((await page.textContent('#procedure-holder')).trim(), 'Chưa có ai nhận');
    await page.click('#take');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal((await page.textContent('#procedure-holder')).trim(), 'Bạn');
    assert.equal(await page.locator('#release').count(), 1);
    await check(page, 'officer-taken');

    // Reject with a reason: the check step shows both; Change and Back
    // return to the form with the choice kept.
    await page.check('#decision-2');
    await page.fill('#reason', 'Thiếu hợp đồng thuê nhà');
    await page.click('#submit-decision');
    await page.waitForSelector('#confirm-decision');
    assert.equal((await page.textContent('#check-decision')).trim(), 'Từ chối');
    assert.equal((await page.textContent('#check-reason')).trim(), 'Thiếu hợp đồng thuê nhà');
    assert.equal(await page.locator('h1').count(), 1);
    await check(page, 'officer-check-reject');
    await page.locator('#check-answers a').first().click();
    await page.waitForSelector('#decision-form');
    assert.ok(await page.isChecked('#decision-2'));
    assert.equal(await page.inputValue('#reason'), 'Thiếu hợp đồng thuê nhà');
    await page.click('#submit-decision');
    await page.waitForSelector('#confirm-decision');
    await page.click('.govuk-back-link');
    await page.waitForSelector('#decision-form');
    assert.ok(await page.isChecked('#decision-2'));
    // Nothing was recorded by any of that.
    assert.equal(await stateOf(citizen, env, id), 'submitted');
    // Approve instead: confirmed, recorded.
    await page.check('#decision');
    await page.click('#submit-decision');
    await page.waitForSelector('#confirm-decision');
    assert.equal((await page.textContent('#check-decision')).trim(), 'Phê duyệt');
    assert.equal(await page.locator('#check-reason').count(), 0);
    await check(page, 'officer-check-approve');
    await confirmDecision(page);
    await page.waitForSelector('.govuk-notification-banner--success');
    await eventually(async () => (await stateOf(citizen, env, id)) === 'completed');
    // In the queue of what I handle, under all states.
    await go(page, env, `/officer/queue?status=all&assigned=me&ref=${ref}`, 'officer-queue');
    assert.equal((await page.textContent(`#queue tbody tr:has(a[data-id="${id}"]) .ndx-holder`)).trim(), 'Bạn');
    await check(page, 'queue-mine');
  }));

  it('refusals in words, with the application as it is now', { timeout: TEST_MS }, guard(env, async (t, open) => {
    // Two people apply for the same name before either is registered.
    const name = `Hộ kinh doanh Trùng Tên ${Date.now()}`;
    const a = await open();
    await signInCitizen(a, portal(env), account(env, 0));
    const first = await fileProcedure(a, env, 'household-business', business(name));
    const b = await open();
    await signInCitizen(b, portal(env), account(env, 1));
    const second = await fileProcedure(b, env, 'household-business', business(name));

    const officer = await open();
    await signInOfficer(officer, portal(env), officerOf(env.fed, BTC));
    await eventually(async () => {
      await openFile(officer, env, second);
      return officer.locator('#decision-form').count();
    });
    // Opened, the file says the name is free.
    assert.equal(await officer.getAttribute('#name-check', 'data-registered'), 'false');
    // Meanwhile, in another tab, the first application is approved.
    assert.equal((await apiPost(officer, env, `/api/officer/procedures/${first}/decision`, { decision: 'approve' })).state, 'completed');
    await officer.check('#decision');
    await officer.click('#submit-decision');
    await confirmDecision(officer);
    await officer.waitForSelector('.govuk-error-summary');
    assert.match(await officer.textContent('.govuk-error-summary'), /vừa được một doanh nghiệp khác đăng ký/);
    assert.doesNotMatch(await officer.textContent('main'), /không còn chờ xử lý/);
    assert.equal(await officer.getAttribute('#procedure-state', 'data-state'), 'submitted');
    assert.equal(await officer.locator('#decision-form').count(), 1);
    assert.equal(await officer.getAttribute('#name-check', 'data-registered'), 'true');
    await check(officer, 'officer-refused-name');
    // Opened again, the file says so from the registry itself.
    await openFile(officer, env, second);
    assert.equal(await officer.getAttribute('#name-check', 'data-registered'), 'true');
    assert.match(await officer.textContent('#name-check'), /Đã được đăng ký/);

    // Another officer opens it; the first takes it meanwhile: the second's
    // rejection is refused by the portal, the page says who holds it.
    const other = await open();
    await signInOfficer(other, portal(env), env.second);
    await openFile(other, env, second);
    await apiPost(officer, env, `/api/officer/procedures/${second}/assignment`, { action: 'take' });
    await other.check('#decision-2');
    await other.fill('#reason', 'Tên đã được đăng ký');
    await other.click('#submit-decision');
    await confirmDecision(other);
    await other.waitForSelector('.govuk-error-summary');
    const holder = officerOf(env.fed, BTC);
    assert.match(await other.textContent('.govuk-error-summary'), new RegExp(`đang do .+ \\(${holder.username}\\) xử lý`));
    assert.equal(await other.locator('#decision-form').count(), 0);
    assert.equal(await other.locator('#held-by-other').count(), 1);
    assert.equal(await other.getAttribute('#procedure-state', 'data-state'), 'submitted');
    await check(other, 'officer-refused-held');
    // English.
    await other.click('a[hreflang="en"]');
    await other.waitForSelector('html[lang="en"]');
    await ready(other, 'officer-procedure');
    assert.match(await other.textContent('#held-by-other'), /is handling this application/);
    await check(other, 'officer-held-en');

    // The holder rejects it, with the reason the citizen reads.
    await openFile(officer, env, second);
    await officer.check('#decision-2');
    await officer.fill('#reason', 'Tên hộ kinh doanh đã được đăng ký');
    await officer.click('#submit-decision');
    await confirmDecision(officer);
    await officer.waitForSelector('.govuk-notification-banner--success');
    await eventually(async () => (await stateOf(b, env, second)) === 'rejected');
  }));
});
