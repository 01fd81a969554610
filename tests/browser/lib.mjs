// Shared pieces of the browser tests: Debian's chromium through
// playwright-core, the demo federation (`ndx demo up`), the axe-core check
// every visited page gets, screenshots into artifacts/ (of a failed check, or
// of every page with NDX_BROWSER_SCREENSHOTS=1), and the sign-in
// steps for citizens (through the e-ID's own page) and officers.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
export const ARTIFACTS = path.join(HERE, 'artifacts');
const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

export const STEP_MS = 20_000; // one page load, one click's answer

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    timeout: 30_000,
  });
}

// A fresh browser profile (cookies, storage): one person. bypassCSP lets
// axe-core be injected whatever Content-Security-Policy the portal sends.
export async function newPage(browser) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'vi-VN', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

// ---- the demo federation ----------------------------------------------------

export function ndxBinary() {
  return path.join(process.env.NDX_BUILD_DIR || path.join(ROOT, 'build'), 'src/cli/ndx');
}

// A demo federation takes the ports from its --port-base up (cmd_demo.c
// PORT_SPAN, 71); the slots are 100 apart. make test runs two browser files
// at once, each with its own demo, so a slot is taken only when every port
// in it is free (a port can still be taken between this check and the
// daemon's bind: startDemo then tries another slot). The slots end below
// 6000, a port Chromium and fetch() refuse to open (X11, in the Fetch
// standard's list of bad ports).
const SLOT_FIRST = 5400;
const SLOTS = 6;
const SLOT_SPAN = 100;

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freeSlot(tried) {
  const order = [...Array(SLOTS).keys()].filter((i) => !tried.has(i));
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const slot of order) {
    const base = SLOT_FIRST + SLOT_SPAN * slot;
    let free = true;
    for (let p = base; p < base + SLOT_SPAN && free; p++) free = await portFree(p);
    if (free) return slot;
  }
  return order.length ? order[0] : randomInt(0, SLOTS);
}

// Starts `ndx demo up` in a new directory (or in dir, which must not exist
// yet) on a free port base and returns {dir, fed, down}. down() is safe to
// call whatever happened.
export async function startDemo({ dir: given } = {}) {
  const ndx = ndxBinary();
  let dir = given;
  if (dir) await fs.mkdir(dir);
  else dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ndx-browser-'));
  const down = async () => {
    try {
      await run(ndx, ['demo', 'down', '--dir', dir], { timeout: 60_000 });
    } catch (e) {
      console.error(`ndx demo down --dir ${dir}: ${e.message}`);
    }
    if (!process.env.NDX_KEEP_DEMO) await fs.rm(dir, { recursive: true, force: true });
    else console.error(`demo kept in ${dir}`);
  };
  let lastError = null;
  const tried = new Set();
  for (let attempt = 0; attempt < 3; attempt++) {
    const slot = await freeSlot(tried);
    tried.add(slot);
    const base = SLOT_FIRST + SLOT_SPAN * slot;
    try {
      await run(ndx, ['demo', 'up', '--dir', dir, '--port-base', String(base)], { timeout: 180_000 });
      const fed = webTarget(JSON.parse(await fs.readFile(path.join(dir, 'federation.json'), 'utf8')));
      return { dir, fed, down };
    } catch (e) {
      lastError = e;
      await run(ndx, ['demo', 'down', '--dir', dir], { timeout: 60_000 }).catch(() => {});
    }
  }
  await down();
  throw new Error(`ndx demo up failed: ${lastError && (lastError.stderr || lastError.message)}`);
}

