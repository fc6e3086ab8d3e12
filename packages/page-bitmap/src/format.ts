// zlib.crc32 is present on every supported Node (>= 20.15); no own table needed.
import { crc32 } from 'node:zlib';
import { PageBitmapFormatError } from './errors.js';
import { BLOCK_SHIFT, blockCountFor, blockLengthOf } from './layout.js';
import { MAX_PAGE_COUNT } from './validate.js';
import { ctz32, popcount32 } from './word-ops.js';

/**
 * The `BGPB` v1 serialised form (all integers little-endian; full description in the README):
 *
 *   header  28 B  magic "BGPB" | u8 version=1 | u8 blockShift=16 | u16 reserved=0
 *                 | u32 size.lo | u32 size.hi | u32 setBits.lo | u32 setBits.hi | u32 recordCount
 *   records       one per non-empty block, block index strictly increasing:
 *                 u32 blockIndex | u8 kind | u8[3] reserved=0 | u32 n | payload
 *                 kind 1 all set:    n = number of consecutive all-set blocks from blockIndex (>= 1), no payload
 *                 kind 2 raw words:  n = words in the block, payload n × u32
 *                 kind 3 positions:  n = set bits, payload n × u16 ascending offsets, zero-padded to 4 B
 *                 kind 4 holes:      n = clear bits, payload as kind 3 listing the clear bits
 *   trailer  4 B  u32 CRC-32 (IEEE) of every preceding byte
 *
 * Blocks without a record are all clear, so a huge, mostly-empty bitmap serialises to a few bytes.
 */

/** Format identifier, "BGPB". */
export const FORMAT_MAGIC = 0x42504742;
/** Current format version. */
export const FORMAT_VERSION = 1;
const HEADER_BYTES = 28;
const RECORD_BYTES = 12;
const KIND_FULL = 1;
const KIND_WORDS = 2;
const KIND_POSITIONS = 3;
const KIND_HOLES = 4;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** One non-empty block, as exchanged between the bitmap and the codec. */
export interface EncodedBlock {
  index: number;
  count: number;
  /** The block's words; null when the block is all set. */
  words: Uint32Array | null;
}

/** What {@link decodeBitmap} returns: the size and the non-empty blocks. */
export interface DecodedBitmap {
  size: number;
  total: number;
  blocks: EncodedBlock[];
}

function positionsBytes(count: number): number {
  return (count * 2 + 3) & ~3;
}

/** Kind the encoder uses for a mixed block: the smallest of raw words, set positions, clear positions. */
function kindOf(blk: EncodedBlock, blockLen: number): number {
  const raw = blk.words!.length * 4;
  const sets = positionsBytes(blk.count);
  const holes = positionsBytes(blockLen - blk.count);
  if (sets < raw && sets <= holes) return KIND_POSITIONS;
  return holes < raw ? KIND_HOLES : KIND_WORDS;
}

function payloadBytes(blk: EncodedBlock, blockLen: number): number {
  if (blk.words === null) return 0;
  const kind = kindOf(blk, blockLen);
  if (kind === KIND_WORDS) return blk.words.length * 4;
  return positionsBytes(kind === KIND_POSITIONS ? blk.count : blockLen - blk.count);
}

/** Writes the u16 offsets of the bits equal to `want` (1 or 0) among the first `len` bits. */
function writePositions(view: DataView, o: number, words: Uint32Array, len: number, want: number): number {
  for (let k = 0; k < words.length; k++) {
    let w = want === 1 ? words[k]! : ~words[k]!;
    if (k === words.length - 1 && (len & 31) !== 0) w &= (1 << (len & 31)) - 1;
    while (w !== 0) {
      view.setUint16(o, k * 32 + ctz32(w), true);
      o += 2;
      w &= w - 1;
    }
  }
  return (o + 3) & ~3;
}

