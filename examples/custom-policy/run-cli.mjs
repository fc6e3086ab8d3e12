// Runs the bgsnap CLI's demo (`bgsnap run`: 16 MiB of tracked memory, two writer threads, the file
// verified against a copy taken at the snapshot's start) with the policy module, alone and combined
// with the built-in latency target, and prints one line per run:
//   node run-cli.mjs
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The path of the `bgsnap` CLI, from the installed package's `bin` (as npm would link it). */
export function bgsnapBin() {
  const manifest = createRequire(import.meta.url).resolve('bgsnap/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  return join(dirname(manifest), typeof bin === 'string' ? bin : bin.bgsnap);
}

/** Runs `bgsnap <args>` in this folder (the module path in a spec is relative to the working directory). */
export function runBgsnap(args) {
  return spawnSync(process.execPath, [bgsnapBin(), ...args], { cwd: here, encoding: 'utf8' });
}

const LIMITERS = [
  './writer-yield.mjs:quiet=2ms,pages=8',
  'latency-target+./writer-yield.mjs:quiet=1ms,pages=16',
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const limiter of LIMITERS) {
    const run = runBgsnap([
      'run',
      // The policy is for plain mode, where writers wait for the loop; bgsnap run defaults to in-thread.
      '--mode',
      'plain',
      '--size',
      '16MiB',
      '--writers',
      '2',
      '--limiter',
      limiter,
      '--json',
      '--no-progress',
    ]);
    if (run.status !== 0) {
      console.error(`bgsnap run --limiter ${limiter}: exit ${run.status}\n${run.stderr}`);
      process.exit(1);
    }
    const report = JSON.parse(run.stdout);
    const ms = (ns) => `${(ns / 1e6).toFixed(2)} ms`;
    console.log(
      `${report.limiter}: ${ms(report.durationNs)}, ${report.pages.faulted} pages faulted, ` +
        `writers p99 ${ms(report.latency.writer?.p99 ?? 0)}, verification ${report.verification?.ok ? 'ok' : 'FAILED'}`,
    );
  }
}