// ---- one demo federation shared by several files ------------------------------
//
// Bringing a demo up costs about 22 s of both cores, and taking it down a
// few more, so the files that cannot disturb one another share one
// (sharedDemo); the others bring up their own (startDemo). Which is which,
// from what each file's tests change and what they check (the files run
// one after another or BROWSER_FILES_AT_ONCE at a time, in any order):
//
// Shared: portal (flows.mjs), admin, officer, market and worklist. What
// they change is their own and found again by its own key: procedures
// under fresh names and numbers (a queue is searched by the number or
// found by data-id, never counted), officers and officials under fresh
// user names (admin, officer's canbo2.btc, worklist's canbo.bhxh; the
// agency official's list is checked for its own agency only, the
// operator's for "at least one"), the change log read by the user name,
// consents of accounts 0 and 7 (flows only), the marketplace's datasets,
// agreements and invoices (market only: its catalogue is checked to be
// exactly its one dataset, its invoice's amount from the usage of the
// bank's agreement, which no other file calls), and the insurance
// registry's reconciliation (worklist only: it checks it is run number 1
// and has exactly its one correction). Account 1 is an auditor of the
// portal for part of admin's test: its citizen's pages (flows, officer)
// are the same for an official. A sign-in never ends another session of
// the same person or officer (only a reset or removal does, of admin's own
// officer), and only failed sign-ins are throttled.
//
// Their own: cases and information (they stop the demo's portal and
// start it again with another monitor or an SMTP server); console (it
// changes the registry: members, grants, event types, gateways, officials,
// whose audit trail it reads in order; a gateway it adds is never up,
// and it checks the demo's marketplace, which market changes); ops (it
// reconciles the insurance registry, which worklist checks is reconciled
// once; it checks that every gateway is up, and its misuse case is on
// account 0's access list). gateway-console brings up no demo at all.
//
// The shared demo belongs to the `node --test` process that runs the
// files (their parent): the first file to ask creates a directory named
// after it (mkdir: one wins), starts demo-keeper.mjs, which waits for that
// process to end and then runs `ndx demo down` and removes the directory,
// whether the run passed, failed or was interrupted (the keeper is in its
// own session: Ctrl-C does not reach it), and then brings the demo up in
// it; the others wait for it. A file run on its own without `node --test`
// brings up its own demo.

// Under the before hooks' 300 s, so that a demo that never came up is said
// so rather than as a hook's timeout.
const SHARED_WAIT_MS = 290_000;

// The test runner's pid and start time (a pid can be reused), or null
// when this file is not run by `node --test`.
function runnerOf() {
  if (!process.env.NODE_TEST_CONTEXT) return null;
  const pid = process.ppid;
  let start = '';
  try {
    // /proc/PID/stat: field 22 is the start time; the command name (field
    // 2) is in parentheses and may contain spaces.
    start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ')[19];
  } catch { /* not Linux: the pid alone */ }
  return { pid, start };
}

