import { crc32 } from '../crc.js';
import { SnapshotArgumentError, SnapshotFormatError } from '../errors.js';
import {
  CRC_BYTES,
  decodeHeader,
  decodeHeaderPrefix,
  END_MAGIC,
  FLAG_ZERO,
  FLAG_ZSTD,
  HEADER_FIXED_BYTES,
  LIMITS,
  RECORD_HEADER_BYTES,
  RECORD_TYPE_END,
  RECORD_TYPE_PAGES,
  type RegionDescriptor,
  readU64,
  type SnapshotHeader,
  type SnapshotTrailer,
  TRAILER_BYTES,
} from '../format.js';
import { PageSet } from '../page-set.js';
import { zstdCodec, zstdReady } from '../zstd.js';
import { checkZstdFrame } from '../zstd-frame.js';
import { openByteSource, type SnapshotSource } from './byte-source.js';
import { Cursor } from './cursor.js';

/** Options of {@link readSnapshot} and of every function built on it. */
export interface ReadSnapshotOptions {
  /**
   * Regions the snapshot must describe (names, page sizes, page counts, in order). A mismatch is an
   * `UNEXPECTED_REGIONS` {@link SnapshotFormatError} before any page is read.
   */
  expectRegions?: readonly RegionDescriptor[];
  /** Largest record payload (count × pageSize) accepted, in [1, 2^30]. Default 64 MiB. */
  maxRecordBytes?: number;
  /** Largest header accepted in bytes, in [36, 2^30]. Default 16 MiB. */
  maxHeaderBytes?: number;
}

/** The stream's header: the first event. */
export interface HeaderEvent {
  /** Discriminant. */
  readonly type: 'header';
  /** The header starts the stream. */
  readonly offset: 0;
  /** The decoded, checksum-verified header. */
  readonly header: SnapshotHeader;
}

/**
 * A run of pages `[first, first + count)` of `region`: either zero pages (`zero: true`, no `data`) or
 * their contents (`data`, count × pageSize bytes, already decompressed and checksum-verified).
 */
/** What every pages record says, zero or not; see {@link PagesEvent}. */
export interface PagesEventBase {
  /** Discriminant. */
  readonly type: 'pages';
  /** Stream offset of the record. */
  readonly offset: number;
  /** Region index into the header's region table. */
  readonly region: number;
  /** First page of the run. */
  readonly first: number;
  /** Number of pages, ≥ 1. */
  readonly count: number;
  /** True if the data was stored zstd-compressed. */
  readonly compressed: boolean;
  /** Payload bytes the record occupied in the stream (0 for zero pages). */
  readonly storedBytes: number;
}

/**
 * A run of pages. Discriminated by `zero`: zero pages carry no data (they restore as zeros); other
 * pages carry `data`, count × pageSize bytes, so `ev.zero ? … : ev.data` needs no check. `data` is
 * never reused by the reader, but it may be a view into a larger read buffer (4 MiB for files) or into
 * the caller's Uint8Array source: `slice()` it to keep many small runs without keeping their buffers
 * alive.
 */
export type PagesEvent =
  | (PagesEventBase & { readonly zero: true; readonly data: undefined })
  | (PagesEventBase & { readonly zero: false; readonly data: Uint8Array });

/** The stream's trailer: the last event, only after everything was verified. */
export interface TrailerEvent {
  /** Discriminant. */
  readonly type: 'trailer';
  /** Stream offset of the trailer. */
  readonly offset: number;
  /** The verified totals. */
  readonly trailer: SnapshotTrailer;
}

/** What {@link readSnapshot} yields, in stream order: one header, page runs, one trailer. */
export type SnapshotEvent = HeaderEvent | PagesEvent | TrailerEvent;

