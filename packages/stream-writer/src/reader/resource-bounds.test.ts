import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotFormatError } from '../errors.js';
import { FLAG_ZERO, RECORD_OVERHEAD } from '../format.js';
import { Crafter } from '../testing/craft.js';
import { type ReaderState, readEvents } from './read-snapshot.js';

const PAGE = 16;
const MAX_RECORD = 2 ** 30;
const MAX_RUN = MAX_RECORD / PAGE; // 2^26 pages in one 24-byte ZERO record

/** Runs the reader to the end (or its error) and returns every state it reported. */
async function drain(bytes: Uint8Array): Promise<{ states: ReaderState[]; error?: unknown }> {
  const states: ReaderState[] = [];
  try {
    for await (const _ of readEvents(bytes, { maxRecordBytes: MAX_RECORD }, (s) => states.push(s))) {
      // events are not needed: the probe sees every accepted record
    }
    return { states };
  } catch (error) {
    return { states, error };
  }
}

/** The documented bound (docs/FORMAT.md, "Resource bounds of the reader"). */
function expectWithinBound(s: ReaderState): void {
  expect(s.intervals).toBeLessThanOrEqual(s.records);
  expect(s.intervals * RECORD_OVERHEAD).toBeLessThanOrEqual(s.offset - s.headerBytes);
  expect(s.decodeBytes).toBeLessThanOrEqual(MAX_RECORD);
}

describe('reader resource bounds', () => {
  it('tracks saved pages per record, not per page: 64 ZERO records of 2^26 pages each', async () => {
    const runs = 64;
    const c = new Crafter([{ name: 'm', pageSize: PAGE, pageCount: runs * MAX_RUN }], {
      maxRecordBytes: MAX_RECORD,
    });
    // Every other run first, then the gaps: the set holds up to 32 intervals, then merges to one.
    const order = [...Array(runs).keys()].sort((a, b) => (a % 2) - (b % 2) || a - b);
    for (const i of order) c.record({ flags: FLAG_ZERO, region: 0, count: MAX_RUN, first: i * MAX_RUN });
    c.trailer({
      regionCount: 1,
      recordCount: runs,
      pageCount: runs * MAX_RUN,
      zeroPageCount: runs * MAX_RUN,
      payloadBytes: 0,
    });
    const { states, error } = await drain(c.bytes());
    expect(error).toBeUndefined();
    expect(Math.max(...states.map((s) => s.intervals))).toBe(runs / 2);
    expect(states.at(-1)!.intervals).toBe(1);
    states.forEach(expectWithinBound);
  }, 10_000);

  it('for generated streams of huge ZERO runs in any order, with duplicates and truncations, stays within the bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: MAX_RUN }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (lengths, shuffle, duplicates, cut) => {
          const starts: number[] = [];
          let total = 0;
          for (const n of lengths) {
            starts.push(total);
            total += n;
          }
          const order = [...lengths.keys()];
          shuffle.forEach((k, i) => {
            const a = i % order.length;
            const b = k % order.length;
            [order[a], order[b]] = [order[b]!, order[a]!];
          });
          const c = new Crafter([{ name: 'm', pageSize: PAGE, pageCount: total }], {
            maxRecordBytes: MAX_RECORD,
          });
          for (const i of order)
            c.record({ flags: FLAG_ZERO, region: 0, count: lengths[i]!, first: starts[i]! });
          for (const d of duplicates) {
            const i = d % lengths.length;
            c.record({ flags: FLAG_ZERO, region: 0, count: 1, first: starts[i]! + (d % lengths[i]!) });
          }
          c.trailer({
            regionCount: 1,
            recordCount: lengths.length,
            pageCount: total,
            zeroPageCount: total,
            payloadBytes: 0,
          });
          const full = c.bytes();
          const bytes = cut === undefined ? full : full.subarray(0, cut % full.length);
          const { states, error } = await drain(bytes);
          states.forEach(expectWithinBound);
          if (duplicates.length > 0 || cut !== undefined) {
            expect(error).toBeInstanceOf(SnapshotFormatError);
          } else {
            expect(error).toBeUndefined();
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 30_000);
});
