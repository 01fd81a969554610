// More information, attachments and notifications in real Chromium against
// the demo federation (docs/portal.md "More information", "Attachments",
// "Notifications and e-mail"; issue 22): the citizen gives an e-mail
// address with consent; an officer asks for more information after a check
// step; the citizen is notified by e-mail (a real SMTP server on loopback,
// Debian's python3-aiosmtpd, which the demo's portal is restarted to send
// through) and in the portal's notification centre (unread count in the
// header, mark read); the question is at the top of the application and
// the citizen answers with a file (a file that is not a PDF, JPEG or PNG
// refused in words); the officer reads the answer and the file's SHA-256;
// the rejection's reason is at the top of the citizen's application, in
// both languages, and e-mailed about. axe-core and the 390/1280 px widths
// on every page checked.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { account, confirmDecision, fileProcedure, go, guard, portal, stateOf } from './flows.mjs';
import {
  check, eventually, launch, officerOf, portalMissing, ready, setArtifactPrefix, signInCitizen, signInOfficer, startDemo,
} from './lib.mjs';

const TEST_MS = 300_000;
const BCA = 'VN/GOV/BCA';
const binary = (name) => path.join(process.env.NDX_BUILD_DIR || path.resolve('build'), 'src', name.split('-')[1], name);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

