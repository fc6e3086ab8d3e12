import type { WriteFault } from '@bgsnap/fault-source';
import type { LimiterDecision } from '@bgsnap/rate-limiter';
import { SnapshotAbortedError } from '../errors.js';
import { createLatencyHistogram, recordLatency } from './latency-histogram.js';
import type { SaveLoopOptions, SaveLoopResult, SnapshotProgress } from './types.js';
import { createUnsavedPages, type UnsavedPages } from './unsaved-pages.js';

const DEFAULT_BATCH_PAGES = 64;
/** How long without a fault before the scan takes steps of `quietBatchPages`. */
const QUIET_NS = 5e6;
const DEFAULT_RELEASE_ALIGN_BYTES = 2 * 2 ** 20;
const DEFAULT_PROGRESS_INTERVAL_NS = 100e6;
const DEFAULT_MISSING_PAGES_TIMEOUT_NS = 30e9;
/** Faults taken per takeFaults() call; large enough that a burst is one native call. */
const MAX_TAKE = 1024;
/** Steps between voluntary yields, so sink completions, abort messages and timers get a turn. */
const YIELD_EVERY_STEPS = 64;
/** Wait slice while servicing faults during a drain. */
const DRAIN_FAULT_WAIT_NS = 1e6;
/** Wait slice while only fault-path pages (copy-on-fault) are outstanding. */
const MISSING_PAGES_WAIT_NS = 10e6;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
 */
