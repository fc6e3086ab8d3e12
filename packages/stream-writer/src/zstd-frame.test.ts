import { describe, expect, it } from 'vitest';
import { SnapshotFormatError } from './errors.js';
import { FLAG_ZSTD } from './format.js';
import { readSnapshot } from './reader/read-snapshot.js';
import { Crafter } from './testing/craft.js';
import { zstdCodec } from './zstd.js';
import { checkZstdFrame, maxZstdWindow } from './zstd-frame.js';

const PAGE = 4096;
const region = [{ name: 'm', pageSize: PAGE, pageCount: 4 }];
const pages = new Uint8Array(2 * PAGE).map((_, i) => i % 7);
const frame = zstdCodec().compress(pages, 3)!.slice();

/** The error reading a stream whose only record is a 2-page ZSTD record with `payload`. */
async function readError(payload: Uint8Array): Promise<unknown> {
  const c = new Crafter(region).record({ flags: FLAG_ZSTD, region: 0, count: 2, first: 0, payload });
  try {
    for await (const _ of readSnapshot(c.bytes())) {
      // drain
    }
  } catch (error) {
    return error;
  }
  return undefined;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
// A skippable frame (magic 0x184D2A50) carrying 4 bytes.
const skippable = Uint8Array.of(0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4);

describe('ZSTD payload: one frame and nothing else', () => {
  it('accepts the frames the writer makes', () => {
    expect(checkZstdFrame(frame, 2 * PAGE)).toBeUndefined();
    // A larger record: the writer's 1 MiB frames declare a window smaller than the content.
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) % 251);
    const f = zstdCodec().compress(big, 1)!.slice();
    expect(checkZstdFrame(f, 1 << 20)).toBeUndefined();
  });

  it.each([
    ['two frames', concat(frame, frame)],
    ['a skippable frame before', concat(skippable, frame)],
    ['a skippable frame after', concat(frame, skippable)],
    ['a trailing byte', concat(frame, Uint8Array.of(0))],
  ])('rejects %s with DECOMPRESSION_FAILED before decompressing', async (_, payload) => {
    const error = await readError(payload);
    expect(error).toBeInstanceOf(SnapshotFormatError);
    expect(error).toMatchObject({ code: 'DECOMPRESSION_FAILED' });
    expect((error as Error).message).toContain('one-frame rule');
  });

  it('rejects a window larger than the record needs, and a content size other than the record size', () => {
    // Frame header: magic, FHD 0x00 (no FCS, windowed), window descriptor: Window_Log 10 + 20 = 30 (1 GiB).
    const wide = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x01, 0x00, 0x00);
    expect(checkZstdFrame(wide, 2 * PAGE)?.reason).toMatch(/window of 1073741824 bytes exceeds 8192/);
    expect(checkZstdFrame(frame, PAGE)?.reason).toMatch(/declares 8192 bytes of content/);
    expect(maxZstdWindow(1)).toBe(1024);
    expect(maxZstdWindow(12288)).toBe(16384);
  });
});
