import type { SimFaultSource, SnapshotChecker } from '@bgsnap/fault-source-sim';
import { createSnapshotWriter, discardSink, type Sink } from '@bgsnap/stream-writer';
import type { PageWriter } from '../save-loop/types.js';

/** The stream format's per-record cost: a 20-byte header and a CRC-32 (docs/FORMAT.md). */
const RECORD_OVERHEAD = 24;
/** The stream writer's largest record payload (it splits longer runs). */
const MAX_RECORD_BYTES = 1 << 20;
/** The trailer's size. */
const TRAILER_BYTES = 60;

/** Options of {@link CheckedStream}. */
export interface CheckedStreamOptions {
  /** The simulation whose pages are saved. */
  sim: SimFaultSource;
  /** Where the modelled stream's bytes go: the simulated sink (it looks at lengths only). */
  sink: Sink;
  /** The oracle every page is checked against as it is saved. */
  checker: SnapshotChecker;
  /** Size of sink writes, bytes. Default 1 MiB, as the stream writer's. */
  batchBytes?: number;
  /** Identification in the stream header (its length counts). Default `bgsnap`, as `snapshot()` writes. */
  writerId?: string;
  /** Buffered bytes at which the save loop drains. Default 8 MiB, as the stream writer's. */
  highWaterMark?: number;
  /** Reported after each completed sink write, as the stream writer does (the limiter's `onSinkWrite`). */
  onSinkWrite?: (bytes: number, blockedNs: number, now: number) => void;
}

/** What a {@link CheckedStream} did. */
export interface CheckedStreamSummary {
  /** Bytes the stream would have had, uncompressed. */
  streamBytes: number;
  /** Pages the stream would have recorded as zero pages. */
  zeroPages: number;
  /** Total time sink writes were pending (virtual ns). */
  sinkBlockedNs: number;
}

/**
 * A {@link PageWriter} for `bgsnap sim` without `--out`: it checks every saved page against the
 * simulator's oracle by identity as it is saved, and hands the simulated sink what the stream writer
 * would — the same header, records and batches, so the same sink writes, one at a time, with the
 * same high- and low-water marks — without encoding, copying or checksumming any page. Virtual time therefore runs as
 * with a real stream (uncompressed), at a fraction of the wall time.
 */
export class CheckedStream implements PageWriter {
  private readonly sim: SimFaultSource;
  private readonly sink: Sink;
  private readonly checker: SnapshotChecker;
  private readonly capacity: number;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private readonly onSinkWrite: CheckedStreamOptions['onSinkWrite'];
  private readonly pageSizes: number[];
  private readonly perRecord: number[];
  /** Bytes in the batch being filled (the stream writer's `pos`). */
  private open: number;
  private readonly queue: number[] = [];
  private pumping = false;
  private failure: unknown;
  private failed = false;
  private drainWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  private zeros = new Uint8Array(0);
  /** Which pages of the current `writePages` call are zero pages, as the checker found them. */
  private zeroFlags = new Uint8Array(64);
  private encoded: number;
  private written = 0;
  private zeroPages = 0;
  private sinkBlockedNs = 0;

  constructor(options: CheckedStreamOptions) {
    this.sim = options.sim;
    this.sink = options.sink;
    this.checker = options.checker;
    const batchBytes = options.batchBytes ?? 1 << 20;
    this.highWaterMark = options.highWaterMark ?? Math.max(8 << 20, batchBytes);
    this.lowWaterMark = Math.floor(this.highWaterMark / 2);
    this.onSinkWrite = options.onSinkWrite;
    this.pageSizes = this.sim.regions.map((r) => r.pageSize);
    // The stream writer's geometry (writer.ts): its largest record, and batches that hold one.
    const maxRecordBytes = Math.max(
      Math.min(MAX_RECORD_BYTES, 2 ** Math.floor(Math.log2(batchBytes))),
      ...this.pageSizes,
    );
    this.perRecord = this.pageSizes.map((size) => Math.floor(maxRecordBytes / size));
    const headerBytes = streamHeaderBytes(this.sim, batchBytes, options.writerId ?? 'bgsnap');
    this.capacity = Math.max(batchBytes, maxRecordBytes + RECORD_OVERHEAD, headerBytes, TRAILER_BYTES);
    this.open = headerBytes;
    this.encoded = headerBytes;
  }

  /** Buffered bytes at or above the high-water mark. */
  get needsDrain(): boolean {
    return this.encoded - this.written >= this.highWaterMark;
  }

  /**
   * Encoded bytes so far and bytes not yet written, as the stream writer reports them. One live object:
   * the save loop reads it several times per step.
   */
  readonly stats: { readonly bytesEncoded: number; readonly bufferedBytes: number } = this.liveStats();