/** Encodes the blocks of a bitmap of `size` bits with `total` bits set. */
export function encodeBitmap(size: number, total: number, blocks: readonly EncodedBlock[]): Uint8Array {
  // Consecutive all-set blocks share one record, so a filled 2^32-page bitmap is one record.
  let length = HEADER_BYTES + 4;
  let records = 0;
  for (let i = 0; i < blocks.length; i++) {
    const blk = blocks[i]!;
    if (
      blk.words === null &&
      i > 0 &&
      blocks[i - 1]!.words === null &&
      blocks[i - 1]!.index === blk.index - 1
    )
      continue;
    records++;
    length += RECORD_BYTES + payloadBytes(blk, blockLengthOf(size, blk.index));
  }
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, FORMAT_MAGIC, true);
  view.setUint8(4, FORMAT_VERSION);
  view.setUint8(5, BLOCK_SHIFT);
  view.setUint32(8, size % 2 ** 32, true);
  view.setUint32(12, Math.floor(size / 2 ** 32), true);
  view.setUint32(16, total % 2 ** 32, true);
  view.setUint32(20, Math.floor(total / 2 ** 32), true);
  view.setUint32(24, records, true);
  let o = HEADER_BYTES;
  for (let i = 0; i < blocks.length; i++) {
    const blk = blocks[i]!;
    view.setUint32(o, blk.index, true);
    const words = blk.words;
    if (words === null) {
      let span = 1;
      while (
        i + 1 < blocks.length &&
        blocks[i + 1]!.words === null &&
        blocks[i + 1]!.index === blk.index + span
      ) {
        span++;
        i++;
      }
      view.setUint8(o + 4, KIND_FULL);
      view.setUint32(o + 8, span, true);
      o += RECORD_BYTES;
      continue;
    }
    const blockLen = blockLengthOf(size, blk.index);
    const kind = kindOf(blk, blockLen);
    if (kind !== KIND_WORDS) {
      view.setUint8(o + 4, kind);
      view.setUint32(o + 8, kind === KIND_POSITIONS ? blk.count : blockLen - blk.count, true);
      o = writePositions(view, o + RECORD_BYTES, words, blockLen, kind === KIND_POSITIONS ? 1 : 0);
    } else {
      view.setUint8(o + 4, KIND_WORDS);
      view.setUint32(o + 8, words.length, true);
      o += RECORD_BYTES;
      if (LITTLE_ENDIAN) out.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), o);
      else for (let k = 0; k < words.length; k++) view.setUint32(o + k * 4, words[k]!, true);
      o += words.length * 4;
    }
  }
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

function fail(message: string, offset: number): never {
  throw new PageBitmapFormatError(message, offset);
}

