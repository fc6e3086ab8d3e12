/**
 * Byte layout of the bgsnap snapshot stream, version 1. docs/FORMAT.md is the normative description;
 * this module is its single implementation, shared by the writer and the reader.
 */
import { crc32 } from './crc.js';
import { SnapshotFormatError } from './errors.js';

/** First 8 bytes of every stream: "BGSNAP\r\n" (the CR LF catches text-mode mangling). */
export const MAGIC = Uint8Array.of(0x42, 0x47, 0x53, 0x4e, 0x41, 0x50, 0x0d, 0x0a);
/** Last 8 bytes of the trailer before its CRC: "BGSNEND\n". */
export const END_MAGIC = Uint8Array.of(0x42, 0x47, 0x53, 0x4e, 0x45, 0x4e, 0x44, 0x0a);
/** The format version this module writes and reads. */
export const FORMAT_VERSION = 1;

export const HEADER_FIXED_BYTES = 32;
export const REGION_ENTRY_FIXED_BYTES = 14;
export const CRC_BYTES = 4;
export const RECORD_HEADER_BYTES = 20;
/** Record header + CRC: the per-record overhead. */
export const RECORD_OVERHEAD = RECORD_HEADER_BYTES + CRC_BYTES;
export const TRAILER_BYTES = 60;

export const RECORD_TYPE_PAGES = 0x50; // 'P'
export const RECORD_TYPE_END = 0x45; // 'E'
export const FLAG_ZERO = 0x01;
export const FLAG_ZSTD = 0x02;

/** Format limits: anything beyond them is rejected by writer and reader alike. */
export const LIMITS = {
  maxRegions: 0xffff,
  maxNameBytes: 1024,
  maxWriterIdBytes: 1024,
  minPageSize: 1,
  maxPageSize: 2 ** 30,
  maxPageCount: 2 ** 40,
  /** pageSize × pageCount of one region. */
  maxRegionBytes: 2 ** 52,
  /** Σ pageSize × pageCount over all regions: the restore image size, addressable as a safe integer. */
  maxTotalBytes: 2 ** 52,
  maxRecordBytes: 2 ** 30,
  maxHeaderBytes: HEADER_FIXED_BYTES + 1024 + 0xffff * (REGION_ENTRY_FIXED_BYTES + 1024) + CRC_BYTES,
} as const;

/** The writer's default bound on one record's uncompressed payload. */
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/** One region as described in a snapshot header. */
export interface RegionDescriptor {
  /** Region name, unique within the snapshot. */
  readonly name: string;
  /** Page size in bytes, a power of two. */
  readonly pageSize: number;
  /** Number of pages. */
  readonly pageCount: number;
}

/** The decoded header of a snapshot stream. */
export interface SnapshotHeader {
  /** Format version (1). */
  readonly version: number;
  /** Creation time in nanoseconds since the Unix epoch (wall clock of the writer). */
  readonly createdAtNs: bigint;
  /** Largest uncompressed payload (count × pageSize) any record of this stream may carry. */
  readonly maxRecordBytes: number;
  /** Free-form identification of the writer program. */
  readonly writerId: string;
  /** The region table, in index order. */
  readonly regions: readonly RegionDescriptor[];
  /** Length of the header in bytes (records start here). */
  readonly byteLength: number;
  /** CRC-32 stored at the end of the header (the seed of the record chain). */
  readonly crc: number;
}

// ignoreBOM: a leading U+FEFF is part of the text, not a marker to strip; names compare as their bytes.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** True for 1, 2, 4, ... up to 2^30. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 2 ** 30 && (n & (n - 1)) === 0;
}

export function writeU64(buf: Uint8Array, view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
  void buf;
}

/** Reads a u64 as a JS number, or returns -1 if it exceeds 2^53 - 1. */
export function readU64(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  if (hi >= 0x20_0000) return -1;
  return hi * 0x1_0000_0000 + lo;
}

