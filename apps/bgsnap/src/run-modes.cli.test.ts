import { describe, expect, it } from 'vitest';
import { cliBuilt, runCli } from './testing/spawn-cli.js';

// End-to-end: the built CLI (build first). The native cases need userfaultfd write-protect here.
const uffdAvailable = await import('@bgsnap/fault-source-uffd')
  .then((m) => m.probeUffd().available)
  .catch(() => false);

/** The parts of `run --json` and `demo --json` these tests read. */
interface CliJson {
  mode: string;
  limiter: string;
  verification: { ok: boolean };
  latency: Record<'writer' | 'writerFaults', { count: number; p99: number }>;
  workload: { faultingStores: number };
  pages: { faulted: number; faultsOnPendingRelease: number };
  notes?: string[];
  backendStats: Record<string, number>;
  rows: { mode: string; limiter: string; verified: boolean; writerFaults: { count: number; p99: number } }[];
}
const json = (text: string): CliJson => JSON.parse(text) as CliJson;

describe.skipIf(!cliBuilt || !uffdAvailable)('bgsnap run: modes and writerFaults (native)', () => {
  it('--mode in-thread: verified, with the writers’ faulting-store latency beside all stores', async () => {
    const r = await runCli([
      'run',
      ...['--mode', 'in-thread', '--size', '64MiB', '--writers', '2', '--rate', '20k'],
      ...['--limiter', 'unlimited', '--json', '--no-progress'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = json(r.stdout);
    expect(report.mode).toBe('in-thread');
    expect(report.verification.ok).toBe(true);
    expect(report.latency.writerFaults.p99).toBeGreaterThan(0);
    // Every counted store took a fault, and none is counted twice: at most one per faulted page.
    expect(report.latency.writerFaults.count).toBe(report.workload.faultingStores);
    expect(report.workload.faultingStores).toBeGreaterThan(0);
    expect(report.workload.faultingStores).toBeLessThanOrEqual(
      report.pages.faulted + report.pages.faultsOnPendingRelease,
    );
    expect(report.latency.writer.count).toBeGreaterThan(report.latency.writerFaults.count);
    // The writers copied their pages themselves: the backend's own count says so.
    expect(report.backendStats.servedInThread).toBeGreaterThan(0);
  });

  it('defaults to in-thread; where the kernel lacks SIGBUS it says so and uses copy-on-fault', async () => {
    const args = ['run', '--size', '16MiB', '--limiter', 'unlimited', '--json', '--no-progress'];
    const normal = await runCli(args);
    expect(normal.code, normal.stderr).toBe(0);
    expect(json(normal.stdout).mode).toBe('in-thread');
    const r = await runCli(args, { env: { BGSNAP_TEST_NO_SIGBUS: '1' } });
    expect(r.code, r.stderr).toBe(0);
    const report = json(r.stdout);
    expect(report.mode).toBe('copy-on-fault');
    expect(report.verification.ok).toBe(true);
    expect(report.notes).toEqual([expect.stringMatching(/UFFD_FEATURE_SIGBUS.*using copy-on-fault/)]);
    expect(r.stderr.split('\n').filter((l) => /UFFD_FEATURE_SIGBUS/.test(l))).toHaveLength(1);
  });

  it('bgsnap demo: two verified rows, QEMU’s way and bgsnap’s, in text and JSON', async () => {
    const r = await runCli(['demo', '--size', '16MiB', '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r.stdout);
    expect(out.rows).toHaveLength(2);
    expect(out.rows.map((x) => x.mode)).toEqual(['plain', 'in-thread']);
    expect(out.rows[0]!.limiter).toMatch(/^threshold/);
    expect(out.rows[1]!.limiter).toMatch(/^unlimited/);
    expect(out.rows.every((x) => x.verified)).toBe(true);
    expect(out.rows[0]!.writerFaults.p99).toBeGreaterThan(0);
    const text = await runCli(['demo', '--size', '16MiB', '--no-progress']);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.split('\n').filter((l) => / (yes|NO)$/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^QEMU +plain \/ threshold .* yes$/);
    expect(rows[1]).toMatch(/^bgsnap +in-thread \/ unlimited .* yes$/);
    expect(text.stdout).toMatch(
      /faulting-store p99: .* with QEMU's way, .* with bgsnap's: [\d.]+x (lower|higher)/,
    );
  });
});

describe.skipIf(!cliBuilt)('bgsnap: in-thread on the simulator, and the mode help', () => {
  it('sim --mode in-thread is refused (exit 2) naming the option; so is run --backend sim --mode in-thread', async () => {
    for (const args of [
      ['sim', '--size', '4MiB', '--mode', 'in-thread'],
      ['run', '--backend', 'sim', '--size', '4MiB', '--mode', 'in-thread'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--mode.*in-thread is not modelled by the simulator/);
    }
  });

  it('run --backend sim defaults to copy-on-fault; demo on the simulator gives two verified rows', async () => {
    const run = await runCli(['run', '--backend', 'sim', '--size', '16MiB', '--json', '--no-progress']);
    expect(run.code, run.stderr).toBe(0);
    expect(json(run.stdout).mode).toBe('copy-on-fault');
    const demo = await runCli(['demo', '--backend', 'sim', '--size', '64MiB', '--json', '--no-progress']);
    expect(demo.code, demo.stderr).toBe(0);
    const out = json(demo.stdout);
    expect(out.rows.map((x) => [x.mode, x.verified])).toEqual([
      ['plain', true],
      ['copy-on-fault', true],
    ]);
    expect(out.rows[1]!.writerFaults.count).toBeGreaterThan(0);
  });

  it('run --help says when writers wait in each mode, and the EFAULT hazard of in-thread', async () => {
    const r = await runCli(['run', '--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/in-thread \| copy-on-fault \| plain.*EFAULT/);
  });
});
