import type { FaultSource, WriteFault } from '@bgsnap/fault-source';
import {
  createLatencyHistogram,
  type LatencyHistogram,
  recordLatency,
} from '../save-loop/latency-histogram.js';

/**
 * Per region, one byte per page: 1 once a write-fault event named the page. Backed by a
 * SharedArrayBuffer (see {@link createFaultedPages}), so the save loop's worker thread can mark pages
 * that the thread which started the snapshot reads afterwards.
 */
export type FaultedPages = readonly Uint8Array[];

/** One map per region of `pageCounts`, all zero, in shared memory (it crosses to worker threads). */
export function createFaultedPages(pageCounts: readonly number[]): Uint8Array[] {
  return pageCounts.map((n) => {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`page count must be an integer >= 0, got ${n}`);
    return new Uint8Array(new SharedArrayBuffer(n));
  });
}

/**
 * Wraps a fault source so that every fault event it hands to the save loop marks its page in
 * `faulted`. A writer's store that was slow for another reason (a kernel minor fault, being
 * descheduled) names no page there, so {@link matchWriterFaults} can keep only the stores that took a
 * userfaultfd write fault. Every call is forwarded unchanged.
 * @throws RangeError when `faulted` does not have one map of the right size per region.
 */
export function recordFaultedPages(inner: FaultSource, faulted: FaultedPages): FaultSource {
  if (faulted.length !== inner.regions.length) {
    throw new RangeError(`faulted pages: ${faulted.length} map(s) for ${inner.regions.length} region(s)`);
  }
  inner.regions.forEach((r, i) => {
    if (faulted[i]!.length !== r.pageCount) {
      throw new RangeError(
        `faulted pages: region ${i} has ${r.pageCount} pages, its map ${faulted[i]!.length}`,
      );
    }
  });
  const note = (faults: readonly WriteFault[]): readonly WriteFault[] => {
    for (const f of faults) faulted[f.region]![f.page] = 1;
    return faults;
  };
  return {
    get regions() {
      return inner.regions;
    },
    get capabilities() {
      return inner.capabilities;
    },
    get clock() {
      return inner.clock;
    },
    get state() {
      return inner.state;
    },
    start: () => inner.start(),
    takeFaults: (max) => note(inner.takeFaults(max)),
    waitForFaults: async (timeoutNs, max) => note(await inner.waitForFaults(timeoutNs, max)),
    claim: (region, first, count) => inner.claim(region, first, count),
    read: (region, first, count) => inner.read(region, first, count),
    release: (region, first, count) => inner.release(region, first, count),
    stop: () => inner.stop(),
  };
}

/** What {@link matchWriterFaults} found. */
export interface WriterFaultMatch {
  /** Candidate stores whose page a fault event named: the stores that took a write fault. */
  faults: number;
  /** Their latencies, as the writers measured them (ns). */
  latency: LatencyHistogram;
  /** Candidate stores to pages no fault event named (the page had been scanned and released first). */
  others: number;
}

/**
 * Keeps the writers' candidate stores that took a write fault. Each writer reports its candidates as
 * `(page, latency ns)` pairs — first stores to a page since protection; a store to a page that no fault
 * event named did not fault (the scan saved and released the page before it), so it is dropped.
 * @param candidates one flat pair list per writer
 * @param faulted the region's map from {@link recordFaultedPages}
 * @throws RangeError for an odd-length list or a page outside the map
 */
export function matchWriterFaults(
  candidates: Iterable<ArrayLike<number>>,
  faulted: Uint8Array,
  latency: LatencyHistogram = createLatencyHistogram(),
): WriterFaultMatch {
  let faults = 0;
  let others = 0;
  for (const pairs of candidates) {
    if (pairs.length % 2 !== 0) throw new RangeError(`candidate stores: odd length ${pairs.length}`);
    for (let i = 0; i < pairs.length; i += 2) {
      const page = pairs[i]!;
      if (!Number.isInteger(page) || page < 0 || page >= faulted.length) {
        throw new RangeError(`candidate stores: page ${page} outside 0..${faulted.length - 1}`);
      }
      if (faulted[page] === 1) {
        faults++;
        recordLatency(latency, pairs[i + 1]!);
      } else others++;
    }
  }
  return { faults, latency, others };
}