/** Encodes a complete header frame (including its CRC) for the given regions. */
export function encodeHeader(input: {
  regions: readonly RegionDescriptor[];
  createdAtNs: bigint;
  maxRecordBytes: number;
  writerId: string;
}): Uint8Array {
  const writerId = utf8Encoder.encode(input.writerId);
  const names = input.regions.map((r) => utf8Encoder.encode(r.name));
  let length = HEADER_FIXED_BYTES + writerId.length + CRC_BYTES;
  for (const name of names) length += REGION_ENTRY_FIXED_BYTES + name.length;
  const buf = new Uint8Array(length);
  const view = new DataView(buf.buffer);
  buf.set(MAGIC, 0);
  view.setUint16(8, FORMAT_VERSION, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, length, true);
  view.setBigUint64(16, input.createdAtNs, true);
  view.setUint32(24, input.maxRecordBytes, true);
  view.setUint16(28, input.regions.length, true);
  view.setUint16(30, writerId.length, true);
  buf.set(writerId, HEADER_FIXED_BYTES);
  let off = HEADER_FIXED_BYTES + writerId.length;
  input.regions.forEach((region, i) => {
    const name = names[i]!;
    view.setUint32(off, region.pageSize, true);
    writeU64(buf, view, off + 4, region.pageCount);
    view.setUint16(off + 12, name.length, true);
    buf.set(name, off + 14);
    off += REGION_ENTRY_FIXED_BYTES + name.length;
  });
  view.setUint32(off, crc32(buf.subarray(0, off), 0), true);
  return buf;
}

/**
 * Validates the fixed 32-byte prefix of a header and returns the declared header length.
 * `base` is the stream offset of `prefix[0]` (always 0 for a whole stream).
 */
