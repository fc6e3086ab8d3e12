import type { ResolvedWorkload } from './config.js';
import type { Prng } from './prng.js';

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * A fixed permutation of [0, n): rank → page, so that the hot pages of skewed workloads are spread
 * over memory instead of clustering at its start. `(rank * a + b) mod n` with `a` a prime not dividing
 * `n`, small enough that `rank * a` stays exact in a double.
 */
export class Scatter {
  private readonly a: number;
  private readonly b: number;

  constructor(readonly n: number) {
    let a = 1_000_003;
    while (!isPrime(a) || n % a === 0) a++;
    this.a = a;
    this.b = Math.floor(n / 3);
  }

  map(rank: number): number {
    return (rank * this.a + this.b) % this.n;
  }
}

/** Draws the pages one virtual CPU writes. One instance per CPU: sequential sweeps keep state. */
export class PageSampler {
  private readonly scatter: Scatter;
  private cursor: number;
  private readonly hotCount: number;
  private readonly zipfA: number;
  private readonly zipfInv: number;

  constructor(
    private readonly w: ResolvedWorkload,
    private readonly pages: number,
  ) {
    this.scatter = new Scatter(pages);
    this.cursor = w.kind === 'sequential' ? w.start : 0;
    this.hotCount = w.kind === 'hot-set' ? Math.max(1, Math.floor(pages * w.hotFraction)) : 0;
    const s = w.kind === 'zipf' ? w.skew : 1;
    // Inverse CDF of the continuous power law on [1, pages + 1): for s ≠ 1,
    // x = ((N^(1-s) - 1) u + 1)^(1/(1-s)); for s = 1, x = N^u.
    this.zipfA = s === 1 ? Math.log(pages + 1) : (pages + 1) ** (1 - s) - 1;
    this.zipfInv = s === 1 ? 0 : 1 / (1 - s);
  }

  /** The next page (global index). Constant time, no allocation. */
  next(rng: Prng): number {
    const n = this.pages;
    switch (this.w.kind) {
      case 'uniform':
        return Math.floor(rng.next() * n);
      case 'hot-set':
        if (rng.next() < this.w.hotProbability)
          return this.scatter.map(Math.floor(rng.next() * this.hotCount));
        return Math.floor(rng.next() * n);
      case 'zipf': {
        const u = rng.next();
        const x = this.zipfInv === 0 ? Math.exp(this.zipfA * u) : (this.zipfA * u + 1) ** this.zipfInv;
        const rank = Math.min(n - 1, Math.max(0, Math.floor(x) - 1));
        return this.scatter.map(rank);
      }
      case 'sequential': {
        const p = this.cursor;
        this.cursor = (this.cursor + this.w.stride) % n;
        return p;
      }
      default:
        return -1;
    }
  }
}
