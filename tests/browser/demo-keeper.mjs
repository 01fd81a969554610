// Takes the browser files' shared demo federation down (lib.mjs
// sharedDemo): started by the file that brings it up, in its own session
// and with no terminal, it waits for the `node --test` process that runs
// the files to end (passed, failed or interrupted), then runs `ndx demo
// down` on SHARED/demo and removes SHARED (with NDX_KEEP_DEMO set, the
// demo's directory is kept and named in SHARED.log).
//
//   node demo-keeper.mjs SHARED RUNNER_PID RUNNER_START NDX

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const [shared, pidText, start, ndx] = process.argv.slice(2);
const pid = Number(pidText);
const LOG = `${shared}.log`;

function runnerAlive() {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== 'EPERM') return false;
  }
  if (!start) return true;
  // Fields 3 (state: Z for a process that ended and is not yet reaped)
  // and 22 (start time), after the command name in parentheses.
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ');
    return fields[0] !== 'Z' && fields[19] === start;
  } catch {
    return false;
  }
}

// What went wrong is kept in SHARED.log (nobody reads this process's
// output); a clean take-down leaves nothing behind.
async function note(text) {
  await fs.appendFile(LOG, `${new Date().toISOString()} ${text}\n`).catch(() => {});
}

while (runnerAlive()) await new Promise((r) => setTimeout(r, 500));

const demo = path.join(shared, 'demo');
try {
  await run(ndx, ['demo', 'down', '--dir', demo], { timeout: 60_000 });
} catch (e) {
  // No demo there (it never came up, or its first file took it down after
  // a failed `ndx demo up`) is not a failure.
  if (await fs.access(demo).then(() => true, () => false)) await note(`ndx demo down --dir ${demo}: ${e.stderr || e.message}`);
}
if (process.env.NDX_KEEP_DEMO) {
  await note(`demo kept in ${demo}`);
} else {
  await fs.rm(shared, { recursive: true, force: true });
}
