// The correction worklist at the officers' desk in real Chromium against
// the demo federation (docs/portal.md "Correction worklists", issue 24):
// one participant's name in the insurance registry loses its diacritics, the registry
// reconciles with the population registry (`ndx-sector reconcile`), and an
// officer of its agency (VN/GOV/BHXH, added with `ndx-portal officer add`)
// finds the task in the worklist, is told at the field when the value is
// missing, corrects it through the check step (whose "Change" keeps the
// value), and sees it gone; the registry logged the correction with the
// officer. An officer of an agency that runs no reconciled registry is told
// so. axe-core and the 390/1280 px widths on every page checked.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { go, guard, portal } from './flows.mjs';
import { check, launch, officerOf, portalMissing, ready, setArtifactPrefix, signInOfficer, sharedDemo } from './lib.mjs';

const run = promisify(execFile);
const TEST_MS = 300_000;
const BHXH = 'VN/GOV/BHXH';
const binary = (name) => path.join(process.env.NDX_BUILD_DIR || path.resolve('build'), 'src', name.split('-')[1], name);

async function sql(db, stmt, ...args) {
  const { stdout } = await run('python3', ['-c', 'import json, sqlite3, sys\n'
    + 'with sqlite3.connect(sys.argv[1], timeout=10) as db:\n'
    + '    print(json.dumps(db.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall()))\n',
  db, stmt, JSON.stringify(args)], { timeout: 30_000 });
  return JSON.parse(stdout);
}

describe('the correction worklist in the demo federation', { timeout: 900_000 }, () => {
  const env = {};
  setArtifactPrefix('worklist');
  let demo;

  before(async () => {
    demo = await sharedDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    const first = officerOf(env.fed, 'VN/GOV/BTC');
    env.officer = { username: 'canbo.bhxh', name: 'Đỗ Thị Hoa', agency: BHXH, password_file: first.password_file };
    await run(binary('ndx-portal'), ['officer', 'add', '--config', path.join(env.fed.apps.portal.dir, 'portal.json'),
      '--username', env.officer.username, '--name', env.officer.name, '--agency', BHXH,
      '--password-file', first.password_file, '--cost', 'min'], { timeout: 30_000 });
    // One participant's name spoiled (its diacritics dropped: a name-marks
    // task, whose right value the officer must give), then a run.
    env.db = path.join(env.fed.sector_dir, 'insurance.db');
    const plain = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').normalize('NFC');
    const rows = await sql(env.db, 'SELECT pin, name FROM participants WHERE status = \'contributing\' ORDER BY rowid LIMIT 20');
    [env.pin, env.name] = rows.find(([, name]) => plain(name) !== name);
    await sql(env.db, 'UPDATE participants SET name = ? WHERE pin = ?', plain(env.name), env.pin);
    const gw = env.fed.gateways.find((x) => x.member === BHXH);
    await run(binary('ndx-sector'), ['reconcile', '--sector', 'insurance', '--db', env.db, '--gateway', gw.consumer_url,
      '--client', `${BHXH}/insurance`, '--rate', '0', '--quiet'], { timeout: 120_000 });
    env.browser = await launch();
  }, { timeout: 400_000 });

  after(async () => {
    await env.browser?.close();
    await demo?.down();
  }, { timeout: 120_000 });

  it('lists the task, refuses an empty value at the field, corrects through the check step', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await signInOfficer(page, portal(env), env.officer);
    await go(page, env, '/officer/worklist', 'officer-worklist');
    const row = page.locator(`#worklist button[data-key="${env.pin}"][data-field="name"]`);
    assert.equal(await row.count(), 1, 'the spoiled name is a task');
    assert.match(await page.textContent('#worklist-count'), /lần đối chiếu số 1/);
    const open0 = Number((await page.textContent('#worklist-count')).match(/\d+/)[0]);
    await check(page, 'worklist');

    // The form: nothing typed is refused at the field (a name has no default).
    await row.click();
    await page.waitForSelector('#correction-form');
    assert.equal(await page.textContent('#task-key'), env.pin);
    await check(page, 'worklist-form');
    await page.click('#submit-correction');
    await page.waitForSelector('.govuk-error-summary a[href="#value"]');
    assert.ok(await page.locator('#value-error').isVisible());
    await check(page, 'worklist-form-error');

    // The check step; "Change" keeps the value.
    await page.fill('#value', env.name);
    await page.click('#submit-correction');
    await page.waitForSelector('#check-answers');
    assert.equal(await page.textContent('#check-value'), env.name);
    await check(page, 'worklist-check');
    await page.click('#check-answers .govuk-summary-list__actions a');
    await page.waitForSelector('#correction-form');
    assert.equal(await page.inputValue('#value'), env.name);
    await page.click('#submit-correction');
    await page.waitForSelector('#confirm-correction');
    await page.click('#confirm-correction');
    await page.waitForSelector('.govuk-notification-banner--success');
    assert.match(await page.textContent('.govuk-notification-banner--success'), new RegExp(env.pin));
    assert.equal(await row.count(), 0, 'the task is gone');
    await check(page, 'worklist-done');
    // Logged by the registry with the officer; the record is right again.
    assert.deepEqual(await sql(env.db, 'SELECT record_key, field, new_value, officer FROM reconcile_corrections'),
      [[env.pin, 'name', env.name, `${BHXH}/canbo.bhxh`]]);
    assert.deepEqual(await sql(env.db, 'SELECT name FROM participants WHERE pin = ?', env.pin), [[env.name]]);
    // After a reload the list has one task fewer.
    await page.reload();
    await ready(page, 'officer-worklist');
    assert.equal(Number((await page.textContent('#worklist-count')).match(/\d+/)[0]), open0 - 1);
    assert.equal(await row.count(), 0);
  }));

  it('an officer of an agency with no reconciled registry is told so', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const page = await open();
    await signInOfficer(page, portal(env), officerOf(env.fed, 'VN/GOV/BCA'));
    await go(page, env, '/officer/worklist', 'officer-worklist');
    await page.waitForSelector('#worklist-none');
    await check(page, 'worklist-none');
  }));
});
