// ndx-id against a real relying-party library: openid-client v6 (panva),
// which is what a Node.js public service would use to sign citizens in.
// The test seeds a tiny population registry, initialises ndx-id in a
// temporary directory, starts it on loopback and runs the authorization
// code flow with PKCE: discovery, buildAuthorizationUrl, the sign-in form
// (driven with fetch, as a browser would submit it), authorizationCodeGrant
// with the ID token's signature checked against the JWKS
// (enableNonRepudiationChecks), fetchUserInfo. Two clients are registered:
// one with the default EdDSA ID tokens, one with RS256 (the algorithm
// OpenID Connect Discovery 1.0 section 3 requires every provider to offer),
// and the library is told which algorithm each must get. Run: node --test tests/oidc/
// with NDX_BUILD_DIR naming the meson build directory (default
// /work/main/build). Overview: docs/id.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';

const BUILD = process.env.NDX_BUILD_DIR ?? '/work/main/build';
const ID = join(BUILD, 'src', 'id', 'ndx-id');
const SECTOR = join(BUILD, 'src', 'sector', 'ndx-sector');
const PASSWORD = 'mật khẩu của công dân';
const CLIENT_ID = 'dvc-portal';
const CLIENT_SECRET = 'dvc-portal-secret-0123456789';
const REDIRECT = 'http://127.0.0.1:9/auth/callback';
const RS_CLIENT_ID = 'rp-rs256';
const RS_CLIENT_SECRET = 'rp-rs256-secret-0123456789';

let dir;
let proc;
let issuer;
let citizen; // [pin, full_name, birth_date, sex] of the first account

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`ndx-id exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url + '/healthz')).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('ndx-id did not start');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ndx-id-oidc-'));
  const run = (exe, args) => execFileSync(exe, args, { encoding: 'utf8', stdio: 'pipe' });
  run(SECTOR, ['seed', '--db-dir', join(dir, 'pop'), '--citizens', '20']);
  writeFileSync(join(dir, 'pw'), PASSWORD + '\n');
  writeFileSync(join(dir, 'secret'), CLIENT_SECRET + '\n');
  const data = join(dir, 'data');
  run(ID, ['init', '--data', data]);
  run(ID, ['accounts', 'import', '--data', data, '--population-db',
    join(dir, 'pop', 'population.db'), '--limit', '3', '--password-file', join(dir, 'pw'),
    '--cost', 'min']);
  run(ID, ['client', 'add', '--data', data, '--client-id', CLIENT_ID, '--secret-file',
    join(dir, 'secret'), '--redirect-uri', REDIRECT]);
  writeFileSync(join(dir, 'rs-secret'), RS_CLIENT_SECRET + '\n');
  run(ID, ['client', 'add', '--data', data, '--client-id', RS_CLIENT_ID, '--secret-file',
    join(dir, 'rs-secret'), '--redirect-uri', REDIRECT, '--id-token-signed-response-alg',
    'RS256']);
  // The first account is the citizen with the smallest PIN.
  citizen = await firstCitizen(join(dir, 'pop', 'population.db'));
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  proc = spawn(ID, ['serve', '--data', data, '--issuer', issuer, '--listen',
    `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderrText = '';
  proc.stderr.on('data', (d) => { proc.stderrText += d; });
  await waitReady(issuer);
});

after(async () => {
  if (proc && proc.exitCode === null) {
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await done;
    assert.equal(proc.exitCode, 0, proc.stderrText);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The population database's first citizen, read with python3's sqlite3
// (Debian's python3 is a build dependency already; node 20 has no SQLite).
async function firstCitizen(db) {
  const out = execFileSync('/usr/bin/python3', ['-c',
    'import json,sqlite3,sys; c=sqlite3.connect(sys.argv[1]);' +
    'print(json.dumps(c.execute("SELECT pin, full_name, birth_date, sex FROM citizens' +
    ' ORDER BY pin LIMIT 1").fetchone()))', db], { encoding: 'utf8' });
  return JSON.parse(out);
}

// Follows the sign-in form the way a browser submits it: the hidden fields
// as rendered, plus the citizen's PIN and password. Returns the redirect
// back to the client.
async function signIn(authorizationUrl, pin, password) {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<html lang="vi"/);
  const action = html.match(/<form method="post" action="([^"]+)"/)[1];
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(m[1], m[2]);
  }
  fields.set('pin', pin);
  fields.set('password', password);
  return fetch(new URL(action, issuer), {
    method: 'POST',
    body: fields,
    redirect: 'manual',
  });
}