function limitOption(
  name: string,
  value: number | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      name,
      `expected an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

function checkExpected(header: SnapshotHeader, expected: readonly RegionDescriptor[]): void {
  const got = header.regions;
  const describe = (rs: readonly RegionDescriptor[]) =>
    rs.map((r) => `${r.name}:${r.pageSize}x${r.pageCount}`).join(', ');
  const same =
    got.length === expected.length &&
    got.every((r, i) => {
      const e = expected[i]!;
      return r.name === e.name && r.pageSize === e.pageSize && r.pageCount === e.pageCount;
    });
  if (!same) {
    throw new SnapshotFormatError(
      'UNEXPECTED_REGIONS',
      HEADER_FIXED_BYTES,
      `region table [${describe(got)}] differs from the expected [${describe(expected)}]`,
    );
  }
}

/**
 * Decodes a snapshot stream, validating as it goes, and yields its header, each page run and finally
 * the trailer. Every byte is checked before it is yielded (lengths against the header and what
 * remains, the CRC chain, page ranges, duplicates); a stream that is truncated, corrupt or incomplete
 * throws a {@link SnapshotFormatError} naming the byte offset. Only an iteration that reaches the
 * trailer event has read a complete, valid snapshot: page runs yielded before an error must be treated
 * as untrusted.
 *
 * Allocation is bounded by the header and by `maxRecordBytes`, never by what a length field claims.
 */
export function readSnapshot(
  source: SnapshotSource,
  options: ReadSnapshotOptions = {},
): AsyncGenerator<SnapshotEvent, void, undefined> {
  return readEvents(source, options);
}

/**
 * What the reader holds besides the record in hand, reported after each record (test support, not
 * exported from the package): the resource bound of docs/FORMAT.md is stated in these terms.
 */
export interface ReaderState {
  /** Stream offset just past the record. */
  readonly offset: number;
  /** Length of the header. */
  readonly headerBytes: number;
  /** Page records read so far. */
  readonly records: number;
  /** Intervals of saved pages the duplicate/completeness check holds, over all regions. */
  readonly intervals: number;
  /** Bytes of the buffer the record's payload was decompressed into (0 if none). */
  readonly decodeBytes: number;
}

/** {@link readSnapshot} with a probe called after every accepted record. */
export async function* readEvents(
  source: SnapshotSource,
  options: ReadSnapshotOptions,
  probe?: (state: ReaderState) => void,
): AsyncGenerator<SnapshotEvent, void, undefined> {
  const maxRecordBytes = limitOption(
    'maxRecordBytes',
    options.maxRecordBytes,
    1,
    LIMITS.maxRecordBytes,
    64 << 20,
  );
  const maxHeaderBytes = limitOption('maxHeaderBytes', options.maxHeaderBytes, 36, 2 ** 30, 16 << 20);
  const bytes = await openByteSource(source);
  try {
    const cur = new Cursor(bytes);
    const prefix = await cur.take(HEADER_FIXED_BYTES, 0, 'header');
    const headerLength = decodeHeaderPrefix(prefix, maxHeaderBytes);
    const remaining = cur.remaining;
    if (remaining !== undefined && headerLength - HEADER_FIXED_BYTES > remaining) {
      throw new SnapshotFormatError(
        'RECORD_EXCEEDS_STREAM',
        12,
        `header length ${headerLength} exceeds the stream length ${bytes.length}`,
      );
    }
    const rest = await cur.take(headerLength - HEADER_FIXED_BYTES, 0, 'header');
    const headerBytes = new Uint8Array(headerLength);
    headerBytes.set(prefix, 0);
    headerBytes.set(rest, HEADER_FIXED_BYTES);
    const header = decodeHeader(headerBytes);
    if (header.maxRecordBytes > maxRecordBytes) {
      throw new SnapshotFormatError(
        'LIMIT_EXCEEDED',
        24,
        `records of up to ${header.maxRecordBytes} bytes exceed the reader's maxRecordBytes option (${maxRecordBytes})`,
      );
    }
    if (options.expectRegions) checkExpected(header, options.expectRegions);
    yield { type: 'header', offset: 0, header };

    const regions = header.regions;
    const seen = new PageSet(regions.map((r) => r.pageCount));
    let chain = header.crc;
    let records = 0;
    let pages = 0;
    let zeroPages = 0;
    let payloadBytes = 0;

    for (;;) {
      const at = cur.offset;
      const head = await cur.take(RECORD_HEADER_BYTES, at, 'record');
      const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const type = head[0];
      if (type === RECORD_TYPE_END) {
        const tail = await cur.take(TRAILER_BYTES - RECORD_HEADER_BYTES, at, 'trailer');
        const t = new Uint8Array(TRAILER_BYTES);
        t.set(head, 0);
        t.set(tail, RECORD_HEADER_BYTES);
        const trailer = checkTrailer(t, at, chain, regions.length, {
          records,
          pages,
          zeroPages,
          payloadBytes,
        });
        for (let r = 0; r < regions.length; r++) {
          if (seen.count(r) !== regions[r]!.pageCount) {
            throw new SnapshotFormatError(
              'INCOMPLETE',
              at,
              `region ${r} ("${regions[r]!.name}") lacks ${regions[r]!.pageCount - seen.count(r)} pages, first missing page ${seen.firstUnmarked(r)}`,
            );
          }
        }
        if (!(await cur.atEnd())) {
          throw new SnapshotFormatError('TRAILING_DATA', at + TRAILER_BYTES, 'bytes follow the trailer');
        }
        yield { type: 'trailer', offset: at, trailer };
        return;
      }
      if (type !== RECORD_TYPE_PAGES) {
        throw new SnapshotFormatError('BAD_RECORD', at, `unknown record type 0x${(type ?? 0).toString(16)}`);
      }
      const flags = head[1]!;
      if (flags !== 0 && flags !== FLAG_ZERO && flags !== FLAG_ZSTD) {
        throw new SnapshotFormatError('BAD_RECORD', at + 1, `invalid record flags 0x${flags.toString(16)}`);
      }
      const region = hv.getUint16(2, true);
      const info = regions[region];
      if (!info) {
        throw new SnapshotFormatError(
          'RECORD_OUT_OF_RANGE',
          at + 2,
          `region ${region} is not in the table of ${regions.length}`,
        );
      }
      const count = hv.getUint32(4, true);
      const rawBytes = count * info.pageSize;
      if (count < 1 || rawBytes > header.maxRecordBytes) {
        throw new SnapshotFormatError(
          'BAD_RECORD',
          at + 4,
          `page count ${count} outside [1, ${Math.floor(header.maxRecordBytes / info.pageSize)}] for region ${region}`,
        );
      }
      const first = readU64(hv, 8);
      if (first < 0 || first + count > info.pageCount) {
        throw new SnapshotFormatError(
          'RECORD_OUT_OF_RANGE',
          at + 8,
          `pages [${first < 0 ? '>2^53' : first}, +${count}) are outside [0, ${info.pageCount}) of region ${region}`,
        );
      }
      const stored = hv.getUint32(16, true);
      const zero = flags === FLAG_ZERO;
      const compressed = flags === FLAG_ZSTD;
      const lengthOk = zero
        ? stored === 0
        : compressed
          ? stored >= 1 && stored < rawBytes
          : stored === rawBytes;
      if (!lengthOk) {
        throw new SnapshotFormatError(
          'BAD_RECORD',
          at + 16,
          `payload length ${stored} is invalid for a ${zero ? 'zero' : compressed ? 'compressed' : 'data'} record of ${rawBytes} bytes`,
        );
      }
      const left = cur.remaining;
      if (left !== undefined && stored + CRC_BYTES > left) {
        throw new SnapshotFormatError(
          'RECORD_EXCEEDS_STREAM',
          at + 16,
          `record needs ${stored + CRC_BYTES} more bytes but the stream has ${left}`,
        );
      }
      let crc = crc32(head, chain);
      let payload: Uint8Array | undefined;
      if (stored > 0) {
        payload = await cur.take(stored, at, 'record');
        crc = crc32(payload, crc);
      }
      const crcBytes = await cur.take(CRC_BYTES, at, 'record');
      const expectedCrc = new DataView(crcBytes.buffer, crcBytes.byteOffset, 4).getUint32(0, true);
      if (expectedCrc !== crc) {
        throw new SnapshotFormatError(
          'CHECKSUM_MISMATCH',
          at,
          `checksum mismatch in the record at byte ${at} (stored 0x${expectedCrc.toString(16)}, computed 0x${crc.toString(16)})`,
        );
      }
      chain = crc;
      const dup = seen.findMarked(region, first, count);
      if (dup >= 0) {
        throw new SnapshotFormatError(
          'DUPLICATE_PAGE',
          at + 8,
          `page ${dup} of region ${region} appears a second time`,
        );
      }
      let data = payload;
      if (compressed) {
        const problem = checkZstdFrame(payload!, rawBytes);
        if (problem) {
          throw new SnapshotFormatError(
            'DECOMPRESSION_FAILED',
            at + RECORD_HEADER_BYTES,
            `ZSTD payload breaks the one-frame rule at its byte ${problem.at}: ${problem.reason}`,
          );
        }
        data = new Uint8Array(rawBytes);
        await zstdReady();
        if (!zstdCodec().decompressInto(payload!, data)) {
          throw new SnapshotFormatError(
            'DECOMPRESSION_FAILED',
            at + RECORD_HEADER_BYTES,
            `zstd payload does not decode to exactly ${rawBytes} bytes`,
          );
        }
      }
      seen.mark(region, first, count);
      records++;
      pages += count;
      payloadBytes += stored;
      if (zero) zeroPages += count;
      probe?.({
        offset: cur.offset,
        headerBytes: header.byteLength,
        records,
        intervals: seen.intervalCount(),
        decodeBytes: compressed ? rawBytes : 0,
      });
      const base = {
        type: 'pages',
        offset: at,
        region,
        first,
        count,
        compressed,
        storedBytes: stored,
      } as const;
      // A data record always decoded to bytes above; only zero records have none.
      yield data === undefined ? { ...base, zero: true, data } : { ...base, zero: false, data };
    }
  } finally {
    await bytes.close();
  }
}

