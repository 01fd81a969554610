// The citizen's and the officer's journeys through the portal, written
// against docs/portal.md and federation.json's keys (apps.portal.url,
// apps.portal.officers, apps.id.demo_accounts).
//
// defineFlows(env) registers the tests; env is filled by the caller's
// before() hook: env.fed (the federation description) and env.browser.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { check, checkWidths, eventually, newPage, officerOf, ready, signInCitizen, signInOfficer } from './lib.mjs';

const TEST_MS = 180_000;

export function guard(env, fn) {
  return async (t) => {
    const pages = [];
    const open = async () => {
      const p = await newPage(env.browser);
      pages.push(p);
      return p;
    };
    try {
      await fn(t, open);
    } finally {
      for (const p of pages) await p.context().close().catch(() => {});
    }
  };
}

export const portal = (env) => env.fed.portal.url.replace(/\/+$/, '');
export const account = (env, i) => env.fed.id.demo_accounts[i % env.fed.id.demo_accounts.length];

export async function go(page, env, route, pageName) {
  await page.goto(`${portal(env)}${route}`);
  await ready(page, pageName);
}

// The application just filed: the page tells the citizen its number
// (HS + the day in Vietnam + its number that day, docs/portal.md), never the
// id, which the page keeps for links; returns the id.
async function submittedId(page) {
  const ref = (await page.textContent('#procedure-ref')).trim();
  assert.match(ref, /^HS\d{6}-\d{5}$/);
  const id = await page.getAttribute('#procedure-ref', 'data-id');
  assert.ok(id && !ref.includes(id));
  return id;
}

// Files a procedure through the form and pays its fee at the bank; returns
// its id.
export async function fileProcedure(page, env, kind, fill, { checkPages = false } = {}) {
  await go(page, env, '/procedures', 'procedures');
  await page.click(`#start-${kind}`);
  await ready(page, 'procedure-new');
  await fill(page);
  await page.click('#submit-procedure');
  await page.waitForSelector('#procedure-ref');
  const id = await submittedId(page);
  await payAtBank(page, env, id, { checkPages });
  return id;
}

// Pays the fee shown on the procedure's page with "pay at my bank": the
// bank's own confirmation page (ndx-pay bank), confirmed, and its link
// back to the procedure, which the officers now have (docs/payment.md).
async function payAtBank(page, env, id, { checkPages = false } = {}) {
  await page.waitForSelector('#payment a.govuk-button');
  if (checkPages) await check(page, 'payment');
  const reference = (await page.textContent('#payment-reference')).trim();
  await page.locator('#payment a.govuk-button').first().click();
  await page.waitForSelector('#amount');
  assert.equal((await page.textContent('#reference')).trim(), reference);
  if (checkPages) await check(page, 'bank-confirm');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.ok');
  if (checkPages) await check(page, 'bank-paid');
  await page.click('.ok + p a');
  await page.waitForSelector(`#procedure-state[data-state="submitted"]`);
  assert.match(await page.textContent('#procedure-history'), /Kho bạc Nhà nước/);
}

// Pays the fee by VietQR: the code on the portal's page, scanned by a bank
// app (the bank's page for exactly that payload, on another device); the
// portal's page sees the payment by itself and moves on.
async function payByQr(page, env, phone) {
  await page.waitForSelector('#payment-qr svg');
  const qr = await page.getAttribute('#payment-qr', 'data-payload');
  assert.match(qr, /^000201010212.*5303704.*5802VN.*6304[0-9A-F]{4}$/);
  const reference = (await page.textContent('#payment-reference')).trim();
  await phone.goto(`${env.fed.apps.bank.url}/pay?qr=${encodeURIComponent(qr)}`);
  assert.equal((await phone.textContent('#reference')).trim(), reference);
  assert.equal((await phone.textContent('#amount')).trim(), (await page.textContent('#payment-amount')).trim());
  await phone.click('form button[type=submit]');
  await phone.waitForSelector('.ok');
  await page.waitForSelector('#procedure-state[data-state="submitted"]');
}

