import { describe, expect, it } from 'vitest';
import { faultOn, recordingParts } from '../testing/recording-source.js';
import { FaultService } from './fault-service.js';
import { ReleaseBlocks } from './release-blocks.js';
import type { PageWriter } from './types.js';

function service(pageCounts = [32]) {
  const written: string[] = [];
  const writer: PageWriter = {
    writePages: (r, first, data) => void written.push(`${r}:${first}+${data.length / 64}`),
    needsDrain: false,
    drain: async () => {},
  };
  const parts = recordingParts(pageCounts, writer);
  const blocks = new ReleaseBlocks(
    parts.source,
    parts.counters,
    pageCounts.map(() => 8),
    pageCounts,
  );
  return { ...parts, written, blocks, faults: new FaultService(parts, blocks) };
}

describe('FaultService', () => {
  it('coalesces events on adjacent unsaved pages into one read, write and release', () => {
    const s = service();
    s.source.tick(1000);
    s.faults.serve([faultOn(0, 5), faultOn(0, 6), faultOn(0, 7), faultOn(0, 9), faultOn(0, 10)]);
    expect(s.source.calls).toEqual(['read 0:5+3', 'release 0:5+3', 'read 0:9+2', 'release 0:9+2']);
    expect(s.written).toEqual(['0:5+3', '0:9+2']);
    expect(s.counters.pagesFaulted).toBe(5);
    expect(s.counters.remaining).toBe(27);
    expect(s.limiter.faults).toBe(5);
    expect(s.counters.upperBound.totalCount).toBe(5);
    expect(s.faults.lastFaultAt).toBe(1000);
  });

  it('skips a duplicate event, and releases alone a page the scan holds protected', () => {
    const s = service();
    s.faults.serve([faultOn(0, 3)]);
    s.unsaved[0]!.markSaved(8, 4);
    s.blocks.add(0, 8, 4); // scanned, held until page 15
    s.source.calls.length = 0;
    s.faults.serve([faultOn(0, 3), faultOn(0, 10)]);
    expect(s.source.calls).toEqual(['release 0:10+1']);
    expect(s.counters.duplicateFaults).toBe(1);
    expect(s.counters.faultsOnPendingRelease).toBe(1);
    expect(s.counters.pagesFaulted).toBe(1);
    expect(s.limiter.faults).toBe(2); // the held page's writer waited: it is observed
  });

  it('serveAllPending takes until the queue is empty and notes when it was', () => {
    const s = service();
    s.source.faults.push([faultOn(0, 1)], [faultOn(0, 2)]);
    s.source.tick(500);
    s.faults.serveAllPending();
    expect(s.source.calls.filter((c) => c === 'take')).toHaveLength(3);
    expect(s.counters.pagesFaulted).toBe(2);
    expect(s.faults.lastEmptyAt).toBe(500);
  });

  it('measures the upper bound from the last empty queue, not from the fetch', () => {
    const s = service();
    s.source.tick(1000);
    s.faults.serveAllPending(); // empty at 1000
    s.source.tick(4000);
    s.faults.serve([faultOn(0, 1, 4500)]);
    expect(s.counters.upperBound.maxValue).toBeGreaterThanOrEqual(3990);
    expect(s.counters.sinceFetch.maxValue).toBeLessThanOrEqual(501);
  });
});
