import { mix32 } from './prng.js';

/**
 * Simulated page contents are never stored: they are a pure function of (region, page, version).
 *
 * Layout of a page of `pageSize` bytes:
 * - version 0: all zero (memory never written: a zero page for the stream writer);
 * - version v ≥ 1: a 16-byte header of four little-endian uint32 words
 *   `[page mod 2^32, floor(page / 2^32), v, 0xB65A0000 | region]`, then zeros.
 *
 * So a saved page identifies itself, the oracle can check it in O(1), and the simulator can hand out
 * pages by writing 16 bytes into a reused zero-filled buffer.
 */
export const PAGE_HEADER_BYTES = 16;

/** The high half of a non-zero page header's last word (its low half is the region). */
export const PAGE_MAGIC = 0xb65a0000;
const MAGIC = PAGE_MAGIC;

/** Writes page `(region, page, version)`'s header at `offset` of `view` (the rest of the page must be zero). */
export function writePageHeader(
  view: DataView,
  offset: number,
  region: number,
  page: number,
  version: number,
): void {
  if (version === 0) {
    view.setUint32(offset, 0, true);
    view.setUint32(offset + 4, 0, true);
    view.setUint32(offset + 8, 0, true);
    view.setUint32(offset + 12, 0, true);
    return;
  }
  view.setUint32(offset, page >>> 0, true);
  view.setUint32(offset + 4, Math.floor(page / 4294967296) >>> 0, true);
  view.setUint32(offset + 8, version >>> 0, true);
  view.setUint32(offset + 12, (MAGIC | (region & 0xffff)) >>> 0, true);
}

/** Options of {@link pageContents}. */
export interface PageContentsOptions {
  /** Region index encoded in the header (0–65535). Default 0. */
  readonly region?: number;
  /** Page size in bytes. Default 4096. */
  readonly pageSize?: number;
}

/**
 * The bytes of `page` (index within its region) at `version`, exactly as the simulator's `read()` and
 * copy-on-fault events return them. Allocates a new array.
 */
export function pageContents(page: number, version: number, options: PageContentsOptions = {}): Uint8Array {
  const bytes = new Uint8Array(options.pageSize ?? 4096);
  writePageHeader(new DataView(bytes.buffer), 0, options.region ?? 0, page, version);
  return bytes;
}

/** What {@link decodePage} found in a page's bytes. */
export interface DecodedPage {
  /** Version 0 means an all-zero page (region and page are then unknown, reported as -1). */
  readonly version: number;
  /** Region index from the header. */
  readonly region: number;
  /** Page index within the region, from the header. */
  readonly page: number;
}

/**
 * Decodes simulated page bytes; `undefined` when they are not a page the simulator could have produced
 * (bad magic, a zero header with non-zero bytes, non-zero bytes after the header).
 */
export function decodePage(bytes: Uint8Array): DecodedPage | undefined {
  if (bytes.length < PAGE_HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!restIsZero(bytes)) return undefined;
  const w3 = view.getUint32(12, true);
  if (w3 === 0) {
    for (let i = 0; i < PAGE_HEADER_BYTES; i++) if (bytes[i] !== 0) return undefined;
    return { version: 0, region: -1, page: -1 };
  }
  if ((w3 & 0xffff0000) >>> 0 !== MAGIC) return undefined;
  const version = view.getUint32(8, true);
  if (version === 0) return undefined;
  return {
    version,
    region: w3 & 0xffff,
    page: view.getUint32(0, true) + view.getUint32(4, true) * 4294967296,
  };
}

/**
 * Version of a global page before any simulated write: 0 (a zero page) for a fraction `1 - fill` of
 * pages, else 1–256, chosen by a hash of (seed, page) so nothing is stored.
 */
export function initialVersion(seedHash: number, fill: number, globalPage: number): number {
  const h = mix32((globalPage >>> 0) ^ seedHash, Math.floor(globalPage / 4294967296));
  if (h >= fill * 4294967296) return 0;
  return 1 + (mix32(h, 0x7e57) & 0xff);
}

/** Whether every byte after the header is zero; word-wise when aligned (the oracle checks every page). */
function restIsZero(bytes: Uint8Array): boolean {
  if (bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    let acc = 0;
    for (let i = PAGE_HEADER_BYTES >>> 2; i < words.length; i++) acc |= words[i] as number;
    return acc === 0;
  }
  for (let i = PAGE_HEADER_BYTES; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * DataViews of the last few buffers seen: the simulator's reads rotate through a few buffers per
 * region, and a view per call was most of a page checker's garbage.
 */
export class DataViewCache {
  private readonly buffers: (ArrayBufferLike | undefined)[] = new Array(8).fill(undefined);
  private readonly views: (DataView | undefined)[] = new Array(8).fill(undefined);
  private next = 0;

  /** A DataView over the whole of `buffer`. */
  of(buffer: ArrayBufferLike): DataView {
    const buffers = this.buffers;
    for (let i = 0; i < buffers.length; i++) if (buffers[i] === buffer) return this.views[i] as DataView;
    const view = new DataView(buffer);
    buffers[this.next] = buffer;
    this.views[this.next] = view;
    this.next = (this.next + 1) % buffers.length;
    return view;
  }
}
