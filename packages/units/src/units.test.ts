import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  parseCountRate,
  parseDuration,
  parseRate,
  parseSize,
  UnitParseError,
  UnitRangeError,
} from './index.js';

const safeNat = fc.maxSafeNat();

describe('parseSize', () => {
  it.each([
    ['4096', 4096],
    ['4096B', 4096],
    ['64KiB', 65536],
    ['64k', 65536],
    ['64K', 65536],
    ['4MiB', 4 * 2 ** 20],
    ['100M', 100 * 2 ** 20],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['1TiB', 2 ** 40],
    ['16T', 16 * 2 ** 40],
    ['1GB', 1e9],
    ['1.1GB', 1.1e9],
    ['4mib', 4 * 2 ** 20],
    [' 2 MiB ', 2 * 2 ** 20],
    ['1e3', 1000],
    ['.5KiB', 512],
  ])('%s = %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each([
    '',
    'MiB',
    '4MiBs',
    '-4MiB',
    '4 parsecs',
    '1.5',
    '0.3KiB',
    '4 M i B',
    '1e99999',
    'NaN',
    'Infinity',
  ])('rejects %j with a typed error naming the input', (text) => {
    const error = (() => {
      try {
        parseSize(text, { what: '--size' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnitParseError);
    expect((error as UnitParseError).message).toContain('--size');
    expect((error as UnitParseError).message).toContain(JSON.stringify(text));
    expect((error as UnitParseError).input).toBe(text);
  });

  it('enforces min and max with a range error', () => {
    expect(parseSize('16TiB', { max: 16 * 2 ** 40 })).toBe(16 * 2 ** 40);
    expect(() => parseSize('17TiB', { what: '--size', max: 16 * 2 ** 40 })).toThrow(UnitRangeError);
    expect(() => parseSize('17TiB', { what: '--size', max: 16 * 2 ** 40 })).toThrow(/at most|to 16TiB/);
    expect(() => parseSize('1KiB', { min: 4096 })).toThrow(/from 4KiB/);
    expect(() => parseSize('16PiB')).toThrow(UnitRangeError); // past 2^53
  });

  it('checks numbers too', () => {
    expect(parseSize(4096)).toBe(4096);
    expect(() => parseSize(-1)).toThrow(UnitParseError);
    expect(() => parseSize(1.5)).toThrow(UnitParseError);
  });
});

describe('parseDuration', () => {
  it.each([
    ['100ns', 100],
    ['100', 100],
    ['250us', 250e3],
    ['250µs', 250e3],
    ['250μs', 250e3],
    ['5ms', 5e6],
    ['1.5s', 1.5e9],
    ['2m', 120e9],
    ['1h', 3600e9],
    [' 2 ms ', 2e6],
  ])('%s = %d ns', (text, ns) => expect(parseDuration(text)).toBe(ns));

  it('reads a bare number in the caller’s unit', () => {
    expect(parseDuration('30', { bareUnit: 's' })).toBe(30e9);
    expect(parseDuration(5, { bareUnit: 'ms' })).toBe(5e6);
  });

  it.each(['5 parsecs', 'fast', '5MS', '1.5ns', '-1ms', '5ms5'])('rejects %j', (text) => {
    expect(() => parseDuration(text, { what: 'latency' })).toThrow(UnitParseError);
    expect(() => parseDuration(text, { what: 'latency' })).toThrow(/^latency: expected a duration/);
  });
});

describe('parseRate and parseCountRate', () => {
  it.each([
    ['100MiB/s', 100 * 2 ** 20],
    ['100M/s', 100 * 2 ** 20],
    ['100M', 100 * 2 ** 20],
    ['1GB/s', 1e9],
    ['2048', 2048],
    ['0.5B/s', 0.5],
  ])('rate %s = %d bytes/s', (text, rate) => expect(parseRate(text)).toBe(rate));

  it.each([
    ['20000', 20000],
    ['20k', 20000],
    ['20K/s', 20000],
    ['1.5M', 1.5e6],
  ])('count rate %s = %d/s', (text, rate) => expect(parseCountRate(text)).toBe(rate));

  it('rejects garbage and out-of-range rates', () => {
    expect(() => parseRate('lots/s', { what: 'rate' })).toThrow(/^rate: expected a rate/);
    expect(() => parseRate('100M/ms')).toThrow(UnitParseError);
    expect(() => parseCountRate('20KiB')).toThrow(UnitParseError);
    expect(() => parseCountRate('2M', { max: 1e6 })).toThrow(UnitRangeError);
  });
});

describe('formatters', () => {
  it('write compact exact forms', () => {
    expect(formatBytes(4 * 2 ** 20)).toBe('4MiB');
    expect(formatBytes(1536)).toBe('1536B');
    expect(formatBytes(2 ** 40)).toBe('1TiB');
    expect(formatDuration(5e6)).toBe('5ms');
    expect(formatDuration(1.5e9)).toBe('1.5s');
    expect(formatDuration(250e3)).toBe('250us');
    expect(formatDuration(1001)).toBe('1.001us');
    expect(formatDuration(7)).toBe('7ns');
    expect(formatRate(100 * 2 ** 20)).toBe('100MiB/s');
    expect(formatCount(20000)).toBe('20k');
  });

  it('write rounded forms for people with precision', () => {
    expect(formatBytes(1.5 * 2 ** 30, { precision: 2 })).toBe('1.50 GiB');
    expect(formatBytes(512, { precision: 2 })).toBe('512 B');
    expect(formatDuration(1_234_567, { precision: 2 })).toBe('1.23 ms');
    expect(formatDuration(950, { precision: 2 })).toBe('950 ns');
    expect(formatRate(2 ** 20, { precision: 1 })).toBe('1.0 MiB/s');
  });
});

describe('properties', () => {
  it('parseSize ∘ formatBytes is the identity on safe integers', () => {
    fc.assert(fc.property(safeNat, (n) => parseSize(formatBytes(n)) === n));
  });

  it('parseSize reads every binary multiple written with any unit spelling', () => {
    const units = fc.constantFrom(
      ['K', 1024],
      ['k', 1024],
      ['KiB', 1024],
      ['M', 2 ** 20],
      ['GiB', 2 ** 30],
      ['T', 2 ** 40],
    );
    fc.assert(fc.property(fc.nat(8191), units, (n, [u, f]) => parseSize(`${n}${u}`) === n * (f as number)));
  });

  it('parseDuration ∘ formatDuration is the identity on safe integers', () => {
    fc.assert(fc.property(safeNat, (n) => parseDuration(formatDuration(n)) === n));
  });

  it('parseRate ∘ formatRate is the identity, fractions included', () => {
    fc.assert(fc.property(safeNat, (n) => parseRate(formatRate(n)) === n));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e15, noNaN: true }), (r) => parseRate(formatRate(r)) === r),
    );
  });

  it('parseCountRate ∘ formatCount is the identity on safe integers', () => {
    fc.assert(fc.property(safeNat, (n) => parseCountRate(formatCount(n)) === n));
  });

  it('rounded forms parse back to within the rounding', () => {
    fc.assert(
      fc.property(safeNat, (n) => {
        const back = parseRate(formatBytes(n, { precision: 3 }));
        return Math.abs(back - n) <= Math.max(1, n * 1e-3);
      }),
    );
  });

  it('parsers reject garbage with UnitParseError, never another error or a value', () => {
    const garbage = fc.oneof(
      fc.string().filter((s) => !/\d/.test(s)),
      fc.string().map((s) => `${s}x!`),
      fc.string().map((s) => `-${s}`),
    );
    fc.assert(
      fc.property(garbage, (text) => {
        for (const parse of [parseSize, parseDuration, parseRate, parseCountRate]) {
          try {
            parse(text);
            return false;
          } catch (e) {
            if (!(e instanceof UnitParseError) || e.input !== text) return false;
          }
        }
        return true;
      }),
    );
  });
});
