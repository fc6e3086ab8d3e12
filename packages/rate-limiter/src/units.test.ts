import { describe, expect, it } from 'vitest';
import { LimiterConfigError } from './errors.js';
import { formatBytes, formatNs, parseBytes, parseDuration, parseRate } from './units.js';

describe('units', () => {
  it.each([
    ['5ms', 5e6],
    ['250us', 250e3],
    ['250µs', 250e3],
    ['1.5s', 1.5e9],
    ['100ns', 100],
    ['100', 100],
    [' 2 ms ', 2e6],
  ])('duration %s = %d ns', (text, ns) => expect(parseDuration(text)).toBe(ns));

  it.each([
    ['4MiB', 4 * 2 ** 20],
    ['64KiB', 65536],
    ['1GB', 1e9],
    ['1k', 1024],
    ['4096', 4096],
  ])('size %s = %d bytes', (text, bytes) => expect(parseBytes(text)).toBe(bytes));

  it.each([
    ['100MiB/s', 100 * 2 ** 20],
    ['1GB/s', 1e9],
    ['2048', 2048],
  ])('rate %s = %d bytes/s', (text, rate) => expect(parseRate(text)).toBe(rate));

  it('rejects junk with the option name', () => {
    expect(() => parseDuration('5 parsecs', 'threshold', 'latency')).toThrow(LimiterConfigError);
    expect(() => parseDuration('fast', 'threshold', 'latency')).toThrow(/option 'latency'/);
    expect(() => parseBytes('4MiBs')).toThrow(LimiterConfigError);
    expect(() => parseRate('lots/s', 'token-bucket', 'rate')).toThrow(/option 'rate'/);
  });

  it('formats round values compactly', () => {
    expect(formatNs(5e6)).toBe('5ms');
    expect(formatNs(250e3)).toBe('250us');
    expect(formatNs(1e9)).toBe('1s');
    expect(formatNs(7)).toBe('7ns');
    expect(formatBytes(4 * 2 ** 20)).toBe('4MiB');
    expect(formatBytes(1000)).toBe('1000B');
  });
});
