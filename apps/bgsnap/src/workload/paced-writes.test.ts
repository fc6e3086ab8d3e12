import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runPacedWrites, WRITER_CONTROL, xorshift32 } from './paced-writes.js';

const control = (): Int32Array => new Int32Array(new SharedArrayBuffer(4 * (WRITER_CONTROL.counts + 1)));

describe('xorshift32', () => {
  it('is a deterministic, non-degenerate uint32 sequence for any seed (0 behaves as 1)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const a = xorshift32(seed);
        const b = xorshift32(seed);
        const values = Array.from({ length: 64 }, () => a());
        expect(Array.from({ length: 64 }, () => b())).toEqual(values);
        for (const v of values) expect(Number.isInteger(v) && v >= 1 && v < 2 ** 32).toBe(true);
        expect(new Set(values).size).toBe(64);
      }),
    );
    const zero = xorshift32(0);
    const one = xorshift32(1);
    for (let i = 0; i < 8; i++) expect(zero()).toBe(one());
  });
});

describe('runPacedWrites', () => {
  it('writes back to back at rate 0 and returns once the pool says stop', () => {
    const ctrl = control();
    let writes = 0;
    runPacedWrites(ctrl, 0, () => {
      if (++writes === 1000) Atomics.store(ctrl, WRITER_CONTROL.command, 2);
    });
    expect(writes).toBe(1000);
  });

  it('never runs ahead of the schedule: 21 writes at 200/s take at least ~100 ms', () => {
    const ctrl = control();
    let writes = 0;
    const t0 = performance.now();
    runPacedWrites(ctrl, 200, () => {
      if (++writes === 21) Atomics.store(ctrl, WRITER_CONTROL.command, 2);
    });
    // 20 intervals of 5 ms; writes due within 1 ms of now may go early, so allow 20 ms of slack.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(80);
    expect(writes).toBe(21);
  });

  it('does not write while stopped from the start', () => {
    const ctrl = control();
    Atomics.store(ctrl, WRITER_CONTROL.command, 2);
    let writes = 0;
    runPacedWrites(ctrl, 0, () => {
      writes++;
    });
    expect(writes).toBe(0);
  });
});
