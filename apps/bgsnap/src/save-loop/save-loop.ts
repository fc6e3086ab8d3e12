import type { FaultSource, WriteFault } from '@bgsnap/fault-source';
import type { LimiterDecision } from '@bgsnap/rate-limiter';
import { type AbortRace, createAbortRace, throwIfAborted, yieldToEventLoop } from './abort-race.js';
import { Backpressure, DRAIN_FAULT_WAIT_NS } from './backpressure.js';
import { FaultService, MAX_TAKE } from './fault-service.js';
import { checkDecision, MAX_WAIT_SLICE_NS, waitForFaultsSliced } from './limiter-decision.js';
import { type LoopConfig, resolveLoopConfig } from './loop-config.js';
import { LoopCounters } from './loop-counters.js';
import { ReleaseBlocks } from './release-blocks.js';
import { ScanCursor } from './scan-cursor.js';
import { StagedFaults } from './staged-faults.js';
import type { SaveLoopOptions, SaveLoopResult } from './types.js';
import { createUnsavedPages } from './unsaved-pages.js';

/** How long without a fault before the scan takes steps of `quietBatchPages`. */
const QUIET_NS = 5e6;
/** Steps between voluntary yields, so sink completions, abort messages and timers get a turn. */
const YIELD_EVERY_STEPS = 64;
/** Wait slice while only fault-path pages (copy-on-fault) are outstanding. */
const MISSING_PAGES_WAIT_NS = 10e6;

/**
 * Runs the QEMU-style background-snapshot save loop until every page of every region is saved once.
 *
 * Each step: service every pending fault (saved, released, reported to `limiter.onFault`); ask
 * `limiter.decide(now, 0)`; wait up to `waitNs` for faults and service them; scan up to
 * `min(scanPages, batchPages)` unsaved pages in page order (claim → read → writePages → release, one
 * call per contiguous run; reported to `limiter.onScan`); await `writer.drain()` when the writer is
 * over its high-water mark.
 *
 * The loop never starts or stops the source, and never finishes or aborts the writer: on abort it
 * throws {@link SnapshotAbortedError}, on any other failure it rethrows, and the caller cleans up
 * (see {@link snapshot}). All times come from `source.clock`.
 * @throws IllegalDecisionError when the limiter returns a decision the loop cannot follow.
 */
export async function runSaveLoop(options: SaveLoopOptions): Promise<SaveLoopResult> {
  const loop = new SaveLoop(options);
  if (options.starting) await loop.serveUntilStarted(options.starting);
  while (loop.counters.remaining > 0) {
    throwIfAborted(options.signal);
    loop.faults.serveAllPending(); // 1. faults first
    if (loop.counters.remaining === 0) break;
    let now = loop.clock.now();
    loop.tickProgress(now);
    const decision = loop.decide(now); // 2. ask the limiter
    if (decision.waitNs > 0) {
      const faults = await loop.throttle(decision.waitNs); // 3. wait, serving faults that arrive
      now = loop.serveThrottled(faults, now);
      if (loop.counters.remaining === 0) break;
    }
    const scanned = loop.scanStep(decision, now); // 4. linear scan
    if (loop.awaitsFaultPath(decision)) await loop.faults.waitAndServe(MISSING_PAGES_WAIT_NS);
    const pending = loop.settle(scanned); // backpressure, or a turn for the event loop now and then
    if (pending) await pending;
  }
  return loop.finish();
}

/** The parts of one save loop run, wired together, and the steps that use more than one of them. */
class SaveLoop {
  readonly clock: FaultSource['clock'];
  readonly counters: LoopCounters;
  readonly faults: FaultService;
  private readonly config: LoopConfig;
  private readonly blocks: ReleaseBlocks;
  private readonly cursor: ScanCursor;
  private readonly backpressure: Backpressure;
  private readonly abortable: AbortRace;
  private lastProgressAt = Number.NEGATIVE_INFINITY;
  private steps = 0;

  constructor(private readonly options: SaveLoopOptions) {
    const { source, limiter, writer, signal } = options;
    const regions = source.regions;
    this.config = resolveLoopConfig(options, regions, source.capabilities.copiesOnFault);
    this.clock = source.clock;
    const unsaved = regions.map((r) => createUnsavedPages(r.pageCount));
    const pageSizes = regions.map((r) => r.pageSize);
    let totalPages = 0;
    let totalBytes = 0;
    for (const r of regions) {
      totalPages += r.pageCount;
      totalBytes += r.pageCount * r.pageSize;
    }
    const startedAt = options.startedAt ?? this.clock.now();
    limiter.start({
      startedAt,
      pageSize: regions[0]?.pageSize ?? 4096,
      totalPages,
      knowsFaultTime: source.capabilities.knowsFaultTime,
    });
    const counters = new LoopCounters(totalPages, totalBytes, startedAt);
    const align = this.config.releaseAlignPages;
    this.counters = counters;
    this.blocks = new ReleaseBlocks(
      source,
      counters,
      align,
      regions.map((r) => r.pageCount),
    );
    const parts = { source, writer, limiter, counters, unsaved, pageSizes };
    this.faults = new FaultService(parts, this.blocks);
    const scanAlign = this.config.deferRelease ? align : undefined;
    this.cursor = new ScanCursor(parts, scanAlign, this.blocks, this.faults);
    if (source.capabilities.copiesOnFault && this.config.stagedFaultBytes > 0) {
      const staged = new StagedFaults(
        pageSizes,
        regions.map((r) => r.pageCount),
        this.config.stagedFaultBytes,
        this.cursor,
      );
      this.faults.staged = staged;
      this.cursor.staged = staged;
    }
    this.abortable = createAbortRace(signal);
    this.backpressure = new Backpressure(
      source,
      writer,
      counters,
      this.faults,
      this.abortable,
      signal,
      this.config,
    );
  }

