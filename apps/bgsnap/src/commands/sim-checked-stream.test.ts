import type { FaultSource } from '@bgsnap/fault-source';
import {
  createSimFaultSource,
  createSimSink,
  createSnapshotChecker,
  pageContents,
  type SimFaultSource,
} from '@bgsnap/fault-source-sim';
import { createSnapshotWriter, discardSink } from '@bgsnap/stream-writer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSaveLoop } from '../save-loop/save-loop.js';
import { unlimitedPolicy } from '../testing/policies.js';
import { CheckedStream } from './sim-checked-stream.js';

function simulate(seed = 1, pages = 4096): SimFaultSource {
  return createSimFaultSource({
    regions: [
      { name: 'a', pageCount: pages },
      { name: 'b', pageCount: 1000 },
    ],
    cpus: [
      { rate: 200_000, workload: 'uniform' },
      { rate: 200_000, workload: { kind: 'hot-set' } },
    ],
    seed,
    initialFill: 0.5,
    recordFaults: false,
  });
}

/** Runs the save loop over `source` (the sim, or a wrapper of it) into a CheckedStream. */
async function save(sim: SimFaultSource, source: FaultSource = sim, sinkOptions = {}) {
  const checker = createSnapshotChecker(sim);
  const stream = new CheckedStream({ sim, checker, sink: createSimSink(sim, sinkOptions) });
  await sim.start();
  const loop = await runSaveLoop({ source, limiter: unlimitedPolicy(), writer: stream, startedAt: 0 });
  const summary = await stream.finish();
  await sim.stop();
  return { loop, summary, result: checker.result() };
}

describe('CheckedStream', () => {
  it('checks every page once under live writers and a stalling sink, and counts the zero pages', async () => {
    const sim = simulate(3);
    const { loop, summary, result } = await save(sim, sim, {
      bandwidth: 1e9,
      stall: { kind: 'periodic', stallNs: 2e6, everyNs: 5e6 },
    });
    expect(result.ok).toBe(true);
    expect(result.pagesChecked).toBe(5096);
    expect(loop.pagesFaulted).toBeGreaterThan(0);
    let zero = 0;
    sim.regions.forEach((r, region) => {
      for (let p = 0; p < r.pageCount; p++) if (sim.startVersion(region, p) === 0) zero++;
    });
    expect(summary.zeroPages).toBe(zero);
  });

  it('catches a page the source hands out at the wrong version', async () => {
    const sim = simulate(5);
    let victim = 100;
    while (sim.startVersion(0, victim) === 0) victim++;
    // A source that reads one page as it is after a write: what a loop that releases too early saves.
    const wrong: FaultSource = Object.create(sim);
    wrong.read = (region, first, count) => {
      const data = sim.read(region, first, count);
      if (region === 0 && victim >= first && victim < first + count) {
        const bad = pageContents(victim, sim.startVersion(0, victim) + 1);
        data.set(bad, (victim - first) * 4096);
      }
      return data;
    };
    const { result } = await save(sim, wrong);
    expect(result.ok).toBe(false);
    expect(result.mismatchCount).toBe(1);
    expect(result.mismatches[0]).toMatchObject({ region: 0, page: victim });
  });

  it("models the stream writer's encoded size for any runs of pages", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(100),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        async (seed, runs) => {
          const sim = simulate(seed, 8192);
          await sim.start();
          const stream = new CheckedStream({ sim, checker: createSnapshotChecker(sim), sink: discardSink() });
          const real = createSnapshotWriter({
            regions: sim.regions,
            sink: discardSink(),
            writerId: 'bgsnap',
          });
          expect(stream.stats.bytesEncoded).toBe(real.stats.bytesEncoded); // the header
          let first = 0;
          for (const n of runs) {
            const count = Math.min(n, 8192 - first);
            if (count <= 0) break;
            const data = sim.read(0, first, count);
            stream.writePages(0, first, data);
            real.writePages(0, first, data);
            first += count;
          }
          expect(stream.stats.bytesEncoded).toBe(real.stats.bytesEncoded);
          await real.abort();
          await sim.stop();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('fails the save loop with the sink error when the simulated sink fails', async () => {
    const sim = simulate(2);
    await expect(save(sim, sim, { failAfterBytes: 1 << 20 })).rejects.toThrow(/simulated sink failure/);
  });
});
