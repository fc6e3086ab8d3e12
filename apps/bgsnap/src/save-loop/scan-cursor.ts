import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import type { FaultService } from './fault-service.js';
import type { LoopCounters } from './loop-counters.js';
import type { LoopParts } from './loop-parts.js';
import type { ReleaseBlocks } from './release-blocks.js';
import type { PageWriter } from './types.js';
import type { UnsavedPages } from './unsaved-pages.js';

/**
 * The linear scan: a cursor over every region's pages in order that saves unsaved pages in contiguous
 * runs (claim → read → writePages → release), skipping pages the fault path saved. Scanned runs never
 * cross a release block and are released through {@link ReleaseBlocks}; faults raised meanwhile are
 * served between runs, as QEMU checks before every host page.
 */
export class ScanCursor {
  /** Region the cursor is in; `regions.length` once the scan is done. */
  region = 0;
  /** Next page to look at in `region`. */
  page = 0;

  private readonly source: FaultSource;
  private readonly writer: PageWriter;
  private readonly limiter: LimiterPolicy;
  private readonly counters: LoopCounters;
  private readonly unsaved: readonly UnsavedPages[];
  private readonly pageSizes: readonly number[];

  /**
   * @param alignPages - Pages per release block, per region, or `undefined` when runs are released at
   * once (copy-on-fault, or `releaseAlignBytes` 0).
   */
  constructor(
    parts: LoopParts,
    private readonly alignPages: readonly number[] | undefined,
    private readonly blocks: ReleaseBlocks,
    private readonly faults: FaultService,
  ) {
    // Own fields, not `parts.x`: the scan reads them per run.
    ({
      source: this.source,
      writer: this.writer,
      limiter: this.limiter,
      counters: this.counters,
      unsaved: this.unsaved,
      pageSizes: this.pageSizes,
    } = parts);
  }

  /** Every page has been passed (pages the fault path owns may still be on their way). */
  get done(): boolean {
    return this.region >= this.unsaved.length;
  }

  /** Scans up to `want` unsaved pages from the cursor and reports them to `limiter.onScan`. Returns the pages saved. */
  scan(want: number): number {
    let saved = 0;
    let bytes = 0;
    const writer = this.writer;
    const encodedBefore = writer.stats?.bytesEncoded;
    while (want > 0 && this.region < this.unsaved.length) {
      const claimed = this.scanRun(want);
      if (claimed === 0) continue;
      want -= claimed;
      saved += claimed;
      bytes += claimed * this.pageSizes[this.region]!;
      // Over the high-water mark with nothing left protected: stop here so the step ends in a drain.
      // Going on would open the next block, and a drain is only taken between blocks.
      if (writer.needsDrain && this.blocks.count === 0) break;
      // Faults raised meanwhile go before the next scan page, as QEMU checks before every host page.
      if (want > 0) this.faults.serveAllPending();
    }
    if (saved > 0) {
      const c = this.counters;
      c.pagesScanned += saved;
      c.bytesScanned += bytes;
      c.scanSteps++;
      const now = this.source.clock.now();
      c.lastSavedAt = now;
      const encodedAfter = writer.stats?.bytesEncoded;
      this.limiter.onScan(
        now,
        saved,
        encodedBefore !== undefined && encodedAfter !== undefined ? encodedAfter - encodedBefore : bytes,
      );
    }
    return saved;
  }

  /**
   * Saves the next run of at most `want` unsaved pages of the current region, or moves the cursor past
   * the region's end or a page the fault path owns. Returns the pages saved (0 when it only moved).
   */
  private scanRun(want: number): number {
    const region = this.region;
    const pages = this.unsaved[region]!;
    const first = pages.nextUnsaved(this.page);
    if (first < 0) {
      this.region++;
      this.page = 0;
      return 0;
    }
    let run = pages.runLength(first, want);
    if (this.alignPages) {
      // A run never crosses a release block, so that every release covers whole blocks.
      const align = this.alignPages[region]!;
      run = Math.min(run, (Math.floor(first / align) + 1) * align - first);
    }
    const claimed = this.source.claim(region, first, run);
    if (claimed === 0) {
      // Copy-on-fault: the fault path owns this page; it arrives as an event with contents.
      this.counters.claimsLost++;
      this.page = first + 1;
      return 0;
    }
    const data = this.source.read(region, first, claimed);
    this.writer.writePages(region, first, data);
    this.blocks.add(region, first, claimed);
    pages.markSaved(first, claimed);
    this.counters.remaining -= claimed;
    this.page = first + claimed;
    return claimed;
  }
}
