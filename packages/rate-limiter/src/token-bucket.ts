import { MAX_WAIT_NS } from './constants.js';
import type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';
import { formatBytes } from './units.js';
import { booleanOption, checkOptionNames, numberOption, requiredNumberOption } from './validate.js';

/** Options of {@link tokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained rate in bytes per second (> 0). Required. */
  bytesPerSecond: number;
  /**
   * Bucket size in bytes (> 0): how much may be sent at once after an idle period. Default
   * {@link defaultBurstBytes}: 100 ms of `bytesPerSecond`, at least one 4 KiB page.
   */
  burstBytes?: number;
  /**
   * Whether fault pages take tokens too (one page each), as every byte on QEMU's stream counts against
   * `max-bandwidth`. Faults are never delayed; the scan pays for them afterwards. Default `true`.
   */
  chargeFaults?: boolean;
}

/** The window behind the default burst: QEMU's rate limiter (and RocksDB's) refills in 100 ms slices. */
const DEFAULT_BURST_WINDOW_S = 0.1;
/** The smallest default burst: one page, so a page never waits for more than the bucket can hold. */
const MIN_DEFAULT_BURST_BYTES = 4096;

/**
 * The burst {@link tokenBucket} uses when none is given: 100 ms worth of the rate, rounded to whole
 * bytes, and at least one 4 KiB page. 100 ms is the slice in which QEMU's `max-bandwidth` (and
 * RocksDB's rate limiter) hand out bandwidth, so over any window of 100 ms or more the cap lets
 * through what QEMU's would; a larger burst lets the scan run ahead of the rate after an idle spell,
 * a smaller one makes the scan wait page by page.
 *
 * @param bytesPerSecond - The sustained rate.
 * @returns Bytes.
 *
 * @example
 * defaultBurstBytes(100 * 2 ** 20); // 10485760 (10 MiB)
 */
export function defaultBurstBytes(bytesPerSecond: number): number {
  return Math.max(MIN_DEFAULT_BURST_BYTES, Math.round(bytesPerSecond * DEFAULT_BURST_WINDOW_S));
}

/** Option names {@link tokenBucket} accepts. */
export const TOKEN_BUCKET_OPTION_NAMES: readonly (keyof TokenBucketOptions)[] = [
  'bytesPerSecond',
  'burstBytes',
  'chargeFaults',
];

/**
 * A fixed bandwidth cap, like QEMU's `max-bandwidth` (which QEMU itself does not apply to background
 * snapshots): tokens accrue at `bytesPerSecond` up to `burstBytes`; every scanned byte (and, by
 * default, every fault page) takes tokens. The bucket may go into debt — a page scanned after a wait
 * cut short by a fault, or a fault page — and the debt delays later scanning, so the long-run rate
 * never exceeds `bytesPerSecond` (plus one burst). Debt is capped at one bucket (or one page, if larger), so
 * after a fault storm the scan resumes within `2 × max(burstBytes, pageSize) / bytesPerSecond`.
 *
 * The bucket refills continuously (not in 100 ms windows as QEMU and RocksDB do), so the scan is
 * smooth rather than bursty. When short of a page's worth of tokens (or of the whole bucket, if that
 * is smaller than a page) it asks to wait exactly until they accrue, at most {@link MAX_WAIT_NS}.
 *
 * @param options - See {@link TokenBucketOptions}.
 * @returns A fresh policy named like `token-bucket(100MiB/s,burst=4MiB)`.
 * @throws {@link LimiterConfigError} naming the option for a missing, non-positive or non-finite rate,
 * a non-positive or non-finite burst, or an unknown option.
 *
 * @example
 * const policy = tokenBucket({ bytesPerSecond: 128 * 2 ** 20, burstBytes: 4 * 2 ** 20 });
 */
export function tokenBucket(options: TokenBucketOptions): LimiterPolicy {
  const P = 'token-bucket';
  checkOptionNames(P, options ?? {}, TOKEN_BUCKET_OPTION_NAMES);
  const rule = { min: 0, minExclusive: true } as const;
  const rate = requiredNumberOption(P, 'bytesPerSecond', options?.bytesPerSecond, {
    ...rule,
    unit: 'bytes/s',
  });
  const burst = numberOption(P, 'burstBytes', options?.burstBytes, defaultBurstBytes(rate), {
    ...rule,
    unit: 'bytes',
  });
  const chargeFaults = booleanOption(P, 'chargeFaults', options?.chargeFaults, true);
  return new TokenBucket(rate, burst, chargeFaults);
}

/**
 * The token bucket's state machine. A class rather than a closure: V8 keeps number fields of an
 * object unboxed, while numbers captured by a closure are re-boxed on every store (measured: about
 * 40 ns per step here).
 */
class TokenBucket implements LimiterPolicy {
  readonly name: string;
  private readonly bytesPerNs: number;
  private pageSize = 4096;
  private tokens: number;
  private filledAt = 0;
  /** Debt cap: a fault storm (which no limiter may delay) must not hold the scan for longer than one bucket takes to refill. */
  private maxDebt: number;

  constructor(
    rate: number,
    private readonly burst: number,
    private readonly chargeFaults: boolean,
  ) {
    this.name = `token-bucket(${formatBytes(Math.round(rate))}/s,burst=${formatBytes(Math.round(burst))})`;
    this.bytesPerNs = rate / 1e9;
    this.tokens = burst;
    this.maxDebt = burst;
  }

  start(context: LimiterContext): void {
    this.pageSize = context.pageSize;
    this.maxDebt = Math.max(this.burst, context.pageSize);
    this.tokens = this.burst;
    this.filledAt = context.startedAt;
  }

  onFault(o: FaultObservation): void {
    if (!this.chargeFaults) return;
    this.refill(o.now);
    this.take(this.pageSize);
  }

  onScan(now: number, _pages: number, bytes: number): void {
    this.refill(now);
    this.take(bytes);
  }

  onSinkWrite(): void {}

  decide(now: number): LimiterDecision {
    this.refill(now);
    const pageSize = this.pageSize;
    const tokens = this.tokens;
    const need = Math.min(pageSize, this.burst);
    if (tokens >= need) {
      const pages = Math.floor(tokens / pageSize);
      return { scanPages: Math.max(pages, 1), waitNs: 0 };
    }
    const waitNs = Math.ceil((need - tokens) / this.bytesPerNs);
    if (waitNs > MAX_WAIT_NS) return { scanPages: 0, waitNs: MAX_WAIT_NS };
    // After the wait one page is affordable. A fault may end the wait early; the page is then
    // borrowed, but only out of a non-negative balance, so the scan never owes more than one page.
    return { scanPages: tokens >= 0 ? 1 : 0, waitNs: Math.max(waitNs, 1) };
  }

  private refill(now: number): void {
    if (now > this.filledAt) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.filledAt) * this.bytesPerNs);
      this.filledAt = now;
    }
  }

  private take(bytes: number): void {
    this.tokens = Math.max(-this.maxDebt, this.tokens - bytes);
  }
}
