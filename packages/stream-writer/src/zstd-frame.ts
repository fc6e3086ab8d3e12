/**
 * Structural check of a ZSTD record payload (RFC 8878 §3.1.1), done before anything is decompressed:
 * exactly one zstd frame and nothing else (no second frame, no skippable frames), no dictionary, a
 * declared content size (if any) equal to the record's size, and a window no larger than the record
 * needs (docs/FORMAT.md, "ZSTD payloads"). Walks only the frame and block headers.
 */

const ZSTD_MAGIC = 0xfd2fb528;
/** zstd's smallest window (Window_Log 10). */
const MIN_WINDOW = 1024;

/** A rule the payload breaks: byte offset inside the payload and what is wrong. */
export interface ZstdFrameProblem {
  readonly at: number;
  readonly reason: string;
}

/** Largest window a ZSTD record of `rawBytes` may declare: the next power of two ≥ rawBytes, at least 1 KiB. */
export function maxZstdWindow(rawBytes: number): number {
  let w = MIN_WINDOW;
  while (w < rawBytes) w *= 2;
  return w;
}

/** Returns the first rule `payload` breaks as the single frame of a record of `rawBytes`, or undefined. */
export function checkZstdFrame(payload: Uint8Array, rawBytes: number): ZstdFrameProblem | undefined {
  const len = payload.byteLength;
  const view = new DataView(payload.buffer, payload.byteOffset, len);
  if (len < 6 || view.getUint32(0, true) !== ZSTD_MAGIC) {
    return { at: 0, reason: 'payload does not start with a zstd frame (magic FD2FB528)' };
  }
  const fhd = payload[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const hasChecksum = (fhd >> 2) & 1;
  const dictFlag = fhd & 3;
  if (fhd & 0x08) return { at: 4, reason: 'zstd frame header sets the reserved bit' };
  let pos = 5;
  let window = 0;
  if (!singleSegment) {
    const wd = payload[pos++]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  const dictBytes = [0, 1, 2, 4][dictFlag]!;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  if (pos + dictBytes + fcsBytes > len) return { at: 4, reason: 'zstd frame header runs past the payload' };
  for (let i = 0; i < dictBytes; i++) {
    if (payload[pos + i] !== 0) return { at: pos, reason: 'zstd frame needs a dictionary' };
  }
  pos += dictBytes;
  if (fcsBytes > 0) {
    let size = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + payload[pos + i]!;
    if (fcsBytes === 2) size += 256;
    if (size !== rawBytes) {
      return {
        at: pos,
        reason: `zstd frame declares ${size} bytes of content, the record holds ${rawBytes}`,
      };
    }
    if (singleSegment) window = size;
    pos += fcsBytes;
  }
  const bound = maxZstdWindow(rawBytes);
  if (window > bound) {
    return {
      at: 5,
      reason: `zstd window of ${window} bytes exceeds ${bound}, the bound for ${rawBytes} bytes`,
    };
  }
  for (;;) {
    if (pos + 3 > len) return { at: pos, reason: 'zstd frame ends inside a block header' };
    const header = payload[pos]! | (payload[pos + 1]! << 8) | (payload[pos + 2]! << 16);
    const type = (header >> 1) & 3;
    if (type === 3) return { at: pos, reason: 'zstd block of the reserved type' };
    const size = type === 1 ? 1 : header >>> 3;
    if (pos + 3 + size > len) return { at: pos, reason: 'zstd block runs past the payload' };
    pos += 3 + size;
    if (header & 1) break;
  }
  if (hasChecksum) pos += 4;
  if (pos > len) return { at: len, reason: 'zstd frame checksum runs past the payload' };
  if (pos < len) return { at: pos, reason: `${len - pos} bytes follow the zstd frame` };
  return undefined;
}