// The SMTP server: aiosmtpd on loopback, each message written to dir as a file.
const SMTP_PY = `
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[1]
class H:
    n = 0
    async def handle_DATA(self, server, session, env):
        H.n += 1
        tmp = os.path.join(out, f".{H.n}")
        with open(tmp, "wb") as f:
            f.write(("X-Rcpt: " + ",".join(env.rcpt_tos) + "\\r\\n").encode() + env.content)
        os.rename(tmp, os.path.join(out, f"{H.n}.eml"))
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[2]))
c.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    c.stop()
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// One e-mail as {rcpt, subject, body}: the subject's RFC 2047 word and the
// base64 body decoded (what the portal writes, notify.c).
function parseMail(raw) {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const header = (name) => (head.match(new RegExp(`^${name}: (.*)$`, 'mi')) || [])[1] || '';
  const subject = header('Subject').replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
  const body = /base64/i.test(header('Content-Transfer-Encoding'))
    ? Buffer.from(rest.join('\r\n\r\n').replace(/\s+/g, ''), 'base64').toString('utf8') : rest.join('\r\n\r\n');
  return { rcpt: header('X-Rcpt'), subject, body };
}

async function mailsTo(dir, rcpt) {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.eml')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const mails = await Promise.all(files.map(async (f) => parseMail(await fs.readFile(path.join(dir, f), 'utf8'))));
  return mails.filter((m) => m.rcpt === rcpt);
}

async function waitHealthy(url) {
  await eventually(async () => (await fetch(`${url}/healthz`)).ok, { timeout: 30_000, every: 200 });
}

describe('more information, attachments and notifications in the demo federation', { timeout: 1_500_000 }, () => {
  const env = {};
  setArtifactPrefix('information');
  let demo;
  let smtp;
  let portalProc;

  before(async () => {
    demo = await startDemo();
    env.fed = demo.fed;
    const missing = portalMissing(demo.fed);
    if (missing) throw new Error(`the demo federation has no portal: ${missing}`);
    // The SMTP server, and the demo's portal restarted to send through it.
    env.maildir = await fs.mkdtemp(path.join(os.tmpdir(), 'ndx-mail-'));
    const port = await freePort();
    smtp = spawn('/usr/bin/python3', ['-c', SMTP_PY, env.maildir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      smtp.stdout.once('data', resolve);
      smtp.once('exit', (c) => reject(new Error(`aiosmtpd exited ${c}`)));
    });
    const app = env.fed.apps.portal;
    const conf = path.join(app.dir, 'portal.json');
    const cfg = JSON.parse(await fs.readFile(conf, 'utf8'));
    cfg.smtp = { host: '127.0.0.1', port, from: 'no-reply@dichvucong.example', starttls: false };
    await fs.writeFile(conf, JSON.stringify(cfg, null, 2));
    process.kill(app.pid, 'SIGTERM');
    await eventually(async () => {
      try {
        process.kill(app.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, { timeout: 20_000, every: 100 });
    const log = openSync(app.log, 'a');
    portalProc = spawn(binary('ndx-portal'), ['serve', '--config', conf], { stdio: ['ignore', log, log], cwd: app.dir });
    await waitHealthy(portal(env));
    env.browser = await launch();
  }, { timeout: 300_000 });

  after(async () => {
    await env.browser?.close();
    if (portalProc && portalProc.exitCode === null) {
      portalProc.kill('SIGTERM');
      await new Promise((r) => { portalProc.once('exit', r); setTimeout(r, 10_000); });
    }
    if (smtp && smtp.exitCode === null) smtp.kill('SIGTERM');
    await demo?.down();
    if (env.maildir) await fs.rm(env.maildir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  it('an officer asks, the citizen is notified and answers with a file; a rejection\'s reason at the top', { timeout: TEST_MS }, guard(env, async (t, open) => {
    const who = account(env, 2);
    const addr = `cong.dan.${Date.now()}@example.vn`;
    const citizen = await open();
    await signInCitizen(citizen, portal(env), who);
    // The e-mail address, given with consent on the notification centre.
    await go(citizen, env, '/notifications', 'notifications');
    await citizen.fill('#email', addr);
    await citizen.click('#email-save');
    await citizen.waitForSelector('.govuk-error-summary a[href="#email-consent"]');
    await check(citizen, 'email-needs-consent');
    await citizen.check('#email-consent');
    await citizen.click('#email-save');
    await citizen.waitForSelector('#email-current');
    assert.match(await citizen.textContent('#email-current'), new RegExp(addr.replace(/\./g, '\\.')));
    await check(citizen, 'notifications-email');

    const id = await fileProcedure(citizen, env, 'residence-change', async (p) => {
      await p.selectOption('#field-province', '001');
      await p.fill('#field-commune', 'Phường Hoàn Kiếm');
      await p.fill('#field-address', '9 Tràng Thi');
    });

    // The officer asks, after the check step.
    const officer = await open();
    await signInOfficer(officer, portal(env), officerOf(env.fed, BCA));
    await eventually(async () => {
      await go(officer, env, `/officer/procedures/${encodeURIComponent(id)}`, 'officer-procedure');
      return officer.locator('#decision-form').count();
    });
    const question = 'Xin gửi bản chụp hợp đồng thuê nhà tại địa chỉ mới.';
    await officer.check('#decision-3');
    await officer.click('#submit-decision');
    await officer.waitForSelector('.govuk-error-summary a[href="#question"]');
    await officer.fill('#question', question);
    await officer.click('#submit-decision');
    await officer.waitForSelector('#confirm-decision');
    assert.equal((await officer.textContent('#check-question')).trim(), question);
    await check(officer, 'officer-check-ask');
    await confirmDecision(officer);
    await officer.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await officer.getAttribute('#procedure-state', 'data-state'), 'information_requested');
    assert.equal(await officer.getAttribute('#procedure-deadline', 'data-paused'), 'true');
    assert.equal(await officer.locator('#waiting-for-citizen').count(), 1);
    await check(officer, 'officer-asked');
    // In the queue under its own state, its deadline tagged as paused.
    await go(officer, env, '/officer/queue?status=information_requested', 'officer-queue');
    const queued = officer.locator(`#queue tbody tr:has(a[data-id="${id}"])`);
    assert.equal(await queued.locator('.ndx-deadline').getAttribute('data-paused'), 'true');
    await check(officer, 'queue-waiting');

    // E-mail: through the real SMTP server, naming the application, linking to it,
    // without the question.
    const mail = await eventually(async () => (await mailsTo(env.maildir, addr)).find((m) => /bổ sung/.test(m.subject)));
    const ref = (await (await citizen.request.get(`${portal(env)}/api/procedures/${id}`)).json()).reference;
    assert.ok(mail.subject.includes(ref), mail.subject);
    assert.ok(mail.body.includes(`/procedures/${id}`), mail.body);
    assert.ok(!mail.body.includes(question));

    // In the portal: the header's unread count, the notification centre, mark read.
    await go(citizen, env, '/notifications', 'notifications');
    const link = citizen.locator('header a[href="/notifications"]');
    await eventually(async () => Number(await link.getAttribute('data-unread')) >= 1);
    assert.match(await link.textContent(), /chưa đọc/);
    const row = citizen.locator('#notifications tbody tr:has(.ndx-note[data-kind="information_requested"])');
    assert.equal(await row.count(), 1);
    await check(citizen, 'notifications');
    const noteId = await row.locator('.ndx-note').getAttribute('data-id');
    const unreadBefore = Number(await link.getAttribute('data-unread'));
    await citizen.click(`#read-${noteId}`);
    await eventually(async () => Number(await link.getAttribute('data-unread')) === unreadBefore - 1);
    await check(citizen, 'notifications-read');

    // The question at the top of the application; a file that is not a PDF is refused.
    await go(citizen, env, `/procedures/${encodeURIComponent(id)}`, 'procedure');
    assert.equal((await citizen.textContent('#information-question')).trim(), question);
    const order = await citizen.evaluate(() => {
      const q = document.getElementById('information-question');
      const s = document.getElementById('procedure-summary');
      return q.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    assert.ok(order, 'the question comes before the application\'s summary');
    await check(citizen, 'citizen-asked');
    await citizen.fill('#answer', 'Tôi gửi kèm hợp đồng thuê nhà.');
    await citizen.setInputFiles('#answer-file', { name: 'hop-dong.pdf', mimeType: 'application/pdf', buffer: Buffer.from('not a pdf at all') });
    await citizen.click('#send-answer');
    await citizen.waitForSelector('.govuk-error-summary a[href="#answer-file"]');
    assert.match(await citizen.textContent('.govuk-error-summary'), /PDF, JPEG hoặc PNG/);
    await check(citizen, 'citizen-bad-file');
    await citizen.fill('#answer', 'Tôi gửi kèm hợp đồng thuê nhà.');
    await citizen.setInputFiles('#answer-file', { name: 'hợp đồng thuê nhà.pdf', mimeType: 'application/pdf', buffer: PDF });
    await citizen.click('#send-answer');
    await citizen.waitForSelector('.govuk-notification-banner--success');
    assert.equal(await citizen.getAttribute('#procedure-state', 'data-state'), 'submitted');
    await check(citizen, 'citizen-answered');

    // The officer reads the answer and the file's SHA-256, and rejects.
    await go(officer, env, `/officer/procedures/${encodeURIComponent(id)}`, 'officer-procedure');
    assert.match(await officer.textContent('.ndx-info-answer'), /hợp đồng thuê nhà/);
    assert.equal(await officer.getAttribute('#attachments .ndx-hash', 'data-sha256'), createHash('sha256').update(PDF).digest('hex'));
    await check(officer, 'officer-answer');
    const reason = 'Hợp đồng thuê nhà đã hết hạn';
    await officer.check('#decision-2');
    await officer.fill('#reason', reason);
    await officer.click('#submit-decision');
    await confirmDecision(officer);
    await officer.waitForSelector('.govuk-notification-banner--success');

    // The reason at the top of the citizen's application, in both languages; e-mailed about.
    await eventually(async () => (await stateOf(citizen, env, id)) === 'rejected');
    assert.match(await citizen.textContent('#rejection-reason'), new RegExp(reason));
    const top = await citizen.evaluate(() => document.getElementById('rejection-reason').compareDocumentPosition(document.getElementById('procedure-summary')) & Node.DOCUMENT_POSITION_FOLLOWING);
    assert.ok(top, 'the reason comes before the application\'s summary');
    await check(citizen, 'citizen-rejected');
    await citizen.click('a[hreflang="en"]');
    await citizen.waitForSelector('html[lang="en"]');
    await ready(citizen, 'procedure');
    assert.match(await citizen.textContent('#rejection-reason'), new RegExp(`Reason: ${reason}`));
    await check(citizen, 'citizen-rejected-en');
    await go(citizen, env, '/notifications', 'notifications');
    assert.equal(await citizen.locator('.ndx-note[data-kind="rejected"]').count(), 1);
    assert.match(await citizen.textContent('h1'), /Notifications/);
    await check(citizen, 'notifications-en');
    const rejected = await eventually(async () => (await mailsTo(env.maildir, addr)).find((m) => /từ chối/.test(m.subject)));
    assert.ok(!rejected.body.includes(reason));
  }));
});
