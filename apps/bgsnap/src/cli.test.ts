import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cliBuilt, runCli } from './testing/spawn-cli.js';

// End-to-end: the built CLI, as a user runs it (build first: `pnpm --filter bgsnap build`).
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-cli-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bgsnap(args: string[], options: { interruptAfterMs?: number } = {}): Promise<CliResult> {
  let interruptAfterMs = options.interruptAfterMs;
  return runCli(args, {
    onStderr: (child, stderr) => {
      // Interrupt once the snapshot is under way (progress lines come from the save loop).
      if (interruptAfterMs === undefined || !/progress/.test(stderr)) return;
      const ms = interruptAfterMs;
      interruptAfterMs = undefined;
      setTimeout(() => child.kill('SIGINT'), ms);
    },
  });
}

const uffdAvailable = await import('@bgsnap/fault-source-uffd')
  .then((m) => m.probeUffd().available)
  .catch(() => false);

describe.skipIf(!cliBuilt)('bgsnap CLI (end to end)', () => {
  it('--help works on every command and documents the exit codes', async () => {
    const top = await bgsnap(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Exit codes: 0 ok; 1 .*; 2 .*; 130 interrupted/);
    for (const cmd of ['run', 'sim', 'verify', 'inspect', 'restore']) {
      const r = await bgsnap([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: bgsnap ${cmd}`);
    }
  });

  it.skipIf(!uffdAvailable)(
    'run: 64 MiB of native memory under 2 writers, verified page by page',
    async () => {
      const out = join(dir, 'run.bgsnap');
      const r = await bgsnap([
        'run',
        '--size',
        '64MiB',
        '--writers',
        '2',
        '--out',
        out,
        '--json',
        '--no-progress',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.backend).toBe('uffd');
      expect(report.thread).toBe('worker');
      expect(report.verification.ok).toBe(true);
      expect(report.pages.faulted + report.pages.scanned).toBe(16384);
      expect(report.workload.writes).toBeGreaterThan(0);
      expect(report.latency.writer.count).toBeGreaterThan(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);

      const verify = await bgsnap(['verify', out]);
      expect(verify.code).toBe(0);
      const inspect = JSON.parse((await bgsnap(['inspect', out, '--json'])).stdout);
      expect(inspect.header.regions[0].pageCount).toBe(16384);
      const image = join(dir, 'run.img');
      const restore = await bgsnap(['restore', out, '--out', image]);
      expect(restore.code, restore.stderr).toBe(0);
      expect(statSync(image).size).toBe(64 * 2 ** 20);
    },
  );

  it.skipIf(!uffdAvailable)('run in copy-on-fault mode with the latency-target policy', async () => {
    const r = await bgsnap([
      'run',
      '--size',
      '16MiB',
      '--mode',
      'copy-on-fault',
      '--limiter',
      'latency-target',
      '--json',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.mode).toBe('copy-on-fault');
    expect(report.verification.ok).toBe(true);
  });

  it('sim: a stalling sink, checked against the oracle; verify/inspect/restore on its output', async () => {
    const out = join(dir, 'sim.bgsnap');
    const r = await bgsnap([
      'sim',
      '--size',
      '64MiB',
      '--cpus',
      '4',
      '--sink-profile',
      'periodic:50ms/250ms',
      '--out',
      out,
      '--json',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.backend).toBe('sim');
    expect(report.verification).toMatchObject({ ok: true, mismatchedPages: 0 });
    expect(report.pages.total).toBe(16384);
    expect(report.latency.true.count).toBe(report.pages.faulted + report.pages.faultsOnPendingRelease);
    expect((await bgsnap(['verify', out])).code).toBe(0);
    // A flipped byte in the middle is caught by verify (exit 1)
    const bytes = readFileSync(out);
    bytes[bytes.length >> 1]! ^= 0x40;
    const bad = join(dir, 'bad.bgsnap');
    writeFileSync(bad, bytes);
    const verifyBad = await bgsnap(['verify', bad]);
    expect(verifyBad.code).toBe(1);
    expect(verifyBad.stdout).toMatch(/INVALID/);
  });

  it('sim: a failing sink exits 1 and leaves nothing under the output name', async () => {
    const out = join(dir, 'fail.bgsnap');
    const r = await bgsnap([
      'sim',
      '--size',
      '64MiB',
      '--sink-profile',
      'fail-after=8MB',
      '--out',
      out,
      '--no-progress',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bgsnap: /);
    expect(existsSync(out)).toBe(false);
  });

  it('run --backend sim: the fallback path runs the same job on the simulator', async () => {
    const r = await bgsnap(['run', '--backend', 'sim', '--size', '16MiB', '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/simulator/);
    expect(JSON.parse(r.stdout)).toMatchObject({ backend: 'sim', verification: { ok: true } });
  });

  it("a user's policy module plugs in by path", async () => {
    const mod = join(dir, 'my-policy.mjs');
    writeFileSync(
      mod,
      `export default (o) => ({ name: 'mine(' + (o.pages ?? 8) + ')', start() {}, onFault() {}, onScan() {}, onSinkWrite() {},
        decide: () => ({ scanPages: Number(o.pages ?? 8), waitNs: 0 }) });\n`,
    );
    const r = await bgsnap([
      'sim',
      '--size',
      '8MiB',
      '--limiter',
      `${mod}:pages=16`,
      '--json',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).limiter).toBe('mine(16)');
  });

  it.each([
    [['run', '--size', '12Q']],
    [['sim', '--limiter', 'no-such-policy']],
    [['sim', '--out', '/nonexistent-folder/x.bgsnap']],
    [['verify', '/nonexistent-file.bgsnap']],
  ])('bad input %j → exit 2, a clear message, nothing written', async (args) => {
    const out = join(dir, 'never.bgsnap');
    const r = await bgsnap(
      args.includes('--out')
        ? args
        : [...args, ...(args[0] === 'verify' || args[0] === 'frobnicate' ? [] : ['--out', out])],
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().length).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown policy lists the known ones', async () => {
    const r = await bgsnap(['sim', '--limiter', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unlimited.*threshold.*token-bucket.*latency-target/);
  });

  it.skipIf(!uffdAvailable)('SIGINT mid-snapshot: exit 130, nothing left under the output name', async () => {
    const out = join(dir, 'interrupted.bgsnap');
    const r = await bgsnap(
      ['run', '--size', '32MiB', '--limiter', 'token-bucket:rate=4MiB/s,burst=1MiB', '--out', out],
      { interruptAfterMs: 200 },
    );
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/aborted/);
    expect(existsSync(out)).toBe(false);
  });

  it('SIGINT mid-snapshot on the simulator: exit 130, nothing left', async () => {
    const out = join(dir, 'interrupted-sim.bgsnap');
    const r = await bgsnap(['sim', '--size', '4GiB', '--sink-profile', 'slow:200MB/s', '--out', out], {
      interruptAfterMs: 100,
    });
    expect(r.code, r.stderr).toBe(130);
    expect(existsSync(out)).toBe(false);
  });
});
