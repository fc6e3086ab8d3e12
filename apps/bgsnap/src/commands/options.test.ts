import { parseRate as parseLimiterRate, parseLimiterSpec } from '@bgsnap/rate-limiter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { parseRunOptions } from './run.js';
import { parsePerSecond, parseSize } from './shared.js';
import { parseSimOptions, parseSinkProfileOption } from './sim.js';

const runDefaults = {
  size: '1GiB',
  writers: '2',
  rate: '20k',
  pattern: 'uniform',
  seed: '1',
  limiter: 'threshold',
  mode: 'plain',
  compression: 'none',
  batchPages: '64',
  quietBatchPages: '512',
};
const simDefaults = { ...runDefaults, cpus: '2', sinkProfile: 'none' };

describe('CLI option parsing', () => {
  it('parses sizes with units and enforces range and page multiples', () => {
    expect(parseSize('--size', '64MiB', 4096, 2 ** 32, 4096)).toBe(64 * 2 ** 20);
    expect(parseSize('--size', '8192', 4096, 2 ** 32, 4096)).toBe(8192);
    for (const bad of ['12Q', '3000', '-4KiB', '8GiB', '', 'NaN']) {
      expect(() => parseSize('--size', bad, 4096, 4 * 2 ** 30, 4096), bad).toThrow(BadInputError);
    }
  });

  it('parses rates per second', () => {
    expect(parsePerSecond('--rate', '20k', 1e9)).toBe(20_000);
    expect(parsePerSecond('--rate', '1.5M/s', 1e9)).toBe(1_500_000);
    for (const bad of ['-5', 'fast', '2G', '1.5k/h'])
      expect(() => parsePerSecond('--rate', bad, 1e9)).toThrow(/--rate/);
  });

  it('rejects bad run options naming the option', () => {
    expect(parseRunOptions(runDefaults).size).toBe(2 ** 30);
    const cases: Array<[Partial<typeof runDefaults>, RegExp]> = [
      [{ writers: '-1' }, /--writers/],
      [{ writers: '2.5' }, /--writers/],
      [{ pattern: 'zigzag' }, /--pattern: must be one of uniform, hot, sequential/],
      [{ mode: 'turbo' }, /--mode/],
      [{ compression: 'zstd:99' }, /--compression/],
      [{ batchPages: '0' }, /--batch-pages/],
      [{ quietBatchPages: '0' }, /--quiet-batch-pages/],
      [{ quietBatchPages: 'lots' }, /--quiet-batch-pages/],
      [{ backend: 'qemu' } as Partial<typeof runDefaults>, /--backend/],
    ];
    for (const [patch, message] of cases) {
      expect(() => parseRunOptions({ ...runDefaults, ...patch })).toThrow(message);
    }
  });

  it('parses sink profiles: shorthands and the simulator syntax', () => {
    expect(parseSinkProfileOption('none')).toBe('none');
    expect(parseSinkProfileOption('periodic:50ms/250ms')).toMatchObject({
      stall: { kind: 'periodic', stallNs: 50e6, everyNs: 250e6 },
    });
    expect(parseSinkProfileOption('slow:100MB/s')).toMatchObject({ bandwidth: 100e6 });
    expect(parseSinkProfileOption('slow:100MB+periodic:5ms/1s')).toMatchObject({
      bandwidth: 100e6,
      stall: { kind: 'periodic', stallNs: 5e6, everyNs: 1e9 },
    });
    expect(() => parseSinkProfileOption('periodic:oops')).toThrow(/--sink-profile/);
    expect(() => parseSimOptions({ ...simDefaults, rate: 'fast' })).toThrow(/--rate/);
    expect(() => parseSimOptions({ ...simDefaults, cpus: '-3' })).toThrow(/--cpus/);
  });

  it('reads sizes, rates and sink bandwidths with the one @bgsnap/units grammar', () => {
    // `sim` simulates up to 16 TiB, where TiB is the natural unit.
    expect(parseSimOptions({ ...simDefaults, size: '1TiB' }).size).toBe(2 ** 40);
    expect(parseSimOptions({ ...simDefaults, size: '1T' }).size).toBe(2 ** 40);
    expect(() => parseSimOptions({ ...simDefaults, size: '17TiB' })).toThrow(
      /--size: expected a size from 4KiB to 16TiB, got '17TiB'/,
    );
    // The limiter has read `100M` as 100 MiB/s; the sink profile now reads it the same way.
    expect(parseSinkProfileOption('slow:100M/s')).toMatchObject({ bandwidth: 100 * 2 ** 20 });
    expect(parseSinkProfileOption('slow:100MiB')).toMatchObject({ bandwidth: 100 * 2 ** 20 });
    expect(parseSimOptions({ ...simDefaults, sinkProfile: 'slow:100M/s' }).sinkProfile).toMatchObject({
      bandwidth: 100 * 2 ** 20,
    });
    expect(() => parseSinkProfileOption('slow:fast')).toThrow(/--sink-profile: .*bandwidth: expected a rate/);
  });

  it('every rate spelling --limiter accepts, --sink-profile slow: accepts as the same bandwidth', () => {
    const unit = fc
      .constantFrom('', 'B', 'k', 'K', 'KiB', 'kb', 'M', 'MiB', 'MB', 'g', 'GiB', 'GB', 'T', 'x', 'Mb/s')
      .chain((u) => fc.constantFrom(u, u.toUpperCase(), u.toLowerCase()));
    const spelling = fc.tuple(
      fc.oneof(
        fc.integer({ min: 0, max: 5000 }).map(String),
        fc.double({ min: 0, max: 5000, noNaN: true }).map((n) => n.toFixed(3)),
        fc.constantFrom('.5', '1e3', '1.', '-1', '0x10', ''),
      ),
      fc.constantFrom('', ' '),
      unit,
      fc.constantFrom('', '/s', ' /s', '/S', '/h'),
    );
    fc.assert(
      fc.property(spelling, ([number, space, u, perSecond]) => {
        const text = `${number}${space}${u}${perSecond}`;
        let limiterAccepts = true;
        try {
          parseLimiterSpec(`token-bucket:rate=${text}`);
        } catch {
          limiterAccepts = false;
        }
        if (!limiterAccepts) return;
        const sink = parseSinkProfileOption(`slow:${text}`);
        expect(sink, text).not.toBe('none');
        expect((sink as { bandwidth?: number }).bandwidth, text).toBe(parseLimiterRate(text));
      }),
      { numRuns: 400 },
    );
  });
});