  /** Checks the pages against the oracle and accounts their records. */
  writePages(region: number, first: number, data: Uint8Array): void {
    if (this.failed) throw this.failure;
    const size = this.pageSizes[region]!;
    const count = data.byteLength / size;
    if (this.zeroFlags.length < count)
      this.zeroFlags = new Uint8Array(Math.max(count, 2 * this.zeroFlags.length));
    const zero = this.zeroFlags;
    // The checker reads every page's header anyway: it reports which are zero pages, so the pages are
    // not read a second time here.
    this.checker.checkIdentities(region, first, data, zero);
    const perRecord = this.perRecord[region]!;
    // Runs of zero and data pages become records, as the stream writer splits them.
    let runStart = 0;
    let runZero = zero[0] === 1;
    for (let i = 1; i <= count; i++) {
      const isZero = i < count && zero[i] === 1;
      if (i < count && isZero === runZero) continue;
      if (runZero) this.encodeZero(i - runStart, perRecord);
      else this.encodeData(i - runStart, perRecord, size);
      runStart = i;
      runZero = isZero;
    }
  }

  /** Resolves when buffered bytes are at or below the low-water mark; rejects with the sink's error. */
  drain(): Promise<void> {
    if (this.failed) return Promise.reject(this.failure);
    if (this.encoded - this.written <= this.lowWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Writes what is left and the trailer, and closes the sink. */
  async finish(): Promise<CheckedStreamSummary> {
    this.record(TRAILER_BYTES);
    this.cutBatch();
    while (this.encoded > this.written && !this.failed) {
      await new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject })).catch(
        () => {},
      );
    }
    if (this.failed) throw this.failure;
    await this.sink.close();
    return { streamBytes: this.encoded, zeroPages: this.zeroPages, sinkBlockedNs: this.sinkBlockedNs };
  }

  /** Aborts the sink. */
  async abort(reason?: unknown): Promise<void> {
    this.fail(reason);
    await this.sink.abort(reason);
  }

  private liveStats(): { readonly bytesEncoded: number; readonly bufferedBytes: number } {
    const stream = this;
    return {
      get bytesEncoded() {
        return stream.encoded;
      },
      get bufferedBytes() {
        return stream.encoded - stream.written;
      },
    };
  }

  private encodeZero(count: number, perRecord: number): void {
    this.zeroPages += count;
    for (let done = 0; done < count; done += perRecord) this.record(RECORD_OVERHEAD);
  }

  /** Data records fill the batch as far as whole pages go, as the stream writer's do. */
  private encodeData(count: number, perRecord: number, size: number): void {
    for (let done = 0; done < count; ) {
      const room = Math.floor((this.capacity - this.open - RECORD_OVERHEAD) / size);
      if (room < 1) {
        this.cutBatch();
        continue;
      }
      const n = Math.min(perRecord, count - done, room);
      this.record(RECORD_OVERHEAD + n * size);
      done += n;
    }
  }

  /** Adds one record to the batch, starting a new batch first when it does not fit. */
  private record(bytes: number): void {
    if (this.open + bytes > this.capacity) this.cutBatch();
    this.open += bytes;
    this.encoded += bytes;
  }

  private cutBatch(): void {
    if (this.open === 0) return;
    this.queue.push(this.open);
    this.open = 0;
    if (!this.pumping) void this.pump();
  }

  /** Sink writes one at a time, timed on the simulation's clock. */
  private async pump(): Promise<void> {
    this.pumping = true;
    const clock = this.sim.clock;
    while (this.queue.length > 0 && !this.failed) {
      const bytes = this.queue.shift()!;
      if (this.zeros.length < bytes) this.zeros = new Uint8Array(Math.max(bytes, 2 * this.zeros.length));
      const t0 = clock.now();
      try {
        await this.sink.write(this.zeros.subarray(0, bytes));
      } catch (error) {
        this.fail(error);
        break;
      }
      const now = clock.now();
      this.sinkBlockedNs += now - t0;
      this.written += bytes;
      this.onSinkWrite?.(bytes, now - t0, now);
      if (this.encoded - this.written <= this.lowWaterMark) this.settleWaiters();
    }
    this.pumping = false;
  }

  private settleWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (this.failed) w.reject(this.failure);
      else w.resolve();
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = error;
    this.settleWaiters();
  }
}

/** The length of the header the stream writer would write for `sim`'s regions: it encodes it at once. */
function streamHeaderBytes(sim: SimFaultSource, batchBytes: number, writerId: string): number {
  const writer = createSnapshotWriter({ regions: sim.regions, sink: discardSink(), batchBytes, writerId });
  const bytes = writer.stats.bytesEncoded;
  void writer.abort();
  return bytes;
}