  /** Protection still in progress: serve faults only, since scanning unprotected pages would be wrong. */
  async serveUntilStarted(starting: Promise<unknown>): Promise<void> {
    let started = false;
    let startFailed = false;
    let startError: unknown;
    starting.then(
      () => {
        started = true;
      },
      (error: unknown) => {
        started = startFailed = true;
        startError = error;
      },
    );
    while (!started) {
      throwIfAborted(this.options.signal);
      await this.faults.waitAndServe(DRAIN_FAULT_WAIT_NS);
      await yieldToEventLoop();
    }
    if (startFailed) throw startError;
  }

  /** Emits a progress event when the interval has passed. */
  tickProgress(now: number): void {
    if (now - this.lastProgressAt >= this.config.progressIntervalNs) this.emitProgress(now);
  }

  /** The limiter's next decision, checked. */
  decide(now: number): LimiterDecision {
    const { limiter, writer } = this.options;
    // Only policies that ask for it pay for the stats snapshot; the exact backlog spares them an estimate
    // from onScan/onSinkWrite bytes, which differ by zero pages, compression and record headers.
    if (limiter.onBacklog) limiter.onBacklog(now, writer.stats?.bufferedBytes ?? 0);
    const decision = limiter.decide(now, 0);
    checkDecision(limiter.name, decision, this.cursor.done);
    return decision;
  }

  /** Waits as the limiter asked; resolves early with faults that arrive. */
  throttle(waitNs: number): Promise<readonly WriteFault[]> {
    // The common wait goes straight to the source: the loop awaits it once per limiter wait, and a
    // latency-bound policy asks for several waits per fault.
    if (waitNs <= MAX_WAIT_SLICE_NS)
      return this.abortable(this.options.source.waitForFaults(waitNs, MAX_TAKE));
    return waitForFaultsSliced(this.options.source, waitNs, this.abortable);
  }

  /** Serves what a limiter wait brought and counts the wait; returns the time after it. */
  serveThrottled(faults: readonly WriteFault[], now: number): number {
    const after = this.clock.now();
    this.counters.throttledNs += after - now;
    if (faults.length > 0) {
      this.faults.serve(faults);
      this.faults.serveAllPending();
    } else {
      this.faults.lastEmptyAt = after;
    }
    return after;
  }

  /**
   * One scan step as the decision allows. Returns the pages scanned.
   * @throws Error when the scan is done and pages the fault path owns (copy-on-fault) have not come
   * for `missingPagesTimeoutNs`.
   */
  scanStep(decision: LimiterDecision, now: number): number {
    const c = this.config;
    if (!this.cursor.done) {
      // A writer that faults waits for the step in progress: short steps while faults come, long ones
      // (a step has a fixed cost) while none has come for a while. Where the backend copies and
      // releases faulting pages itself (copy-on-fault, in-thread), no writer waits for the step, so
      // steps are always long: short ones only add per-step cost, and under writers that fault all
      // the time they made the scan several times slower, which in turn let more pages fault.
      const long = c.faultsWaitForLoop ? now - this.faults.lastFaultAt >= QUIET_NS : true;
      const step = long ? c.quietBatchPages : c.batchPages;
      return decision.scanPages > 0 ? this.cursor.scan(Math.min(decision.scanPages, step)) : 0;
    }
    const idleNs = now - this.counters.lastSavedAt;
    if (idleNs > c.missingPagesTimeoutNs) {
      throw new Error(
        `fault source never delivered ${this.counters.remaining} page(s) that claim() assigned to the fault path ` +
          `(waited ${Math.round(idleNs / 1e6)} ms)`,
      );
    }
    return 0;
  }

  /** The scan is done and the limiter did not wait: wait for the pages the fault path owns. */
  awaitsFaultPath(decision: LimiterDecision): boolean {
    return this.cursor.done && decision.waitNs === 0;
  }

  /** After a step: drain when the writer asks for it (releasing the open block first), else yield now and then. */
  settle(scanned: number): Promise<void> | undefined {
    // While the scan is progressing, the open release block is completed before draining (the buffer
    // overshoots by at most releaseAlignBytes): a flush now would release, and split, a partial block.
    const finishBlockFirst = this.blocks.count > 0 && scanned > 0;
    if (this.options.writer.needsDrain && !finishBlockFirst) {
      // The drain may take long and (by default) serves no faults meanwhile: nothing saved may stay protected.
      this.blocks.flush();
      return this.backpressure.drain();
    }
    if (++this.steps % YIELD_EVERY_STEPS === 0) return yieldToEventLoop();
    return undefined;
  }

  /** Releases what is still held, emits the last progress event and returns the result. */
  finish(): SaveLoopResult {
    this.blocks.flush();
    const endedAt = this.clock.now();
    this.emitProgress(endedAt);
    return this.counters.result(endedAt);
  }

  private emitProgress(now: number): void {
    this.lastProgressAt = now;
    this.options.onProgress?.(this.counters.progress(now));
  }
}
