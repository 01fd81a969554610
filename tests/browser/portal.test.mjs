// The portal's journeys in real Chromium against the demo federation:
// `ndx demo up` starts every daemon (registry, gateways, sectors, consent,
// ndx-id, ndx-portal) on loopback and describes them in federation.json;
// the federation is the one shared with admin, officer, market and
// worklist (lib.mjs sharedDemo), taken down when `node --test` ends. A demo
// without a portal is a failure, not a reason to skip.

import { after, before, describe } from 'node:test';
import { defineFlows } from './flows.mjs';
import { setArtifactPrefix, launch, portalMissing, sharedDemo } from './lib.mjs';

describe('portal in the demo federation', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('demo');
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

  defineFlows(env);
});
