import { randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { memorySink } from './testing/collect.js';
import { createSnapshotWriter } from './writer.js';
import { zstdCodec } from './zstd.js';

/**
 * A reader written from docs/FORMAT.md alone (DataView + zlib.crc32), sharing no code with the real
 * reader: if the writer and the document disagree, this fails.
 */
function specRead(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (o: number) => Number(v.getBigUint64(o, true));
  expect([...bytes.subarray(0, 8)]).toEqual([0x42, 0x47, 0x53, 0x4e, 0x41, 0x50, 0x0d, 0x0a]);
  expect(v.getUint16(8, true)).toBe(1);
  const headerLength = v.getUint32(12, true);
  let chain = crc32(bytes.subarray(0, headerLength - 4));
  expect(v.getUint32(headerLength - 4, true)).toBe(chain);
  const regionCount = v.getUint16(28, true);
  const idLen = v.getUint16(30, true);
  const writerId = new TextDecoder().decode(bytes.subarray(32, 32 + idLen));
  let o = 32 + idLen;
  const regions: { name: string; pageSize: number; pageCount: number }[] = [];
  for (let i = 0; i < regionCount; i++) {
    const nameLength = v.getUint16(o + 12, true);
    regions.push({
      pageSize: v.getUint32(o, true),
      pageCount: u64(o + 4),
      name: new TextDecoder().decode(bytes.subarray(o + 14, o + 14 + nameLength)),
    });
    o += 14 + nameLength;
  }
  expect(o + 4).toBe(headerLength);
  o = headerLength;
  const memory = regions.map((r) => new Uint8Array(r.pageSize * r.pageCount));
  let records = 0;
  let zeroPages = 0;
  let payloadBytes = 0;
  for (;;) {
    const at = o;
    if (bytes[o] === 0x45) {
      chain = crc32(bytes.subarray(o, o + 56), chain);
      expect(v.getUint32(o + 56, true)).toBe(chain);
      expect(u64(o + 8)).toBe(records);
      expect(u64(o + 24)).toBe(zeroPages);
      expect(u64(o + 32)).toBe(payloadBytes);
      expect(u64(o + 40)).toBe(at);
      expect(new TextDecoder().decode(bytes.subarray(o + 48, o + 56))).toBe('BGSNEND\n');
      expect(o + 60).toBe(bytes.length);
      return { writerId, regions, memory, records, zeroPages };
    }
    expect(bytes[o], `record at ${o}`).toBe(0x50);
    const flags = bytes[o + 1]!;
    const region = v.getUint16(o + 2, true);
    const count = v.getUint32(o + 4, true);
    const first = u64(o + 8);
    const len = v.getUint32(o + 16, true);
    chain = crc32(bytes.subarray(o, o + 20 + len), chain);
    expect(v.getUint32(o + 20 + len, true)).toBe(chain);
    const ps = regions[region]!.pageSize;
    const payload = bytes.subarray(o + 20, o + 20 + len);
    if (flags === 0) memory[region]!.set(payload, first * ps);
    else if (flags === 2) {
      const out = new Uint8Array(count * ps);
      expect(zstdCodec().decompressInto(payload, out)).toBe(true);
      memory[region]!.set(out, first * ps);
    } else {
      expect(flags).toBe(1);
      expect(len).toBe(0);
      zeroPages += count;
    }
    records++;
    payloadBytes += len;
    o += 24 + len;
  }
}

describe('docs/FORMAT.md', () => {
  it('describes what the writer writes: a reader built from the document restores the memory', async () => {
    const regions = [
      { name: 'heap', pageSize: 4096, pageCount: 100 },
      { name: 'ß-stack', pageSize: 512, pageCount: 33 },
    ];
    const mem = regions.map((r) => new Uint8Array(r.pageSize * r.pageCount));
    randomFillSync(mem[0]!, 0, 4096 * 30);
    mem[0]!.fill(0x61, 50 * 4096, 80 * 4096);
    mem[1]![700] = 3;
    const sink = memorySink();
    const w = createSnapshotWriter({ regions, sink, compression: 'zstd', writerId: 'spec-test' });
    w.writePages(1, 0, mem[1]!);
    w.writePages(0, 40, mem[0]!.subarray(40 * 4096));
    w.writePages(0, 0, mem[0]!.subarray(0, 40 * 4096));
    await w.finish();
    const got = specRead(sink.bytes());
    expect(got.writerId).toBe('spec-test');
    expect(got.regions).toEqual(regions);
    for (const [i, m] of mem.entries()) expect(Buffer.compare(got.memory[i]!, m)).toBe(0);
  });

  it('matches the worked example byte for byte', async () => {
    const sink = memorySink();
    const w = createSnapshotWriter({
      regions: [{ name: 'm', pageSize: 4096, pageCount: 2 }],
      sink,
      writerId: 'w',
      createdAtNs: 0x0102030405060708n,
    });
    const page = new Uint8Array(4096).fill(9);
    w.writePages(0, 0, new Uint8Array(4096));
    w.writePages(0, 1, page);
    await w.finish();
    const b = sink.bytes();
    const hex = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('hex');
    expect(b.length).toBe(4196 + 60);
    expect(hex(0, 0x30)).toBe(
      `4247534e41500d0a01000000340000000807060504030201000010000100010077001000000200000000000000` + '01006d',
    );
    expect(hex(52, 72)).toBe('50010000010000000000000000000000' + '00000000');
    expect(hex(76, 96)).toBe('50000000010000000100000000000000' + '00100000');
    expect(hex(4196, 4196 + 56)).toBe(
      '4500010000000000' +
        '0200000000000000' +
        '0200000000000000' +
        '0100000000000000' +
        '0010000000000000' +
        '6410000000000000' +
        '4247534e454e440a',
    );
  });
});