export async function runSaveLoop(options: SaveLoopOptions): Promise<SaveLoopResult> {
  const { source, limiter, writer, signal, onProgress } = options;
  const batchPages = options.batchPages ?? DEFAULT_BATCH_PAGES;
  if (!Number.isInteger(batchPages) || batchPages < 1) {
    throw new RangeError(`batchPages must be an integer >= 1, got ${batchPages}`);
  }
  const quietBatchOption = options.quietBatchPages ?? batchPages;
  if (!Number.isInteger(quietBatchOption) || quietBatchOption < 1) {
    throw new RangeError(`quietBatchPages must be an integer >= 1, got ${quietBatchOption}`);
  }
  const quietBatchPages = Math.max(batchPages, quietBatchOption);
  const releaseAlignBytes = options.releaseAlignBytes ?? DEFAULT_RELEASE_ALIGN_BYTES;
  if (!Number.isInteger(releaseAlignBytes) || releaseAlignBytes < 0) {
    throw new RangeError(`releaseAlignBytes must be an integer >= 0, got ${releaseAlignBytes}`);
  }
  const progressIntervalNs = options.progressIntervalNs ?? DEFAULT_PROGRESS_INTERVAL_NS;
  const missingPagesTimeoutNs = options.missingPagesTimeoutNs ?? DEFAULT_MISSING_PAGES_TIMEOUT_NS;
  const clock = source.clock;
  const regions = source.regions;

  const unsaved: UnsavedPages[] = regions.map((r) => createUnsavedPages(r.pageCount));
  const pageSizes = regions.map((r) => r.pageSize);
  // Pages per aligned release block, per region; 1 means release every run at once.
  const deferRelease = releaseAlignBytes > 0 && !source.capabilities.copiesOnFault;
  const releaseAlignPages = regions.map((r) =>
    deferRelease ? Math.max(1, Math.floor(releaseAlignBytes / r.pageSize)) : 1,
  );
  let totalPages = 0;
  let totalBytes = 0;
  for (const r of regions) {
    totalPages += r.pageCount;
    totalBytes += r.pageCount * r.pageSize;
  }

  const startedAt = options.startedAt ?? clock.now();
  limiter.start({
    startedAt,
    pageSize: regions[0]?.pageSize ?? 4096,
    totalPages,
    knowsFaultTime: source.capabilities.knowsFaultTime,
  });

  const sinceFetch = createLatencyHistogram();
  const upperBound = createLatencyHistogram();
  const trueLatency = createLatencyHistogram();

  let remaining = totalPages;
  let pagesFaulted = 0;
  let pagesScanned = 0;
  let bytesFaulted = 0;
  let bytesScanned = 0;
  let duplicateFaults = 0;
  let faultsOnPendingRelease = 0;
  let scanReleases = 0;
  // Scanned pages saved but still protected: [pendingFirst, pendingFirst + pendingCount) of pendingRegion.
  let pendingRegion = 0;
  let pendingFirst = 0;
  let pendingCount = 0;
  let claimsLost = 0;
  let throttledNs = 0;
  let drainStalledNs = 0;
  let scanSteps = 0;
  let lastEmptyAt = startedAt;
  /** When the loop last served a fault: the scan steps up to `quietBatchPages` once it is QUIET_NS ago. */
  let lastFaultAt = Number.NEGATIVE_INFINITY;
  let lastProgressAt = Number.NEGATIVE_INFINITY;
  let lastSavedAt = startedAt;
  let scanRegion = 0;
  let scanPage = 0;
  let steps = 0;

  const emitProgress = (now: number): void => {
    lastProgressAt = now;
    if (!onProgress) return;
    const progress: SnapshotProgress = {
      now,
      elapsedNs: now - startedAt,
      totalPages,
      savedPages: totalPages - remaining,
      pagesFaulted,
      pagesScanned,
      savedBytes: bytesFaulted + bytesScanned,
      totalBytes,
    };
    onProgress(progress);
  };

  const observe = (fault: WriteFault, now: number, emptyAt: number): void => {
    const fetchNs = now - fault.fetchedAt;
    const boundNs = now - emptyAt;
    let trueNs: number | undefined;
    if (fault.raisedAt !== undefined) {
      // Copy-on-fault: the writer resumed at releasedAt, not when the loop got round to saving the copy.
      trueNs = (fault.releasedAt ?? now) - fault.raisedAt;
      recordLatency(trueLatency, trueNs);
    }
    recordLatency(sinceFetch, fetchNs);
    recordLatency(upperBound, boundNs);
    limiter.onFault({ now, sinceFetchNs: fetchNs, upperBoundNs: boundNs, trueNs });
  };

  /** Releases the scanned pages whose release was deferred. */
  const flushRelease = (): void => {
    if (pendingCount === 0) return;
    const count = pendingCount;
    pendingCount = 0;
    source.release(pendingRegion, pendingFirst, count);
    scanReleases++;
  };

  /** Releases a scanned run, or defers it until its region's aligned block is complete. */
  const releaseScanned = (region: number, first: number, count: number): void => {
    // The scan only skips saved pages, and the fault path released those, so a gap inside the block is
    // bridged: releasing an already released page does nothing (FaultSource contract).
    const sameBlock =
      region === pendingRegion &&
      Math.floor(first / releaseAlignPages[region]!) ===
        Math.floor(pendingFirst / releaseAlignPages[region]!);
    if (pendingCount > 0 && !sameBlock) flushRelease();
    if (pendingCount === 0) {
      pendingRegion = region;
      pendingFirst = first;
    }
    pendingCount = first + count - pendingFirst;
    const end = pendingFirst + pendingCount;
    if (end % releaseAlignPages[region]! === 0 || end === regions[region]!.pageCount) flushRelease();
  };

  /** Saves and releases the pages named by `faults` (all raised after `emptyAt`), faults before anything else. */
  const serve = (faults: readonly WriteFault[], emptyAt: number): void => {
    const n = faults.length;
    for (let i = 0; i < n; i++) {
      const f = faults[i]!;
      const region = f.region;
      const pages = unsaved[region]!;
      if (!pages.has(f.page)) {
        if (
          pendingCount > 0 &&
          region === pendingRegion &&
          f.page >= pendingFirst &&
          f.page < pendingFirst + pendingCount
        ) {
          // A writer hit a page the scan saved but kept protected: release that page alone, so that it
          // waits for one entry, not for the rest of the open block (about 5 µs per 4 KiB entry on the
          // project's VMs). The block's own release covers it again, which the contract allows.
          source.release(region, f.page, 1);
          faultsOnPendingRelease++;
          observe(f, clock.now(), emptyAt);
        } else {
          duplicateFaults++;
        }
        continue;
      }
      const pageSize = pageSizes[region]!;
      if (f.contents !== undefined) {
        writer.writePages(region, f.page, f.contents);
        pages.markSaved(f.page, 1);
        remaining--;
        pagesFaulted++;
        bytesFaulted += pageSize;
        observe(f, clock.now(), emptyAt);
        continue;
      }
      // Plain mode: coalesce consecutive events on adjacent unsaved pages into one read/write/release.
      let count = 1;
      while (i + count < n) {
        const g = faults[i + count]!;
        if (g.region !== region || g.page !== f.page + count || g.contents !== undefined) break;
        if (!pages.has(g.page)) break;
        count++;
      }
      const data = source.read(region, f.page, count);
      writer.writePages(region, f.page, data);
      source.release(region, f.page, count);
      pages.markSaved(f.page, count);
      remaining -= count;
      pagesFaulted += count;
      bytesFaulted += count * pageSize;
      const now = clock.now();
      for (let k = 0; k < count; k++) observe(faults[i + k]!, now, emptyAt);
      i += count - 1;
    }
    lastSavedAt = clock.now();
    if (n > 0) lastFaultAt = lastSavedAt;
  };

  /** Services faults until the queue is found empty. */
  const serveAllPending = (): void => {
    for (;;) {
      const faults = source.takeFaults(MAX_TAKE);
      if (faults.length === 0) {
        lastEmptyAt = clock.now();
        return;
      }
      serve(faults, lastEmptyAt);
    }
  };

  /** Scans up to `want` unsaved pages from the cursor. Returns the pages saved. */
  const scan = (want: number): number => {
    let saved = 0;
    let bytes = 0;
    const encodedBefore = writer.stats?.bytesEncoded;
    while (want > 0 && scanRegion < regions.length) {
      const pages = unsaved[scanRegion]!;
      const first = pages.nextUnsaved(scanPage);
      if (first < 0) {
        scanRegion++;
        scanPage = 0;
        continue;
      }
      let run = pages.runLength(first, want);
      if (deferRelease) {
        // A run never crosses a release block, so that every release covers whole blocks.
        const align = releaseAlignPages[scanRegion]!;
        run = Math.min(run, (Math.floor(first / align) + 1) * align - first);
      }
      const claimed = source.claim(scanRegion, first, run);
      if (claimed === 0) {
        // Copy-on-fault: the fault path owns this page; it arrives as an event with contents.
        claimsLost++;
        scanPage = first + 1;
        continue;
      }
      const data = source.read(scanRegion, first, claimed);
      writer.writePages(scanRegion, first, data);
      releaseScanned(scanRegion, first, claimed);
      pages.markSaved(first, claimed);
      remaining -= claimed;
      scanPage = first + claimed;
      want -= claimed;
      saved += claimed;
      bytes += claimed * pageSizes[scanRegion]!;
      // Over the high-water mark with nothing left protected: stop here so the step ends in a drain.
      // Going on would open the next block, and a drain is only taken between blocks.
      if (writer.needsDrain && pendingCount === 0) break;
      // Faults raised meanwhile go before the next scan page, as QEMU checks before every host page.
      if (want > 0) serveAllPending();
    }
    if (saved > 0) {
      pagesScanned += saved;
      bytesScanned += bytes;
      scanSteps++;
      const now = clock.now();
      lastSavedAt = now;
      const encodedAfter = writer.stats?.bytesEncoded;
      limiter.onScan(
        now,
        saved,
        encodedBefore !== undefined && encodedAfter !== undefined ? encodedAfter - encodedBefore : bytes,
      );
    }
    return saved;
  };

  let abortPromise: Promise<never> | undefined;
  const abortable = <T>(p: Promise<T>): Promise<T> => {
    if (!signal) return p;
    abortPromise ??= new Promise<never>((_, reject) => {
      const onAbort = (): void => reject(new SnapshotAbortedError(signal.reason));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    // The abort promise may never be awaited again: keep it from being reported as unhandled.
    abortPromise.catch(() => {});
    return Promise.race([p, abortPromise]);
  };

  /** Awaits the writer's drain while servicing faults in 1 ms slices (see `serveFaultsWhileDraining`). */
  const drainServingFaults = async (): Promise<void> => {
    let drained = false;
    let failure: unknown;
    let failed = false;
    const drainPromise = writer.drain();
    drainPromise.then(
      () => {
        drained = true;
      },
      (error: unknown) => {
        failed = true;
        failure = error;
      },
    );
    const cap = options.maxBufferedWhileDrainingBytes ?? 64 * 2 ** 20;
    while (!drained && !failed && remaining > 0) {
      if (signal?.aborted) throw new SnapshotAbortedError(signal.reason);
      if ((writer.stats?.bufferedBytes ?? 0) >= cap) break;
      const faults = await source.waitForFaults(DRAIN_FAULT_WAIT_NS, MAX_TAKE);
      if (faults.length > 0) serve(faults, lastEmptyAt);
      else lastEmptyAt = clock.now();
      // A source whose waits settle as microtasks (virtual time) would otherwise starve the sink's I/O.
      await yieldToEventLoop();
    }
    if (failed) throw failure;
    if (!drained) await abortable(drainPromise);
  };

  const checkDecision = (d: LimiterDecision, scanDone: boolean): void => {
    const ok = Number.isFinite(d.scanPages) && d.scanPages >= 0 && Number.isFinite(d.waitNs) && d.waitNs >= 0;
    if (!ok || (!scanDone && d.scanPages === 0 && d.waitNs === 0)) {
      throw new TypeError(
        `limiter '${limiter.name}' returned an illegal decision {scanPages: ${d.scanPages}, waitNs: ${d.waitNs}}: ` +
          'both must be finite and >= 0, and not both 0',
      );
    }
  };

  if (options.starting) {
    // Protection is still in progress: serve faults only; scanning unprotected pages would be wrong.
    let started = false;
    let startFailed = false;
    let startError: unknown;
    options.starting.then(
      () => {
        started = true;
      },
      (error: unknown) => {
        started = startFailed = true;
        startError = error;
      },
    );
    while (!started) {
      if (signal?.aborted) throw new SnapshotAbortedError(signal.reason);
      const faults = await source.waitForFaults(DRAIN_FAULT_WAIT_NS, MAX_TAKE);
      if (faults.length > 0) serve(faults, lastEmptyAt);
      else lastEmptyAt = clock.now();
      await yieldToEventLoop();
    }
    if (startFailed) throw startError;
  }

  while (remaining > 0) {
    if (signal?.aborted) throw new SnapshotAbortedError(signal.reason);
    serveAllPending();
    if (remaining === 0) break;
    let now = clock.now();
    if (now - lastProgressAt >= progressIntervalNs) emitProgress(now);

    const scanDone = scanRegion >= regions.length;
    // Only policies that ask for it pay for the stats snapshot; the exact backlog spares them an estimate
    // from onScan/onSinkWrite bytes, which differ by zero pages, compression and record headers.
    if (limiter.onBacklog) limiter.onBacklog(now, writer.stats?.bufferedBytes ?? 0);
    const decision = limiter.decide(now, 0);
    checkDecision(decision, scanDone);
    if (decision.waitNs > 0) {
      const faults = await abortable(source.waitForFaults(Math.ceil(decision.waitNs), MAX_TAKE));
      const after = clock.now();
      throttledNs += after - now;
      if (faults.length > 0) {
        serve(faults, lastEmptyAt);
        serveAllPending();
      } else {
        lastEmptyAt = after;
      }
      if (remaining === 0) break;
      now = after;
    }

    let scanned = 0;
    if (!scanDone) {
      // A writer that faults waits for the step in progress: short steps while faults come, long ones
      // (a step has a fixed cost) while none has come for a while.
      const step = now - lastFaultAt >= QUIET_NS ? quietBatchPages : batchPages;
      if (decision.scanPages > 0) scanned = scan(Math.min(Math.floor(decision.scanPages), step));
    } else if (now - lastSavedAt > missingPagesTimeoutNs) {
      // Copy-on-fault only: what is left belongs to the fault path, which must deliver it.
      throw new Error(
        `fault source never delivered ${remaining} page(s) that claim() assigned to the fault path ` +
          `(waited ${Math.round((now - lastSavedAt) / 1e6)} ms)`,
      );
    } else if (decision.waitNs === 0) {
      const faults = await source.waitForFaults(MISSING_PAGES_WAIT_NS, MAX_TAKE);
      if (faults.length > 0) serve(faults, lastEmptyAt);
      else lastEmptyAt = clock.now();
    }

    // While the scan is progressing, the open release block is completed before draining (the buffer
    // overshoots by at most releaseAlignBytes): a flush now would release, and split, a partial block.
    const finishBlockFirst = pendingCount > 0 && scanned > 0;
    if (writer.needsDrain && !finishBlockFirst) {
      // The drain may take long and (by default) serves no faults meanwhile: nothing saved may stay protected.
      flushRelease();
      const t0 = clock.now();
      if (options.serveFaultsWhileDraining) await drainServingFaults();
      else await abortable(writer.drain());
      drainStalledNs += clock.now() - t0;
    } else if (++steps % YIELD_EVERY_STEPS === 0) {
      await yieldToEventLoop();
    }
  }
  flushRelease();
  const endedAt = clock.now();
  emitProgress(endedAt);
  return {
    startedAt,
    endedAt,
    totalPages,
    totalBytes,
    pagesFaulted,
    pagesScanned,
    bytesFaulted,
    bytesScanned,
    duplicateFaults,
    faultsOnPendingRelease,
    scanReleases,
    claimsLost,
    throttledNs,
    drainStalledNs,
    scanSteps,
    latency: { sinceFetch, upperBound, true: trueLatency },
  };
}
