import type { FaultSource } from '@bgsnap/fault-source';
import type { LoopCounters } from './loop-counters.js';

/**
 * Plain mode's deferred release of scanned pages: saved scan runs stay protected until their region's
 * aligned block (2 MiB by default) is complete, then go in one `release` call. A release that covers
 * part of a transparent huge page splits it, and each call is an ioctl and a TLB flush.
 *
 * At most one block is open: `[first, first + count)` of `region`.
 */
export class ReleaseBlocks {
  region = 0;
  first = 0;
  count = 0;

  /**
   * @param alignPages - Pages per release block, per region; 1 releases every run at once.
   * @param pageCounts - Pages per region (the last block of a region may be short).
   */
  constructor(
    private readonly source: FaultSource,
    private readonly counters: LoopCounters,
    private readonly alignPages: readonly number[],
    private readonly pageCounts: readonly number[],
  ) {}

  /** Whether `page` of `region` was saved by the scan but is still protected. */
  holds(region: number, page: number): boolean {
    return this.count > 0 && region === this.region && page >= this.first && page < this.first + this.count;
  }

  /** Releases the open block's pages now. */
  flush(): void {
    if (this.count === 0) return;
    const count = this.count;
    this.count = 0;
    this.source.release(this.region, this.first, count);
    this.counters.scanReleases++;
  }

  /** Adds a saved scan run (never crossing a block): released at once if it completes its block. */
  add(region: number, first: number, count: number): void {
    const align = this.alignPages[region]!;
    // The scan only skips saved pages, and the fault path released those, so a gap inside the block is
    // bridged: releasing an already released page does nothing (FaultSource contract).
    const sameBlock = region === this.region && Math.floor(first / align) === Math.floor(this.first / align);
    if (this.count > 0 && !sameBlock) this.flush();
    if (this.count === 0) {
      this.region = region;
      this.first = first;
    }
    this.count = first + count - this.first;
    const end = this.first + this.count;
    if (end % align === 0 || end === this.pageCounts[region]!) this.flush();
  }
}
