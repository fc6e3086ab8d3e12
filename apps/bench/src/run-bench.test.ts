import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_POLICIES } from './policies.js';
import { runBench } from './run-bench.js';
import { parseStallProfile } from './stall-profile.js';

const dir = mkdtempSync(join(tmpdir(), 'bgsnap-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench matrix on the simulator (tiny)', () => {
  it('produces one row per policy × profile, the tables, and CDF/throughput plots as SVG and PNG', async () => {
    const policies = BENCH_POLICIES.filter((p) => ['unlimited', 'qemu', 'latency'].includes(p.name));
    const profiles = ['none', 'periodic:50ms/250ms', 'slow:64MiB/s'].map((p) => parseStallProfile(p));
    const out = await runBench({
      outDir: dir,
      backends: ['sim'],
      nativeModes: [],
      simModes: ['plain'],
      policies,
      profiles,
      simSizeBytes: 8 * 2 ** 20,
      nativeSizeBytes: 2 ** 20,
      writers: 2,
      ratePerWriter: 20_000,
      seed: 3,
      nativeSink: 'discard',
      quiesce: true,
      targets: false,
      targetReps: 1,
      floorFaults: 100,
      probeSeconds: 0,
      targetStall: parseStallProfile('periodic:50ms/250ms'),
      plots: true,
      log: () => {},
    });

    expect(out.rows).toHaveLength(policies.length * profiles.length);
    for (const row of out.rows) {
      expect(row.backend).toBe('sim');
      expect(row.pages.faulted + row.pages.scanned).toBe(row.pages.total);
      expect(row.pages.total).toBe((8 * 2 ** 20) / 4096);
      expect(row.throughputBytesPerSec).toBeGreaterThan(0);
      expect(row.writer.count).toBeGreaterThan(0);
      // HDR percentiles are bucket tops (0.1 % precision), so p99 may exceed the exact max by that much.
      expect(row.longestWriterStallNs).toBeGreaterThanOrEqual(row.writer.p99 * 0.999);
    }
    // A slow sink takes longer in virtual time than no stall, for the same policy.
    const dur = (policy: string, key: string) =>
      out.rows.find((r) => r.policy === policy && r.profileKey === key)!.durationNs;
    expect(dur('unlimited', 'slow')).toBeGreaterThan(dur('unlimited', 'none'));

    // CDFs: non-empty, both coordinates non-decreasing, ending at 1 with the histogram's max.
    for (const s of out.series) {
      const row = out.rows.find((r) => r.id === s.id)!;
      expect(s.cdf.length).toBeGreaterThan(1);
      for (let i = 1; i < s.cdf.length; i++) {
        expect(s.cdf[i]!.latencyNs).toBeGreaterThanOrEqual(s.cdf[i - 1]!.latencyNs);
        expect(s.cdf[i]!.fraction).toBeGreaterThanOrEqual(s.cdf[i - 1]!.fraction);
      }
      expect(s.cdf.at(-1)!.fraction).toBe(1);
      expect(s.cdf.at(-1)!.latencyNs).toBe(row.writer.max);
      expect(s.throughput.length).toBeGreaterThan(0);
      expect(s.throughput.every((t) => t.bytesPerSec >= 0 && Number.isFinite(t.bytesPerSec))).toBe(true);
    }

    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    expect(md.trim().split('\n')).toHaveLength(2 + out.rows.length);
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(json.rows).toHaveLength(out.rows.length);

    for (const profile of ['none', 'periodic', 'slow']) {
      for (const kind of ['cdf', 'throughput']) {
        const base = join(dir, 'plots', `${kind}-sim-plain-${profile}`);
        const svg = readFileSync(`${base}.svg`, 'utf8');
        expect(svg).toMatch(/^<svg/);
        for (const p of policies) expect(svg).toContain(`>${p.name}<`);
        expect(existsSync(`${base}.png`)).toBe(true);
        expect(statSync(`${base}.png`).size).toBeGreaterThan(5000);
        expect(readFileSync(`${base}.png`).subarray(1, 4).toString()).toBe('PNG');
      }
    }
  }, 30_000);
});

describe('downsampleThroughput', () => {
  it('keeps the bytes represented while merging into at most n samples', async () => {
    const { downsampleThroughput } = await import('./series.js');
    const samples = Array.from({ length: 1000 }, (_, i) => ({
      tNs: (i + 1) * 1e6 + (i % 3) * 1e5,
      bytesPerSec: (i % 7) * 1e8,
    }));
    const bytes = (s: { tNs: number; bytesPerSec: number }[]) => {
      let prev = 0;
      let total = 0;
      for (const x of s) {
        total += (x.bytesPerSec * (x.tNs - prev)) / 1e9;
        prev = x.tNs;
      }
      return total;
    };
    const out = downsampleThroughput(samples, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.at(-1)!.tNs).toBe(samples.at(-1)!.tNs);
    expect(bytes(out)).toBeCloseTo(bytes(samples), 3);
  });
});