export async function sharedDemo() {
  const runner = runnerOf();
  if (!runner) return startDemo();
  const shared = path.join(os.tmpdir(), `ndx-browser-shared-${runner.pid}-${runner.start}`);
  const demoDir = path.join(shared, 'demo');
  const noDown = async () => {};
  let first = true;
  try {
    await fs.mkdir(shared, { mode: 0o700 });
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
    first = false;
  }
  if (first) {
    const keeper = spawn(process.execPath, [path.join(HERE, 'demo-keeper.mjs'), shared, String(runner.pid), runner.start, ndxBinary()],
      { detached: true, stdio: 'ignore', env: process.env });
    keeper.unref();
    try {
      const demo = await startDemo({ dir: demoDir });
      if (process.env.NDX_KEEP_DEMO) console.error(`the shared demo will be kept in ${demoDir}`);
      await fs.writeFile(path.join(shared, 'ready.tmp'), '');
      await fs.rename(path.join(shared, 'ready.tmp'), path.join(shared, 'ready'));
      return { ...demo, down: noDown };
    } catch (e) {
      await fs.writeFile(path.join(shared, 'failed'), e.message).catch(() => {});
      throw e;
    }
  }
  const end = Date.now() + SHARED_WAIT_MS;
  for (;;) {
    const failed = await fs.readFile(path.join(shared, 'failed'), 'utf8').catch(() => null);
    if (failed !== null) throw new Error(`the shared demo federation did not come up: ${failed}`);
    if (await fs.access(path.join(shared, 'ready')).then(() => true, () => false)) break;
    if (Date.now() > end) throw new Error(`the shared demo federation in ${demoDir} was not up in ${SHARED_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const fed = webTarget(JSON.parse(await fs.readFile(path.join(demoDir, 'federation.json'), 'utf8')));
  return { dir: demoDir, fed, down: noDown };
}

// federation.json describes the portal and the e-ID under "apps" (the demo's
// other daemons); the tests read them as fed.portal and fed.id.
export function webTarget(doc) {
  const apps = doc.apps || {};
  return { ...doc, portal: doc.portal || apps.portal || null, id: (doc.id && doc.id.url ? doc.id : apps.id) || null };
}

// Why the federation cannot host the portal tests, or null when it can.
export function portalMissing(fed) {
  if (!fed.portal || !fed.portal.url) return 'federation.json has no portal.url (ndx demo does not start ndx-portal yet)';
  if (!fed.id || !Array.isArray(fed.id.demo_accounts) || fed.id.demo_accounts.length === 0) {
    return 'federation.json has no id.demo_accounts';
  }
  if (!Array.isArray(fed.portal.officers) || fed.portal.officers.length === 0) return 'federation.json has no portal.officers';
  return null;
}

// ---- checks on every page ------------------------------------------------------

// Waits until the web UI finished rendering a route (app.mjs marks it).
export async function ready(page, pageName) {
  const sel = pageName ? `html[data-page="${pageName}"]` : 'html[data-page]';
  await page.waitForSelector(sel, { state: 'attached' });
  await page.waitForSelector('#main-content:not([aria-busy])', { state: 'attached' });
}

let shotSeq = 0;
let shotPrefix = 'page';

// Screenshots are named PREFIX-NN-page.png: one prefix per test file, so
// the stand-in's and the federation's runs keep apart.
export function setArtifactPrefix(prefix) {
  shotPrefix = prefix;
}

function shotPath(name) {
  return path.join(ARTIFACTS, `${shotPrefix}-${String(++shotSeq).padStart(2, '0')}-${name}.png`);
}

// GOV.UK Frontend's conditional-reveal radios carry aria-expanded on purpose
// (screen readers announce it; the design system's research keeps it even
// though ARIA does not list it for radios: alphagov/govuk-frontend#979).
// Only that attribute on those inputs is excused; anything else still fails.
function knownDesignSystemIssue(v, n) {
  return v.id === 'aria-allowed-attr' && /class="govuk-radios__input"/.test(n.html) &&
    n.any.concat(n.all, n.none).every((c) => (c.data?.values ?? []).every((d) => /^aria-expanded=/.test(d)));
}

// The page fits a phone (390 px) and a desktop (1280 px) without
// horizontal scrolling: tables become stacked rows, nothing is wider than
// the screen. The viewport is put back afterwards.
export const WIDTHS = [390, 1280];
export async function checkWidths(page, name) {
  const before = page.viewportSize();
  try {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 844 });
      // Charts redraw for the new width from a ResizeObserver, a frame or
      // two later: give the page up to 2 s to settle, then measure.
      await page.waitForFunction((w) => document.documentElement.scrollWidth <= w, width, { timeout: 2_000, polling: 50 })
        .catch(() => {});
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      if (scroll <= width) continue;
      // The innermost elements that reach past the right edge, to say why.
      const culprits = await page.evaluate((w) => [...document.body.querySelectorAll('*')]
        .filter((e) => e.getBoundingClientRect().right > w + 0.5 && ![...e.children].some((c) => c.getBoundingClientRect().right > w + 0.5))
        .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''} "${(e.textContent || '').trim().slice(0, 40)}"`), width);
      assert.fail(`${name} (${page.url()}) is ${scroll} px wide at ${width} px: it scrolls sideways (${culprits.join('; ')})`);
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
}

