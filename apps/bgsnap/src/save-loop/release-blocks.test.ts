import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordingSource } from '../testing/recording-source.js';
import { LoopCounters } from './loop-counters.js';
import { ReleaseBlocks } from './release-blocks.js';

function blocksOver(pageCounts: number[], align: number) {
  const source = new RecordingSource(pageCounts);
  const counters = new LoopCounters(0, 0, 0);
  const blocks = new ReleaseBlocks(
    source,
    counters,
    pageCounts.map(() => align),
    pageCounts,
  );
  return { source, counters, blocks };
}

describe('ReleaseBlocks', () => {
  it('releases a block once, when its last run arrives, and holds its pages until then', () => {
    const { source, blocks } = blocksOver([16], 8);
    blocks.add(0, 0, 3);
    blocks.add(0, 3, 2);
    expect(source.releases).toEqual([]);
    expect(blocks.holds(0, 4)).toBe(true);
    expect(blocks.holds(0, 5)).toBe(false);
    blocks.add(0, 6, 2); // pages 5 was saved by the fault path: bridged
    expect(source.releases).toEqual([[0, 0, 8]]);
    expect(blocks.holds(0, 4)).toBe(false);
  });

  it('flushes the open block when a run starts another block or region, and at the region end', () => {
    const { source, blocks, counters } = blocksOver([10, 4], 8);
    blocks.add(0, 0, 2);
    blocks.add(0, 8, 1); // another block
    blocks.add(0, 9, 1); // region 0 ends at 10: its last, short block goes at once
    expect(source.releases).toEqual([
      [0, 0, 2],
      [0, 8, 2],
    ]);
    blocks.add(1, 0, 1);
    blocks.flush();
    blocks.flush(); // nothing open: no call
    expect(source.releases).toEqual([
      [0, 0, 2],
      [0, 8, 2],
      [1, 0, 1],
    ]);
    expect(counters.scanReleases).toBe(3);
  });

  it('property: scan-ordered runs are released within their block, each page covered, at most one call per block', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 32 }),
        fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 40 })), { maxLength: 60 }),
        (pageCount, align, steps) => {
          const { source, blocks } = blocksOver([pageCount], align);
          const added = new Set<number>();
          let p = 0;
          for (const [gap, len] of steps) {
            p += gap;
            if (p >= pageCount) break;
            const blockEnd = (Math.floor(p / align) + 1) * align;
            const n = Math.min(len, blockEnd - p, pageCount - p);
            blocks.add(0, p, n);
            for (let k = p; k < p + n; k++) added.add(k);
            p += n;
          }
          blocks.flush();
          const released = new Set<number>();
          const perBlock = new Map<number, number>();
          for (const [, first, count] of source.releases) {
            const block = Math.floor(first / align);
            expect(Math.floor((first + count - 1) / align)).toBe(block);
            perBlock.set(block, (perBlock.get(block) ?? 0) + 1);
            for (let k = first; k < first + count; k++) released.add(k);
          }
          for (const k of added) expect(released.has(k)).toBe(true);
          for (const calls of perBlock.values()) expect(calls).toBe(1);
        },
      ),
    );
  });
});
