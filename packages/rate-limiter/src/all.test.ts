import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { all, mostRestrictive } from './all.js';
import { LimiterConfigError } from './errors.js';
import { FakeLoop } from './test-helpers.js';
import { threshold } from './threshold.js';
import { tokenBucket } from './token-bucket.js';
import type { LimiterDecision, LimiterPolicy } from './types.js';
import { unlimited } from './unlimited.js';

function scripted(name: string, decisions: LimiterDecision[], log: string[] = []): LimiterPolicy {
  let i = 0;
  return {
    name,
    start: () => log.push(`${name}.start`),
    onFault: () => log.push(`${name}.fault`),
    onScan: () => log.push(`${name}.scan`),
    onSinkWrite: () => log.push(`${name}.sink`),
    decide: () => decisions[i++ % decisions.length]!,
  };
}

const decisionArb = fc.oneof(
  fc.record({ scanPages: fc.integer({ min: 1, max: 1e6 }), waitNs: fc.integer({ min: 0, max: 1e9 }) }),
  fc.record({ scanPages: fc.integer({ min: 0, max: 1e6 }), waitNs: fc.integer({ min: 1, max: 1e9 }) }),
);

describe('all (most restrictive wins)', () => {
  it('answers min scanPages and max waitNs, legal whenever the members are', () => {
    fc.assert(
      fc.property(fc.array(decisionArb, { minLength: 1, maxLength: 5 }), (ds) => {
        const d = all(...ds.map((x, i) => scripted(`p${i}`, [x]))).decide(0, 0);
        expect(d.scanPages).toBe(Math.min(...ds.map((x) => x.scanPages)));
        expect(d.waitNs).toBe(Math.max(...ds.map((x) => x.waitNs)));
        expect(d.scanPages > 0 || d.waitNs > 0).toBe(true);
      }),
    );
  });

  it('forwards every observation to every member, in order', () => {
    const log: string[] = [];
    const p = all(
      scripted('a', [{ scanPages: 1, waitNs: 0 }], log),
      scripted('b', [{ scanPages: 1, waitNs: 0 }], log),
    );
    const loop = new FakeLoop(p);
    loop.fault(1).scan(1).sink(1, 1);
    expect(log).toEqual(['a.start', 'b.start', 'a.fault', 'b.fault', 'a.scan', 'b.scan', 'a.sink', 'b.sink']);
    expect(p.name).toBe('all(a,b)');
  });

  it('keeps a NaN from a member visible', () => {
    const p = all(unlimited(), scripted('bad', [{ scanPages: Number.NaN, waitNs: 0 }]));
    expect(p.decide(0, 0).scanPages).toBeNaN();
  });

  it('threshold + token bucket: the bucket caps the scan, the threshold still throttles after a slow fault', () => {
    const loop = new FakeLoop(
      all(threshold(), tokenBucket({ bytesPerSecond: 4096 * 1000, burstBytes: 8 * 4096 })),
    );
    expect(loop.decide()).toEqual({ scanPages: 8, waitNs: 0 });
    loop.fault(6e6);
    expect(loop.decide()).toEqual({ scanPages: 0, waitNs: 5e6 });
    loop.advance(5e6);
    expect(loop.decide()).toEqual({ scanPages: 1, waitNs: 0 });
  });

  it('rejects an empty list or a non-policy, naming the argument', () => {
    expect(() => all()).toThrow(LimiterConfigError);
    expect(() => all({} as LimiterPolicy)).toThrow(/argument 0/);
    expect(mostRestrictive).toBe(all);
  });
});
