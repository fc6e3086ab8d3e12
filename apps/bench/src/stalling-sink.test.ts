import { BadInputError } from 'bgsnap';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStallProfile, toSimSinkOptions } from './stall-profile.js';
import { type StallTimer, stallingSink } from './stalling-sink.js';

/** A virtual clock: sleeping advances time by exactly the requested amount. */
function virtualTimer(start = 0): StallTimer & { t: number } {
  const timer = {
    t: start,
    now: () => timer.t,
    sleep: async (ns: number) => {
      timer.t += ns;
    },
  };
  return timer;
}

function recordingSink() {
  const writes: { at: number; bytes: number }[] = [];
  let clock: () => number = () => 0;
  return {
    writes,
    setClock(c: () => number) {
      clock = c;
    },
    sink: {
      async write(chunk: Uint8Array) {
        writes.push({ at: clock(), bytes: chunk.byteLength });
      },
      async close() {},
      async abort() {},
    },
  };
}

describe('parseStallProfile', () => {
  it('parses the three forms', () => {
    expect(parseStallProfile('none')).toEqual({ kind: 'none' });
    expect(parseStallProfile('periodic:50ms/250ms')).toEqual({
      kind: 'periodic',
      stallNs: 50e6,
      everyNs: 250e6,
    });
    expect(parseStallProfile('slow:256MiB/s')).toEqual({ kind: 'slow', bytesPerSecond: 256 * 2 ** 20 });
    expect(toSimSinkOptions(parseStallProfile('slow:1MiB/s'))).toEqual({ bandwidth: 2 ** 20 });
  });

  it.each([
    '',
    'sometimes',
    'periodic:50ms',
    'periodic:300ms/250ms',
    'periodic:x/250ms',
    'slow:fast',
    'slow:10B/s',
  ])('rejects %j with a BadInputError naming the option', (text) => {
    expect(() => parseStallProfile(text, '--profiles')).toThrow(BadInputError);
    expect(() => parseStallProfile(text, '--profiles')).toThrow(/--profiles/);
  });
});

describe('stallingSink (virtual time)', () => {
  it('periodic: a write inside the stall window waits for its end; outside it goes through at once', async () => {
    const timer = virtualTimer();
    const rec = recordingSink();
    rec.setClock(timer.now);
    const sink = stallingSink(rec.sink, { kind: 'periodic', stallNs: 50, everyNs: 250 }, timer);
    const chunk = new Uint8Array(8);
    timer.t = 100; // phase 100: before the window [200, 250)
    await sink.write(chunk);
    timer.t = 210; // inside the window
    await sink.write(chunk);
    timer.t = 499; // inside the next window [450, 500)
    await sink.write(chunk);
    expect(rec.writes.map((w) => w.at)).toEqual([100, 250, 500]);
    expect(sink.stats).toEqual({ writes: 3, bytes: 24, stalledNs: 41, longestStallNs: 40 });
  });

  it('periodic: no forwarded write ever lands inside a stall window, and no delay exceeds the stall', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 30 }),
        async (stall, extra, gaps) => {
          const every = stall + extra;
          const timer = virtualTimer();
          const rec = recordingSink();
          rec.setClock(timer.now);
          const sink = stallingSink(rec.sink, { kind: 'periodic', stallNs: stall, everyNs: every }, timer);
          for (const gap of gaps) {
            timer.t += gap;
            const before = timer.t;
            await sink.write(new Uint8Array(1));
            expect(timer.t - before).toBeLessThanOrEqual(stall);
          }
          for (const w of rec.writes) expect(w.at % every).toBeLessThan(every - stall);
        },
      ),
    );
  });

  it('slow: never delivers more than the rate allows, and keeps up when writes are sparse', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1_000, max: 1e9 }),
        fc.array(
          fc.record({ gap: fc.integer({ min: 0, max: 1e7 }), bytes: fc.integer({ min: 1, max: 1 << 20 }) }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        async (rate, writes) => {
          const timer = virtualTimer();
          const rec = recordingSink();
          rec.setClock(timer.now);
          const sink = stallingSink(rec.sink, { kind: 'slow', bytesPerSecond: rate }, timer);
          let bytes = 0;
          let idealEnd = 0;
          for (const w of writes) {
            timer.t += w.gap;
            idealEnd = Math.max(idealEnd, timer.t) + (w.bytes * 1e9) / rate;
            await sink.write(new Uint8Array(w.bytes));
            bytes += w.bytes;
            // Completed no earlier than the link allows, and no later than the ideal link would.
            expect(timer.t).toBeGreaterThanOrEqual((bytes * 1e9) / rate - 1e-3);
            expect(timer.t).toBeCloseTo(idealEnd, 3);
          }
        },
      ),
    );
  });

  it('forwards close and abort', async () => {
    const calls: string[] = [];
    const sink = stallingSink(
      {
        async write() {},
        async close() {
          calls.push('close');
        },
        async abort(reason) {
          calls.push(`abort:${String(reason)}`);
        },
      },
      { kind: 'none' },
    );
    await sink.close();
    await sink.abort('x');
    expect(calls).toEqual(['close', 'abort:x']);
  });
});

describe('stallingSink (real time)', () => {
  it('really delays writes: 40 KiB through a 1 MiB/s sink take at least ~39 ms', async () => {
    const sink = stallingSink(
      { write: async () => {}, close: async () => {}, abort: async () => {} },
      { kind: 'slow', bytesPerSecond: 2 ** 20 },
    );
    const t0 = performance.now();
    await sink.write(new Uint8Array(20 * 1024));
    await sink.write(new Uint8Array(20 * 1024));
    const waitedMs = performance.now() - t0;
    expect(waitedMs).toBeGreaterThanOrEqual(39);
    expect(sink.stats.stalledNs).toBeGreaterThanOrEqual(39e6);
    expect(sink.stats.writes).toBe(2);
  });
});
