/**
 * Seeded 32-bit PRNG (mulberry32). Small state, no allocation per draw, and identical sequences on
 * every platform: the simulator's determinism rests on it.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0, Math.floor(seed / 4294967296) >>> 0) >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Exponentially distributed with the given mean (a Poisson process's gaps). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

/** A 32-bit integer hash of two 32-bit words (murmur3 finaliser). */
export function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b ^ 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Derives an independent seed for a sub-stream (a CPU, the sink), so streams do not interfere. */
export function subSeed(seed: number, stream: number): number {
  return mix32(mix32(seed >>> 0, Math.floor(seed / 4294967296) >>> 0), stream + 0x51ed);
}
