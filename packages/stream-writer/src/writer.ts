import { acquireBatch, releaseBatch } from './batch-pool.js';
import { type CopyCrc32, type Crc32, checkedCopyCrc32, checkedCrc32, crc32 } from './crc.js';
import { SnapshotArgumentError, SnapshotStateError, toSinkError } from './errors.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  encodeHeader,
  encodeTrailerBody,
  FLAG_ZERO,
  FLAG_ZSTD,
  isPowerOfTwo,
  LIMITS,
  RECORD_HEADER_BYTES,
  RECORD_OVERHEAD,
  RECORD_TYPE_PAGES,
  TRAILER_BYTES,
} from './format.js';
import { PageSet } from './page-set.js';
import type { Sink } from './sinks/sink.js';
import { VERSION } from './version.js';
import { ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL, type ZstdCodec, zstdCodec } from './zstd.js';

/** One region of memory to snapshot (the same shape as `RegionInfo` of @bgsnap/fault-source). */
export interface SnapshotRegion {
  /** Unique, non-empty name (at most 1024 UTF-8 bytes); written into the header. */
  readonly name: string;
  /** Page size in bytes: a power of two in [1, 2^30]. */
  readonly pageSize: number;
  /** Number of pages: an integer in [1, 2^40]. */
  readonly pageCount: number;
}

/** Compression of page data: none, zstd at level 3, or zstd at a chosen level in [1, 19]. */
export type SnapshotCompression = 'none' | 'zstd' | { zstd: { level: number } };

/** Options of {@link createSnapshotWriter}. */
export interface SnapshotWriterOptions {
  /** The regions; `writePages(region, ...)` indexes this array. 1 to 65535 entries. */
  regions: readonly SnapshotRegion[];
  /** Where the bytes go. */
  sink: Sink;
  /** Monotonic clock in nanoseconds for blocked-time measurement. Default: the process's hrtime. */
  clock?: { now(): number };
  /** Compression of data pages. Default `'none'`. */
  compression?: SnapshotCompression;
  /**
   * Target size of each sink write in bytes, in [4096, 2^30]. Default 1 MiB. A write may exceed it by
   * one record header (24 bytes), or be one page plus 24 bytes when a page is larger.
   */
  batchBytes?: number;
  /** Buffered bytes at or above which `needsDrain` is true, ≥ batchBytes. Default 8 MiB. */
  highWaterMark?: number;
  /** Buffered bytes below which `drain()` resolves, in [0, highWaterMark]. Default highWaterMark / 2. */
  lowWaterMark?: number;
  /** Identification written into the header (≤ 1024 UTF-8 bytes). Default `@bgsnap/stream-writer@<version>`. */
  writerId?: string;
  /** Creation time written into the header, ns since the Unix epoch. Default: now. */
  createdAtNs?: bigint;
  /** Called after each completed sink write: its size, how long it was blocked, and the clock's time. */
  onSinkWrite?: (bytes: number, blockedNs: number, now: number) => void;
  /**
   * A faster CRC-32 for the checksum chain: `(data, seed) => crc`, equal to `zlib.crc32(data, seed)`
   * (for example `nativeCrc32()` of @bgsnap/fault-source-uffd, about four times the default here).
   * It is checked against zlib on a few inputs when the writer is created. Default: @node-rs/crc32
   * when it loads, else zlib's.
   */
  crc32?: (data: Uint8Array, seed: number) => number;
  /**
   * The same CRC fused with the copy of page data into a batch: copies `src` into the start of `dst`
   * and returns `crc32(src, seed)`, reading the source once (for example `nativeCrc32().copyCrc32`).
   * Checked like `crc32` when the writer is created. Default: checksum, then copy, per 64 KiB piece.
   */
  copyCrc32?: (src: Uint8Array, dst: Uint8Array, seed: number) => number;
}

