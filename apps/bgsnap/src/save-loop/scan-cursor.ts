import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import type { FaultService } from './fault-service.js';
import type { LoopCounters } from './loop-counters.js';
import type { LoopParts } from './loop-parts.js';
import type { ReleaseBlocks } from './release-blocks.js';
import type { StagedFaults } from './staged-faults.js';
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

  /** Staged faulted pages the last run wrote: saved, but counted as faulted, not scanned. */
  private stagedInRun = 0;
  /** Reused buffer a run is assembled in when it contains staged pages. */
  private runBuffer = new Uint8Array(0);
  /** Copy-on-fault: faulted pages ahead of the cursor, which the scan writes within its runs. */
  staged: StagedFaults | undefined;

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
      const region = this.region;
      const written = this.scanRun(want);
      if (written === 0) continue;
      want -= written;
      const claimed = written - this.stagedInRun;
      saved += claimed;
      bytes += claimed * this.pageSizes[region]!;
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
    this.stagedInRun = 0;
    if (this.staged && this.staged.count > 0) return this.scanStagedRun(region, first, run);
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

  /**
   * {@link scanRun} where faulted pages may be staged: the run is assembled from staged copies and
   * claimed live pages, written as one, and released as one (a release of the staged pages, which
   * the backend released already, does nothing). It ends before a page a writer owns whose event has
   * not been taken yet. Returns the pages written; `stagedInRun` of them were staged.
   */
  private scanStagedRun(region: number, first: number, run: number): number {
    const staged = this.staged!;
    const ps = this.pageSizes[region]!;
    if (this.runBuffer.length < run * ps) this.runBuffer = new Uint8Array(run * ps);
    const buffer = this.runBuffer;
    let n = 0;
    let fromStaged = 0;
    while (n < run) {
      if (staged.has(region, first + n)) {
        staged.take(region, first + n, ps, buffer, n * ps);
        fromStaged++;
        n++;
        continue;
      }
      let live = 1;
      while (n + live < run && !staged.has(region, first + n + live)) live++;
      const claimed = this.source.claim(region, first + n, live);
      if (claimed > 0) buffer.set(this.source.read(region, first + n, claimed), n * ps);
      n += claimed;
      if (claimed < live) break;
    }
    if (n === 0) {
      this.counters.claimsLost++;
      this.page = first + 1;
      return 0;
    }
    this.writer.writePages(region, first, buffer.subarray(0, n * ps));
    if (fromStaged < n) this.blocks.add(region, first, n);
    this.unsaved[region]!.markSaved(first, n);
    this.counters.remaining -= n;
    this.page = first + n;
    this.stagedInRun = fromStaged;
    return n;
  }
}
