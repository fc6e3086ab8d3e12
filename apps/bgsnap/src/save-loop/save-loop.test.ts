import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotAbortedError } from '../errors.js';
import { FakeSource, type FakeWrite, ImageWriter } from '../testing/fake-source.js';
import { scriptedPolicy, unlimitedPolicy } from '../testing/policies.js';
import { runSaveLoop } from './save-loop.js';

function writesEvery(intervalNs: number, count: number, pages: number[], seed = 1): FakeWrite[] {
  const out: FakeWrite[] = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const region = x % pages.length;
    out.push({
      at: (i + 1) * intervalNs,
      region,
      page: (x >>> 8) % pages[region]!,
      value: (i & 0xff) ^ 0xa5,
    });
  }
  return out;
}

async function snapshotWith(
  source: FakeSource,
  limiter: LimiterPolicy,
  batchPages = 8,
  releaseAlignBytes?: number,
  drainEvery = 0,
) {
  await source.start();
  // A drain takes 50 µs of the source's clock, during which writes fault and wait.
  const writer = new ImageWriter(source.regions, drainEvery, async () =>
    source.advance(source.clock.now() + 50_000),
  );
  const result = await runSaveLoop({ source, limiter, writer, batchPages, releaseAlignBytes, startedAt: 0 });
  // Nothing saved may stay protected once the loop returns: no writer is left waiting for a release.
  expect(source.protectedCount).toBe(0);
  expect(source.blockedWriters).toBe(0);
  return { writer, result };
}

function expectImageEqualsInitial(source: FakeSource, writer: ImageWriter): void {
  source.regions.forEach((_, r) => {
    expect(writer.written[r]!.every((w) => w === 1)).toBe(true);
    expect(Buffer.compare(writer.images[r]!, source.initial[r]!)).toBe(0);
  });
}

describe('quiet steps', () => {
  it('scans quietBatchPages per step until a fault, batchPages after one, and long steps again 5 ms later', async () => {
    // 20 000 pages at 1 µs per page read: 20 ms of scanning. One write at 3 ms to a page the scan has
    // not reached faults; nothing else does.
    const source = new FakeSource([20_000], [{ at: 3_000_000, region: 0, page: 19_000, value: 7 }]);
    await source.start();
    const steps: Array<{ at: number; pages: number }> = [];
    let faultAt = -1;
    const limiter: LimiterPolicy = {
      name: 'recording',
      start() {},
      onFault(e) {
        faultAt = e.now;
      },
      onScan(now, pages) {
        steps.push({ at: now, pages });
      },
      onSinkWrite() {},
      decide: () => ({ scanPages: 1 << 20, waitNs: 0 }),
    };
    const writer = new ImageWriter(source.regions, 0, async () => {});
    await runSaveLoop({ source, limiter, writer, batchPages: 8, quietBatchPages: 512, startedAt: 0 });
    expect(faultAt).toBeGreaterThan(0);
    const before = steps.filter((s) => s.at <= faultAt);
    const soonAfter = steps.filter((s) => s.at > faultAt && s.at < faultAt + 5e6);
    const later = steps.filter((s) => s.at >= faultAt + 5e6 + 600_000);
    expect(before.length).toBeGreaterThan(2);
    expect(before.slice(0, -1).every((s) => s.pages === 512)).toBe(true);
    expect(soonAfter.length).toBeGreaterThan(100);
    expect(soonAfter.every((s) => s.pages <= 8)).toBe(true);
    expect(later.length).toBeGreaterThan(2);
    expect(later.slice(0, -1).every((s) => s.pages === 512)).toBe(true);
    expect(Buffer.compare(writer.images[0]!, source.initial[0]!)).toBe(0);
  });

  it('keeps quietBatchPages steps while faults come when the source copies on fault', async () => {
    // No writer waits for a step of a copy-on-fault source, so faults do not shorten the steps.
    const source = new FakeSource([20_000], writesEvery(50_000, 200, [20_000]), true);
    await source.start();
    const steps: number[] = [];
    let faults = 0;
    const limiter: LimiterPolicy = {
      name: 'recording',
      start() {},
      onFault() {
        faults++;
      },
      onScan(_now, pages) {
        steps.push(pages);
      },
      onSinkWrite() {},
      decide: () => ({ scanPages: 1 << 20, waitNs: 0 }),
    };
    const writer = new ImageWriter(source.regions, 0, async () => {});
    // Staging off: staged faulted pages are written by the scan but are not scanned pages.
    const options = { source, limiter, writer, batchPages: 8, quietBatchPages: 512, stagedFaultBytes: 0 };
    await runSaveLoop({ ...options, startedAt: 0 });
    expect(faults).toBeGreaterThan(20);
    // Every step but the last is a full quiet step: faulted pages are skipped, not counted.
    expect(steps.length).toBeGreaterThan(2);
    expect(steps.slice(0, -1).every((pages) => pages === 512)).toBe(true);
    expect(Buffer.compare(writer.images[0]!, source.initial[0]!)).toBe(0);
  });

  it('refuses a quietBatchPages that is not a positive integer', async () => {
    const source = new FakeSource([16], []);
    await source.start();
    const writer = new ImageWriter(source.regions, 0, async () => {});
    for (const quietBatchPages of [0, -1, 1.5, Number.NaN]) {
      await expect(
        runSaveLoop({ source, limiter: unlimitedPolicy(), writer, quietBatchPages, startedAt: 0 }),
      ).rejects.toThrow(/quietBatchPages/);
    }
  });
});

