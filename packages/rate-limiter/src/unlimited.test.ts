import { describe, expect, it } from 'vitest';
import { SCAN_UNLIMITED } from './constants.js';
import { LimiterConfigError } from './errors.js';
import { FakeLoop } from './test-helpers.js';
import { unlimited } from './unlimited.js';

describe('unlimited', () => {
  it('never waits and never caps, whatever it observes', () => {
    const loop = new FakeLoop(unlimited());
    for (let i = 0; i < 100; i++) {
      loop
        .fault(1e9)
        .sink(2 ** 20, 5e8)
        .scan(64)
        .advance(1000);
      expect(loop.decide(i % 3)).toEqual({ scanPages: SCAN_UNLIMITED, waitNs: 0 });
    }
  });

  it('returns a fresh decision object each time (the loop may keep or mutate it)', () => {
    const p = unlimited();
    p.start(new FakeLoop(p).context);
    expect(p.decide(0, 0)).not.toBe(p.decide(0, 0));
  });

  it('rejects any option, naming it', () => {
    expect(() => unlimited({ rate: 1 } as never)).toThrow(LimiterConfigError);
    expect(() => unlimited({ rate: 1 } as never)).toThrow(/'rate'/);
  });
});
