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
    for (const bad of ['-5', 'fast', '1e3', '2G'])
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
});
