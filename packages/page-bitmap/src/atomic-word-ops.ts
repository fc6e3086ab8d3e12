/**
 * The scan kernels of word-ops.ts, for words in a SharedArrayBuffer: every read is an
 * `Atomics.load`, so a scan observes each word as some value another thread actually stored and the
 * compiler cannot reuse a stale read. Kept separate from the plain kernels so that neither hot path
 * becomes polymorphic over Uint32Array/Int32Array. Bounds are inclusive, as in word-ops.ts.
 */
import { ctz32, maskFrom, maskTo, popcount32, type RunCallback, STOPPED } from './word-ops.js';

/** First set bit in `[from, last]`, or -1. */
export function nextSetAtomic(words: Int32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let w = Atomics.load(words, k) & maskFrom(from & 31);
  while (k < kl) {
    if (w !== 0) return k * 32 + ctz32(w);
    w = Atomics.load(words, ++k);
  }
  w &= maskTo(last & 31);
  return w === 0 ? -1 : k * 32 + ctz32(w);
}

/** First clear bit in `[from, last]`, or -1. */
export function nextClearAtomic(words: Int32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  let w = ~Atomics.load(words, k) & maskFrom(from & 31);
  while (k < kl) {
    if (w !== 0) return k * 32 + ctz32(w);
    w = ~Atomics.load(words, ++k);
  }
  w &= maskTo(last & 31);
  return w === 0 ? -1 : k * 32 + ctz32(w);
}

/** Number of set bits in `[from, last]`. */
export function countAtomic(words: Int32Array, from: number, last: number): number {
  let k = from >>> 5;
  const kl = last >>> 5;
  if (k === kl) return popcount32(Atomics.load(words, k) & maskFrom(from & 31) & maskTo(last & 31));
  let n = popcount32(Atomics.load(words, k) & maskFrom(from & 31));
  for (k++; k < kl; k++) n += popcount32(Atomics.load(words, k));
  return n + popcount32(Atomics.load(words, kl) & maskTo(last & 31));
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

/** Runs of set bits in `[from, last]`, as {@link wordRuns} over each word. */
export function runsAtomic(words: Int32Array, from: number, last: number, cb: RunCallback): number {
  const k0 = from >>> 5;
  const kl = last >>> 5;
  let open = -1;
  for (let k = k0; k <= kl; k++) {
    let vm = -1;
    if (k === k0) vm = maskFrom(from & 31);
    if (k === kl) vm &= maskTo(last & 31);
    const w = Atomics.load(words, k);
    // Fast paths: an all-clear word with no open run, an all-set word extending one.
    if (open < 0 ? (w & vm) === 0 : (~w & vm) === 0) continue;
    open = wordRuns(w, vm, k * 32, open, cb);
    if (open === STOPPED) return STOPPED;
  }
  return open;
}