// What people read on a citizen's page: no member ids (VN/GOV/…), no actor
// ids (citizen:…), dates as dd/mm/yyyy rather than "9 tháng 10, 1988" or
// "26 thg 6, 2026". A member's publishing pages (market-publish,
// market-published) name its services by their ids, which the provider's
// officials type, and the administration's pages the members officers and
// officials belong to: they are staff pages.
const STAFF_PAGES = /^(officer|ops|console|admin|market-publish)/;
export async function checkCitizenText(page, name) {
  const which = await page.evaluate(() => document.documentElement.dataset.page || '');
  if (STAFF_PAGES.test(which)) return;
  const text = await page.evaluate(() => document.body.innerText);
  assert.doesNotMatch(text, /VN\/GOV\//, `${name}: a member id shown to people`);
  assert.doesNotMatch(text, /\bcitizen:/, `${name}: an actor id shown to people`);
  assert.doesNotMatch(text, /\d{1,2} (tháng|thg) \d{1,2}/, `${name}: a date not written dd/mm/yyyy`);
}

// Screenshots of every checked page with NDX_BROWSER_SCREENSHOTS=1 (to look
// the pages over); otherwise only of a page whose check failed: a full-page
// PNG of each of some two hundred pages was a sixth of the suite's time on two cores.
const EVERY_SHOT = process.env.NDX_BROWSER_SCREENSHOTS === '1';

async function screenshot(page, name) {
  await fs.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: shotPath(name), fullPage: true });
}

// axe-core on the page as it is now: no serious or critical violation; no
// sideways scrolling at 390 and 1280 px; on a citizen's page, no ids in the
// text. A screenshot in artifacts/ when it fails (or of every page, above).
export async function check(page, name) {
  if (EVERY_SHOT) await screenshot(page, name);
  try {
    await checkNow(page, name);
  } catch (e) {
    if (!EVERY_SHOT) await screenshot(page, `${name}-failed`).catch(() => {});
    throw e;
  }
}

async function checkNow(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !knownDesignSystemIssue(v, n)) }))
    .filter((v) => v.nodes.length && (v.impact === 'serious' || v.impact === 'critical'));
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `axe-core on ${name} (${page.url()})`);
  assert.deepEqual(page.errors, [], `JavaScript errors on ${name}`);
  await checkWidths(page, name);
  await checkCitizenText(page, name);
}

// ---- people ------------------------------------------------------------------

// federation.json names the 0600 file holding a demo account's password
// (docs/security.md T34), never the password; a stand-in may give it inline.
export function passwordOf(who) {
  return who.password ?? readFileSync(who.password_file, 'utf8').trim();
}

// The citizen signs in through the portal's start button and the e-ID's own
// page (which is ndx-id's, not the web UI's: only its pin and password
// inputs and its submit button are relied on).
export async function signInCitizen(page, portal, account, { checkPages = false } = {}) {
  await page.goto(`${portal}/`);
  await ready(page, 'home');
  if (checkPages) await check(page, 'home');
  await page.getByRole('button', { name: 'Đăng nhập bằng định danh điện tử' }).click();
  await page.waitForSelector('input[name="pin"]');
  if (checkPages) {
    if (EVERY_SHOT) await screenshot(page, 'eid-sign-in');
    await checkWidths(page, 'e-ID sign-in');
  }
  await page.fill('input[name="pin"]', account.pin);
  await page.fill('input[name="password"]', passwordOf(account));
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/profile', { timeout: STEP_MS }),
    page.locator('form:has(input[name="pin"]) [type="submit"]').first().click(),
  ]);
  await ready(page, 'profile');
}

export async function signInOfficer(page, portal, officer, { checkPages = false } = {}) {
  await page.goto(`${portal}/officer`);
  await ready(page, 'officer-signin');
  if (checkPages) await check(page, 'officer-sign-in');
  await page.fill('#username', officer.username);
  await page.fill('#password', passwordOf(officer));
  await page.click('#officer-signin-submit');
  await ready(page, 'officer-queue');
}

export function officerOf(fed, agency) {
  const o = fed.portal.officers.find((x) => x.agency === agency);
  assert.ok(o, `federation.json lists no officer of ${agency}`);
  return o;
}

// Polls fn until it returns truthy (the portal's state may take a moment to
// show, e.g. a registry write after approval).
export async function eventually(fn, { timeout = STEP_MS, every = 500 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
      if (Date.now() >= end) throw e;
    }
    if (Date.now() >= end) throw new Error(`condition not met in ${timeout} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}
