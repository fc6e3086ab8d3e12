import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeUffd } from '@bgsnap/fault-source-uffd';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- plain JavaScript module without type declarations
import { runBgsnap } from './run-cli.mjs';

// The demo runs need userfaultfd; checking options and conformance does not.
const native = probeUffd().available;
const here = dirname(fileURLToPath(import.meta.url));
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8' });

describe('check.mjs (conformance under plain node)', () => {
  it('passes writer-yield.mjs, with default and with explicit options', () => {
    for (const args of [[], ['./writer-yield.mjs', 'quiet=500us', 'pages=1', 'poll=1s']]) {
      const run = node(['check.mjs', ...args]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^writer-yield\(.*\): conforms$/m);
    }
  });

  it('fails the deliberately broken variant on the restart rule, exit 1', () => {
    const run = node(['check.mjs', './broken-policy.mjs']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('broken-writer-yield');
    expect(run.stderr).toContain('[restart]');
  });
});

describe('the bgsnap CLI with the policy module', () => {
  it.skipIf(!native)(
    'runs the demo with the module alone and combined with latency-target (node run-cli.mjs)',
    () => {
      const run = node(['run-cli.mjs']);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^writer-yield\(quiet=2ms,pages=8,poll=200us\): .*verification ok$/);
      expect(lines[1]).toMatch(
        /^all\(latency-target\(.*\),writer-yield\(quiet=1ms,pages=16,poll=200us\)\): .*verification ok$/,
      );
    },
  );

  it.skipIf(!native)("names the policy in --json's report", () => {
    const run = runBgsnap([
      'run',
      '--size',
      '16MiB',
      '--writers',
      '1',
      '--limiter',
      './writer-yield.mjs:pages=4',
      '--json',
      '--no-progress',
    ]);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.limiter).toBe('writer-yield(quiet=2ms,pages=4,poll=200us)');
    expect(report.verification.ok).toBe(true);
  });

  it.each([
    ['./writer-yield.mjs:pages=0', 'pages'],
    ['./writer-yield.mjs:quiet=soon', 'quiet'],
    ['./writer-yield.mjs:bogus=1', 'bogus'],
    ['latency-target+./writer-yield.mjs:poll=2s', 'poll'],
  ])('rejects --limiter %s with exit 2, naming the option', (limiter, option) => {
    const run = runBgsnap(['run', '--size', '16MiB', '--limiter', limiter, '--json', '--no-progress']);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`option '${option}'`);
  });
});
