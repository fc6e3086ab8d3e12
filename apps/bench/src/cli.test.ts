import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writePolicyModule } from './policy-module.fixture.js';

// End-to-end: the built bins, as a user runs them (build first: `pnpm --filter @bgsnap/bench... build`).
const BENCH_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const APP_CLI = join(
  dirname(createRequire(import.meta.url).resolve('bgsnap/package.json')),
  'dist',
  'cli.js',
);

const dir = mkdtempSync(join(tmpdir(), 'bgsnap-bench-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(cli: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { cwd: dir }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

/** Every option `bgsnap bench` had before the harness moved out of the app. */
const BENCH_OPTIONS = [
  '--backends',
  '--modes',
  '--sim-modes',
  '--policies',
  '--profiles',
  '--sim-size',
  '--native-size',
  '--writers',
  '--rate',
  '--seed',
  '--native-sink',
  '--no-quiesce',
  '--targets',
  '--no-matrix',
  '--target-reps',
  '--target-stall',
  '--floor-faults',
  '--floor-source',
  '--probe-seconds',
  '--redis',
  '--batch-pages',
  '--no-plots',
  '--from',
  '--out',
  '--json',
];

/** The options the in-thread mode and the real client added. */
const NEW_OPTIONS = [
  '--matrix',
  '--real-client',
  '--client-requests',
  '--client-connections',
  '--client-pipeline',
  '--value-bytes',
  '--client-limiters',
  '--client-inside',
  '--copy-buffer-pages',
];

describe('bgsnap-bench', () => {
  it('--help lists every option of the former `bgsnap bench`', async () => {
    const r = await node(BENCH_CLI, ['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: bgsnap-bench \[options\]/);
    for (const option of [...BENCH_OPTIONS, ...NEW_OPTIONS]) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${option}\\b`, 'm'));
    }
    expect(r.stdout).toMatch(/--modes <list>[\s\S]*plain,copy-on-fault,in-thread/);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('name=<path of your policy module>');
  });

  it('--help into a reader that went away (`| head -1`) exits 0, without an EPIPE trace', async () => {
    const child = spawn(process.execPath, [BENCH_CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the help is written
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it.each([[[]], [['--backends', 'sim', '--out', 'never']]])(
    'without an action (%j) prints the help and exits 2, measuring nothing',
    async (args) => {
      const r = await node(BENCH_CLI, args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Usage: bgsnap-bench \[options\]/);
      expect(r.stderr).toContain('nothing to do: give --matrix, --targets, --real-client or --from');
      expect(existsSync(join(dir, 'never'))).toBe(false);
    },
  );

  it("benchmarks a user's policy module beside a built-in one, then --from redraws that run", async () => {
    writePolicyModule(dir);
    const out = join(dir, 'run');
    // The simulator in virtual time: 4 MiB takes milliseconds, whatever the machine's load.
    const r = await node(BENCH_CLI, [
      '--matrix',
      '--backends',
      'sim',
      '--sim-size',
      '4MiB',
      '--profiles',
      'none',
      '--policies',
      'qemu',
      '--policies',
      'mine=./my-policy.mjs:pages=16',
      '--no-plots',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { rows: { policy: string; limiter: string }[] }).rows;
    expect(
      rows.map((row) => [row.policy, row.limiter.startsWith('mine') ? row.limiter : 'built-in']),
    ).toEqual([
      ['qemu', 'built-in'],
      ['mine', 'mine(16)'],
    ]);
    expect(existsSync(join(out, 'results.json'))).toBe(true);

    const again = join(dir, 'again');
    const replot = await node(BENCH_CLI, ['--from', join(out, 'results.json'), '--out', again]);
    expect(replot.code, replot.stderr).toBe(0);
    expect(replot.stdout).toMatch(/^redrew \d+ files from /);
    expect(readFileSync(join(again, 'results.md'), 'utf8')).toContain('mine');
  }, 60_000);

  it.each([
    [
      ['--policies', 'mine=./no-such-policy.mjs'],
      /--policies: mine: policy module .*no-such-policy\.mjs does not exist/,
    ],
    [['--policies', 'nope'], /--policies: unknown policy 'nope'/],
    [['--sim-size', '12Q'], /--sim-size/],
    [['--frobnicate'], /unknown option/],
    [['--modes', 'plain,sideways'], /--modes/],
    [['--copy-buffer-pages', '0'], /--copy-buffer-pages/],
  ])('bad input %j → exit 2 and a message naming it, nothing written', async (args, message) => {
    const out = join(dir, 'never');
    const r = await node(BENCH_CLI, [...args, '--matrix', '--backends', 'sim', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('bgsnap bench (the app)', () => {
  it('points at bgsnap-bench and exits 2, whatever options follow', async () => {
    const r = await node(APP_CLI, ['bench', '--targets', '--help']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'bgsnap: `bgsnap bench` moved to `bgsnap-bench` (apps/bench); run `bgsnap-bench --help`',
    );
  });
});
