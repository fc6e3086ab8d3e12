import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSaveLoop } from '../save-loop/save-loop.js';
import { FakeSource, type FakeWrite, ImageWriter } from '../testing/fake-source.js';
import { unlimitedPolicy } from '../testing/policies.js';
import { createFaultedPages, matchWriterFaults, recordFaultedPages } from './writer-faults.js';

describe('recordFaultedPages', () => {
  it('marks exactly the pages that fault events named, and the snapshot stays exact through it', async () => {
    const write = fc.record({
      at: fc.integer({ min: 1, max: 3_000_000 }),
      region: fc.integer({ min: 0, max: 1 }),
      page: fc.integer({ min: 0, max: 199 }),
      value: fc.integer({ min: 0, max: 255 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(write, { maxLength: 60 }), fc.boolean(), async (writes, copies) => {
        const source = new FakeSource([200, 200], writes as FakeWrite[], copies);
        const faulted = createFaultedPages([200, 200]);
        const recorded = recordFaultedPages(source, faulted);
        await recorded.start();
        const writer = new ImageWriter(recorded.regions, 0, async () => {});
        await runSaveLoop({
          source: recorded,
          limiter: unlimitedPolicy(),
          writer,
          batchPages: 8,
          startedAt: 0,
        });
        const named = new Set(source.events.filter((e) => e.kind === 'fault').map((e) => e.key));
        const marked = new Set<string>();
        faulted.forEach((m, r) => {
          m.forEach((b, p) => {
            if (b === 1) marked.add(`${r}:${p}`);
          });
        });
        expect(marked).toEqual(named);
        source.regions.forEach((_, r) => {
          expect(writer.images[r]).toEqual(source.initial[r]);
        });
      }),
      { numRuns: 25 },
    );
  });

  it('refuses maps that do not fit the regions', () => {
    const source = new FakeSource([8, 4], []);
    expect(() => recordFaultedPages(source, createFaultedPages([8]))).toThrow(/1 map\(s\) for 2 region/);
    expect(() => recordFaultedPages(source, createFaultedPages([8, 5]))).toThrow(/region 1 has 4 pages/);
  });

  it('puts the maps in shared memory, so they reach a worker thread', () => {
    expect(createFaultedPages([3])[0]!.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('matchWriterFaults', () => {
  it('keeps the candidates whose page a fault event named, with their latencies', () => {
    const faulted = new Uint8Array([0, 1, 0, 1]);
    const m = matchWriterFaults([[1, 5_000, 2, 900_000], new Float64Array([3, 7_000, 0, 100])], faulted);
    expect(m.faults).toBe(2);
    expect(m.others).toBe(2);
    expect(m.latency.totalCount).toBe(2);
    expect(m.latency.maxValue).toBeLessThan(8_000); // the slow store to page 2 did not fault
    expect(m.latency.minNonZeroValue).toBeGreaterThan(4_000);
  });

  it('counts every candidate once, as a fault exactly when its page is marked', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64, max: 1 }),
        fc.array(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 1e9 })), { maxLength: 30 }), {
          maxLength: 4,
        }),
        (faulted, writers) => {
          const lists = writers.map((w) => w.flatMap(([p, ns]) => [p % faulted.length, ns]));
          const m = matchWriterFaults(lists, faulted);
          const all = lists.flatMap((l) => l.filter((_, i) => i % 2 === 0));
          expect(m.faults + m.others).toBe(all.length);
          expect(m.faults).toBe(all.filter((p) => faulted[p] === 1).length);
          expect(m.latency.totalCount).toBe(m.faults);
        },
      ),
    );
  });

  it('rejects malformed candidate lists, naming what is wrong', () => {
    const faulted = new Uint8Array(4);
    expect(() => matchWriterFaults([[1, 2, 3]], faulted)).toThrow(/odd length 3/);
    expect(() => matchWriterFaults([[4, 2]], faulted)).toThrow(/page 4 outside 0..3/);
    expect(() => matchWriterFaults([[-1, 2]], faulted)).toThrow(/page -1/);
  });
});
