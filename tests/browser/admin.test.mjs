// The administration of officers and officials (/admin/*, docs/portal.md
// "Administration", issue 21) in real Chromium against the demo federation.
// The demo's national operator (federation.json apps.portal.officials)
// signs in through the e-ID's own page, adds an officer (the password the
// portal made shown once, then used by the officer to sign in), is told
// at the fields what is wrong in an empty or bad form, renames the officer,
// resets their password and removes them (each after a confirmation step),
// the officer's open session ending with the removal; adds an auditor from
// the demo's citizens and reads the change log, in Vietnamese and English.
// The auditor reads and is offered no change; the tax department's agency
// official sees its own officers only; a citizen who is no official and a
// password officer get a clear refusal page. axe-core and the phone's
// width (390 px) on every page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { account, go, guard, portal } from './flows.mjs';
import {
  check, checkWidths, launch, officerOf, portalMissing, ready, setArtifactPrefix, signInCitizen, signInOfficer, sharedDemo,
} from './lib.mjs';

const TEST_MS = 300_000;
const TCT = 'VN/GOV/TCT';
const BCA = 'VN/GOV/BCA';

const officialOf = (env, role) => {
  const o = (env.fed.apps.portal.officials || []).find((x) => x.role === role);
  assert.ok(o, `federation.json lists no ${role} official`);
  return o;
};

async function signInOfficial(page, env, who) {
  await signInCitizen(page, portal(env), who);
  await go(page, env, '/admin/officers', 'admin-officers');
}

