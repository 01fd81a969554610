// The data marketplace in real Chromium against the demo federation
// (docs/portal.md "The marketplace", issue 23): the Ministry of Public
// Security publishes its citizens service as "citizen data verification"
// (its verification service is the demo's own address check for
// enterprises, docs/marketplace.md "In the demo", which neither a visitor
// nor a state body sees) (an offer for everyone and one for enterprises
// only) with the credential the demo gave
// the portal; a visitor browses and searches the catalogue without signing
// in (with and without Vietnamese diacritics) and reads a dataset's page
// with its terms in words; the Ministry of Finance's officer requests the
// open offer for its enterprise registry's system; the Ministry of Public
// Security's officer finds the request waiting, goes through the check
// step ("Change" keeps the choice) and approves it: the negotiation is
// FINALIZED and its grant is in the registry's next signed configuration.
// The Ministry of Finance's officer then publishes its enterprise owners
// service on the publishing page (a field's error said at the field first)
// and withdraws it through the confirmation step; ends the agreement it
// made; requests again, receives a counter-offer of validity and price,
// counters it with its own maximum calls, and the Ministry of Public
// Security's officer approves those terms and ends that agreement too. A
// text that is no usage statement, pasted on the agreement's page, is said
// at its field. The bank's purchase of the address check (500 ₫ a call,
// agreed by the demo) is used twice; the Ministry of Public Security's
// officer issues the invoice of its gateway's signed usage statement on
// the invoices page (an empty form's errors said at the fields first); the
// bank's officer finds it on its own invoices page with its VietQR code,
// follows the bank's button, confirms the transfer on the bank's page and
// comes back to find it paid (the registry cleared it on the bank's
// receipt), and the seller's page shows it paid too.
// axe-core and the 390/1280 px widths on every page checked, in Vietnamese
// and in English.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { go, guard, portal } from './flows.mjs';
import { promisify } from 'node:util';
import { check, eventually, launch, ndxBinary, officerOf, portalMissing, ready, setArtifactPrefix, signInOfficer, sharedDemo } from './lib.mjs';

const TEST_MS = 300_000;
const BCA = 'VN/GOV/BCA';
const BTC = 'VN/GOV/BTC';
const BANK = 'VN/COM/0100000099';
const SERVICE = 'VN/GOV/BCA/population/citizens';

function credential(env, member) {
  return readFileSync(path.join(env.fed.portal.market_credentials_dir, `${member.replaceAll('/', '_')}.token`), 'utf8').trim();
}