describe('runSaveLoop', () => {
  it('saves every page exactly once, as it was at start, while a writer keeps writing (plain)', async () => {
    const source = new FakeSource([300, 77], writesEvery(5_000, 400, [300, 77]));
    const { writer, result } = await snapshotWith(source, unlimitedPolicy());
    expectImageEqualsInitial(source, writer);
    expect(result.pagesFaulted + result.pagesScanned).toBe(377);
    expect(result.pagesFaulted).toBeGreaterThan(0);
    // the writes went through to live memory after their pages were released
    expect(Buffer.compare(source.memory[0]!, source.initial[0]!)).not.toBe(0);
  });

  it('saves every page exactly once from fault contents and claims (copy-on-fault)', async () => {
    const source = new FakeSource([256], writesEvery(2_000, 300, [256]), true);
    source.eventDelayNs = 30_000;
    const { writer, result } = await snapshotWith(source, unlimitedPolicy());
    expectImageEqualsInitial(source, writer);
    expect(result.pagesFaulted).toBeGreaterThan(0);
    expect(result.claimsLost).toBeGreaterThan(0);
    expect(result.latency.true.totalCount).toBe(result.pagesFaulted);
  });

  it('releases a faulted page before any further scan page', async () => {
    const source = new FakeSource([200], writesEvery(7_000, 60, [200]));
    // Deferred releases are covered by the pending-release test below.
    await snapshotWith(source, unlimitedPolicy(), 8, 0);
    const faults = source.events.filter((e) => e.kind === 'fault').length;
    expect(faults).toBeGreaterThan(5);
    for (let i = 0; i < source.events.length; i++) {
      const e = source.events[i]!;
      if (e.kind !== 'fault') continue;
      const nextRelease = source.events.slice(i + 1).find((x) => x.kind === 'release');
      expect(nextRelease?.key).toBe(e.key);
    }
  });

  it('releases scanned pages in contiguous ranges of at most batchPages (releaseAlignBytes 0)', async () => {
    const source = new FakeSource([1000], []);
    await snapshotWith(source, unlimitedPolicy(), 64, 0);
    expect(source.releases.length).toBe(Math.ceil(1000 / 64));
    let next = 0;
    for (const [, first, count] of source.releases) {
      expect(first).toBe(next);
      expect(count).toBeLessThanOrEqual(64);
      next = first + count;
    }
  });

  it('releases scanned pages in whole aligned blocks, one call per block, the last one short', async () => {
    const source = new FakeSource([1000, 300], []); // 64-byte pages: 8 KiB blocks are 128 pages
    const { result } = await snapshotWith(source, unlimitedPolicy(), 48, 128 * 64);
    const expected: [number, number, number][] = [];
    for (const [r, n] of [
      [0, 1000],
      [1, 300],
    ] as const) {
      for (let p = 0; p < n; p += 128) expected.push([r, p, Math.min(128, n - p)]);
    }
    expect(source.releases).toEqual(expected);
    expect(result.scanReleases).toBe(expected.length);
  });

  it('a write to a saved page whose release is pending releases it before the scan goes on', async () => {
    // Writes land on pages the scan has just saved: behind the cursor, inside the open 128-page block.
    const writes: FakeWrite[] = [];
    for (let i = 0; i < 40; i++) {
      const at = 20_000 + i * 7_000; // the unthrottled scan saves about 1 page per µs here
      writes.push({ at, region: 0, page: at / 1000 - 4, value: i + 1 });
    }
    const source = new FakeSource([1000], writes); // each read() costs 1 µs of its clock
    const { writer, result } = await snapshotWith(source, unlimitedPolicy(), 4, 128 * 64);
    expectImageEqualsInitial(source, writer);
    expect(result.faultsOnPendingRelease).toBeGreaterThan(0);
    expect(source.writerWaits.length).toBe(result.faultsOnPendingRelease);
    // Each such page is released alone; the blocks are still released whole afterwards.
    const single = source.releases.filter(([, , count]) => count === 1);
    expect(single.length).toBe(result.faultsOnPendingRelease);
    expect(source.releases.filter(([, , count]) => count === 128).length).toBe(7);
    // A writer on a pending page waits for the loop's next fault check (after at most one run's read),
    // as on any page; not for the scan to complete its block (~100 µs here).
    expect(Math.max(...source.writerWaits)).toBeLessThanOrEqual(2_000);
  });

  it('backpressure still drains when faults shift the scan off block boundaries', async () => {
    // Faults save pages ahead of the cursor, so scan steps no longer end where release blocks end.
    const source = new FakeSource([4096], writesEvery(20_000, 100, [4096], 7));
    const { writer, result } = await snapshotWith(source, unlimitedPolicy(), 16, 128 * 64, 100);
    expectImageEqualsInitial(source, writer);
    expect(result.pagesFaulted).toBeGreaterThan(0);
    expect(writer.drains).toBeGreaterThanOrEqual(Math.floor(4096 / (100 + 128 + 16)));
    // The buffer overshoots its mark by at most the open block and one scan step.
    expect(writer.maxSinceDrain).toBeLessThanOrEqual(100 + 128 + 16);
  });

  it('rejects a negative or fractional releaseAlignBytes', async () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      const source = new FakeSource([8], []);
      await source.start();
      await expect(
        runSaveLoop({
          source,
          limiter: unlimitedPolicy(),
          writer: new ImageWriter(source.regions),
          releaseAlignBytes: bad,
        }),
      ).rejects.toThrow(/releaseAlignBytes must be an integer >= 0/);
    }
  });

  it('respects the limiter: no scan page before the policy allows it', async () => {
    const allowAt = 2_000_000;
    const policy: LimiterPolicy = {
      name: 'hold-until',
      start() {},
      onFault() {},
      onScan() {},
      onSinkWrite() {},
      decide: (now) =>
        now < allowAt ? { scanPages: 0, waitNs: allowAt - now } : { scanPages: 16, waitNs: 0 },
    };
    const source = new FakeSource([100], writesEvery(100_000, 10, [100]));
    const { writer, result } = await snapshotWith(source, policy);
    expectImageEqualsInitial(source, writer);
    const early = source.events.filter((e) => e.kind === 'release' && e.at < allowAt);
    // Before allowAt only faulted pages may be released.
    expect(early.length).toBeGreaterThan(0);
    const faultKeys = new Set(source.events.filter((e) => e.kind === 'fault').map((e) => e.key));
    for (const e of early) expect(faultKeys.has(e.key)).toBe(true);
    expect(result.throttledNs).toBeGreaterThanOrEqual(allowAt - 1_000_000);
  });

  it('reports observations to the policy: one onFault per faulted page with the three measures', async () => {
    const seen: Array<{ sinceFetchNs: number; upperBoundNs: number; trueNs: number | undefined }> = [];
    const policy = { ...unlimitedPolicy(), onFault: (o: (typeof seen)[number]) => seen.push(o) };
    const source = new FakeSource([128], writesEvery(3_000, 50, [128]));
    const { result } = await snapshotWith(source, policy);
    expect(seen.length).toBe(result.pagesFaulted + result.faultsOnPendingRelease);
    for (const o of seen) {
      expect(o.trueNs).toBeDefined();
      expect(o.upperBoundNs).toBeGreaterThanOrEqual(o.sinceFetchNs);
      expect(o.upperBoundNs).toBeGreaterThanOrEqual(o.trueNs!);
    }
    // the true measure matches what the fake's writer actually waited
    expect([...source.writerWaits].sort()).toEqual(seen.map((o) => o.trueNs).sort());
  });

  it('reports encoded bytes to onScan when the writer keeps stats, raw bytes otherwise', async () => {
    for (const withStats of [false, true]) {
      const source = new FakeSource([256], []);
      await source.start();
      const writer = new ImageWriter(source.regions) as ImageWriter & { stats?: { bytesEncoded: number } };
      if (withStats) {
        const stats = { bytesEncoded: 0 };
        writer.stats = stats;
        const inner = writer.writePages.bind(writer);
        writer.writePages = (r, p, d) => {
          inner(r, p, d);
          stats.bytesEncoded += 10; // e.g. a zero-page record
        };
      }
      const scans: number[] = [];
      const limiter = {
        ...unlimitedPolicy(),
        onScan: (_now: number, _pages: number, bytes: number) => scans.push(bytes),
      };
      await runSaveLoop({ source, limiter, writer, batchPages: 64 });
      expect(scans).toEqual([0, 1, 2, 3].map(() => (withStats ? 10 : 64 * 64)));
    }
  });

  it('reports the writer backlog to onBacklog before every decision, when the policy asks for it', async () => {
    const source = new FakeSource([256], []);
    await source.start();
    const writer = new ImageWriter(source.regions) as ImageWriter & {
      stats?: { bytesEncoded: number; bufferedBytes: number };
    };
    const stats = { bytesEncoded: 0, bufferedBytes: 0 };
    writer.stats = stats;
    const inner = writer.writePages.bind(writer);
    writer.writePages = (r, p, d) => {
      inner(r, p, d);
      stats.bufferedBytes += d.length / 2; // a sink that has taken half of everything so far
    };
    const seen: Array<[number, number]> = [];
    const base = unlimitedPolicy();
    const limiter: LimiterPolicy = {
      ...base,
      onBacklog: (_now, bytes) => seen.push([bytes, -1]),
      decide: (now, pending) => {
        const last = seen[seen.length - 1];
        if (last) last[1] = stats.bufferedBytes; // what the writer held when the decision was asked
        return base.decide(now, pending);
      },
    };
    await runSaveLoop({ source, limiter, writer, batchPages: 64 });
    expect(seen.length).toBe(4);
    for (const [reported, atDecision] of seen) expect(reported).toBe(atDecision);
    expect(seen.map(([b]) => b)).toEqual([0, 1, 2, 3].map((k) => (k * 64 * 64) / 2));
  });

  it('skips duplicate and late fault events', async () => {
    for (const cof of [false, true]) {
      const source = new FakeSource([64], writesEvery(4_000, 40, [64]), cof);
      source.duplicateEvents = true;
      const { writer, result } = await snapshotWith(source, unlimitedPolicy());
      expectImageEqualsInitial(source, writer);
      expect(result.duplicateFaults).toBeGreaterThan(0);
    }
  });

  it('awaits drain on backpressure and counts the stall', async () => {
    const source = new FakeSource([256], []);
    await source.start();
    const writer = new ImageWriter(source.regions, 32, async () =>
      source.advance(source.clock.now() + 1_000_000),
    );
    const result = await runSaveLoop({
      source,
      limiter: unlimitedPolicy(),
      writer,
      batchPages: 16,
      releaseAlignBytes: 0,
    });
    expect(writer.drains).toBe(8);
    expect(result.drainStalledNs).toBe(8_000_000);
  });

  it('finishes the open release block before draining, so backpressure never splits a block', async () => {
    const source = new FakeSource([256], []);
    const { writer, result } = await snapshotWith(source, unlimitedPolicy(), 16, 64 * 64, 32);
    expect(source.releases).toEqual([0, 64, 128, 192].map((p) => [0, p, 64]));
    expect(result.scanReleases).toBe(4);
    expect(writer.drains).toBe(4);
  });

  it('serveFaultsWhileDraining: faults are served during a slow drain instead of waiting for it', async () => {
    const maxWait: number[] = [];
    for (const serve of [false, true]) {
      const source = new FakeSource([512], writesEvery(20_000, 200, [512]), false, 100);
      await source.start();
      // Each drain completes 5 ms of clock time later; the clock only moves through the source.
      let drainUntil = 0;
      const writer = new ImageWriter(source.regions, 32, async () => {
        if (drainUntil < source.clock.now()) drainUntil = source.clock.now() + 5_000_000;
        // Time passes during the drain (100 µs per turn of the event loop) whether or not faults are served.
        while (source.clock.now() < drainUntil) {
          source.advance(Math.min(drainUntil, source.clock.now() + 100_000));
          await new Promise((r) => setImmediate(r));
        }
      });
      const result = await runSaveLoop({
        source,
        limiter: unlimitedPolicy(),
        writer,
        serveFaultsWhileDraining: serve,
        releaseAlignBytes: 0,
      });
      expectImageEqualsInitial(source, writer);
      expect(result.drainStalledNs).toBeGreaterThan(0);
      maxWait.push(Math.max(...source.writerWaits));
    }
    // Without it a fault waits out a whole 5 ms drain; with it, one 1 ms wait slice at most.
    expect(maxWait[0]).toBeGreaterThanOrEqual(4_000_000);
    expect(maxWait[1]).toBeLessThan(1_500_000);
  });

  it('throws SnapshotAbortedError when aborted, also while stuck in drain', async () => {
    const source = new FakeSource([4096], []);
    await source.start();
    const controller = new AbortController();
    const writer = new ImageWriter(source.regions, 64, () => new Promise(() => {}));
    setTimeout(() => controller.abort(new Error('user pressed ^C')), 20);
    await expect(
      runSaveLoop({ source, limiter: unlimitedPolicy(), writer, signal: controller.signal }),
    ).rejects.toThrow(SnapshotAbortedError);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      runSaveLoop({
        source,
        limiter: unlimitedPolicy(),
        writer: new ImageWriter(source.regions),
        signal: aborted.signal,
      }),
    ).rejects.toThrow(/aborted/);
  });

  it('fails clearly when a copy-on-fault backend never delivers a page it took from the scan', async () => {
    const source = new FakeSource([64], [], true);
    await source.start();
    // Page 5 "belongs to the fault path" but no event will ever come: a broken backend.
    (source as unknown as { fetchedByFaultPath: Uint8Array[] }).fetchedByFaultPath[0]![5] = 1;
    await expect(
      runSaveLoop({
        source,
        limiter: unlimitedPolicy(),
        writer: new ImageWriter(source.regions),
        missingPagesTimeoutNs: 50e6,
      }),
    ).rejects.toThrow(/never delivered 1 page/);
  });

  it('rejects an illegal limiter decision instead of spinning', async () => {
    const source = new FakeSource([8], []);
    await source.start();
    await expect(
      runSaveLoop({
        source,
        limiter: scriptedPolicy([{ scanPages: 0, waitNs: 0 }]),
        writer: new ImageWriter(source.regions),
      }),
    ).rejects.toThrow(/illegal decision/);
    await expect(
      runSaveLoop({
        source,
        limiter: scriptedPolicy([{ scanPages: Number.NaN, waitNs: 1 }]),
        writer: new ImageWriter(source.regions),
      }),
    ).rejects.toThrow(TypeError);
  });

  it('emits progress ending at 100 %', async () => {
    const source = new FakeSource([500], []);
    await source.start();
    const events: number[] = [];
    await runSaveLoop({
      source,
      limiter: unlimitedPolicy(),
      writer: new ImageWriter(source.regions),
      progressIntervalNs: 50_000,
      onProgress: (p) => events.push(p.savedPages),
    });
    expect(events.length).toBeGreaterThan(2);
    expect(events.at(-1)).toBe(500);
    expect([...events].sort((a, b) => a - b)).toEqual(events);
  });

  it('property: any legal decision sequence saves every page exactly once, as it was at start', async () => {
    const decision = fc
      .record({
        scanPages: fc.integer({ min: 0, max: 40 }),
        waitNs: fc.oneof(fc.constant(0), fc.integer({ min: 1_000, max: 20_000 })),
      })
      .filter((d) => d.scanPages > 0 || d.waitNs > 0);
    await fc.assert(
      fc.asyncProperty(
        // A policy that never grants scan pages starves the snapshot by design; conforming ones do not.
        fc.array(decision, { minLength: 1, maxLength: 12 }).filter((ds) => ds.some((d) => d.scanPages > 0)),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 500, max: 20_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 32 }),
        fc.constantFrom(undefined, 0, 64, 64 * 8, 64 * 24),
        fc.constantFrom(0, 5, 17),
        async (decisions, pages, interval, seed, cof, batch, releaseAlign, drainEvery) => {
          const source = new FakeSource(pages, writesEvery(interval, 80, pages, seed), cof);
          source.eventDelayNs = cof ? seed * 10 : 0;
          const policy = scriptedPolicy(decisions);
          const { writer } = await snapshotWith(source, policy, batch, releaseAlign, drainEvery);
          expectImageEqualsInitial(source, writer);
        },
      ),
      { numRuns: 100, timeout: 2_000 },
    );
  }, 30_000);
});
