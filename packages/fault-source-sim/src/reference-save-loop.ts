import type { FaultSource, WriteFault } from '@bgsnap/fault-source';
import { totalPages } from '@bgsnap/fault-source';

/** The part of a `@bgsnap/stream-writer` `Sink` the reference loop uses. */
export interface ChunkSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link runReferenceSaveLoop}. */
export interface ReferenceSaveLoopOptions {
  /** Pages per linear-scan step (one claim/read/release/sink write each). Default 256. */
  readonly batchPages?: number;
  /** Sink writes in flight before the loop waits for the oldest. Default 8. */
  readonly maxInFlight?: number;
  /**
   * Hand the sink real page bytes (copied, so the sink may keep them). Default false: the sink gets
   * zero-filled chunks of the right length, which is all the simulated sink looks at and keeps the
   * loop free of per-page copies. Set it for real sinks.
   */
  readonly copy?: boolean;
  /** Called with every saved run of pages before it is released (for example an oracle's `checkPages`). */
  readonly onPages?: (region: number, first: number, bytes: Uint8Array) => void;
}

/** What {@link runReferenceSaveLoop} did. Times on the source's clock. */
export interface ReferenceSaveLoopResult {
  /** Pages saved (all of them). */
  readonly pages: number;
  /** Pages saved from fault events. */
  readonly faultPages: number;
  /** Pages saved by the linear scan. */
  readonly scanPages: number;
  /** `sink.write()` calls. */
  readonly sinkWrites: number;
  /** Bytes handed to the sink. */
  readonly bytes: number;
  /** Pages `claim()` refused because the fault path owned them (copy-on-fault). */
  readonly claimRefusals: number;
  /** Clock time after `start()`. */
  readonly startedAt: number;
  /** From `startedAt` until the sink was closed. */
  readonly durationNs: number;
}

/**
 * A minimal QEMU-style save loop without a rate limiter: faulted pages first, then the linear scan in
 * batches, every page once; saved pages are handed to the sink in chunks of about `batchPages` pages,
 * with backpressure by a bound on writes in flight. It exists to drive the
 * simulator in benchmarks and tests; the product's save loop (with limiters, a stream format and
 * reports) is in the `bgsnap` app.
 */