describe('the administration of officers and officials in the demo federation', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('admin');
  let demo;

  before(async () => {
    demo = await sharedDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('the operator adds, renames, resets and removes an officer; the officer\'s session ends', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const op = officialOf(env, 'operator');
    const page = await open();
    await signInOfficial(page, env, op);
    assert.match(await page.textContent('#admin-scope'), /đơn vị vận hành/);
    assert.ok(await page.locator('#officers tbody tr').count() >= 1);
    await check(page, 'officers');

    // An empty form: each field named in the summary and at the field.
    await page.click('#officer-add-submit');
    await page.waitForSelector('.govuk-error-summary');
    for (const f of ['username', 'name', 'agency']) {
      assert.ok(await page.locator(`.govuk-error-summary a[href="#officer-add-${f}"]`).count(), f);
      assert.ok(await page.locator(`#officer-add-${f}-error`).isVisible(), f);
    }
    await check(page, 'officers-empty-form');
    // A bad user name and member id: the portal's 400 at those fields.
    await page.fill('#officer-add-username', 'cán bộ');
    await page.fill('#officer-add-name', 'Ngô Thị Mới');
    await page.fill('#officer-add-agency', 'VN/GOV');
    await page.click('#officer-add-submit');
    // The empty form's errors are still on the page until the portal's
    // answer replaces them: wait for that answer, not for the element.
    await page.waitForFunction(() => /sai định dạng/.test(document.querySelector('#officer-add-username-error')?.textContent ?? ''));
    assert.match(await page.textContent('#officer-add-username-error'), /sai định dạng/);
    assert.ok(await page.locator('#officer-add-agency-error').isVisible());
    assert.equal(await page.locator('#officer-add-name-error').count(), 0);
    await check(page, 'officers-bad-form');

    const username = `canbo.moi${Date.now() % 100000}`;
    await page.fill('#officer-add-username', username);
    await page.fill('#officer-add-agency', TCT);
    await page.click('#officer-add-submit');
    await page.waitForSelector('#new-password');
    const password = (await page.textContent('#new-password')).trim();
    assert.match(password, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/);
    assert.ok(await page.locator(`#officers td:has-text("${username}")`).count());
    await check(page, 'officer-added');
    // Shown once: a reload no longer has it.
    await page.reload();
    await ready(page, 'admin-officers');
    assert.equal(await page.locator('#new-password').count(), 0);

    // The officer signs in with it.
    const officer = await open();
    await signInOfficer(officer, portal(env), { username, password });

    // The officer's page: rename, reset (after a check), remove.
    await page.click(`a[href="/admin/officers/${username}"]`);
    await ready(page, 'admin-officer');
    await check(page, 'officer');
    await page.fill('#officer-rename-name', 'Ngô Thị Mới Đổi');
    await page.click('#officer-rename-submit');
    await page.waitForSelector('h1:has-text("Ngô Thị Mới Đổi")');
    await page.click('#officer-password-start');
    await page.waitForSelector('#officer-password-confirm');
    await check(page, 'officer-reset-check');
    await page.click('#officer-password-cancel');
    await page.waitForSelector('#officer-password-start');
    await page.click('#officer-password-start');
    await page.click('#officer-password-confirm');
    await page.waitForSelector('#new-password');
    const again = (await page.textContent('#new-password')).trim();
    assert.notEqual(again, password);
    await check(page, 'officer-reset');
    // The reset ended the officer's session.
    await go(officer, env, '/officer/queue', 'officer-queue');
    assert.match(await officer.textContent('h1'), /Cần đăng nhập/);
    await signInOfficer(officer, portal(env), { username, password: again });

    await page.click('#officer-remove-start');
    await page.waitForSelector('#officer-remove-confirm');
    await check(page, 'officer-remove-check');
    await page.click('#officer-remove-confirm');
    await ready(page, 'admin-officers');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.locator(`#officers td:has-text("${username}")`).count(), 0);
    // Removed: the officer's next page asks them to sign in.
    await officer.reload();
    await ready(officer, 'officer-queue');
    assert.match(await officer.textContent('h1'), /Cần đăng nhập/);

    // The change log has the four changes, by the operator.
    await page.click('a[href="/admin/audit"]');
    await ready(page, 'admin-audit');
    const rows = page.locator(`#audit tbody tr:has-text("${username}")`);
    assert.equal(await rows.count(), 4);
    assert.match(await rows.first().textContent(), /Xoá cán bộ/);
    assert.match(await rows.first().textContent(), new RegExp(op.name));
    await check(page, 'audit');
    // In English.
    await page.click('a[data-lang="en"]');
    await page.waitForSelector('h1:has-text("Change log")');
    assert.match(await rows.first().textContent(), /Officer removed/);
    await check(page, 'audit-en');
    await page.click('a[data-lang="vi"]');
    await page.waitForSelector('h1:has-text("Nhật ký thay đổi")');
  }));

  it('the operator adds an auditor, who reads and changes nothing', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const op = officialOf(env, 'operator');
    const who = account(env, 1);
    const page = await open();
    await signInOfficial(page, env, op);
    await go(page, env, '/admin/officials', 'admin-officials');
    await check(page, 'officials');
    // The operator's own row offers no removal.
    await page.click(`a[href="/admin/officials/${op.pin}"]`);
    await ready(page, 'admin-official');
    assert.equal(await page.locator('#official-remove-start').count(), 0);
    await check(page, 'official-self');
    await go(page, env, '/admin/officials', 'admin-officials');
    await page.fill('#official-add-pin', '12345');
    await page.click('#official-add-submit');
    await page.waitForSelector('.govuk-error-summary');
    for (const f of ['pin', 'name', 'role', 'member']) assert.ok(await page.locator(`#official-add-${f}-error`).isVisible(), f);
    await check(page, 'officials-bad-form');
    await page.fill('#official-add-pin', who.pin);
    await page.fill('#official-add-name', `${who.name} (kiểm toán)`);
    await page.selectOption('#official-add-role', 'auditor');
    await page.fill('#official-add-member', 'VN/GOV/VPCP');
    await page.click('#official-add-submit');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.ok(await page.locator(`#officials td:has-text("${who.pin}")`).count());

    const au = await open();
    await signInOfficial(au, env, who);
    assert.equal(await au.locator('#officer-add').count(), 0);
    assert.match(await au.textContent('#admin-scope'), /chỉ xem/);
    assert.equal(await au.locator('#officers a:has-text("Quản lý")').count(), 0);
    await check(au, 'auditor-officers');
    await go(au, env, '/admin/officials', 'admin-officials');
    assert.equal(await au.locator('#official-add').count(), 0);
    assert.equal(await au.locator(`#officials td:has-text("${op.pin}")`).count(), 0);
    await check(au, 'auditor-officials');
    const officerName = officerOf(env.fed, BCA).username;
    await go(au, env, `/admin/officers/${officerName}`, 'admin-officer');
    assert.equal(await au.locator('#officer-rename').count(), 0);
    assert.equal(await au.locator('#officer-remove-start').count(), 0);
    await check(au, 'auditor-officer');

    // Removed by the operator (after the check step): the centre is closed to them.
    await page.click(`a[href="/admin/officials/${who.pin}"]`);
    await ready(page, 'admin-official');
    await page.click('#official-remove-start');
    await page.click('#official-remove-confirm');
    await ready(page, 'admin-officials');
    await go(au, env, '/admin/officials', 'admin-officials');
    assert.match(await au.textContent('h1'), /không có quyền/);
  }));

  it('an agency official, a citizen and an officer', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const ag = officialOf(env, 'agency');
    const page = await open();
    await signInOfficial(page, env, ag);
    // It adds an officer of its own member (the form asks no agency).
    assert.equal(await page.locator('#officer-add-agency').count(), 0);
    const username = `canbo.thue${Date.now() % 100000}`;
    await page.fill('#officer-add-username', username);
    await page.fill('#officer-add-name', 'Vũ Văn Thuế');
    await page.click('#officer-add-submit');
    await page.waitForSelector('#new-password');
    const agencies = await page.locator('#officers tbody tr').evaluateAll((rows) => rows.map((r) => r.children[2].textContent));
    assert.ok(agencies.length >= 1);
    for (const a of agencies) assert.match(a, /VN\/GOV\/TCT/);
    assert.equal(await page.locator(`#officers td:has-text("${officerOf(env.fed, BCA).username}")`).count(), 0);
    await check(page, 'agency-officers');
    await go(page, env, '/admin/officials', 'admin-officials');
    assert.equal(await page.locator('#official-add').count(), 0);
    await check(page, 'agency-officials');
    await go(page, env, '/admin/audit', 'admin-audit');
    await check(page, 'agency-audit');

    const citizen = await open();
    await signInCitizen(citizen, portal(env), account(env, 0));
    await go(citizen, env, '/admin/officers', 'admin-officers');
    assert.match(await citizen.textContent('h1'), /không có quyền/);
    await checkWidths(citizen, 'citizen-refused');

    const officer = await open();
    await signInOfficer(officer, portal(env), officerOf(env.fed, BCA));
    await go(officer, env, '/admin/officers', 'admin-officers');
    assert.match(await officer.textContent('h1'), /không có quyền/);
    const res = await officer.request.get(`${portal(env)}/api/admin/officers`);
    assert.equal(res.status(), 403);
    assert.equal((await res.json()).error, 'not_official');
  }));
});
