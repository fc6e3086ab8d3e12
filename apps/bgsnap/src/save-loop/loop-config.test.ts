import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordingSource } from '../testing/recording-source.js';
import { resolveLoopConfig } from './loop-config.js';
import type { SaveLoopOptions } from './types.js';

const regions = [
  { name: 'a', pageSize: 4096, pageCount: 10 },
  { name: 'b', pageSize: 2 ** 21, pageCount: 3 },
];

function options(extra: Partial<SaveLoopOptions>): SaveLoopOptions {
  return { source: new RecordingSource([1]), limiter: {} as never, writer: {} as never, ...extra };
}

describe('resolveLoopConfig', () => {
  it('defaults: 64-page steps, 2 MiB release blocks in plain mode, none with copy-on-fault', () => {
    const plain = resolveLoopConfig(options({}), regions, false);
    expect(plain).toMatchObject({ batchPages: 64, quietBatchPages: 64, deferRelease: true });
    expect(plain.releaseAlignPages).toEqual([512, 1]);
    const cof = resolveLoopConfig(options({}), regions, true);
    expect(cof.deferRelease).toBe(false);
    expect(cof.releaseAlignPages).toEqual([1, 1]);
    expect(resolveLoopConfig(options({ releaseAlignBytes: 0 }), regions, false).deferRelease).toBe(false);
    // Only where writers can wait for the loop do faults shorten its steps.
    expect(plain.faultsWaitForLoop).toBe(true);
    expect(cof.faultsWaitForLoop).toBe(false);
    expect(cof.stagedFaultBytes).toBe(64 * 2 ** 20);
    expect(resolveLoopConfig(options({ stagedFaultBytes: 0 }), regions, true).stagedFaultBytes).toBe(0);
  });

  it('property: quiet steps are never shorter than batch steps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 4096 }), (b, q) => {
        const c = resolveLoopConfig(options({ batchPages: b, quietBatchPages: q }), regions, false);
        expect(c.quietBatchPages).toBe(Math.max(b, q));
      }),
    );
  });

  it.each([
    ['batchPages', { batchPages: 0 }],
    ['batchPages', { batchPages: 2.5 }],
    ['quietBatchPages', { quietBatchPages: -1 }],
    ['releaseAlignBytes', { releaseAlignBytes: -4096 }],
    ['releaseAlignBytes', { releaseAlignBytes: Number.NaN }],
    ['stagedFaultBytes', { stagedFaultBytes: -1 }],
    ['stagedFaultBytes', { stagedFaultBytes: 0.5 }],
  ])('refuses a bad %s, naming it', (name, extra) => {
    expect(() => resolveLoopConfig(options(extra), regions, false)).toThrow(new RegExp(`^${name}`));
  });
});