export async function runReferenceSaveLoop(
  source: FaultSource,
  sink: ChunkSink,
  options: ReferenceSaveLoopOptions = {},
): Promise<ReferenceSaveLoopResult> {
  const batch = options.batchPages ?? 256;
  const maxInFlight = options.maxInFlight ?? 8;
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batchPages must be an integer ≥ 1, got ${batch}`);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new RangeError(`maxInFlight must be an integer ≥ 1, got ${maxInFlight}`);
  }
  const { regions, clock } = source;
  const onPages = options.onPages;
  const saved = regions.map((r) => new Uint32Array(Math.ceil(r.pageCount / 32)));
  const isSaved = (r: number, p: number) =>
    (((saved[r] as Uint32Array)[p >>> 5] as number) & (1 << (p & 31))) !== 0;
  const mark = (r: number, p: number) => {
    const s = saved[r] as Uint32Array;
    s[p >>> 5] = (s[p >>> 5] as number) | (1 << (p & 31));
  };
  let remaining = totalPages(regions);
  let faultPages = 0;
  let scanPages = 0;
  let sinkWrites = 0;
  let bytes = 0;
  let claimRefusals = 0;
  const inFlight: Promise<void>[] = [];
  // Saved bytes not yet handed to the sink. Without `copy`, only their length is kept and the sink gets
  // a zero-filled chunk of that length: the simulated sink accounts lengths, never contents.
  let staged: Uint8Array[] = [];
  let stagedBytes = 0;
  let zeros = new Uint8Array(0);
  const minChunk = batch * (regions[0]?.pageSize ?? 4096);
  const stage = (data: Uint8Array) => {
    if (options.copy) staged.push(data.slice());
    stagedBytes += data.length;
  };
  const flush = async () => {
    if (stagedBytes === 0) return;
    let chunk: Uint8Array;
    if (options.copy) {
      chunk = new Uint8Array(stagedBytes);
      let o = 0;
      for (const part of staged) {
        chunk.set(part, o);
        o += part.length;
      }
      staged = [];
    } else {
      if (zeros.length < stagedBytes) zeros = new Uint8Array(Math.max(stagedBytes, 2 * zeros.length));
      chunk = zeros.subarray(0, stagedBytes);
    }
    stagedBytes = 0;
    inFlight.push(sink.write(chunk));
    sinkWrites++;
    bytes += chunk.byteLength;
    if (inFlight.length >= maxInFlight) await inFlight.shift();
  };
  const saveFault = (f: WriteFault) => {
    if (isSaved(f.region, f.page)) return; // stale or duplicate event
    if (f.contents) {
      onPages?.(f.region, f.page, f.contents);
      stage(f.contents);
    } else {
      const data = source.read(f.region, f.page, 1);
      onPages?.(f.region, f.page, data);
      stage(data);
      source.release(f.region, f.page, 1);
    }
    mark(f.region, f.page);
    remaining--;
    faultPages++;
  };

  await source.start();
  const startedAt = clock.now();
  let r = 0;
  let p = 0;
  let idleWaits = 0;
  while (remaining > 0) {
    for (const f of source.takeFaults()) saveFault(f);
    while (r < regions.length && (p >= (regions[r]?.pageCount ?? 0) || isSaved(r, p))) {
      if (p >= (regions[r]?.pageCount ?? 0)) {
        r++;
        p = 0;
      } else p++;
    }
    if (r >= regions.length) {
      // The scan is done; what is left belongs to the fault path and is on its way.
      await flush();
      if (remaining === 0) break;
      const got = await source.waitForFaults(1e9);
      for (const f of got) saveFault(f);
      if (got.length === 0 && ++idleWaits > 60) {
        throw new Error(`${remaining} page(s) assigned to the fault path never arrived`);
      }
      continue;
    }
    // One scan step: up to `batch` unsaved pages from the scan position, one claim/read/release per
    // contiguous run (pages saved by the fault path split runs).
    let budget = batch;
    while (budget > 0 && r < regions.length) {
      const pc = (regions[r] as { pageCount: number }).pageCount;
      if (p >= pc) {
        r++;
        p = 0;
        continue;
      }
      if (isSaved(r, p)) {
        p++;
        continue;
      }
      let want = 1;
      while (want < budget && p + want < pc && !isSaved(r, p + want)) want++;
      const n = source.claim(r, p, want);
      if (n === 0) {
        claimRefusals++;
        p++;
        budget--;
        continue;
      }
      const view = source.read(r, p, n);
      onPages?.(r, p, view);
      stage(view);
      source.release(r, p, n);
      markRange(saved[r] as Uint32Array, p, n);
      remaining -= n;
      scanPages += n;
      p += n;
      budget -= n;
    }
    if (stagedBytes >= minChunk) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  await sink.close();
  const durationNs = clock.now() - startedAt;
  await source.stop();
  return {
    pages: faultPages + scanPages,
    faultPages,
    scanPages,
    sinkWrites,
    bytes,
    claimRefusals,
    startedAt,
    durationNs,
  };
}

/** Sets `count` bits from `first`, whole words at a time in the middle. */
function markRange(bits: Uint32Array, first: number, count: number): void {
  let p = first;
  const end = first + count;
  while (p < end && (p & 31) !== 0) {
    bits[p >>> 5] = (bits[p >>> 5] as number) | (1 << (p & 31));
    p++;
  }
  while (p + 32 <= end) {
    bits[p >>> 5] = 0xffffffff;
    p += 32;
  }
  while (p < end) {
    bits[p >>> 5] = (bits[p >>> 5] as number) | (1 << (p & 31));
    p++;
  }
}
