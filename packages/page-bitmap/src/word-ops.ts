/**
 * Bit kernels over 32-bit words. Bit positions are relative to the start of `words`; callers pass
 * inclusive bounds (`from`, `last`) so that no bound ever reaches 2^32, which keeps `>>> 5` and
 * `& 31` exact (JS shifts work on 32-bit values; an exclusive end of 2^32 would wrap to 0).
 * Results are computed with multiplication, never `<<`, because `k << 5` overflows int32 above 2^31.
 */

/** Number of set bits in a 32-bit value. */
export function popcount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
export function ctz32(v: number): number {
  return 31 - Math.clz32(v & -v);
}

/** Mask with bits `lo..31` set. */
export function maskFrom(lo: number): number {
  return -1 << lo;
}

/** Mask with bits `0..hi` set (inclusive). */
export function maskTo(hi: number): number {
  return ((2 << hi) - 1) | 0;
}

/** Callback for runs of set bits: returning exactly `false` stops the iteration early; other return values are ignored. */
export type RunCallback = (start: number, length: number) => unknown;

/** First set bit in `[from, last]`, or -1. */
export function nextSetInWords(words: Uint32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let w = words[k]! & maskFrom(from & 31);
  while (k < kl) {
    if (w !== 0) return k * 32 + ctz32(w);
    w = words[++k]!;
  }
  w &= maskTo(last & 31);
  return w === 0 ? -1 : k * 32 + ctz32(w);
}

/** First clear bit in `[from, last]`, or -1. */
export function nextClearInWords(words: Uint32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let w = ~words[k]! & maskFrom(from & 31);
  while (k < kl) {
    if (w !== 0) return k * 32 + ctz32(w);
    w = ~words[++k]!;
  }
  w &= maskTo(last & 31);
  return w === 0 ? -1 : k * 32 + ctz32(w);
}

/** Number of set bits in `[from, last]`. */
export function countInWords(words: Uint32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  if (k === kl) return popcount32(words[k]! & maskFrom(from & 31) & maskTo(last & 31));
  let n = popcount32(words[k]! & maskFrom(from & 31));
  for (k++; k < kl; k++) n += popcount32(words[k]!);
  return n + popcount32(words[kl]! & maskTo(last & 31));
}

/** Sets bits `[from, last]`; returns how many were clear before. */
export function setInWords(words: Uint32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let n = 0;
  for (; k <= kl; k++) {
    let m = -1;
    if (k === from >>> 5) m &= maskFrom(from & 31);
    if (k === kl) m &= maskTo(last & 31);
    const w = words[k]!;
    n += popcount32(~w & m);
    words[k] = w | m;
  }
  return n;
}

/** Clears bits `[from, last]`; returns how many were set before. */
export function clearInWords(words: Uint32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let n = 0;
  for (; k <= kl; k++) {
    let m = -1;
    if (k === from >>> 5) m &= maskFrom(from & 31);
    if (k === kl) m &= maskTo(last & 31);
    const w = words[k]!;
    n += popcount32(w & m);
    words[k] = w & ~m;
  }
  return n;
}

/** Sentinel returned by {@link runsInWords} when the callback asked to stop. */
export const STOPPED = -2;

/**
 * Reports the runs of set bits in `[from, last]` to `cb`, as absolute positions `base + bit`.
 * `open` is the absolute start of a run still open from the preceding words (or -1); the return
 * value is the start of the run still open at `last` (or -1), or {@link STOPPED}. This lets a run
 * span words and blocks without the caller re-scanning. One loop, no allocation: this is the hot
 * path of "visit every page still to save".
 */
export function runsInWords(
  words: Uint32Array,
  from: number,
  last: number,
  base: number,
  open: number,
  cb: RunCallback,
): number {
  const k0 = from >>> 5;
  const kl = last >>> 5;
  let runStart = open;
  for (let k = k0; k <= kl; k++) {
    let vm = -1;
    if (k === k0) vm = maskFrom(from & 31);
    if (k === kl) vm &= maskTo(last & 31);
    let w = words[k]! & vm;
    const p = base + k * 32;
    if (runStart >= 0) {
      const inv = ~w & vm;
      if (inv === 0) continue;
      const z = ctz32(inv);
      if (cb(runStart, p + z - runStart) === false) return STOPPED;
      runStart = -1;
      w &= maskFrom(z);
    }
    while (w !== 0) {
      const t = ctz32(w);
      const inv = ~w & vm & maskFrom(t);
      if (inv === 0) {
        runStart = p + t;
        break;
      }
      const e = ctz32(inv);
      if (cb(p + t, e - t) === false) return STOPPED;
      w &= maskFrom(e);
    }
  }
  return runStart;
}

/**
 * Reports the runs of set bits of one word value `w` (restricted to mask `vm`, bit 0 at absolute
 * position `p`), continuing a run open since `open` (or -1). Returns the start of the run still open
 * at the top of `vm` (or -1), or STOPPED if `cb` returned false.
 */
export function wordRuns(w0: number, vm: number, p: number, open: number, cb: RunCallback): number {
  let w = w0 & vm;
  if (open >= 0) {
    const inv = ~w & vm;
    if (inv === 0) return open;
    const z = ctz32(inv);
    if (cb(open, p + z - open) === false) return STOPPED;
    w &= maskFrom(z);
  }
  while (w !== 0) {
    const t = ctz32(w);
    const inv = ~w & vm & maskFrom(t);
    if (inv === 0) return p + t;
    const e = ctz32(inv);
    if (cb(p + t, e - t) === false) return STOPPED;
    w &= maskFrom(e);
  }
  return -1;
}
