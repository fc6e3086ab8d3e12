import { describe, expect, it } from 'vitest';
import { LimiterConfigError } from './errors.js';
import { type LatencyModelOptions, runLatencyModel } from './latency-model.js';
import { latencyTarget } from './latency-target.js';
import { FakeLoop } from './test-helpers.js';
import { unlimited } from './unlimited.js';

const MiB = 2 ** 20;
const MS = 1e6;
/** The app benchmark's key case: the sink stalls 50 ms every 250 ms. */
const STALLS: LatencyModelOptions = { stall: { everyNs: 250 * MS, forNs: 50 * MS }, durationNs: 2e9 };
/** Same, with a writer whose high-water mark (2 MiB) is below the policy's default window: it must learn it. */
const SMALL_HWM: LatencyModelOptions = { ...STALLS, highWaterMark: 2 * MiB, batchBytes: 256 * 1024 };

describe('latencyTarget', () => {
  it('keeps p99 under 1 ms when the sink stalls 50 ms every 250 ms, at the throughput of unlimited', () => {
    const base = runLatencyModel(unlimited(), STALLS);
    const r = runLatencyModel(latencyTarget(), STALLS);
    expect(base.p99Ns).toBeGreaterThan(10 * MS); // the scenario does hurt without a limiter
    expect(r.p99Ns).toBeLessThan(1 * MS);
    expect(r.drainBlockedNs).toBe(0);
    expect(r.scanBytesPerSecond).toBeGreaterThan(0.95 * base.scanBytesPerSecond);
  });

  it('converges when the writer high-water mark is below its window, and with only the upper bound', () => {
    for (const knowsFaultTime of [true, false]) {
      const r = runLatencyModel(latencyTarget(), { ...SMALL_HWM, knowsFaultTime });
      expect(r.p99Ns).toBeLessThan(1 * MS);
      expect(r.sinkBusyFraction).toBeGreaterThan(0.95);
    }
    // ...which the textbook wbt/CoDel rule does not: a window's minimum latency never sees a stall.
    expect(runLatencyModel(latencyTarget({ control: 'codel' }), SMALL_HWM).p99Ns).toBeGreaterThan(10 * MS);
  });

  it('uses the writer backlog when the loop reports it, and copes without it when the stream is smaller', () => {
    // Zero pages / compression: the stream is half the bytes onScan reports.
    const shrunk: LatencyModelOptions = { ...STALLS, streamRatio: 0.5 };
    const reported = runLatencyModel(latencyTarget(), shrunk);
    const estimated = runLatencyModel(latencyTarget(), { ...shrunk, reportBacklog: false });
    const base = runLatencyModel(unlimited(), shrunk);
    expect(reported.p99Ns).toBeLessThan(1 * MS);
    expect(reported.scanBytesPerSecond).toBeGreaterThan(0.95 * base.scanBytesPerSecond);
    // Without the backlog the estimate drifts high and is re-anchored when the sink idles: safe, a bit slower.
    expect(estimated.p99Ns).toBeLessThan(1 * MS);
    expect(estimated.scanBytesPerSecond).toBeGreaterThan(0.85 * base.scanBytesPerSecond);
    // A stream larger than reported (record headers) must not let the real queue creep up to the mark.
    const grown = runLatencyModel(latencyTarget(), { ...STALLS, streamRatio: 1.01, reportBacklog: false });
    expect(grown.p99Ns).toBeLessThan(1 * MS);
  });

  it('meets tighter targets by cutting each scan step to what fits in a quarter of the target', () => {
    const slowScan: LatencyModelOptions = { scanNsPerPage: 20_000, batchPages: 64, durationNs: 1e9 };
    // 64 pages × 20 us = 1.28 ms of scan work per step, longer than the target itself.
    expect(runLatencyModel(unlimited(), slowScan).p99Ns).toBeGreaterThan(1 * MS);
    const r = runLatencyModel(latencyTarget({ p99TargetNs: 500_000 }), slowScan);
    expect(r.p99Ns).toBeLessThan(500_000);
  });

  it('recovers full throughput fast once the stalls stop (SILK: give background work the spare bandwidth)', () => {
    const r = runLatencyModel(latencyTarget(), {
      ...SMALL_HWM,
      stall: { everyNs: 250 * MS, forNs: 50 * MS, untilNs: 1e9 },
    });
    const bins = r.throughput; // 10 ms bins
    const sinkPerBin = (256 * MiB * 10 * MS) / 1e9;
    // From 1.1 s on (last stall ended at 1.05 s) every bin runs at >= 90% of the sink's bandwidth.
    for (let i = 110; i < 200; i++) expect(bins[i]!).toBeGreaterThan(0.9 * sinkPerBin);
  });

  it('holds the scan when its window is full and no sink write completes, but never beyond maxHoldNs', () => {
    const loop = new FakeLoop(latencyTarget({ maxQueueBytes: 64 * 4096, maxHoldNs: 10 * MS }));
    expect(loop.decide().scanPages).toBe(64);
    loop.scan(64);
    const held = loop.decide();
    expect(held.scanPages).toBe(0);
    expect(held.waitNs).toBe(250_000);
    loop.advance(10 * MS);
    expect(loop.decide()).toEqual({ scanPages: 1, waitNs: 0 });
    loop.scan(1).sink(65 * 4096, 1 * MS);
    // The byte estimate errs high on purpose (2%); the writer's own backlog figure replaces it.
    expect(loop.decide().scanPages).toBeGreaterThanOrEqual(60);
    loop.policy.onBacklog!(loop.now, 0);
    expect(loop.decide().scanPages).toBe(64);
  });

  it('keeps its backlog estimate through a stall that starts mid-interval, but re-anchors when the sink idles', () => {
    const PAGE = 4096;
    const make = () =>
      new FakeLoop(
        latencyTarget({ maxQueueBytes: 64 * PAGE, minQueueBytes: 16 * PAGE, intervalNs: 50 * MS }),
      );
    // Window full (64 pages), then 20 ms of back-to-back 8-page writes, each refilled by the scan.
    const stalled = make();
    stalled.scan(64);
    for (let i = 0; i < 20; i++)
      stalled
        .advance(1 * MS)
        .sink(8 * PAGE, 1 * MS)
        .scan(8);
    // Now the sink stalls: no completion. 35 ms later the interval has closed with the sink busy for
    // only 20 of its 50 ms — but a stall is not idleness, so the scan stays held.
    stalled.advance(35 * MS);
    expect(stalled.decide().scanPages).toBe(0);

    // Same start, but the writes complete with long idle gaps between them (the writer had less than
    // we believed): the estimate is wrong and is re-anchored, so the scan resumes.
    const idle = make();
    idle.scan(64);
    for (let i = 0; i < 10; i++) idle.advance(5 * MS).sink(PAGE, 100_000);
    idle.advance(10 * MS);
    expect(idle.decide().scanPages).toBeGreaterThan(0);
  });

  it('halves its window after a late fault and grows it back when faults are on time', () => {
    const loop = new FakeLoop(latencyTarget({ maxQueueBytes: 256 * 4096, minQueueBytes: 16 * 4096 }));
    const room = () => loop.decide().scanPages;
    expect(room()).toBe(256);
    loop.scan(200).fault(3 * MS); // late, with 201 pages queued
    expect(room()).toBe(0); // window now 100 pages (half the peak), 201 queued
    for (let i = 0; i < 12; i++) loop.sink(16 * 4096, 100_000);
    loop.sink(9 * 4096, 100_000);
    loop.policy.onBacklog!(loop.now, 0);
    expect(room()).toBe(100);
    for (let i = 0; i < 40; i++)
      loop
        .advance(50 * MS)
        .fault(10_000)
        .sink(4096, 10_000);
    loop.policy.onBacklog!(loop.now, 0);
    expect(room()).toBe(256);
  });

  it.each([
    [{ p99TargetNs: 0 }, 'p99TargetNs'],
    [{ p99TargetNs: Number.NaN }, 'p99TargetNs'],
    [{ control: 'bbr' }, 'control'],
    [{ maxQueueBytes: -1 }, 'maxQueueBytes'],
    [{ maxQueueBytes: 1 * MiB, minQueueBytes: 2 * MiB }, 'minQueueBytes'],
    [{ pollNs: 0 }, 'pollNs'],
    [{ maxHoldNs: Number.POSITIVE_INFINITY }, 'maxHoldNs'],
    [{ intervalNs: -5 }, 'intervalNs'],
    [{ measure: 'guess' }, 'measure'],
    [{ target: 1e6 }, 'target'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => latencyTarget(options as never)).toThrow(LimiterConfigError);
    try {
      latencyTarget(options as never);
    } catch (e) {
      expect((e as LimiterConfigError).option).toBe(option);
    }
  });
});