/** Running totals of a writer. All byte counts are exact. */
export interface WriterStats {
  /** Page bytes accepted by writePages. */
  readonly bytesIn: number;
  /** Stream bytes encoded (header, records, trailer), written or not. */
  readonly bytesEncoded: number;
  /** Stream bytes whose sink write completed. */
  readonly bytesOut: number;
  /** Bytes encoded but not yet written by the sink. */
  readonly bufferedBytes: number;
  /** Pages accepted. */
  readonly pages: number;
  /** Pages recorded as zero pages (no data stored). */
  readonly zeroPages: number;
  /** Pages stored zstd-compressed. */
  readonly compressedPages: number;
  /** Page records encoded. */
  readonly records: number;
  /** Completed sink writes. */
  readonly sinkWrites: number;
  /** Total time sink writes were pending, ns. */
  readonly sinkBlockedNs: number;
  /** Longest single sink write, ns. */
  readonly maxSinkBlockedNs: number;
}

/** What {@link SnapshotWriter.finish} returns. */
export interface WriterSummary extends WriterStats {
  /** Total pages of all regions (all of them were written exactly once). */
  readonly totalPages: number;
  /** Final CRC-32 of the stream, as stored in the trailer. */
  readonly crc: number;
  /** Stream length in bytes. */
  readonly streamBytes: number;
  /** How long the sink's close (fsync, rename) took, ns. */
  readonly closeNs: number;
}

/** Streams one snapshot: see {@link createSnapshotWriter}. */
export interface SnapshotWriter {
  /**
   * Copies `data` (count × pageSize bytes: pages `[first, first + count)` of `region`) synchronously,
   * with zero-page detection and optional compression; never blocks. After it returns the caller may
   * release or overwrite the source memory.
   * @throws {@link SnapshotArgumentError} for a bad region, range, length or a page written twice
   * (nothing is recorded then); {@link SnapshotStateError} after finish/abort; the {@link SinkError}
   * once the sink has failed.
   */
  writePages(region: number, first: number, data: Uint8Array): void;
  /** True while buffered bytes ≥ highWaterMark: the caller should `await drain()`. */
  readonly needsDrain: boolean;
  /** Resolves when buffered bytes are at or below the low-water mark; rejects with the sink's error. */
  drain(): Promise<void>;
  /** Hands the partly filled batch to the sink now and resolves when everything encoded so far is written. */
  flush(): Promise<void>;
  /**
   * Checks that every page of every region was written exactly once, writes the trailer and closes the
   * sink. Rejects with {@link SnapshotStateError} `INCOMPLETE` (the writer stays usable: write the
   * missing pages or abort) or with the sink's {@link SinkError} (the sink is aborted).
   */
  finish(): Promise<WriterSummary>;
  /**
   * Aborts the sink: nothing is left that a reader would accept. Idempotent. Once `finish()` has
   * started closing the sink (the trailer is out), abort waits for the close instead: a snapshot that
   * completes stays complete.
   */
  abort(reason?: unknown): Promise<void>;
  /** Running totals. */
  readonly stats: WriterStats;
  /** The regions as validated. */
  readonly regions: readonly SnapshotRegion[];
}

/** Bytes checksummed and copied at a time: small enough to stay in L2 between the two passes. */
const COPY_PIECE = 64 * 1024;
// A lone surrogate encodes as U+FFFD, so two different names could encode to the same bytes: names
// must be well-formed for "unique as strings" to mean "unique as bytes", which is what readers compare.
const LONE_SURROGATE = /\p{Surrogate}/u;
/** How long an abort waits for an in-flight write before aborting the sink under it, ms. */
const ABORT_GRACE_MS = 200;

const defaultClock = { now: () => Number(process.hrtime.bigint()) };