export function decodeHeaderPrefix(prefix: Uint8Array, maxHeaderBytes: number): number {
  for (let i = 0; i < MAGIC.length; i++) {
    if (prefix[i] !== MAGIC[i]) {
      throw new SnapshotFormatError('BAD_MAGIC', i, 'not a bgsnap snapshot: the magic bytes do not match');
    }
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const version = view.getUint16(8, true);
  if (version !== FORMAT_VERSION) {
    throw new SnapshotFormatError(
      'UNSUPPORTED_VERSION',
      8,
      `format version ${version} is not supported (this reader reads version ${FORMAT_VERSION})`,
    );
  }
  const flags = view.getUint16(10, true);
  if (flags !== 0)
    throw new SnapshotFormatError('BAD_HEADER', 10, `unknown header flags 0x${flags.toString(16)}`);
  const length = view.getUint32(12, true);
  const regionCount = view.getUint16(28, true);
  const writerIdLength = view.getUint16(30, true);
  const minimum =
    HEADER_FIXED_BYTES + writerIdLength + regionCount * (REGION_ENTRY_FIXED_BYTES + 1) + CRC_BYTES;
  if (length < minimum || length > Math.min(maxHeaderBytes, LIMITS.maxHeaderBytes)) {
    throw new SnapshotFormatError(
      length > maxHeaderBytes && length <= LIMITS.maxHeaderBytes ? 'LIMIT_EXCEEDED' : 'BAD_HEADER',
      12,
      `header length ${length} is outside [${minimum}, ${Math.min(maxHeaderBytes, LIMITS.maxHeaderBytes)}]`,
    );
  }
  return length;
}

/** Decodes and validates a complete header frame (`bytes` holds exactly `byteLength` bytes). */
export function decodeHeader(bytes: Uint8Array): SnapshotHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.byteLength;
  const stored = view.getUint32(length - CRC_BYTES, true);
  const actual = crc32(bytes.subarray(0, length - CRC_BYTES), 0);
  if (stored !== actual) {
    throw new SnapshotFormatError('CHECKSUM_MISMATCH', length - CRC_BYTES, 'header checksum mismatch');
  }
  const createdAtNs = view.getBigUint64(16, true);
  const maxRecordBytes = view.getUint32(24, true);
  const regionCount = view.getUint16(28, true);
  const writerIdLength = view.getUint16(30, true);
  if (regionCount < 1)
    throw new SnapshotFormatError('BAD_HEADER', 28, 'a snapshot needs at least one region');
  if (writerIdLength > LIMITS.maxWriterIdBytes) {
    throw new SnapshotFormatError('BAD_HEADER', 30, `writer id length ${writerIdLength} exceeds 1024`);
  }
  if (maxRecordBytes < 1 || maxRecordBytes > LIMITS.maxRecordBytes) {
    throw new SnapshotFormatError('BAD_HEADER', 24, `max record bytes ${maxRecordBytes} outside [1, 2^30]`);
  }
  const writerId = decodeUtf8(bytes, HEADER_FIXED_BYTES, writerIdLength);
  let off = HEADER_FIXED_BYTES + writerIdLength;
  const regions: RegionDescriptor[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;
  for (let i = 0; i < regionCount; i++) {
    if (off + REGION_ENTRY_FIXED_BYTES > length - CRC_BYTES) {
      throw new SnapshotFormatError('BAD_HEADER', off, `region table entry ${i} runs past the header end`);
    }
    const pageSize = view.getUint32(off, true);
    if (!isPowerOfTwo(pageSize)) {
      throw new SnapshotFormatError(
        'BAD_REGION',
        off,
        `region ${i}: page size ${pageSize} is not a power of two in [1, 2^30]`,
      );
    }
    const pageCount = readU64(view, off + 4);
    if (pageCount < 1 || pageCount > LIMITS.maxPageCount) {
      throw new SnapshotFormatError('BAD_REGION', off + 4, `region ${i}: page count outside [1, 2^40]`);
    }
    if (pageCount * pageSize > LIMITS.maxRegionBytes) {
      throw new SnapshotFormatError(
        'BAD_REGION',
        off + 4,
        `region ${i}: ${pageCount} pages of ${pageSize} bytes exceed 2^52 bytes`,
      );
    }
    if (pageSize > maxRecordBytes) {
      throw new SnapshotFormatError(
        'BAD_REGION',
        off,
        `region ${i}: page size ${pageSize} exceeds the max record bytes ${maxRecordBytes}`,
      );
    }
    totalBytes += pageCount * pageSize;
    if (totalBytes > LIMITS.maxTotalBytes) {
      throw new SnapshotFormatError(
        'BAD_REGION',
        off + 4,
        `region ${i}: the regions up to this one total ${totalBytes} bytes, more than 2^52`,
      );
    }
    const nameLength = view.getUint16(off + 12, true);
    if (nameLength < 1 || nameLength > LIMITS.maxNameBytes) {
      throw new SnapshotFormatError(
        'BAD_REGION',
        off + 12,
        `region ${i}: name length ${nameLength} outside [1, 1024]`,
      );
    }
    if (off + REGION_ENTRY_FIXED_BYTES + nameLength > length - CRC_BYTES) {
      throw new SnapshotFormatError('BAD_HEADER', off + 12, `region ${i}: name runs past the header end`);
    }
    const name = decodeUtf8(bytes, off + REGION_ENTRY_FIXED_BYTES, nameLength);
    if (seen.has(name))
      throw new SnapshotFormatError('BAD_REGION', off + 14, `region ${i}: duplicate name "${name}"`);
    seen.add(name);
    regions.push({ name, pageSize, pageCount });
    off += REGION_ENTRY_FIXED_BYTES + nameLength;
  }
  if (off !== length - CRC_BYTES) {
    throw new SnapshotFormatError(
      'BAD_HEADER',
      off,
      `header has ${length - CRC_BYTES - off} unexplained bytes`,
    );
  }
  return {
    version: FORMAT_VERSION,
    createdAtNs,
    maxRecordBytes,
    writerId,
    regions,
    byteLength: length,
    crc: stored,
  };
}

function decodeUtf8(bytes: Uint8Array, offset: number, length: number): string {
  try {
    return utf8Decoder.decode(bytes.subarray(offset, offset + length));
  } catch (cause) {
    throw new SnapshotFormatError('BAD_HEADER', offset, 'text field is not valid UTF-8', { cause });
  }
}

/** Totals stored in the trailer. */
export interface SnapshotTrailer {
  /** Number of page records. */
  readonly recordCount: number;
  /** Pages over all records; equals the sum of the regions' page counts. */
  readonly pageCount: number;
  /** Pages recorded as zero pages (no data). */
  readonly zeroPageCount: number;
  /** Sum of all records' payload bytes (after compression). */
  readonly payloadBytes: number;
  /** Stream offset of the trailer. */
  readonly offset: number;
  /** Final CRC-32 of the stream (the last link of the chain). */
  readonly crc: number;
}

/** Writes the trailer (without computing its CRC) into `buf` at `pos`. Returns TRAILER_BYTES. */
export function encodeTrailerBody(
  buf: Uint8Array,
  view: DataView,
  pos: number,
  t: Omit<SnapshotTrailer, 'crc'> & { regionCount: number },
): void {
  buf[pos] = RECORD_TYPE_END;
  buf[pos + 1] = 0;
  view.setUint16(pos + 2, t.regionCount, true);
  view.setUint32(pos + 4, 0, true);
  writeU64(buf, view, pos + 8, t.recordCount);
  writeU64(buf, view, pos + 16, t.pageCount);
  writeU64(buf, view, pos + 24, t.zeroPageCount);
  writeU64(buf, view, pos + 32, t.payloadBytes);
  writeU64(buf, view, pos + 40, t.offset);
  buf.set(END_MAGIC, pos + 48);
}
