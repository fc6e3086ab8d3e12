import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_WAIT_NS } from './constants.js';
import { LimiterConfigError } from './errors.js';
import { FakeLoop } from './test-helpers.js';
import { defaultBurstBytes, tokenBucket } from './token-bucket.js';

const MiB = 2 ** 20;

describe('tokenBucket', () => {
  it('sends a full burst at once, then waits exactly for the next page of tokens', () => {
    const loop = new FakeLoop(tokenBucket({ bytesPerSecond: 4096 * 1000, burstBytes: 16 * 4096 }));
    expect(loop.decide()).toEqual({ scanPages: 16, waitNs: 0 });
    loop.scan(16);
    // 1000 pages/s: one page of tokens takes 1 ms.
    expect(loop.decide()).toEqual({ scanPages: 1, waitNs: 1_000_000 });
    loop.advance(500_000);
    expect(loop.decide()).toEqual({ scanPages: 1, waitNs: 500_000 });
    loop.advance(500_000);
    expect(loop.decide()).toEqual({ scanPages: 1, waitNs: 0 });
  });

  it('charges fault pages unless told not to, but never delays a fault', () => {
    const charged = new FakeLoop(tokenBucket({ bytesPerSecond: 4096 * 1000, burstBytes: 4 * 4096 }));
    charged.fault(1000).fault(1000);
    expect(charged.decide().scanPages).toBe(2);
    const free = new FakeLoop(
      tokenBucket({ bytesPerSecond: 4096 * 1000, burstBytes: 4 * 4096, chargeFaults: false }),
    );
    free.fault(1000).fault(1000);
    expect(free.decide().scanPages).toBe(4);
  });

  it('never lets the scan exceed rate × time + burst (plus one borrowed page), whatever the step pattern', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1024 }).map((p) => p * 4096 * 10), // rate, bytes/s
        fc.integer({ min: 1, max: 64 }).map((p) => p * 4096), // burst
        fc.array(fc.tuple(fc.integer({ min: 1, max: 512 }), fc.double({ min: 0, max: 1, noNaN: true })), {
          minLength: 1,
          maxLength: 300,
        }),
        (rate, burst, steps) => {
          const loop = new FakeLoop(tokenBucket({ bytesPerSecond: rate, burstBytes: burst }));
          const t0 = loop.now;
          let sent = 0;
          for (const [batch, waitShare] of steps) {
            const d = loop.decide();
            loop.advance(Math.floor(d.waitNs * waitShare));
            const n = Math.min(batch, d.scanPages);
            if (n > 0) {
              loop.scan(n);
              sent += n * 4096;
            }
            const allowed = burst + ((loop.now - t0) * rate) / 1e9 + 4096;
            if (sent > allowed + 1e-6) throw new Error(`sent ${sent} > allowed ${allowed}`);
          }
        },
      ),
    );
  });

  it('reaches the configured rate when the loop follows its decisions', () => {
    const rate = 100 * MiB;
    const loop = new FakeLoop(tokenBucket({ bytesPerSecond: rate, burstBytes: MiB }));
    const t0 = loop.now;
    let sent = 0;
    while (loop.now - t0 < 1e9) {
      const d = loop.step(64);
      sent += Math.min(d.scanPages, 64) * 4096;
    }
    const achieved = sent / ((loop.now - t0) / 1e9);
    expect(achieved).toBeGreaterThan(rate * 0.98);
    expect(achieved).toBeLessThan(rate * 1.02 + MiB);
  });

  it('caps waits at MAX_WAIT_NS and debt at one burst', () => {
    const slow = new FakeLoop(tokenBucket({ bytesPerSecond: 1, burstBytes: 1 }));
    expect(slow.decide()).toEqual({ scanPages: 1, waitNs: 0 });
    slow.scan(1);
    expect(slow.decide()).toEqual({ scanPages: 0, waitNs: MAX_WAIT_NS });
    const storm = new FakeLoop(tokenBucket({ bytesPerSecond: 4096 * 1000, burstBytes: 4096 }));
    for (let i = 0; i < 10_000; i++) storm.fault(1000);
    // Debt of at most one bucket: back to one page after 2 ms, not 10 s.
    expect(storm.decide().waitNs).toBe(2_000_000);
  });

  it.each([
    [{ bytesPerSecond: -1, burstBytes: 4096 }, 'bytesPerSecond'],
    [{ bytesPerSecond: 0, burstBytes: 4096 }, 'bytesPerSecond'],
    [{ bytesPerSecond: Number.POSITIVE_INFINITY, burstBytes: 4096 }, 'bytesPerSecond'],
    [{ burstBytes: 4096 }, 'bytesPerSecond'],
    [{ bytesPerSecond: 1e6, burstBytes: 0 }, 'burstBytes'],
    [{ bytesPerSecond: 1e6, burstBytes: Number.NaN }, 'burstBytes'],
    [{ bytesPerSecond: 1e6, burstBytes: 4096, chargeFaults: 'yes' }, 'chargeFaults'],
    [{ bytesPerSecond: 1e6, burstBytes: 4096, rate: 5 }, 'rate'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => tokenBucket(options as never)).toThrow(LimiterConfigError);
    try {
      tokenBucket(options as never);
    } catch (e) {
      expect((e as LimiterConfigError).option).toBe(option);
    }
  });

  it('defaults the burst to 100 ms of the rate, at least one page', () => {
    expect(tokenBucket({ bytesPerSecond: 100 * 2 ** 20 }).name).toBe('token-bucket(100MiB/s,burst=10MiB)');
    expect(defaultBurstBytes(1000)).toBe(4096);
    // The default bucket admits exactly one burst up front, then the rate: 10 pages of 4096 at 409600 B/s.
    const loop = new FakeLoop(tokenBucket({ bytesPerSecond: 409_600 }));
    expect(loop.decide()).toEqual({ scanPages: 10, waitNs: 0 });
  });
});