async function officerDecides(page, env, officer, id, decision, reason) {
  const s = await (await page.request.get(`${portal(env)}/api/session`)).json();
  if (!s.authenticated || s.kind !== 'officer') await signInOfficer(page, portal(env), officer);
  await eventually(async () => {
    await go(page, env, '/officer/queue', 'officer-queue');
    return page.locator(`#queue a[data-id="${id}"]`).count();
  });
  // The queue names the application by its number, as the citizen was told it.
  assert.match((await page.textContent(`#queue a[data-id="${id}"]`)).trim(), /^HS\d{6}-\d{5}$/);
  await page.locator(`#queue a[data-id="${id}"]`).click();
  await ready(page, 'officer-procedure');
  await page.check(decision === 'approve' ? '#decision' : '#decision-2');
  if (reason !== undefined) await page.fill('#reason', reason);
  await page.click('#submit-decision');
  await confirmDecision(page);
}

// The check step before a decision is recorded (docs/portal.md "The
// officers' desk"): confirmed when the form was complete; a form with an
// error stays on the form.
export async function confirmDecision(page) {
  await page.waitForSelector('#confirm-decision, .govuk-error-summary');
  if (await page.locator('#confirm-decision').count()) await page.click('#confirm-decision');
}

// A read of the citizen's record by the tax department's system, through
// its own consumer gateway, as another agency would read it.
async function taxDepartmentReads(env, pin) {
  const gw = env.fed.gateways.find((x) => x.member === 'VN/GOV/TCT');
  assert.ok(gw, 'federation.json lists the tax department\'s gateway');
  const res = await fetch(`${gw.consumer_url}/r1/VN/GOV/BCA/population/citizens/${pin}`, {
    headers: { 'X-Road-Client': 'VN/GOV/TCT/tax', 'Ndx-Subject': pin, 'Ndx-Purpose': 'tax-administration' },
  });
  assert.equal(res.status, 200, await res.text());
}

export async function stateOf(page, env, id) {
  await go(page, env, `/procedures/${encodeURIComponent(id)}`, 'procedure');
  return page.getAttribute('#procedure-state', 'data-state');
}

