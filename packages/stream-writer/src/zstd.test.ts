import { describe, expect, it } from 'vitest';
import { zstdCodec } from './zstd.js';
import { checkZstdFrame } from './zstd-frame.js';

/** 3000 bytes of 7 then 5192 zeros, compressed by the zstd CLI with `--no-content-size`. */
const NO_SIZE_FRAME = Uint8Array.from(
  Buffer.from('28b52ffd045875000018070700020044047a313b1f6001e6bde043', 'hex'),
);

describe('ZstdCodec', () => {
  it('round-trips what it compresses, and declines data that does not shrink', () => {
    const codec = zstdCodec();
    const src = new Uint8Array(8192).map((_, i) => i % 13);
    const frame = codec.compress(src, 3)!.slice();
    expect(frame.byteLength).toBeLessThan(src.byteLength);
    const out = new Uint8Array(src.byteLength);
    expect(codec.decompressInto(frame, out)).toBe(true);
    expect(out).toEqual(src);
    const noise = new Uint8Array(256).map((_, i) => (i * 2654435761) >>> 24);
    expect(codec.compress(noise, 3)).toBeUndefined();
  });

  it('decodes a frame that declares no content size into exactly the expected bytes, and no more', () => {
    const codec = zstdCodec();
    // The reader refuses this frame before decoding (its 2 MiB window is larger than a record needs);
    // the codec's own bound is checked here.
    expect(checkZstdFrame(NO_SIZE_FRAME, 8192)?.reason).toMatch(/window/);
    const out = new Uint8Array(8192);
    expect(codec.decompressInto(NO_SIZE_FRAME, out)).toBe(true);
    expect(out.subarray(0, 3000).every((b) => b === 7)).toBe(true);
    expect(out.subarray(3000).every((b) => b === 0)).toBe(true);
    // A record claiming fewer bytes than the frame holds: the decoder has no room and fails.
    expect(codec.decompressInto(NO_SIZE_FRAME, new Uint8Array(4096))).toBe(false);
    // ... and one claiming more: the frame decodes short, which is rejected too.
    expect(codec.decompressInto(NO_SIZE_FRAME, new Uint8Array(16384))).toBe(false);
  });
});