function checkTrailer(
  t: Uint8Array,
  at: number,
  chain: number,
  regionCount: number,
  counted: { records: number; pages: number; zeroPages: number; payloadBytes: number },
): SnapshotTrailer {
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const stored = v.getUint32(TRAILER_BYTES - CRC_BYTES, true);
  const crc = crc32(t.subarray(0, TRAILER_BYTES - CRC_BYTES), chain);
  if (stored !== crc) {
    throw new SnapshotFormatError(
      'CHECKSUM_MISMATCH',
      at,
      `trailer checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${crc.toString(16)})`,
    );
  }
  for (let i = 0; i < END_MAGIC.length; i++) {
    if (t[48 + i] !== END_MAGIC[i])
      throw new SnapshotFormatError('BAD_TRAILER', at + 48 + i, 'end marker mismatch');
  }
  if (t[1] !== 0 || v.getUint32(4, true) !== 0)
    throw new SnapshotFormatError('BAD_TRAILER', at + 1, 'reserved trailer bytes are not zero');
  if (v.getUint16(2, true) !== regionCount)
    throw new SnapshotFormatError('BAD_TRAILER', at + 2, 'trailer region count differs from the header');
  const fields: [number, string, number][] = [
    [8, 'record count', counted.records],
    [16, 'page count', counted.pages],
    [24, 'zero page count', counted.zeroPages],
    [32, 'payload byte count', counted.payloadBytes],
    [40, 'trailer offset', at],
  ];
  for (const [off, name, actual] of fields) {
    const value = readU64(v, off);
    if (value !== actual) {
      throw new SnapshotFormatError(
        'BAD_TRAILER',
        at + off,
        `trailer ${name} ${value} differs from the stream's ${actual}`,
      );
    }
  }
  return {
    recordCount: counted.records,
    pageCount: counted.pages,
    zeroPageCount: counted.zeroPages,
    payloadBytes: counted.payloadBytes,
    offset: at,
    crc,
  };
}