async function runFlow(config) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const back = await signIn(url, citizen[0], PASSWORD);
  assert.equal(back.status, 302);
  const location = new URL(back.headers.get('location'));
  assert.equal(location.origin + location.pathname, REDIRECT);
  const tokens = await client.authorizationCodeGrant(config, location, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return tokens;
}

function insecure() {
  return { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] };
}

test('discovery metadata', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined,
    insecure());
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, issuer);
  assert.deepEqual(meta.id_token_signing_alg_values_supported, ['EdDSA', 'RS256']);
  assert.equal(meta.request_uri_parameter_supported, false);
  assert.equal(meta.request_parameter_supported, false);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
});

test('code flow with PKCE, client_secret_post', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined,
    insecure());
  const tokens = await runFlow(config);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.expiresIn() <= 300, true);
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.sub, citizen[0]);
  assert.equal(claims.name, citizen[1]);
  assert.equal(claims.birthdate, citizen[2]);
  assert.match(claims.sub, /^\d{12}$/);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.deepEqual(info, {
    sub: citizen[0], name: citizen[1], birthdate: citizen[2], gender: citizen[3],
  });
});

// The header of a compact JWS.
function jwsHeader(jws) {
  return JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString());
}

test('sign in with EdDSA ID tokens (the default)', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID,
    { client_secret: CLIENT_SECRET, id_token_signed_response_alg: 'EdDSA' }, undefined,
    insecure());
  const tokens = await runFlow(config);
  assert.equal(jwsHeader(tokens.id_token).alg, 'EdDSA');
  const claims = tokens.claims();
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.sub, citizen[0]);
  assert.match(claims.sid, /^[0-9a-f]{64}$/);
});

test('sign in with RS256 ID tokens (a client registered for them)', async () => {
  const config = await client.discovery(new URL(issuer), RS_CLIENT_ID,
    { client_secret: RS_CLIENT_SECRET, id_token_signed_response_alg: 'RS256' }, undefined,
    insecure());
  const tokens = await runFlow(config);
  const header = jwsHeader(tokens.id_token);
  assert.equal(header.alg, 'RS256');
  const jwks = await (await fetch(issuer + '/jwks.json')).json();
  const key = jwks.keys.find((k) => k.kid === header.kid);
  assert.equal(key.kty, 'RSA');
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, RS_CLIENT_ID);
  assert.equal(claims.sub, citizen[0]);
  assert.equal(claims.name, citizen[1]);
  assert.match(claims.sid, /^[0-9a-f]{64}$/);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, citizen[0]);
});

test('an RS256 client refuses an EdDSA token, as registered', async () => {
  // The EdDSA client's tokens handed to a configuration that expects RS256:
  // the library refuses them, so the RS256 test above is not passing by
  // accepting anything.
  const config = await client.discovery(new URL(issuer), CLIENT_ID,
    { client_secret: CLIENT_SECRET, id_token_signed_response_alg: 'RS256' }, undefined,
    insecure());
  await assert.rejects(runFlow(config), (err) => {
    assert.match(String(err.cause?.message ?? err.message), /"alg"/);
    return true;
  });
});

test('code flow with client_secret_basic', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID, {},
    client.ClientSecretBasic(CLIENT_SECRET), insecure());
  const tokens = await runFlow(config);
  assert.equal(tokens.claims().sub, citizen[0]);
});

test('a wrong secret is refused as invalid_client', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID, 'not-the-right-secret',
    undefined, insecure());
  await assert.rejects(runFlow(config), (err) => {
    assert.equal(err.error, 'invalid_client');
    return true;
  });
});

test('the sign-in page refuses a wrong password', async () => {
  const config = await client.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined,
    insecure());
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const r = await signIn(url, citizen[0], 'not the password');
  assert.equal(r.status, 401);
  assert.match(await r.text(), /govuk-error-summary/);
});
