import { describe, expect, it } from 'vitest';
import { faultOn, recordingParts } from '../testing/recording-source.js';
import { FaultService } from './fault-service.js';
import { ReleaseBlocks } from './release-blocks.js';
import { ScanCursor } from './scan-cursor.js';
import type { PageWriter } from './types.js';

function cursorOver(pageCounts: number[], align: number | undefined) {
  const writer: PageWriter & { needsDrain: boolean } = {
    writePages: () => {},
    needsDrain: false,
    drain: async () => {},
  };
  const parts = recordingParts(pageCounts, writer);
  const aligns = pageCounts.map(() => align ?? 1);
  const blocks = new ReleaseBlocks(parts.source, parts.counters, aligns, pageCounts);
  const faults = new FaultService(parts, blocks);
  const cursor = new ScanCursor(parts, align === undefined ? undefined : aligns, blocks, faults);
  return { ...parts, writer, cursor };
}

const claims = (calls: string[]) => calls.filter((c) => c.startsWith('claim'));

describe('ScanCursor', () => {
  it('claims runs that skip saved pages and never cross a release block', () => {
    const s = cursorOver([20], 8);
    s.unsaved[0]!.markSaved(2, 2);
    expect(s.cursor.scan(100)).toBe(18);
    expect(claims(s.source.calls)).toEqual([
      'claim 0:0+2=2',
      'claim 0:4+4=4',
      'claim 0:8+8=8',
      'claim 0:16+4=4',
    ]);
    expect(s.source.releases).toEqual([
      [0, 0, 8],
      [0, 8, 8],
      [0, 16, 4],
    ]);
    expect(s.cursor.done).toBe(true);
    expect(s.counters.pagesScanned).toBe(18);
    expect(s.counters.scanSteps).toBe(1);
    expect(s.limiter.scans).toBe(1);
  });

  it('scans at most the pages asked for, across regions, and serves faults between runs', () => {
    const s = cursorOver([3, 5], undefined);
    s.source.faults.push([faultOn(1, 4)]);
    expect(s.cursor.scan(6)).toBe(6);
    expect(claims(s.source.calls)).toEqual(['claim 0:0+3=3', 'claim 1:0+3=3']);
    expect(s.source.calls).toContain('read 1:4+1'); // the fault, served between the runs
    expect(s.cursor.scan(10)).toBe(1); // page 4 of region 1 was saved by the fault
    expect(s.counters.remaining).toBe(0);
  });

  it('moves past a page the fault path owns (claim refused)', () => {
    const s = cursorOver([4], undefined);
    // Page 1 belongs to the fault path: a claim stops before it, and a claim from it is refused.
    s.source.claimable = (_r, first, count) => (first === 1 ? 0 : first < 1 ? 1 - first : count);
    expect(s.cursor.scan(4)).toBe(3);
    expect(s.counters.claimsLost).toBe(1);
    expect(claims(s.source.calls)).toEqual(['claim 0:0+4=1', 'claim 0:1+3=0', 'claim 0:2+2=2']);
  });

  it('ends the step when the writer needs a drain and no block is open', () => {
    const s = cursorOver([32], 8);
    s.writer.needsDrain = true;
    expect(s.cursor.scan(32)).toBe(8); // the first block completes, then the step ends in a drain
    expect(s.source.releases).toEqual([[0, 0, 8]]);
  });
});