export function defineFlows(env) {
  it('citizen signs in through the e-ID and sees their record', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    const acc = account(env, 0);
    await signInCitizen(page, portal(env), acc, { checkPages: true });
    await page.waitForSelector('#insurance');
    // demo accounts may come without a name; the record then shows the pin
    assert.match(await page.textContent('#citizen'), new RegExp(acc.name || acc.pin));
    assert.equal(await page.title(), 'Thông tin của tôi — Cổng Dịch vụ công quốc gia — ndx');
    assert.equal(await page.locator('h1').count(), 1);
    assert.match(await page.textContent('#citizen'), /Ngày sinh\s*\d{2}\/\d{2}\/\d{4}/, 'the birth date as dd/mm/yyyy');
    await check(page, 'profile');

    // English, remembered across page loads; the html element says so.
    await page.click('a[hreflang="en"]');
    await page.waitForSelector('html[lang="en"]');
    await page.waitForSelector('h1:has-text("My information")');
    await page.reload();
    await ready(page, 'profile');
    assert.equal(await page.textContent('h1'), 'My information');
    await check(page, 'profile-en');
    await page.click('a[hreflang="vi"]');
    await page.waitForSelector('h1:has-text("Thông tin của tôi")');

    // Signing out ends the portal session (and the e-ID's), back home.
    await page.click('#sign-out');
    await page.waitForURL((u) => u.href.startsWith(portal(env)) && u.pathname === '/');
    await ready(page, 'home');
    assert.equal(await page.locator('#sign-out').count(), 0);
    const s = await (await page.request.get(`${portal(env)}/api/session`)).json();
    assert.equal(s.authenticated, false);

    // The e-ID's page follows the portal's language (ui_locales), names
    // the portal by its registered name and links back to it.
    for (const [l, button, name, back] of [
      ['en', 'Sign in with your electronic identity', 'National Public Service Portal', 'Back to National Public Service Portal'],
      ['vi', 'Đăng nhập bằng định danh điện tử', 'Cổng Dịch vụ công quốc gia', 'Quay lại Cổng Dịch vụ công quốc gia'],
    ]) {
      await page.goto(`${portal(env)}/?lang=${l}`);
      await ready(page, 'home');
      await page.getByRole('button', { name: button }).click();
      await page.waitForSelector('input[name="pin"]');
      assert.equal(await page.getAttribute('html', 'lang'), l, `the e-ID page in ${l}`);
      assert.equal((await page.textContent('main strong')).trim(), name);
      assert.equal((await page.textContent('#back-to-service')).trim(), back);
      await checkWidths(page, `e-ID sign-in (${l})`);
      await page.click('#back-to-service');
      await page.waitForURL((u) => u.href.startsWith(portal(env)) && u.pathname === '/');
      await ready(page, 'home');
    }
  }));

  it('household business: pre-filled, validated, approved, completed', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const citizen = await open();
    const acc = account(env, 0);
    await signInCitizen(citizen, portal(env), acc);
    await go(citizen, env, '/procedures', 'procedures');
    await check(citizen, 'procedures');
    await citizen.click('#start-household-business');
    await ready(citizen, 'procedure-new');
    if (acc.name) assert.match(await citizen.textContent('#prefill'), new RegExp(acc.name), 'owner pre-filled from the population registry');
    assert.match(await citizen.textContent('#prefill'), new RegExp(acc.pin));
    await check(citizen, 'household-business-form');

    // Nothing filled in: the portal's 422 becomes the error summary, focused.
    for (const f of ['#field-business-name', '#field-business-line', '#field-commune', '#field-address', '#field-capital-vnd']) await citizen.fill(f, '');
    await citizen.selectOption('#field-province', '');
    await citizen.click('#submit-procedure');
    await citizen.waitForSelector('.govuk-error-summary');
    assert.ok(await citizen.evaluate(() => document.activeElement.closest('.govuk-error-summary') !== null),
      'focus on the error summary');
    assert.ok(await citizen.locator('.govuk-error-summary a[href="#field-business-name"]').count() === 1);
    assert.ok(await citizen.locator('.govuk-error-summary a[href="#field-commune"]').count() === 1, 'the commune is asked for');
    assert.ok(await citizen.locator('#field-business-name-error').isVisible());
    assert.match(await citizen.title(), /^Lỗi:/);
    await check(citizen, 'household-business-errors');

    const name = `Hộ kinh doanh Thử nghiệm ${Date.now()}`;
    await citizen.fill('#field-business-name', name);
    await citizen.fill('#field-business-line', 'Bán lẻ hàng tạp hoá');
    // Today's map (1 July 2025): 34 provinces, then the commune; no district.
    assert.equal(await citizen.locator('#field-province option:not([value=""])').count(), 34);
    assert.equal((await citizen.locator('#field-province option[value="012"]').textContent()).trim(), 'Tỉnh Lai Châu');
    assert.equal(await citizen.locator('#field-province option[value="030"]').count(), 0, 'no former province (Hải Dương)');
    await citizen.selectOption('#field-province', '012');
    await citizen.fill('#field-commune', 'Phường Tân Phong');
    await citizen.fill('#field-address', '25 Trần Phú');
    await citizen.fill('#field-capital-vnd', '50.000.000');
    await citizen.click('#submit-procedure');
    await citizen.waitForSelector('#procedure-ref');
    const id = await submittedId(citizen);
    // The fee first: by VietQR, the code scanned by the citizen's bank app.
    assert.equal(await citizen.getAttribute('#procedure-state', 'data-state'), 'unpaid');
    assert.match(await citizen.textContent('#procedure-fee'), /100\.000 ₫/);
    // (The payment section and the bank's pages are checked in the
    // residence change's flow.)
    const phone = await open();
    await payByQr(citizen, env, phone);
    await check(citizen, 'household-business-submitted');

    const officer = await open();
    await signInOfficer(officer, portal(env), officerOf(env.fed, 'VN/GOV/BTC'), { checkPages: true });
    await check(officer, 'officer-queue');
    await officerDecides(officer, env, officerOf(env.fed, 'VN/GOV/BTC'), id, 'approve');
    await officer.waitForSelector('.govuk-notification-banner');
    await check(officer, 'officer-approved');

    await eventually(async () => (await stateOf(citizen, env, id)) === 'completed');
    // A business in Lai Châu: Lai Châu's tax office prefix (62), not Hà Nội's (issue 22).
    assert.match(await citizen.textContent('#result-enterprise-code'), /^\s*62\d{8}(-\d{3})?\s*$/);
    // Dates dd/mm/yyyy HH:MM; who did what in words, the agency by name.
    const history = await citizen.textContent('#procedure-history');
    assert.match(history, /\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/, 'history dates as dd/mm/yyyy HH:MM');
    assert.match(history, /\(người nộp\)/);
    assert.match(history, new RegExp(`Cán bộ .+ \\(${officerOf(env.fed, 'VN/GOV/BTC').username}\\)`));
    assert.ok((await citizen.textContent('#procedure-agency')).trim().length > 0);
    await check(citizen, 'household-business-completed');

    // The list names each application: the business's name, not only its number.
    await go(citizen, env, '/procedures', 'procedures');
    assert.equal(await citizen.locator(`#procedures a[data-id="${id}"]`).textContent(), name);
    assert.match(await citizen.textContent('#procedures'), /\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    await check(citizen, 'procedures-named');
  }));

  it('residence change: approved, the profile shows the new address', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const citizen = await open();
    const acc = account(env, 1);
    await signInCitizen(citizen, portal(env), acc);
    const address = `Số ${Date.now() % 1000} phố Tràng Tiền`;
    const id = await fileProcedure(citizen, env, 'residence-change', async (p) => {
      assert.ok((await p.textContent('#prefill')).trim().length > 0, 'current residence pre-filled');
      await check(p, 'residence-change-form');
      await p.selectOption('#field-province', '001');
      await p.fill('#field-commune', 'Phường Hoàn Kiếm');
      await p.fill('#field-address', address);
      await p.fill('#field-reason', 'Chuyển nơi làm việc');
    }, { checkPages: true });
    const officer = await open();
    await officerDecides(officer, env, officerOf(env.fed, 'VN/GOV/BCA'), id, 'approve');
    await officer.waitForSelector('.govuk-notification-banner');
    await eventually(async () => (await stateOf(citizen, env, id)) === 'completed');
    await check(citizen, 'residence-change-completed');
    await go(citizen, env, '/profile', 'profile');
    // Stored and shown as street, commune, province: two levels.
    assert.match(await citizen.textContent('#citizen'), new RegExp(`${address}, Phường Hoàn Kiếm, Thành phố Hà Nội`));
    assert.match(await citizen.textContent('#citizen'), /Thành phố Hà Nội \(001\)/);
  }));

  it('access list: reads by others first, own views behind the filter, an officer in plain words, 390 px', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const citizen = await open();
    const acc = account(env, 1);
    await signInCitizen(citizen, portal(env), acc); // the profile: the citizen's own read
    // The tax department reads the citizen's record through its own gateway.
    await taxDepartmentReads(env, acc.pin);
    // An officer opens the citizen's procedure and approves it.
    const id = await fileProcedure(citizen, env, 'residence-change', async (p) => {
      await p.selectOption('#field-province', '001');
      await p.fill('#field-commune', 'Phường Hoàn Kiếm');
      await p.fill('#field-address', `Số ${Date.now() % 1000} phố Hàng Khay`);
      await p.fill('#field-reason', 'Kiểm tra danh sách truy cập');
    });
    const officerPage = await open();
    const officer = officerOf(env.fed, 'VN/GOV/BCA');
    await officerDecides(officerPage, env, officer, id, 'approve');
    await officerPage.waitForSelector('.govuk-notification-banner');
    assert.ok(await officerPage.locator('#applicant-record').count(), "the officer's file shows the applicant's record");

    // The list opens on reads by others: the tax department, the officer.
    const officerRow = `Cán bộ Bộ Công an (${officer.username}), xử lý thủ tục Đăng ký thường trú`;
    await eventually(async () => {
      await go(citizen, env, '/accesses', 'accesses');
      return (await citizen.locator('#accesses tbody tr', { hasText: officerRow }).count()) > 0;
    });
    assert.equal(await citizen.locator('#accesses tbody tr[data-own="true"]').count(), 0, 'own views are not in the default list');
    assert.ok(await citizen.locator('#accesses tbody tr', { hasText: 'Cục Thuế' }).count(), "the tax department's read");
    const text = await citizen.textContent('#accesses tbody');
    assert.doesNotMatch(text, /VN\/GOV\/|\b[1-5]\d\d\b(?!\d)/, 'no member ids or HTTP statuses in the rows');
    assert.match(text, /Đã cung cấp dữ liệu/);
    assert.match(text, /\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/, 'dates as dd/mm/yyyy');
    await check(citizen, 'accesses-others');

    // Own activity behind the filter.
    await citizen.check('#filter-own-2');
    await citizen.click('#apply-filter');
    await citizen.waitForURL((u) => u.searchParams.get('own') === 'only');
    await ready(citizen, 'accesses');
    assert.ok(await citizen.locator('#accesses tbody tr[data-own="true"]').count() > 0, 'the citizen\'s own views');
    assert.equal(await citizen.locator('#accesses tbody tr[data-own="false"]').count(), 0);
    assert.match(await citizen.textContent('#accesses tbody'), /Chính bạn/);
    await check(citizen, 'accesses-own');

    // A period that does not parse: the error summary, linked to the field.
    await go(citizen, env, '/accesses?from=31/02/2026', 'accesses');
    await citizen.waitForSelector('.govuk-error-summary a[href="#filter-from"]');
    await check(citizen, 'accesses-filter-error');

    // English, and at a phone's width without horizontal scrolling.
    await go(citizen, env, '/accesses?lang=en', 'accesses');
    await eventually(async () => (await citizen.locator('#accesses tbody tr', { hasText: `Officer of Bộ Công an (${officer.username}), for procedure Permanent residence registration` }).count()) > 0);
    await citizen.setViewportSize({ width: 390, height: 844 });
    await go(citizen, env, '/accesses?lang=vi', 'accesses');
    const widths = await citizen.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(widths[0] <= widths[1], `no horizontal scrolling at 390 px (${widths})`);
    await check(citizen, 'accesses-390');
  }));

  it('consent: granting shows contributions, revoking hides them', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await signInCitizen(page, portal(env), account(env, 0));
    await go(page, env, '/consents', 'consents');
    await check(page, 'consents');
    await page.selectOption('#consent-consumer', 'VN/GOV/VPCP/portal');
    await page.selectOption('#consent-service', 'VN/GOV/BHXH/insurance/contributions');
    await page.selectOption('#consent-purpose', 'public-service');
    await page.fill('#consent-days', '30');
    await page.click('#grant-consent');
    await page.waitForSelector('#confirm-consent');
    await page.click('#confirm-consent');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.ok(await page.locator('#consents a.ndx-revoke').count() >= 1);
    await check(page, 'consent-granted');

    await eventually(async () => {
      await go(page, env, '/profile', 'profile');
      return page.locator('#insurance-table').count();
    });
    await check(page, 'profile-with-insurance');

    // Revoke every active consent, through the confirmation page.
    for (let n = 0; n < 10; n++) {
      await go(page, env, '/consents', 'consents');
      const link = page.locator('#consents a.ndx-revoke').first();
      if ((await link.count()) === 0) break;
      await link.click();
      await ready(page, 'consent-revoke');
      if (n === 0) await check(page, 'consent-revoke-confirm');
      await page.click('#confirm-revoke');
      await ready(page, 'consents');
      await page.waitForSelector('.govuk-notification-banner--success');
    }
    await eventually(async () => {
      await go(page, env, '/profile', 'profile');
      return (await page.locator('#insurance-consent-required, #insurance-consent-refused').count()) > 0;
    });
    assert.equal(await page.locator('#insurance-table').count(), 0);
    await check(page, 'profile-consent-revoked');
  }));

  // docs/portal.md "People read names": the check step before a grant
  // (issue 22), in both languages, at 390 and 1280 px with axe-core.
  it('consent: the check step shows who reads what, why and until when; nothing is granted before Confirm', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await signInCitizen(page, portal(env), account(env, 7));
    const consents = async () => (await (await page.request.get(`${portal(env)}/api/consents`)).json());
    // dd/mm/yyyy in Vietnam time, whatever the machine's zone
    const vnDate = (ms) => {
      const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit', day: '2-digit' })
        .formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
      return `${p.day}/${p.month}/${p.year}`;
    };
    const cases = [
      { lang: 'vi', consumer: 'VN/GOV/VPCP/portal', service: 'VN/GOV/BHXH/insurance/contributions', purpose: 'social-insurance', days: '45',
        who: /^Cổng Dịch vụ công quốc gia — Văn phòng Chính phủ$/, data: 'Quá trình đóng bảo hiểm xã hội', why: 'Bảo hiểm xã hội',
        field: ['pin', 'Số định danh cá nhân'], change: 'Thay đổi', range: (a, b) => `Từ hôm nay ${a} đến ${b} (45 ngày, giờ Việt Nam)` },
      { lang: 'en', consumer: 'VN/GOV/TCT/tax', service: 'VN/GOV/BCA/population/citizens', purpose: 'tax-administration', days: '7',
        who: /^Tax Department — Cục Thuế$/, data: 'Citizen record', why: 'Tax administration',
        field: ['full_name', 'Full name'], change: 'Change', range: (a, b) => `From today ${a} to ${b} (7 days, Vietnam time)` },
    ];
    for (const c of cases) {
      const before = (await consents()).consents.length;
      await go(page, env, `/consents?lang=${c.lang}`, 'consents');
      await page.selectOption('#consent-consumer', c.consumer);
      await page.selectOption('#consent-service', c.service);
      await page.selectOption('#consent-purpose', c.purpose);
      await page.fill('#consent-days', c.days);
      await page.click('#grant-consent');
      await page.waitForSelector('#check-answers');
      const now = Date.now();
      await check(page, `consent-check-${c.lang}`);
      assert.match((await page.textContent('#check-consumer')).trim(), c.who);
      assert.equal((await page.textContent('#check-service')).trim(), c.data);
      assert.equal((await page.textContent('#check-purpose')).trim(), c.why);
      // the fields one record holds, from the service's OpenAPI document
      assert.equal((await page.textContent(`#check-fields li[data-field="${c.field[0]}"]`)).trim(), c.field[1]);
      assert.ok(await page.locator('#check-fields li').count() >= 3);
      assert.equal((await page.textContent('#check-valid')).trim(), c.range(vnDate(now), vnDate(now + Number(c.days) * 86_400_000)));
      assert.equal((await consents()).consents.length, before, 'nothing granted before Confirm');

      // "Change" (and, in English, "Back") return to the form with the choices kept.
      const purposeChange = page.locator('#check-answers .govuk-summary-list__actions a').nth(2);
      assert.match((await purposeChange.textContent()).trim(), new RegExp(`^${c.change} `));
      await purposeChange.click();
      await page.waitForSelector('#consent-form');
      assert.equal(await page.inputValue('#consent-consumer'), c.consumer);
      assert.equal(await page.inputValue('#consent-service'), c.service);
      assert.equal(await page.inputValue('#consent-purpose'), c.purpose);
      assert.equal(await page.inputValue('#consent-days'), c.days);
      if (c.lang === 'en') {
        await page.click('#grant-consent');
        await page.waitForSelector('#check-answers');
        await page.click('a.govuk-back-link');
        await page.waitForSelector('#consent-form');
        assert.equal(await page.inputValue('#consent-service'), c.service);
        assert.equal(await page.inputValue('#consent-days'), c.days);
        // days outside 1–365 never reach the check step
        await page.fill('#consent-days', '0');
        await page.click('#grant-consent');
        await page.waitForSelector('.govuk-error-summary a[href="#consent-days"]');
        assert.equal(await page.locator('#check-answers').count(), 0);
        await page.fill('#consent-days', c.days);
      }
      assert.equal((await consents()).consents.length, before, 'nothing granted by Change or Back');
      await page.click('#grant-consent');
      await page.waitForSelector('#confirm-consent');
      await page.click('#confirm-consent');
      await page.waitForSelector('.govuk-notification-banner--success');
      const after = (await consents()).consents;
      assert.equal(after.length, before + 1);
      const made = after.find((x) => x.consumer === c.consumer && x.services.includes(c.service) && x.purpose === c.purpose && !x.revoked_at);
      assert.ok(made, 'the consent confirmed is the one checked');
      const span = (Date.parse(made.valid_to) - Date.parse(made.valid_from)) / 86_400_000;
      assert.ok(Math.abs(span - Number(c.days)) < 0.01, `valid for ${c.days} days (${span})`);
      assert.equal(vnDate(Date.parse(made.valid_to)), vnDate(now + Number(c.days) * 86_400_000), 'the end date shown is the one granted');
    }
  }));

  it('officer must give a reason to reject', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const citizen = await open();
    await signInCitizen(citizen, portal(env), account(env, 1));
    const id = await fileProcedure(citizen, env, 'household-business', async (p) => {
      await p.fill('#field-business-name', `Hộ kinh doanh Từ chối ${Date.now()}`);
      await p.fill('#field-business-line', 'Dịch vụ ăn uống');
      await p.selectOption('#field-province', '001');
      await p.fill('#field-commune', 'Phường Hoàn Kiếm');
      await p.fill('#field-address', '8 Hàng Bạc');
      await p.fill('#field-capital-vnd', '20000000');
    });

    const officer = await open();
    // A wrong password first: the error summary, nothing else.
    await officer.goto(`${portal(env)}/officer`);
    await ready(officer, 'officer-signin');
    await officer.fill('#username', officerOf(env.fed, 'VN/GOV/BTC').username);
    await officer.fill('#password', 'not-the-password');
    await officer.click('#officer-signin-submit');
    await officer.waitForSelector('.govuk-error-summary');
    await check(officer, 'officer-sign-in-error');

    await officerDecides(officer, env, officerOf(env.fed, 'VN/GOV/BTC'), id, 'reject', '');
    await officer.waitForSelector('.govuk-error-summary a[href="#reason"]');
    assert.ok(await officer.locator('#reason-error').isVisible());
    await check(officer, 'officer-reject-needs-reason');
    await officer.fill('#reason', 'Ngành nghề kinh doanh cần giấy phép con');
    await officer.click('#submit-decision');
    await officer.waitForSelector('#confirm-decision');
    await confirmDecision(officer);
    await officer.waitForSelector('.govuk-notification-banner');

    await eventually(async () => (await stateOf(citizen, env, id)) === 'rejected');
    assert.match(await citizen.textContent('#procedure-history'), /giấy phép con/);
    // The reason at the top of the page, before the summary, not only in the history.
    assert.equal((await citizen.textContent('#rejection-reason')).trim(),
      'Lý do: Ngành nghề kinh doanh cần giấy phép con');
    assert.ok(await citizen.evaluate(() => {
      const reason = document.getElementById('rejection-reason');
      const state = document.getElementById('procedure-state');
      return Boolean(reason.compareDocumentPosition(state) & Node.DOCUMENT_POSITION_FOLLOWING);
    }), 'the reason comes before the summary');
    // The fee paid comes back (docs/payment.md "Refunds").
    assert.match(await citizen.textContent('#refund'), /đã hoàn trả lệ phí 100\.000 ₫/);
    await check(citizen, 'procedure-rejected');
  }));

  it('a forged OIDC state is refused and nobody is signed in', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await page.goto(`${portal(env)}/auth/callback?code=x&state=forged`);
    await ready(page, 'home');
    assert.equal(new URL(page.url()).pathname, '/');
    assert.match(await page.textContent('#login-error'), /Phiên đăng nhập không hợp lệ/);
    assert.equal(await page.locator('#sign-out').count(), 0);
    const s = await (await page.request.get(`${portal(env)}/api/session`)).json();
    assert.equal(s.authenticated, false);
    await check(page, 'home-state-invalid');
  }));

  it('pages for signed-in people ask to sign in; unknown pages say not found', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await go(page, env, '/consents', 'consents');
    assert.equal(await page.textContent('h1'), 'Cần đăng nhập');
    await check(page, 'sign-in-needed');
    await go(page, env, '/officer/queue', 'officer-queue');
    assert.ok(await page.locator('a[href="/officer"].govuk-button').count());
    await go(page, env, '/no/such/page', 'not-found');
    assert.equal(await page.textContent('h1'), 'Không tìm thấy trang');
    await check(page, 'not-found');
  }));
}
