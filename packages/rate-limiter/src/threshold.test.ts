import { describe, expect, it } from 'vitest';
import { LimiterConfigError } from './errors.js';
import { FakeLoop, trace } from './test-helpers.js';
import { qemuThreshold, threshold } from './threshold.js';

const MS = 1e6;

/** Runs quiet steps until the policy is back to unlimited; returns the trace. */
function quietTrace(loop: FakeLoop, limit = 10_000): string[] {
  const out: string[] = [];
  for (let i = 0; i < limit; i++) {
    const d = loop.step(1);
    out.push(trace(d));
    if (trace(d) === 'U') return out;
  }
  throw new Error('never returned to unlimited');
}

describe('threshold (QEMU limit_scan_rate port)', () => {
  it('is unlimited until a fault is slower than 5 ms', () => {
    const loop = new FakeLoop(threshold());
    expect(trace(loop.decide())).toBe('U');
    loop.fault(5 * MS); // not strictly greater: QEMU compares with '>'
    expect(trace(loop.decide())).toBe('U');
  });

  it('after one slow fault: 200 waits of 5 ms with one scan page between each, then unlimited', () => {
    const loop = new FakeLoop(threshold());
    loop.fault(5 * MS + 1);
    const t0 = loop.now;
    const seq = quietTrace(loop);
    const expected = [...Array.from({ length: 199 }, () => ['W5000000', 'S1']).flat(), 'W5000000', 'U'];
    expect(seq).toEqual(expected);
    // 200 polls of 5 ms each: the scan is held for one second, as the patch intends.
    expect(loop.now - t0).toBe(200 * 5 * MS);
  });

  it('a second slow fault resets the counter to 200', () => {
    const loop = new FakeLoop(threshold());
    loop.fault(6 * MS);
    for (let i = 0; i < 100; i++) loop.step(1); // 50 polls and 50 single pages
    loop.fault(6 * MS);
    const seq = quietTrace(loop);
    expect(seq.filter((s) => s === 'W5000000')).toHaveLength(200);
    expect(seq.filter((s) => s === 'S1')).toHaveLength(199);
  });

  it('every fault during throttling is a step: it ends the poll and uses up one count', () => {
    const loop = new FakeLoop(threshold({ pages: 3 }));
    loop.fault(6 * MS); // counter 3 -> 2, poll owed
    expect(trace(loop.decide())).toBe('W5000000');
    loop.advance(1 * MS).fault(10_000); // poll ended by a fast fault: counter 2 -> 1, new poll owed
    expect(trace(loop.decide())).toBe('W5000000');
    loop.advance(5 * MS); // timed out: one scan page, counter 1 -> 0 and its poll
    expect(trace(loop.step(1))).toBe('S1');
    expect(trace(loop.step(1))).toBe('W5000000');
    expect(trace(loop.step(1))).toBe('U');
  });

  it('with faults pending while throttled it waits (returns at once) rather than scanning first', () => {
    const loop = new FakeLoop(threshold());
    loop.fault(6 * MS);
    loop.step(1); // the poll
    expect(trace(loop.decide(2))).toBe('W5000000');
  });

  it('uses the patch measure by default, so a fault that queued behind a stall does not trigger it', () => {
    const patch = new FakeLoop(threshold());
    patch.fault(50_000, 60 * MS, 55 * MS);
    expect(trace(patch.decide())).toBe('U');
    const truthful = new FakeLoop(threshold({ measure: 'true' }));
    truthful.fault(50_000, 60 * MS, 55 * MS);
    expect(trace(truthful.decide())).toBe('W5000000');
    const bound = new FakeLoop(threshold({ measure: 'upperBound' }));
    bound.fault(50_000, 60 * MS, undefined);
    expect(trace(bound.decide())).toBe('W5000000');
    const trueFallsBack = new FakeLoop(threshold({ measure: 'true' }));
    trueFallsBack.fault(50_000, 60 * MS, undefined);
    expect(trace(trueFallsBack.decide())).toBe('W5000000');
  });

  it('honours configured constants', () => {
    const loop = new FakeLoop(threshold({ latencyNs: 1 * MS, pages: 2, pollNs: 250_000 }));
    loop.fault(1 * MS + 1);
    expect(quietTrace(loop)).toEqual(['W250000', 'S1', 'W250000', 'U']);
  });

  it('start() resets the counter (ram_state_reset)', () => {
    const p = threshold();
    const loop = new FakeLoop(p);
    loop.fault(6 * MS);
    p.start(loop.context);
    expect(trace(loop.decide())).toBe('U');
  });

  it('several scan pages at once use up several counts', () => {
    const loop = new FakeLoop(threshold({ pages: 10 }));
    loop.fault(6 * MS); // 10 -> 9
    loop.step(); // poll
    loop.scan(5); // 9 -> 4, last step owes a poll
    expect(trace(loop.decide())).toBe('W5000000');
    loop.advance(5 * MS).scan(4); // 4 -> 0, the last of them still polls
    expect(trace(loop.decide())).toBe('W5000000');
    expect(trace(loop.decide())).toBe('U');
  });

  it('is also exported as qemuThreshold, and names its settings', () => {
    expect(qemuThreshold).toBe(threshold);
    expect(threshold().name).toBe('threshold(>5ms,200p,poll=5ms)');
    expect(threshold({ measure: 'true' }).name).toContain('true');
  });

  it.each([
    [{ latencyNs: -1 }, 'latencyNs'],
    [{ latencyNs: Number.NaN }, 'latencyNs'],
    [{ pages: 1.5 }, 'pages'],
    [{ pages: -3 }, 'pages'],
    [{ pollNs: 0 }, 'pollNs'],
    [{ pollNs: Number.POSITIVE_INFINITY }, 'pollNs'],
    [{ pollNs: 2e9 }, 'pollNs'],
    [{ measure: 'exact' }, 'measure'],
    [{ latency: 5 }, 'latency'],
  ])('rejects %j naming %s', (options, option) => {
    const err = (() => {
      try {
        threshold(options as never);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LimiterConfigError);
    expect((err as LimiterConfigError).option).toBe(option);
    expect((err as Error).message).toContain(option);
  });
});