/** Decodes and fully validates a `BGPB` v1 byte string. */
export function decodeBitmap(bytes: Uint8Array): DecodedBitmap {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
  const len = bytes.length;
  if (len < HEADER_BYTES + 4)
    fail(`bytes: input is ${len} bytes, shorter than the minimum ${HEADER_BYTES + 4}`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  if (view.getUint32(0, true) !== FORMAT_MAGIC) fail('bytes: magic is not "BGPB"; not a page bitmap', 0);
  const version = view.getUint8(4);
  if (version !== FORMAT_VERSION) fail(`bytes: version must be ${FORMAT_VERSION}, got ${version}`, 4);
  const stored = view.getUint32(len - 4, true);
  const actual = crc32(bytes.subarray(0, len - 4));
  if (stored !== actual)
    fail(`bytes: CRC-32 mismatch (stored ${stored}, computed ${actual}); data corrupt`, len - 4);
  const shift = view.getUint8(5);
  if (shift !== BLOCK_SHIFT) fail(`bytes: blockShift must be ${BLOCK_SHIFT}, got ${shift}`, 5);
  if (view.getUint16(6, true) !== 0) fail('bytes: reserved header field must be 0', 6);
  const size = view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32;
  if (size < 1 || size > MAX_PAGE_COUNT)
    fail(`bytes: size must be in [1, ${MAX_PAGE_COUNT}], got ${size}`, 8);
  const total = view.getUint32(16, true) + view.getUint32(20, true) * 2 ** 32;
  if (total > size) fail(`bytes: set-bit count must be in [0, ${size}], got ${total}`, 16);
  const nBlocks = blockCountFor(size);
  const records = view.getUint32(24, true);
  if (records > nBlocks) fail(`bytes: record count must be in [0, ${nBlocks}], got ${records}`, 24);

  const end = len - 4;
  const blocks: EncodedBlock[] = [];
  let o = HEADER_BYTES;
  let prev = -1;
  let sum = 0;
  for (let r = 0; r < records; r++) {
    if (o + RECORD_BYTES > end) fail(`bytes: truncated in record ${r} of ${records}`, o);
    const index = view.getUint32(o, true);
    if (index <= prev || index >= nBlocks) {
      fail(`bytes: record ${r} block index must be in [${prev + 1}, ${nBlocks - 1}], got ${index}`, o);
    }
    const kind = view.getUint8(o + 4);
    if (view.getUint8(o + 5) !== 0 || view.getUint16(o + 6, true) !== 0) {
      fail(`bytes: record ${r} reserved bytes must be 0`, o + 5);
    }
    const n = view.getUint32(o + 8, true);
    const blockLen = blockLengthOf(size, index);
    const wordCount = Math.ceil(blockLen / 32);
    o += RECORD_BYTES;
    let count: number;
    let words: Uint32Array | null = null;
    if (kind === KIND_FULL) {
      if (n < 1 || n > nBlocks - index) {
        fail(`bytes: record ${r} (all set) block span must be in [1, ${nBlocks - index}], got ${n}`, o - 4);
      }
      for (let b = index; b < index + n; b++) {
        const full = blockLengthOf(size, b);
        blocks.push({ index: b, count: full, words: null });
        sum += full;
      }
      prev = index + n - 1;
      continue;
    } else if (kind === KIND_WORDS) {
      if (n !== wordCount) fail(`bytes: record ${r} word count must be ${wordCount}, got ${n}`, o - 4);
      if (o + n * 4 > end) fail(`bytes: truncated in record ${r} words`, o);
      words = new Uint32Array(n);
      if (LITTLE_ENDIAN) new Uint8Array(words.buffer).set(bytes.subarray(o, o + n * 4));
      else for (let k = 0; k < n; k++) words[k] = view.getUint32(o + k * 4, true);
      const tail = blockLen & 31;
      if (tail !== 0 && words[n - 1]! >>> tail !== 0) {
        fail(`bytes: record ${r} has bits set past the bitmap size ${size}`, o + (n - 1) * 4);
      }
      count = 0;
      for (let k = 0; k < n; k++) count += popcount32(words[k]!);
      o += n * 4;
    } else if (kind === KIND_POSITIONS || kind === KIND_HOLES) {
      if (n < 1 || n > blockLen)
        fail(`bytes: record ${r} position count must be in [1, ${blockLen}], got ${n}`, o - 4);
      const padded = positionsBytes(n);
      if (o + padded > end) fail(`bytes: truncated in record ${r} positions`, o);
      words = new Uint32Array(wordCount);
      const holes = kind === KIND_HOLES;
      if (holes) {
        words.fill(0xffffffff);
        if ((blockLen & 31) !== 0) words[wordCount - 1] = (1 << (blockLen & 31)) - 1;
      }
      let last = -1;
      for (let i = 0; i < n; i++) {
        const p = view.getUint16(o + i * 2, true);
        if (p <= last || p >= blockLen) {
          fail(
            `bytes: record ${r} position ${i} must be in [${last + 1}, ${blockLen - 1}], got ${p}`,
            o + i * 2,
          );
        }
        words[p >>> 5]! ^= 1 << (p & 31);
        last = p;
      }
      for (let i = o + n * 2; i < o + padded; i++)
        if (bytes[i] !== 0) fail(`bytes: record ${r} padding must be 0`, i);
      count = holes ? blockLen - n : n;
      o += padded;
    } else {
      fail(`bytes: record ${r} kind must be 1, 2, 3 or 4, got ${kind}`, o - 8);
    }
    sum += count;
    blocks.push({ index, count, words });
    prev = index;
  }
  if (o !== end) fail(`bytes: ${end - o} unexpected bytes after the last record`, o);
  if (sum !== total) fail(`bytes: header says ${total} set bits, records hold ${sum}`, 16);
  return { size, total, blocks };
}