async function publish(env) {
  const res = await fetch(`${env.fed.registry.url}/market/datasets`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${credential(env, BCA)}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      service: SERVICE,
      title: { vi: 'Xác minh thông tin công dân', en: 'Citizen data verification' },
      description: { vi: 'Đối chiếu họ tên, ngày sinh với cơ sở dữ liệu quốc gia về dân cư', en: 'Checks a name and birth date against the national population database' },
      theme: ['http://publications.europa.eu/resource/authority/data-theme/GOVE'],
      license: 'https://creativecommons.org/licenses/by/4.0/',
      accrual_periodicity: 'CONT',
      sample: { match: true },
      offers: [
        { permission: [{ action: 'use', constraint: [
          { leftOperand: 'purpose', operator: 'isAnyOf', rightOperand: ['public-service'] },
          { leftOperand: 'ndx:method', operator: 'isAnyOf', rightOperand: ['GET'] },
          { leftOperand: 'elapsedTime', operator: 'lteq', rightOperand: 'P90D' },
          { leftOperand: 'count', operator: 'lteq', rightOperand: 1000, unit: 'ndx:perDay' },
          { leftOperand: 'ndx:dataAge', operator: 'lteq', rightOperand: 'PT24H' }] }],
          prohibition: [{ action: 'distribute' }] },
        { permission: [{ action: 'use', constraint: [
          { leftOperand: 'ndx:consumerClass', operator: 'isAnyOf', rightOperand: ['enterprise'] }] }],
          obligation: [{ action: 'compensate', constraint: [
            { leftOperand: 'payAmount', operator: 'eq', rightOperand: 300, unit: 'ndx:VNDPerCall' }] }] },
      ],
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

describe('the data marketplace in the demo federation', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('market');
  let demo;

  before(async () => {
    demo = await sharedDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    assert.ok(env.fed.portal.market_credentials_dir, 'federation.json names no market_credentials_dir');
    env.dataset = await publish(env);
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('browsing and searching without signing in', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await go(page, env, '/market', 'market');
    const ids = () => page.locator('#datasets li[data-id]').evaluateAll((ls) => ls.map((l) => l.dataset.id));
    assert.deepEqual(await ids(), [env.dataset['@id']]);
    assert.match(await page.textContent('#datasets'), /Cung cấp bởi Bộ Công an/);
    await check(page, 'market-anonymous');
    // Without diacritics, then with them, then words that are nowhere.
    for (const [q, n] of [['xac minh thong tin cong dan', 1], ['Xác minh', 1], ['DÂN CƯ', 1], ['hộ kinh doanh', 0]]) {
      await page.fill('#q', q);
      await page.click('#market-search-button');
      await page.waitForURL((u) => u.searchParams.get('q') === q);
      await ready(page, 'market');
      assert.equal(await page.getAttribute('#market-count', 'data-count'), String(n), q);
    }
    await check(page, 'market-search-none');
    // The dataset's page: its DCAT-AP description and the open offer's
    // terms in words; the enterprises' offer is not shown to a visitor.
    await go(page, env, '/market?q=xac%20minh', 'market');
    await page.click('.ndx-dataset-link');
    await ready(page, 'market-dataset');
    assert.equal(await page.textContent('h1'), 'Xác minh thông tin công dân');
    assert.match(await page.textContent('#dcat'), /Bộ Công an.*Liên tục/s);
    assert.equal(await page.locator('.ndx-offer').count(), 1);
    assert.equal(await page.textContent('.ndx-offer [data-term="calls"]'), '1.000 lần mỗi ngày');
    assert.equal(await page.textContent('.ndx-offer [data-term="validity"]'), '90 ngày kể từ khi thỏa thuận có hiệu lực');
    assert.equal(await page.textContent('.ndx-offer [data-term="price"]'), 'Miễn phí');
    // The data-age limit, written back by the registry as P1D.
    assert.equal(await page.textContent('.ndx-offer [data-term="data_age"]'), 'Dữ liệu trả về được cập nhật trong vòng 1 ngày');
    assert.equal(await page.locator('button[data-offer]').count(), 0);
    await check(page, 'market-dataset-anonymous');
    // In English.
    await page.click('a[hreflang="en"]');
    await page.waitForSelector('html[lang="en"]');
    await page.reload();
    await ready(page, 'market-dataset');
    assert.equal(await page.textContent('h1'), 'Citizen data verification');
    assert.equal(await page.textContent('.ndx-offer [data-term="calls"]'), '1,000 calls a day');
    assert.equal(await page.textContent('.ndx-offer [data-term="data_age"]'), 'Answers hold data updated within the last day');
    await check(page, 'market-dataset-en');
    // A dataset that does not exist: said plainly.
    await go(page, env, '/market/datasets/urn:uuid:00000000-0000-4000-8000-000000000000', 'market-dataset');
    assert.equal(await page.locator('h1').textContent(), 'Not found');
    await check(page, 'market-not-found');
  }));

  it('an officer requests an offer, the provider\'s officer approves it', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const consumer = await open();
    await signInOfficer(consumer, portal(env), officerOf(env.fed, BTC));
    await go(consumer, env, `/market/datasets/${env.dataset["@id"]}`, 'market-dataset');
    // A state body does not see the enterprises' offer either.
    assert.equal(await consumer.locator('.ndx-offer').count(), 1);
    assert.equal(await consumer.inputValue('#client'), 'VN/GOV/BTC/enterprise');
    await check(consumer, 'market-dataset-officer');
    await consumer.click('#request-1');
    await ready(consumer, 'market-negotiation');
    await consumer.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await consumer.getAttribute('#neg-state', 'data-state'), 'REQUESTED');
    const pid = decodeURIComponent(new URL(consumer.url()).pathname.split('/').pop());
    await check(consumer, 'market-requested');

    const provider = await open();
    await signInOfficer(provider, portal(env), officerOf(env.fed, BCA));
    await go(provider, env, '/market/requests', 'market-requests');
    assert.ok(Number(await provider.getAttribute('#waiting', 'data-count')) >= 1);
    assert.match(await provider.textContent(`#received tr:has(a[data-pid="${pid}"])`), /Bộ Tài chính/);
    await check(provider, 'market-requests-provider');
    await provider.click(`#received a[data-pid="${pid}"]`);
    await ready(provider, 'market-negotiation');
    // Nothing chosen: said at the field. Counter without a number: said too.
    await provider.click('#continue');
    await provider.waitForSelector('.govuk-error-summary a[href="#decision"]');
    await check(provider, 'market-decision-error');
    await provider.check('#decision-2');
    await provider.click('#continue');
    await provider.waitForSelector('.govuk-error-summary a[href="#max_calls"]');
    // Approve; the check step; Change keeps the choice; confirm.
    await provider.check('#decision');
    await provider.click('#continue');
    await provider.waitForSelector('#confirm');
    assert.match(await provider.textContent('#check'), /Đồng ý/);
    await check(provider, 'market-decision-check');
    await provider.locator('#check a').first().click();
    await provider.waitForSelector('#decision-form');
    assert.ok(await provider.isChecked('#decision'));
    assert.equal(await provider.getAttribute('#neg-state', 'data-state'), 'REQUESTED');
    await provider.click('#continue');
    await provider.click('#confirm');
    await provider.waitForSelector('.govuk-notification-banner--success');
    await ready(provider, 'market-negotiation');
    assert.equal(await provider.getAttribute('#neg-state', 'data-state'), 'FINALIZED');
    assert.match(await provider.textContent('#agreement-state'), /Đang có hiệu lực/);
    await check(provider, 'market-approved');
    // The requester sees it in force; its grant is in the registry's
    // signed configuration.
    await go(consumer, env, '/market/requests', 'market-requests');
    assert.equal(await consumer.locator(`#made a[data-pid="${pid}"]`).count(), 1);
    assert.match(await consumer.textContent(`#made tr:has(a[data-pid="${pid}"])`), /Có hiệu lực/);
    await check(consumer, 'market-requests-consumer');
    await eventually(async () => {
      const doc = await (await fetch(`${env.fed.registry.url}/conf`)).json();
      return (doc.grants || []).some((g) => g.agreement && g.client === 'VN/GOV/BTC/enterprise' && g.service === SERVICE);
    });
    env.pid = pid;
  }));

  it('a provider publishes a dataset on the page and withdraws it', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await signInOfficer(page, portal(env), officerOf(env.fed, BTC));
    await go(page, env, '/market/published', 'market-published');
    const before = Number(await page.getAttribute('#published-count', 'data-count'));
    await check(page, 'market-published');
    await page.click('a[href="/market/publish"]');
    await ready(page, 'market-publish');
    await check(page, 'market-publish');
    // The form with a title missing and a purpose outside the ODRL subset:
    // both said at their fields, nothing published.
    await page.fill('#service', 'VN/GOV/BTC/enterprise/owners');
    await page.fill('#title_vi', 'Chủ sở hữu doanh nghiệp');
    await page.fill('#description_vi', 'Chủ sở hữu và người đại diện theo pháp luật của doanh nghiệp');
    await page.fill('#description_en', 'The owners and legal representatives of an enterprise');
    await page.check('#themes-2'); // ECON
    await page.fill('#offer-1-purposes', 'Kiểm tra');
    await page.click('#publish');
    await page.waitForSelector('.govuk-error-summary a[href="#title_en"]');
    assert.equal(await page.locator('.govuk-error-summary a[href="#offer-1-purposes"]').count(), 1);
    assert.equal(await page.locator('#title_en-error').count(), 1);
    await check(page, 'market-publish-errors');
    // Put right: for enterprises only, 500 calls a day at 1,000 VND a call.
    await page.fill('#title_en', 'Enterprise owners');
    await page.fill('#offer-1-purposes', 'customer-verification');
    await page.uncheck('#offer-1-classes');
    await page.uncheck('#offer-1-classes-3');
    await page.fill('#offer-1-max_calls', '500');
    await page.fill('#offer-1-price_vnd', '1000');
    await page.click('#publish');
    await ready(page, 'market-published');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await page.getAttribute('#published-count', 'data-count'), String(before + 1));
    const id = await page.locator('#published li[data-id]', { hasText: 'Chủ sở hữu doanh nghiệp' }).getAttribute('data-id');
    await check(page, 'market-published-after');
    const terms = await (await fetch(`${env.fed.registry.url}/dsp/catalog/datasets/${id}`, { headers: { Authorization: `Bearer ${credential(env, BTC)}` } })).json();
    const cs = Object.fromEntries(terms.hasPolicy[0].permission[0].constraint.map((c) => [c.leftOperand, c.rightOperand]));
    assert.deepEqual(cs['ndx:consumerClass'], ['enterprise']);
    assert.equal(cs.count, 500);
    assert.equal(terms.hasPolicy[0].obligation[0].constraint[0].rightOperand, 1000);
    // Withdraw: the confirmation step; cancel keeps it, confirm removes it.
    await page.click(`button[data-withdraw="${id}"]`);
    await page.waitForSelector('#withdraw-check');
    await check(page, 'market-withdraw-check');
    await page.click('#withdraw-cancel');
    await page.waitForSelector(`button[data-withdraw="${id}"]`);
    await page.click(`button[data-withdraw="${id}"]`);
    await page.click('#withdraw-confirm');
    await page.waitForSelector('.govuk-notification-banner--success');
    await ready(page, 'market-published');
    assert.equal(await page.locator(`#published li[data-id="${id}"]`).count(), 0);
    const gone = await fetch(`${env.fed.registry.url}/dsp/catalog/datasets/${id}`, { headers: { Authorization: `Bearer ${credential(env, BTC)}` } });
    assert.equal(gone.status, 404);
    // In English at phone width too.
    await page.click('a[hreflang="en"]');
    await page.waitForSelector('html[lang="en"]');
    await go(page, env, '/market/publish', 'market-publish');
    assert.equal(await page.textContent('h1'), 'Publish a dataset');
    await check(page, 'market-publish-en');
  }));

  it('ending an agreement, a counter-offer of validity and price, and the consumer\'s counter', { timeout: TEST_MS }, guard(env, async (t, open) => {
    assert.ok(env.pid, 'the request test made no agreement');
    const consumer = await open();
    await signInOfficer(consumer, portal(env), officerOf(env.fed, BTC));
    // The consumer ends the agreement in force: a confirmation step first.
    await go(consumer, env, `/market/requests/${env.pid}`, 'market-negotiation');
    assert.match(await consumer.textContent('#agreement-state'), /Đang có hiệu lực/);
    assert.equal(await consumer.locator('#statements #agreement-id').count(), 1);
    await check(consumer, 'market-agreement-in-force');
    // A usage statement is checked on the page: text that is none is said at
    // the field (a real one is checked in tests/e2e/test_portal_market.py,
    // whose portal has the registry's anchor).
    await consumer.fill('#statement', '{"format": "not-a-statement"}');
    await consumer.click('#statement-check');
    await consumer.waitForSelector('#statement-error');
    assert.match(await consumer.textContent('#statement-error'), /không phải là một bảng kê/);
    assert.equal(await consumer.locator('.govuk-error-summary a[href="#statement"]').count(), 1);
    await check(consumer, 'market-statement-error');
    await consumer.check('#decision');
    await consumer.click('#continue');
    await consumer.waitForSelector('#confirm');
    assert.match(await consumer.textContent('#check'), /Chấm dứt thỏa thuận/);
    await check(consumer, 'market-end-check');
    await consumer.click('#confirm');
    await consumer.waitForSelector('.govuk-notification-banner--success');
    await ready(consumer, 'market-negotiation');
    assert.match(await consumer.textContent('#agreement-state'), /Đã chấm dứt/);
    assert.equal(await consumer.locator('#decision-form').count(), 0);
    await check(consumer, 'market-agreement-ended');
    await eventually(async () => {
      const doc = await (await fetch(`${env.fed.registry.url}/conf`)).json();
      return !(doc.grants || []).some((g) => g.agreement && g.client === 'VN/GOV/BTC/enterprise' && g.service === SERVICE);
    });
    // A new request; the provider counters with 30 days at 200 VND a call.
    await go(consumer, env, `/market/datasets/${env.dataset['@id']}`, 'market-dataset');
    await consumer.click('#request-1');
    await ready(consumer, 'market-negotiation');
    const pid = decodeURIComponent(new URL(consumer.url()).pathname.split('/').pop());
    const provider = await open();
    await signInOfficer(provider, portal(env), officerOf(env.fed, BCA));
    await go(provider, env, `/market/requests/${pid}`, 'market-negotiation');
    await provider.check('#decision-2');
    assert.equal(await provider.inputValue('#max_calls'), '1000');
    await provider.fill('#validity_days', '30');
    await provider.fill('#price_vnd', '200');
    await check(provider, 'market-counter-form');
    await provider.click('#continue');
    await provider.waitForSelector('#confirm');
    assert.equal(await provider.textContent('#check [data-counter="validity_days"]'), '30');
    assert.equal(await provider.textContent('#check [data-counter="price_vnd"]'), '200');
    await provider.click('#confirm');
    await provider.waitForSelector('.govuk-notification-banner--success');
    await ready(provider, 'market-negotiation');
    assert.equal(await provider.getAttribute('#neg-state', 'data-state'), 'OFFERED');
    // The consumer counters the counter-offer: 500 calls a day; the same
    // terms again are refused at the field first.
    await go(consumer, env, `/market/requests/${pid}`, 'market-negotiation');
    assert.equal(await consumer.textContent('#terms [data-term="price"]'), '200 đồng mỗi lần gọi');
    assert.equal(await consumer.textContent('#terms [data-term="validity"]'), '30 ngày kể từ khi thỏa thuận có hiệu lực');
    await consumer.check('#decision-2');
    await consumer.click('#continue');
    await consumer.waitForSelector('.govuk-error-summary a[href="#max_calls"]');
    await check(consumer, 'market-consumer-counter-error');
    await consumer.fill('#max_calls', '500');
    await consumer.click('#continue');
    await consumer.waitForSelector('#confirm');
    await consumer.click('#confirm');
    await consumer.waitForSelector('.govuk-notification-banner--success');
    await ready(consumer, 'market-negotiation');
    assert.equal(await consumer.getAttribute('#neg-state', 'data-state'), 'REQUESTED');
    assert.equal(await consumer.textContent('#terms [data-term="calls"]'), '500 lần mỗi ngày');
    await check(consumer, 'market-consumer-countered');
    // The provider approves the consumer's terms, then ends the agreement.
    await go(provider, env, `/market/requests/${pid}`, 'market-negotiation');
    await provider.check('#decision');
    await provider.click('#continue');
    await provider.click('#confirm');
    await provider.waitForSelector('.govuk-notification-banner--success');
    await ready(provider, 'market-negotiation');
    assert.equal(await provider.getAttribute('#neg-state', 'data-state'), 'FINALIZED');
    assert.equal(await provider.textContent('#terms [data-term="calls"]'), '500 lần mỗi ngày');
    assert.equal(await provider.textContent('#terms [data-term="price"]'), '200 đồng mỗi lần gọi');
    await provider.check('#decision');
    await provider.click('#continue');
    await provider.click('#confirm');
    await provider.waitForSelector('.govuk-notification-banner--success');
    await ready(provider, 'market-negotiation');
    assert.match(await provider.textContent('#agreement-state'), /Đã chấm dứt/);
    // In English at phone width.
    await provider.click('a[hreflang="en"]');
    await provider.waitForSelector('html[lang="en"]');
    await go(provider, env, `/market/requests/${pid}`, 'market-negotiation');
    assert.match(await provider.textContent('#agreement-state'), /Ended/);
    await check(provider, 'market-agreement-ended-en');
  }));

  it('the seller issues an invoice on the page, the bank pays it, the page shows it paid', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const fed = env.fed;
    const VERIFY = 'VN/GOV/BCA/population/verify';
    const BUYER = 'VN/COM/0100000099/customers';
    const gw = (member) => fed.gateways.find((g) => g.member === member);
    const start = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    // Two calls of the bank's system under its agreement (a verdict each, 200).
    const pin = fed.id.demo_accounts[0].pin;
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${gw('VN/COM/0100000099').consumer_url}/r1/${VERIFY}`, {
        method: 'POST',
        headers: { 'X-Road-Client': BUYER, 'Ndx-Purpose': 'customer-verification', 'Ndx-Subject': pin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ records: [{ pin, address: 'Số 1 phố Không Có' }] }),
      });
      assert.equal(r.status, 200, await r.text());
    }
    const conf = await (await fetch(`${fed.registry.url}/conf`)).json();
    const grant = (conf.grants || []).find((g) => g.agreement && g.client === BUYER && g.service === VERIFY);
    assert.ok(grant, 'the demo agreed no address check for the bank');
    // The provider's gateway makes the signed statement (its last calls may
    // still wait for their batch's tree head: asked again).
    const bca = gw('VN/GOV/BCA');
    const gwConf = JSON.parse(readFileSync(bca.config, 'utf8'));
    const end = new Date(Date.now() + 300_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const statement = await eventually(async () => {
      try {
        const { stdout } = await promisify(execFile)(ndxBinary(), ['market', 'statement', '--db', path.join(bca.data_dir, 'msglog.db'),
          '--key', gwConf.sign_key, '--conf', path.join(bca.data_dir, 'conf'), '--anchor', fed.registry.anchor,
          '--agreement', grant.agreement, '--from', start, '--to', end], { timeout: 30_000 });
        const st = JSON.parse(stdout);
        return st.count >= 2 ? stdout : null;
      } catch (e) {
        if (/not under a signed tree head yet/.test(e.stderr || '')) return null;
        throw e;
      }
    });

    const seller = await open();
    await signInOfficer(seller, portal(env), officerOf(fed, BCA));
    await go(seller, env, '/market/invoices', 'market-invoices');
    // Nothing filled in: each field's error at its field.
    await seller.click('#record-invoice');
    await seller.waitForSelector('.govuk-error-summary a[href="#statement"]');
    assert.equal(await seller.locator('.govuk-error-summary a[href="#bin"]').count(), 1);
    await check(seller, 'market-invoice-errors');
    await seller.fill('#statement', statement);
    await seller.fill('#bin', '970436');
    await seller.fill('#account', '0011004455');
    await seller.fill('#account_name', 'BO CONG AN');
    await seller.click('#record-invoice');
    await seller.waitForSelector('.govuk-notification-banner--success');
    const reference = (await seller.textContent('.govuk-notification-banner--success')).match(/MK[0-9A-F]{23}/)[0];
    const card = seller.locator(`#selling [data-reference="${reference}"]`);
    assert.equal(await card.getAttribute('data-status'), 'open');
    assert.match(await card.textContent(), /Ngân hàng Thử nghiệm.*1\.000 ₫.*Chưa thanh toán/s);
    await check(seller, 'market-invoice-recorded');

    // The buyer's officer finds it among what the bank pays, with the
    // invoice's VietQR code and the bank's button; the bank's page pays the
    // code (its receipt goes to the registry, which clears the invoice) and
    // links back to the invoices page, which shows it paid.
    const invoice = await eventually(async () => {
      const r = await fetch(`${fed.registry.url}/market/invoices/${reference}`, {
        headers: { Authorization: `Bearer ${credential(env, BCA)}` } });
      return r.status === 200 ? r.json() : null;
    });
    const buyer = await open();
    await signInOfficer(buyer, portal(env), officerOf(fed, BANK));
    await go(buyer, env, '/market/invoices', 'market-invoices');
    const owed = buyer.locator(`#buying [data-reference="${reference}"]`);
    assert.equal(await owed.getAttribute('data-status'), 'open');
    assert.match(await owed.textContent(), /1\.000 ₫.*Chưa thanh toán/s);
    assert.equal(await owed.locator('figure.ndx-pay__qr').getAttribute('data-payload'), invoice.vietqr);
    assert.equal(await buyer.locator(`#selling [data-reference="${reference}"]`).count(), 0);
    await check(buyer, 'market-invoice-buyer');
    await owed.locator('a.govuk-button', { hasText: 'Ngân hàng Thử nghiệm' }).click();
    await buyer.waitForSelector('#reference');
    assert.equal(await buyer.textContent('#reference'), reference);
    assert.equal(await buyer.textContent('#amount'), '1.000 ₫');
    await buyer.click('button[type="submit"]');
    await buyer.waitForSelector('.ok');
    assert.match(await buyer.textContent('.ok'), /Đã chuyển 1\.000 ₫/);
    await buyer.click('.ok + p a');
    await ready(buyer, 'market-invoices');
    assert.equal(await owed.getAttribute('data-status'), 'paid');
    assert.match(await owed.textContent(), /Đã thanh toán/);
    await check(buyer, 'market-invoice-buyer-paid');
    await go(seller, env, '/market/invoices', 'market-invoices');
    assert.equal(await card.getAttribute('data-status'), 'paid');
    assert.match(await card.textContent(), /Đã thanh toán/);
    await check(seller, 'market-invoice-paid');
  }));
});
