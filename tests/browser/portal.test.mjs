// The portal's journeys in real Chromium against the demo federation:
// `ndx demo up` starts every daemon (registry, gateways, sectors, consent,
// ndx-id, ndx-portal) on loopback and describes them in federation.json;
// the after hook always runs `ndx demo down`. A demo without a portal is a
// failure, not a reason to skip.

import { after, before, describe } from 'node:test';
import { defineFlows } from './flows.mjs';
import { setArtifactPrefix, launch, portalMissing, startDemo } from './lib.mjs';

describe('portal in the demo federation', { timeout: 1_200_000 }, () => {
  const env = {};
  setArtifactPrefix('demo');
  let demo;

  before(async () => {
    demo = await startDemo();
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
