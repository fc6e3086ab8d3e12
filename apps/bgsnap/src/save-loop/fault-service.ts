import type { FaultSource, WriteFault } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import { recordLatency } from './latency-histogram.js';
import type { LoopCounters } from './loop-counters.js';
import type { LoopParts } from './loop-parts.js';
import type { ReleaseBlocks } from './release-blocks.js';
import type { StagedFaults } from './staged-faults.js';
import type { PageWriter } from './types.js';
import type { UnsavedPages } from './unsaved-pages.js';

/** Faults taken per takeFaults() call; large enough that a burst is one native call. */
export const MAX_TAKE = 1024;

/**
 * The fault path: takes write-fault events, saves their pages before anything else (coalescing adjacent
 * pages into one read → writePages → release), releases them so the writers resume, and reports each
 * fault's latency to the histograms and to `limiter.onFault`.
 */
export class FaultService {
  /** When the loop last found the fault queue empty: the start of the upper-bound latency measure. */
  lastEmptyAt: number;
  /** When the loop last served a fault (the scan takes long steps once this is long enough ago). */
  lastFaultAt = Number.NEGATIVE_INFINITY;
  private readonly clock: FaultSource['clock'];
  private readonly source: FaultSource;
  private readonly writer: PageWriter;
  private readonly limiter: LimiterPolicy;
  private readonly counters: LoopCounters;
  private readonly unsaved: readonly UnsavedPages[];
  private readonly pageSizes: readonly number[];

  /**
   * Copy-on-fault: where faulted pages ahead of the scan wait for it, so that they go out in the
   * scan's runs; `undefined` writes every faulted page at once.
   */
  staged: StagedFaults | undefined;

  constructor(
    parts: LoopParts,
    private readonly blocks: ReleaseBlocks,
  ) {
    // Own fields, not `parts.x`: the fault path reads them per fault.
    ({
      source: this.source,
      writer: this.writer,
      limiter: this.limiter,
      counters: this.counters,
      unsaved: this.unsaved,
      pageSizes: this.pageSizes,
    } = parts);
    this.clock = parts.source.clock;
    this.lastEmptyAt = parts.counters.startedAt;
  }

  /** Services faults until the queue is found empty. */
  serveAllPending(): void {
    for (;;) {
      const faults = this.source.takeFaults(MAX_TAKE);
      if (faults.length === 0) {
        this.lastEmptyAt = this.clock.now();
        return;
      }
      this.serve(faults);
    }
  }

  /** Waits up to `timeoutNs` for faults and serves what arrives. */
  async waitAndServe(timeoutNs: number): Promise<void> {
    const faults = await this.source.waitForFaults(timeoutNs, MAX_TAKE);
    if (faults.length > 0) this.serve(faults);
    else this.lastEmptyAt = this.clock.now();
  }

  /** Saves and releases the pages named by `faults` (all raised after `lastEmptyAt`). */
  serve(faults: readonly WriteFault[]): void {
    const emptyAt = this.lastEmptyAt;
    const n = faults.length;
    for (let i = 0; i < n; i++) {
      const f = faults[i]!;
      const pages = this.unsaved[f.region]!;
      if (!pages.has(f.page)) this.serveSaved(f, emptyAt);
      else if (this.staged?.has(f.region, f.page)) this.counters.duplicateFaults++;
      else if (f.contents !== undefined) this.saveContents(f, emptyAt);
      else i += this.saveRun(faults, i, emptyAt) - 1;
    }
    this.counters.lastSavedAt = this.clock.now();
    if (n > 0) this.lastFaultAt = this.counters.lastSavedAt;
  }

  /** A fault on a page already saved: a scanned page still held protected, or a late duplicate event. */
  private serveSaved(f: WriteFault, emptyAt: number): void {
    if (this.blocks.holds(f.region, f.page)) {
      // A writer hit a page the scan saved but kept protected: release that page alone, so that it
      // waits for one entry, not for the rest of the open block (about 5 µs per 4 KiB entry on the
      // project's VMs). The block's own release covers it again, which the contract allows.
      this.source.release(f.region, f.page, 1);
      this.counters.faultsOnPendingRelease++;
      this.observe(f, this.clock.now(), emptyAt);
    } else {
      this.counters.duplicateFaults++;
    }
  }

  /**
   * Copy-on-fault: the event carries the page, already released by the backend. It is staged for the
   * scan when it can be (then it stays unsaved until the scan writes it), else written now.
   */
  private saveContents(f: WriteFault, emptyAt: number): void {
    const c = this.counters;
    if (!this.staged?.offer(f.region, f.page, f.contents!)) {
      this.writer.writePages(f.region, f.page, f.contents!);
      this.unsaved[f.region]!.markSaved(f.page, 1);
      c.remaining--;
    }
    c.pagesFaulted++;
    c.bytesFaulted += this.pageSizes[f.region]!;
    this.observe(f, this.clock.now(), emptyAt);
  }

  /**
   * Plain mode: saves the page of `faults[i]` together with the following events on adjacent unsaved
   * pages, in one read/write/release. Returns how many events it consumed.
   */
  private saveRun(faults: readonly WriteFault[], i: number, emptyAt: number): number {
    const f = faults[i]!;
    const region = f.region;
    const pages = this.unsaved[region]!;
    const n = faults.length;
    let count = 1;
    while (i + count < n) {
      const g = faults[i + count]!;
      if (g.region !== region || g.page !== f.page + count || g.contents !== undefined) break;
      if (!pages.has(g.page)) break;
      count++;
    }
    const data = this.source.read(region, f.page, count);
    this.writer.writePages(region, f.page, data);
    this.source.release(region, f.page, count);
    pages.markSaved(f.page, count);
    const c = this.counters;
    c.remaining -= count;
    c.pagesFaulted += count;
    c.bytesFaulted += count * this.pageSizes[region]!;
    const now = this.clock.now();
    for (let k = 0; k < count; k++) this.observe(faults[i + k]!, now, emptyAt);
    return count;
  }

  /** Records one served fault's latencies and tells the limiter. */
  private observe(fault: WriteFault, now: number, emptyAt: number): void {
    const c = this.counters;
    const fetchNs = now - fault.fetchedAt;
    const boundNs = now - emptyAt;
    let trueNs: number | undefined;
    if (fault.raisedAt !== undefined) {
      // Copy-on-fault: the writer resumed at releasedAt, not when the loop got round to saving the copy.
      trueNs = (fault.releasedAt ?? now) - fault.raisedAt;
      recordLatency(c.trueLatency, trueNs);
    }
    recordLatency(c.sinceFetch, fetchNs);
    recordLatency(c.upperBound, boundNs);
    this.limiter.onFault({ now, sinceFetchNs: fetchNs, upperBoundNs: boundNs, trueNs });
  }
}