function optionInt(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      name,
      `expected an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

function validateRegions(regions: unknown): SnapshotRegion[] {
  if (!Array.isArray(regions) || regions.length < 1 || regions.length > LIMITS.maxRegions) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'regions',
      `expected 1 to ${LIMITS.maxRegions} regions`,
    );
  }
  const names = new Set<string>();
  const encoder = new TextEncoder();
  let totalBytes = 0;
  return regions.map((r: SnapshotRegion, i) => {
    const at = `regions[${i}]`;
    if (typeof r !== 'object' || r === null)
      throw new SnapshotArgumentError('INVALID_OPTION', at, 'expected an object');
    if (
      typeof r.name !== 'string' ||
      r.name.length === 0 ||
      LONE_SURROGATE.test(r.name) ||
      encoder.encode(r.name).length > LIMITS.maxNameBytes
    ) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        `${at}.name`,
        'expected a non-empty, well-formed string (no lone surrogates) of at most 1024 UTF-8 bytes',
      );
    }
    if (names.has(r.name))
      throw new SnapshotArgumentError('INVALID_OPTION', `${at}.name`, `duplicate region name "${r.name}"`);
    names.add(r.name);
    if (!isPowerOfTwo(r.pageSize)) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        `${at}.pageSize`,
        `expected a power of two in [1, 2^30], got ${String(r.pageSize)}`,
      );
    }
    optionInt(`${at}.pageCount`, r.pageCount, 1, LIMITS.maxPageCount, 0);
    if (r.pageCount * r.pageSize > LIMITS.maxRegionBytes) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        `${at}.pageCount`,
        'pageSize × pageCount exceeds 2^52 bytes',
      );
    }
    totalBytes += r.pageCount * r.pageSize;
    if (totalBytes > LIMITS.maxTotalBytes) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        `${at}.pageCount`,
        'the regions together exceed 2^52 bytes',
      );
    }
    return { name: r.name, pageSize: r.pageSize, pageCount: r.pageCount };
  });
}

function compressionLevel(c: SnapshotCompression | undefined): number {
  if (c === undefined || c === 'none') return 0;
  if (c === 'zstd') return 3;
  if (typeof c === 'object' && c !== null && typeof c.zstd === 'object' && c.zstd !== null) {
    return optionInt('compression.zstd.level', c.zstd.level, ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL, 3);
  }
  throw new SnapshotArgumentError(
    'INVALID_OPTION',
    'compression',
    "expected 'none', 'zstd' or { zstd: { level } }",
  );
}

/**
 * A caller-supplied function option after `check` accepted it, or undefined when not given.
 * @throws {@link SnapshotArgumentError} `INVALID_OPTION` naming the option when it is not a function
 * or `check` refuses it.
 */
function checkedFunction<F>(
  option: string,
  value: unknown,
  check: (f: F) => F | undefined,
  expected: string,
): F | undefined {
  if (value === undefined) return undefined;
  const checked = typeof value === 'function' ? check(value as F) : undefined;
  if (!checked) throw new SnapshotArgumentError('INVALID_OPTION', option, expected);
  return checked;
}

interface Pending {
  buf: Buffer;
  length: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Creates a writer that encodes one snapshot into `options.sink`.
 *
 * The header is encoded at once. Pages are copied into batches of `batchBytes` in `writePages`; full
 * batches go to the sink one write at a time, each write timed with `clock` and reported through
 * `onSinkWrite`. The caller polls `needsDrain` and awaits `drain()` to bound memory.
 *
 * @throws {@link SnapshotArgumentError} naming the option and its allowed range.
 */
export function createSnapshotWriter(options: SnapshotWriterOptions): SnapshotWriter {
  if (typeof options !== 'object' || options === null) {
    throw new SnapshotArgumentError('INVALID_OPTION', 'options', 'expected an options object');
  }
  const regions = validateRegions(options.regions);
  const sink = options.sink;
  if (
    typeof sink !== 'object' ||
    sink === null ||
    typeof sink.write !== 'function' ||
    typeof sink.close !== 'function' ||
    typeof sink.abort !== 'function'
  ) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'sink',
      'expected an object with write, close and abort methods',
    );
  }
  const clock = options.clock ?? defaultClock;
  if (typeof clock.now !== 'function')
    throw new SnapshotArgumentError('INVALID_OPTION', 'clock', 'expected { now(): number }');
  const level = compressionLevel(options.compression);
  const batchBytes = optionInt('batchBytes', options.batchBytes, 4096, 2 ** 30, 1 << 20);
  const highWaterMark = optionInt(
    'highWaterMark',
    options.highWaterMark,
    batchBytes,
    2 ** 40,
    Math.max(8 << 20, batchBytes),
  );
  const lowWaterMark = optionInt(
    'lowWaterMark',
    options.lowWaterMark,
    0,
    highWaterMark,
    Math.floor(highWaterMark / 2),
  );
  const writerId = options.writerId ?? `@bgsnap/stream-writer@${VERSION}`;
  if (typeof writerId !== 'string' || new TextEncoder().encode(writerId).length > LIMITS.maxWriterIdBytes) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'writerId',
      'expected a string of at most 1024 UTF-8 bytes',
    );
  }
  const createdAtNs = options.createdAtNs ?? BigInt(Date.now()) * 1_000_000n;
  if (typeof createdAtNs !== 'bigint' || createdAtNs < 0n || createdAtNs >= 2n ** 64n) {
    throw new SnapshotArgumentError('INVALID_OPTION', 'createdAtNs', 'expected a bigint in [0, 2^64)');
  }
  const onSinkWrite = options.onSinkWrite;
  const crc: Crc32 =
    checkedFunction(
      'crc32',
      options.crc32,
      checkedCrc32,
      "expected a function (data, seed) => number that computes zlib's CRC-32",
    ) ?? crc32;
  const copyCrc = checkedFunction(
    'copyCrc32',
    options.copyCrc32,
    checkedCopyCrc32,
    "expected a function (src, dst, seed) => number that copies src into dst and returns zlib's CRC-32 of it",
  );
  return new Writer(
    regions,
    sink,
    clock,
    level,
    batchBytes,
    highWaterMark,
    lowWaterMark,
    writerId,
    createdAtNs,
    onSinkWrite,
    crc,
    copyCrc,
  );
}

class Writer implements SnapshotWriter {
  readonly regions: readonly SnapshotRegion[];
  private readonly pageSizes: number[];
  private readonly pageCounts: number[];
  private readonly totalPages: number;
  private readonly maxRecordBytes: number;
  private readonly batchCapacity: number;
  private readonly maxPooled: number;
  private readonly zeroBuf: Buffer;
  private readonly codec: ZstdCodec | undefined;
  private readonly seen: PageSet;

  private batch: Buffer;
  private view: DataView;
  private pos = 0;
  private crc = 0;
  private readonly queue: Pending[] = [];
  private readonly pool: Buffer[] = [];
  private pumping = false;
  private inFlight: Promise<void> | undefined;
  private state: 'open' | 'finishing' | 'finished' | 'failed' | 'aborted' = 'open';
  private failure: unknown;
  private drainWaiters: Waiter[] = [];
  private flushWaiters: Waiter[] = [];

  private bytesIn = 0;
  private bytesEncoded = 0;
  private bytesOut = 0;
  private pages = 0;
  private zeroPages = 0;
  private compressedPages = 0;
  private records = 0;
  private payloadBytes = 0;
  private sinkWrites = 0;
  private sinkBlockedNs = 0;
  private maxSinkBlockedNs = 0;

  constructor(
    regions: SnapshotRegion[],
    private readonly sink: Sink,
    private readonly clock: { now(): number },
    private readonly level: number,
    batchBytes: number,
    private readonly highWaterMark: number,
    private readonly lowWaterMark: number,
    writerId: string,
    createdAtNs: bigint,
    private readonly onSinkWrite: SnapshotWriterOptions['onSinkWrite'],
    private readonly crc32: Crc32,
    private readonly copyCrc32: CopyCrc32 | undefined,
  ) {
    this.regions = regions;
    this.pageSizes = regions.map((r) => r.pageSize);
    this.pageCounts = regions.map((r) => r.pageCount);
    this.totalPages = this.pageCounts.reduce((a, b) => a + b, 0);
    // Records never exceed a batch (unless one page does), so each sink write is about batchBytes.
    const batchPow2 = 2 ** Math.floor(Math.log2(batchBytes));
    this.maxRecordBytes = Math.max(Math.min(DEFAULT_MAX_RECORD_BYTES, batchPow2), ...this.pageSizes);
    this.seen = new PageSet(this.pageCounts);
    this.zeroBuf = Buffer.alloc(Math.min(this.maxRecordBytes, 1 << 20));
    this.codec = level > 0 ? zstdCodec() : undefined;
    const header = encodeHeader({ regions, createdAtNs, maxRecordBytes: this.maxRecordBytes, writerId });
    // A batch always holds at least one maximal record, so a record never straddles two sink writes.
    this.batchCapacity = Math.max(
      batchBytes,
      this.maxRecordBytes + RECORD_OVERHEAD,
      header.length,
      TRAILER_BYTES,
    );
    this.maxPooled = Math.ceil(highWaterMark / this.batchCapacity) + 2;
    this.batch = acquireBatch(this.batchCapacity);
    this.view = new DataView(this.batch.buffer, this.batch.byteOffset, this.batch.byteLength);
    this.batch.set(header, 0);
    this.pos = header.length;
    this.bytesEncoded = header.length;
    this.crc = new DataView(header.buffer).getUint32(header.length - 4, true);
  }

  get needsDrain(): boolean {
    return this.bytesEncoded - this.bytesOut >= this.highWaterMark;
  }

  get stats(): WriterStats {
    return {
      bytesIn: this.bytesIn,
      bytesEncoded: this.bytesEncoded,
      bytesOut: this.bytesOut,
      bufferedBytes: this.bytesEncoded - this.bytesOut,
      pages: this.pages,
      zeroPages: this.zeroPages,
      compressedPages: this.compressedPages,
      records: this.records,
      sinkWrites: this.sinkWrites,
      sinkBlockedNs: this.sinkBlockedNs,
      maxSinkBlockedNs: this.maxSinkBlockedNs,
    };
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    if (this.state === 'failed') throw this.failure;
    if (this.state === 'aborted') throw new SnapshotStateError('ABORTED', 'the snapshot writer was aborted');
    if (this.state === 'finishing')
      throw new SnapshotStateError('FINISHING', 'finish() was called: no more pages');
    throw new SnapshotStateError('FINISHED', 'the snapshot writer has finished');
  }

  writePages(region: number, first: number, data: Uint8Array): void {
    this.assertOpen();
    const pageSize = this.pageSizes[region];
    if (pageSize === undefined || !Number.isInteger(region)) {
      throw new SnapshotArgumentError(
        'REGION_OUT_OF_RANGE',
        'region',
        `expected an integer in [0, ${this.regions.length - 1}], got ${String(region)}`,
      );
    }
    if (!(data instanceof Uint8Array))
      throw new SnapshotArgumentError('BAD_LENGTH', 'data', 'expected a Uint8Array');
    const length = data.byteLength;
    const count = length / pageSize;
    if (length === 0 || !Number.isInteger(count)) {
      throw new SnapshotArgumentError(
        'BAD_LENGTH',
        'data',
        `length ${length} is not a positive multiple of the page size ${pageSize} of region ${region}`,
      );
    }
    const pageCount = this.pageCounts[region]!;
    if (!Number.isInteger(first) || first < 0 || first + count > pageCount) {
      throw new SnapshotArgumentError(
        'PAGE_OUT_OF_RANGE',
        'first',
        `pages [${String(first)}, ${String(first + count)}) are outside [0, ${pageCount}) of region ${region}`,
      );
    }
    const dup = this.seen.findMarked(region, first, count);
    if (dup >= 0) {
      throw new SnapshotArgumentError(
        'DUPLICATE_PAGE',
        'first',
        `page ${dup} of region ${region} was already written`,
      );
    }
    this.seen.mark(region, first, count);
    this.pages += count;
    this.bytesIn += length;
    try {
      if (count === 1) {
        if (this.isZero(data, 0, length)) this.emitZero(region, first, 1, pageSize);
        else this.emitData(region, first, data, 0, 1, pageSize);
        return;
      }
      // Whole run first: one memcmp settles the common all-zero case.
      if (this.isZero(data, 0, length)) {
        this.emitZero(region, first, count, pageSize);
        return;
      }
      let runStart = 0;
      let runZero = this.isZero(data, 0, pageSize);
      for (let i = 1; i < count; i++) {
        const zero = this.isZero(data, i * pageSize, pageSize);
        if (zero !== runZero) {
          this.emitRun(region, first, data, runStart, i, runZero, pageSize);
          runStart = i;
          runZero = zero;
        }
      }
      this.emitRun(region, first, data, runStart, count, runZero, pageSize);
    } catch (error) {
      // Only the codec can throw here; the stream state is unknown, so the snapshot cannot go on.
      this.fail(error);
      throw error;
    }
  }

  /**
   * Zero-page test. A data page almost always has a non-zero byte among its first, middle or last
   * words, found by three reads; only pages that pass get the full memcmp against a shared zero buffer
   * (a C++ memcmp, far faster than a JS loop).
   */
  private isZero(src: Uint8Array, offset: number, length: number): boolean {
    const end = offset + length;
    if (src[offset] !== 0 || src[end - 1] !== 0 || src[offset + (length >>> 1)] !== 0) return false;
    const zero = this.zeroBuf;
    const step = zero.length;
    for (let o = offset; o < end; o += step) {
      const n = Math.min(step, end - o);
      if (zero.compare(src, o, o + n, 0, n) !== 0) return false;
    }
    return true;
  }

  private emitRun(
    region: number,
    first: number,
    src: Uint8Array,
    from: number,
    to: number,
    zero: boolean,
    pageSize: number,
  ): void {
    if (zero) this.emitZero(region, first + from, to - from, pageSize);
    else this.emitData(region, first + from, src, from * pageSize, to - from, pageSize);
  }

  private ensureSpace(bytes: number): void {
    if (this.pos + bytes > this.batchCapacity) this.rotateBatch();
  }

  private writeRecordHeader(
    flags: number,
    region: number,
    first: number,
    count: number,
    payload: number,
  ): void {
    const b = this.batch;
    const v = this.view;
    const p = this.pos;
    b[p] = RECORD_TYPE_PAGES;
    b[p + 1] = flags;
    v.setUint16(p + 2, region, true);
    v.setUint32(p + 4, count, true);
    v.setUint32(p + 8, first >>> 0, true);
    v.setUint32(p + 12, Math.floor(first / 0x1_0000_0000), true);
    v.setUint32(p + 16, payload, true);
  }

  private sealRecord(payload: number): void {
    const end = this.pos + RECORD_HEADER_BYTES + payload;
    this.sealRecordWithCrc(payload, this.crc32(this.batch.subarray(this.pos, end), this.crc));
  }

  private sealRecordWithCrc(payload: number, crc: number): void {
    const end = this.pos + RECORD_HEADER_BYTES + payload;
    this.crc = crc;
    this.view.setUint32(end, crc, true);
    this.pos = end + 4;
    this.bytesEncoded += RECORD_OVERHEAD + payload;
    this.payloadBytes += payload;
    this.records++;
  }

  private emitZero(region: number, first: number, count: number, pageSize: number): void {
    const perRecord = Math.floor(this.maxRecordBytes / pageSize);
    this.zeroPages += count;
    for (let done = 0; done < count; ) {
      const n = Math.min(perRecord, count - done);
      this.ensureSpace(RECORD_OVERHEAD);
      this.writeRecordHeader(FLAG_ZERO, region, first + done, n, 0);
      this.sealRecord(0);
      done += n;
    }
  }

  private emitData(
    region: number,
    first: number,
    src: Uint8Array,
    offset: number,
    count: number,
    pageSize: number,
  ): void {
    const perRecord = Math.floor(this.maxRecordBytes / pageSize);
    for (let done = 0; done < count; ) {
      let n = Math.min(perRecord, count - done);
      const start = offset + done * pageSize;
      if (this.codec) {
        const packed = this.codec.compress(src.subarray(start, start + n * pageSize), this.level);
        if (packed) {
          this.ensureSpace(RECORD_OVERHEAD + packed.length);
          this.writeRecordHeader(FLAG_ZSTD, region, first + done, n, packed.length);
          this.batch.set(packed, this.pos + RECORD_HEADER_BYTES);
          this.sealRecord(packed.length);
          this.compressedPages += n;
          done += n;
          continue;
        }
      }
      // Fill the current batch as far as whole pages go, so sink writes stay close to batchBytes.
      const room = Math.floor((this.batchCapacity - this.pos - RECORD_OVERHEAD) / pageSize);
      if (room < 1) {
        this.rotateBatch();
        continue;
      }
      n = Math.min(n, room);
      const bytes = n * pageSize;
      this.writeRecordHeader(0, region, first + done, n, bytes);
      let crc = this.crc32(this.batch.subarray(this.pos, this.pos + RECORD_HEADER_BYTES), this.crc);
      const dst = this.pos + RECORD_HEADER_BYTES;
      // The pages cross the memory bus once: in the fused copy, or else by checksumming each piece of
      // the source right before copying it, so that the copy reads from cache.
      if (this.copyCrc32) {
        crc = this.copyCrc32(src.subarray(start, start + bytes), this.batch.subarray(dst, dst + bytes), crc);
      } else {
        for (let o = 0; o < bytes; o += COPY_PIECE) {
          const piece = src.subarray(start + o, start + Math.min(bytes, o + COPY_PIECE));
          crc = this.crc32(piece, crc);
          this.batch.set(piece, dst + o);
        }
      }
      this.sealRecordWithCrc(bytes, crc);
      done += n;
    }
  }

  /** Queues the current batch for the sink and starts a new one. */
  private rotateBatch(): void {
    if (this.pos === 0) return;
    this.queue.push({ buf: this.batch, length: this.pos });
    this.batch = this.pool.pop() ?? acquireBatch(this.batchCapacity);
    this.view = new DataView(this.batch.buffer, this.batch.byteOffset, this.batch.byteLength);
    this.pos = 0;
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && (this.state === 'open' || this.state === 'finishing')) {
        const item = this.queue.shift()!;
        const started = this.clock.now();
        try {
          this.inFlight = this.sink.write(item.buf.subarray(0, item.length));
          await this.inFlight;
        } catch (error) {
          this.fail(toSinkError('write', error));
          return;
        } finally {
          this.inFlight = undefined;
        }
        if (this.state !== 'open' && this.state !== 'finishing') return;
        const now = this.clock.now();
        const blocked = Math.max(0, now - started);
        this.sinkWrites++;
        this.sinkBlockedNs += blocked;
        if (blocked > this.maxSinkBlockedNs) this.maxSinkBlockedNs = blocked;
        this.bytesOut += item.length;
        // Keep enough batches to cover the high-water mark: a fresh buffer costs a page fault per
        // 4 KiB on first touch, which halved encode throughput.
        if (this.pool.length < this.maxPooled && item.buf.length === this.batchCapacity)
          this.pool.push(item.buf);
        if (this.onSinkWrite) {
          try {
            this.onSinkWrite(item.length, blocked, now);
          } catch (error) {
            this.fail(error);
            return;
          }
        }
        this.wakeWaiters();
      }
    } finally {
      this.pumping = false;
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const buffered = this.bytesEncoded - this.bytesOut;
    if (this.drainWaiters.length > 0 && buffered <= this.lowWaterMark) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
    if (this.flushWaiters.length > 0 && this.queue.length === 0 && !this.pumping) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private rejectWaiters(error: unknown): void {
    const waiters = [...this.drainWaiters, ...this.flushWaiters];
    this.drainWaiters = [];
    this.flushWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  /** Hands idle batch buffers to the process-wide pool; the queue and an in-flight write keep theirs. */
  private releaseBuffers(): void {
    for (const buf of this.pool) releaseBatch(buf);
    this.pool.length = 0;
    if (this.state === 'finished') releaseBatch(this.batch);
  }

  /** The snapshot cannot complete: drop buffers, abort the sink, fail every waiter. */
  private fail(error: unknown): void {
    if (this.state === 'failed' || this.state === 'aborted' || this.state === 'finished') return;
    this.state = 'failed';
    this.failure = error;
    this.queue.length = 0;
    this.releaseBuffers();
    this.rejectWaiters(error);
    this.abortSink(error);
  }

  private sinkAborted: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private abortSink(reason: unknown): Promise<void> {
    this.sinkAborted ??= (async () => {
      // Let an in-flight write settle first, so a sink rarely sees abort race a write; but a receiver
      // that stopped reading would hold the write (and so the abort) forever: after a short grace the
      // sink is aborted anyway, and the package's sinks settle the write they have in flight.
      const inFlight = this.inFlight;
      if (inFlight) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          inFlight.catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, ABORT_GRACE_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      try {
        await this.sink.abort(reason);
      } catch {
        // A sink that fails to abort has nothing more to tell: the snapshot already failed.
      }
    })();
    return this.sinkAborted;
  }

  drain(): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.failure);
    if (this.state === 'aborted')
      return Promise.reject(new SnapshotStateError('ABORTED', 'the snapshot writer was aborted'));
    if (this.bytesEncoded - this.bytesOut <= this.lowWaterMark) return Promise.resolve();
    // Bytes of the unfinished batch leave only with it: if they alone keep us above the mark, send them.
    if (this.pos > this.lowWaterMark) this.rotateBatch();
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
      this.wakeWaiters();
    });
  }

  flush(): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.failure);
    if (this.state === 'aborted')
      return Promise.reject(new SnapshotStateError('ABORTED', 'the snapshot writer was aborted'));
    if (this.state === 'finished') return Promise.resolve();
    this.rotateBatch();
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ resolve, reject });
      this.wakeWaiters();
    });
  }

  async finish(): Promise<WriterSummary> {
    this.assertOpen();
    if (this.pages !== this.totalPages) {
      const missing: string[] = [];
      for (let r = 0; r < this.regions.length && missing.length < 3; r++) {
        if (this.seen.count(r) < this.pageCounts[r]!) {
          missing.push(`region ${r} ("${this.regions[r]!.name}") page ${this.seen.firstUnmarked(r)}`);
        }
      }
      throw new SnapshotStateError(
        'INCOMPLETE',
        `${this.totalPages - this.pages} of ${this.totalPages} pages were not written; first missing: ${missing.join(', ')}`,
      );
    }
    this.state = 'finishing';
    const trailerOffset = this.bytesEncoded;
    this.ensureSpace(TRAILER_BYTES);
    encodeTrailerBody(this.batch, this.view, this.pos, {
      regionCount: this.regions.length,
      recordCount: this.records,
      pageCount: this.pages,
      zeroPageCount: this.zeroPages,
      payloadBytes: this.payloadBytes,
      offset: trailerOffset,
    });
    const end = this.pos + TRAILER_BYTES - 4;
    this.crc = this.crc32(this.batch.subarray(this.pos, end), this.crc);
    this.view.setUint32(end, this.crc, true);
    this.pos += TRAILER_BYTES;
    this.bytesEncoded += TRAILER_BYTES;
    try {
      await this.flush();
    } catch (error) {
      throw (this.state as string) === 'aborted'
        ? new SnapshotStateError('ABORTED', 'the snapshot writer was aborted')
        : error;
    }
    if (this.state !== 'finishing') this.assertOpen();
    const started = this.clock.now();
    try {
      this.closing = this.sink.close();
      await this.closing;
    } catch (error) {
      const failure = toSinkError('close', error);
      this.fail(failure);
      await this.sinkAborted;
      throw failure;
    }
    const closeNs = Math.max(0, this.clock.now() - started);
    if ((this.state as string) !== 'finishing') this.assertOpen();
    this.state = 'finished';
    this.releaseBuffers();
    return {
      ...this.stats,
      totalPages: this.totalPages,
      crc: this.crc,
      streamBytes: this.bytesEncoded,
      closeNs,
    };
  }

  async abort(reason?: unknown): Promise<void> {
    if (this.state === 'finished') return;
    if (this.closing) {
      // The trailer is written and the sink is finalising: let it. If it succeeds the snapshot is
      // complete and there is nothing to abort; if it fails, finish() has already aborted the sink.
      await this.closing.catch(() => undefined);
      await this.sinkAborted;
      return;
    }
    if (this.state !== 'aborted' && this.state !== 'failed') {
      this.state = 'aborted';
      this.queue.length = 0;
      this.releaseBuffers();
      this.rejectWaiters(
        new SnapshotStateError('ABORTED', 'the snapshot writer was aborted', { cause: reason }),
      );
    }
    await this.abortSink(reason);
  }
}
