/**
 * Test support (not exported): builds snapshot streams field by field, with a correct CRC chain, so
 * tests can reach the reader's structural checks behind the checksums.
 */
import { crc32 } from 'node:zlib';
import {
  END_MAGIC,
  encodeHeader,
  RECORD_TYPE_END,
  RECORD_TYPE_PAGES,
  type RegionDescriptor,
} from '../format.js';

export interface CraftRecord {
  type?: number;
  flags: number;
  region: number;
  count: number;
  first: number | bigint;
  payload?: Uint8Array;
  /** Overrides the payload length field. */
  payloadLength?: number;
}

export interface CraftTrailer {
  regionCount: number;
  recordCount: number;
  pageCount: number;
  zeroPageCount: number;
  payloadBytes: number;
  offset?: number;
}

/** Builds frames and chains their CRCs. */
export class Crafter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  private crc = 0;

  constructor(
    regions: readonly RegionDescriptor[],
    opts: { maxRecordBytes?: number; writerId?: string; headerPatch?: (h: Uint8Array) => void } = {},
  ) {
    const header = encodeHeader({
      regions,
      createdAtNs: 1n,
      maxRecordBytes: opts.maxRecordBytes ?? 1 << 20,
      writerId: opts.writerId ?? 'craft',
    });
    if (opts.headerPatch) {
      opts.headerPatch(header);
      new DataView(header.buffer).setUint32(
        header.length - 4,
        crc32(header.subarray(0, header.length - 4)),
        true,
      );
    }
    this.crc = new DataView(header.buffer).getUint32(header.length - 4, true);
    this.push(header);
  }

  get offset(): number {
    return this.length;
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  private frame(body: Uint8Array): void {
    this.crc = crc32(body, this.crc);
    const out = new Uint8Array(body.length + 4);
    out.set(body);
    new DataView(out.buffer).setUint32(body.length, this.crc, true);
    this.push(out);
  }

  record(r: CraftRecord): this {
    const payload = r.payload ?? new Uint8Array(0);
    const body = new Uint8Array(20 + payload.length);
    const v = new DataView(body.buffer);
    body[0] = r.type ?? RECORD_TYPE_PAGES;
    body[1] = r.flags;
    v.setUint16(2, r.region, true);
    v.setUint32(4, r.count, true);
    v.setBigUint64(8, BigInt(r.first), true);
    v.setUint32(16, r.payloadLength ?? payload.length, true);
    body.set(payload, 20);
    this.frame(body);
    return this;
  }

  trailer(t: CraftTrailer): this {
    const body = new Uint8Array(56);
    const v = new DataView(body.buffer);
    body[0] = RECORD_TYPE_END;
    v.setUint16(2, t.regionCount, true);
    v.setBigUint64(8, BigInt(t.recordCount), true);
    v.setBigUint64(16, BigInt(t.pageCount), true);
    v.setBigUint64(24, BigInt(t.zeroPageCount), true);
    v.setBigUint64(32, BigInt(t.payloadBytes), true);
    v.setBigUint64(40, BigInt(t.offset ?? this.length), true);
    body.set(END_MAGIC, 48);
    this.frame(body);
    return this;
  }

  raw(b: Uint8Array): this {
    this.push(b);
    return this;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
