import { createSimFaultSource, createSnapshotChecker, type SimFaultSource } from '@bgsnap/fault-source-sim';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import { parseLimiterSpec } from '@bgsnap/rate-limiter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scriptedPolicy } from '../testing/policies.js';
import { runSaveLoop } from './save-loop.js';
import type { PageWriter } from './types.js';

/** A PageWriter that feeds every saved page straight to the simulator's oracle. */
function oracleWriter(sim: SimFaultSource) {
  const checker = createSnapshotChecker(sim);
  const writer: PageWriter = {
    writePages: (region, first, data) => void checker.checkPages(region, first, data),
    needsDrain: false,
    drain: async () => {},
  };
  return { checker, writer };
}

function simulate(mode: 'plain' | 'copy-on-fault', seed: number, pages = 4096) {
  return createSimFaultSource({
    regions: [
      { name: 'a', pageCount: pages },
      { name: 'b', pageCount: 1000 },
    ],
    cpus: [
      { rate: 200_000, workload: 'uniform' },
      { rate: 200_000, workload: { kind: 'hot-set' } },
      { rate: 100_000, workload: 'sequential' },
    ],
    mode,
    seed,
    recordFaults: false,
  });
}

async function snapshotSim(sim: SimFaultSource, limiter: LimiterPolicy, batchPages = 64) {
  const { checker, writer } = oracleWriter(sim);
  await sim.start();
  const result = await runSaveLoop({ source: sim, limiter, writer, batchPages });
  await sim.stop();
  return { result, check: checker.result() };
}

describe('runSaveLoop on the simulator, checked by its oracle', () => {
  for (const mode of ['plain', 'copy-on-fault'] as const) {
    for (const spec of ['unlimited', 'threshold', 'latency-target', 'token-bucket:rate=2GiB/s,burst=1MiB']) {
      it(`${mode}, ${spec}: every page saved once, as it was at start`, async () => {
        const sim = simulate(mode, 7);
        const { result, check } = await snapshotSim(sim, parseLimiterSpec(spec));
        expect(check).toMatchObject({ ok: true, mismatchCount: 0, duplicateCount: 0, missingCount: 0 });
        expect(check.pagesChecked).toBe(5096);
        expect(result.pagesFaulted).toBeGreaterThan(0);
        expect(result.pagesFaulted + result.pagesScanned).toBe(5096);
        // every fault's true wait is known on the simulator
        expect(result.latency.true.totalCount).toBe(result.pagesFaulted + result.faultsOnPendingRelease);
      });
    }
  }

  it('property: random legal decision sequences, seeds and batch sizes still give an exact image', async () => {
    const decision = fc
      .record({
        scanPages: fc.integer({ min: 0, max: 300 }),
        waitNs: fc.oneof(fc.constant(0), fc.integer({ min: 1_000, max: 2_000_000 })),
      })
      .filter((d) => d.scanPages > 0 || d.waitNs > 0);
    await fc.assert(
      fc.asyncProperty(
        fc.array(decision, { minLength: 1, maxLength: 8 }).filter((ds) => ds.some((d) => d.scanPages > 0)),
        fc.constantFrom('plain' as const, 'copy-on-fault' as const),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 512 }),
        async (decisions, mode, seed, batch) => {
          const sim = simulate(mode, seed, 2048);
          const { check } = await snapshotSim(sim, scriptedPolicy(decisions), batch);
          expect(check.ok).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('is deterministic: the same seed gives the same fault count and latencies', async () => {
    const a = await snapshotSim(simulate('plain', 3), parseLimiterSpec('threshold'));
    const b = await snapshotSim(simulate('plain', 3), parseLimiterSpec('threshold'));
    expect(a.result.pagesFaulted).toBe(b.result.pagesFaulted);
    expect(a.result.latency.true.getValueAtPercentile(99)).toBe(
      b.result.latency.true.getValueAtPercentile(99),
    );
    expect(a.result.endedAt).toBe(b.result.endedAt);
  });
});
