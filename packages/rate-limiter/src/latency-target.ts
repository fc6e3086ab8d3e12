import { MAX_WAIT_NS, MS } from './constants.js';
import { faultLatency, LATENCY_MEASURES, type LatencyMeasure } from './measure.js';
import type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';
import { formatBytes, formatNs } from './units.js';
import { checkOptionNames, enumOption, numberOption } from './validate.js';

/**
 * The control law {@link latencyTarget} uses to size its queue window; see the package README for
 * how they compare under the synthetic latency model.
 * - `aimd`: halve on a late fault (at most once per interval), then grow back fast to just under the
 *   size that hurt, then probe above it slowly (TCP/CUBIC-like plateau, SILK-like fast recovery).
 * - `codel`: Linux wbt-style: each window (interval/√(step+1)) whose *minimum* latency exceeds the
 *   target halves the window; a good window doubles it back.
 * - `pi`: a proportional-integral controller on log(window) driven by each interval's p99.
 */
export type LatencyControl = 'aimd' | 'codel' | 'pi';

/** The accepted {@link LatencyControl} values. */
export const LATENCY_CONTROLS: readonly LatencyControl[] = ['aimd', 'codel', 'pi'];

/** Options of {@link latencyTarget}. */
export interface LatencyTargetOptions {
  /** The write-fault latency the p99 must stay under, in ns. Default 1 ms. */
  p99TargetNs?: number;
  /** Control law. Default `aimd`. */
  control?: LatencyControl;
  /** Control interval in ns: growth steps, p99 evaluation, at most one decrease. Default 50 ms. */
  intervalNs?: number;
  /**
   * Most scan-and-fault data (bytes, as reported to `onScan`/`onFault`) allowed between the save loop
   * and the sink's completed writes. Keep it at most half the stream writer's high-water mark, so a
   * stalled sink never makes the save loop block in `drain()` while faults wait. Default 4 MiB.
   */
  maxQueueBytes?: number;
  /**
   * Smallest window. The policy also keeps it at least twice the largest sink write seen (so the
   * sink never idles waiting for a batch), but never above `maxQueueBytes`. Default 256 KiB.
   */
  minQueueBytes?: number;
  /** Wait (ns) when the scan is held, before asking again. Default min(250 µs, target/4). */
  pollNs?: number;
  /** Progress floor: however bad things look, one page is scanned at least this often (ns). Default 50 ms. */
  maxHoldNs?: number;
  /** Latency measure; `true` uses `trueNs` and falls back to `upperBoundNs`. Default `true`. */
  measure?: LatencyMeasure;
}

/** Option names {@link latencyTarget} accepts. */
export const LATENCY_TARGET_OPTION_NAMES: readonly (keyof LatencyTargetOptions)[] = [
  'p99TargetNs',
  'control',
  'intervalNs',
  'maxQueueBytes',
  'minQueueBytes',
  'pollNs',
  'maxHoldNs',
  'measure',
];

/** Scan work per decision is kept under this fraction of the target: a fault that arrives mid-scan waits for it. */
const SCAN_SHARE_OF_TARGET = 0.25;
/** No sink completion for this many typical write times while a batch is queued = a stall in progress. */
const STALL_FACTOR = 4;
/** Silence (no completion while data is believed queued) after which the byte estimate is re-anchored. */
const SILENCE_RESET_FACTOR = 4;
const LATENCY_SAMPLES = 256;
/** aimd: good intervals without a late fault or a sink stall before the learnt ceiling relaxes. */
const RELAX_AFTER_INTERVALS = 20;
/** Sink-to-input byte ratio is assumed this much higher than measured (see outPerIn). */
const ESTIMATE_BIAS = 1.02;
/** Estimate check: a sink idle between writes for more than this share of an interval while "a window is queued" means the estimate is high. */
const IDLE_SHARE = 0.5;
/** aimd: share of an interval the sink spent writing above which the window does not grow. */
const SATURATED = 0.9;

/**
 * Adaptive limiter: keeps the p99 write-fault latency under `p99TargetNs` while giving the scan all
 * the bandwidth the sink takes (SILK's lesson: background work gets the spare capacity, and backs off
 * only when foreground latency rises).
 *
 * What it controls is the amount of scan data queued between the save loop and the sink — a window,
 * as in TCP — taken from `onBacklog` when the save loop reports the writer's backlog, else estimated
 * from `onScan`/`onFault` bytes in and `onSinkWrite` bytes out. In plain mode a writer waits when the save loop is busy or blocked, and the loop blocks
 * when the stream writer passes its high-water mark, which happens when a sink stalls with a lot of
 * scan data queued. With at most a window of data in flight, a stall stops the scan instead of the
 * loop, and faults keep being served at once. On top of that:
 * - the window shrinks when faults are late (the chosen control law, default `aimd`), and grows back
 *   fast when they are not;
 * - the sink's blocked time is watched: no completion for {@link STALL_FACTOR}× the typical write time
 *   while a batch is queued means a stall in progress, and the scan holds until the sink moves;
 * - each decision's scan is cut to what fits in a quarter of the target, measured from the loop's
 *   own per-page cost;
 * - at least one page is scanned every `maxHoldNs`, so the snapshot always finishes.
 *
 * Latency is `trueNs` where the backend knows the fault time, else `upperBoundNs` (never an
 * under-estimate); `measure` overrides.
 *
 * @param options - See {@link LatencyTargetOptions}.
 * @returns A fresh policy named like `latency-target(p99<1ms,aimd)`.
 * @throws {@link LimiterConfigError} naming the option for bad values or unknown options.
 *
 * @example
 * const policy = latencyTarget({ p99TargetNs: 1e6 });
 */
export function latencyTarget(options: LatencyTargetOptions = {}): LimiterPolicy {
  const P = 'latency-target';
  checkOptionNames(P, options, LATENCY_TARGET_OPTION_NAMES);
  const positive = { min: 0, minExclusive: true } as const;
  const target = numberOption(P, 'p99TargetNs', options.p99TargetNs, 1 * MS, { ...positive, unit: 'ns' });
  const control = enumOption(P, 'control', options.control, 'aimd', LATENCY_CONTROLS);
  const intervalNs = numberOption(P, 'intervalNs', options.intervalNs, 50 * MS, { ...positive, unit: 'ns' });
  const maxQueue = numberOption(P, 'maxQueueBytes', options.maxQueueBytes, 4 * 2 ** 20, {
    ...positive,
    unit: 'bytes',
  });
  const minQueue = numberOption(P, 'minQueueBytes', options.minQueueBytes, Math.min(256 * 1024, maxQueue), {
    ...positive,
    max: maxQueue,
    unit: 'bytes (<= maxQueueBytes)',
  });
  const pollNs = Math.max(
    1,
    Math.round(
      numberOption(P, 'pollNs', options.pollNs, Math.min(250e3, target / 4), {
        ...positive,
        max: MAX_WAIT_NS,
        unit: 'ns',
      }),
    ),
  );
  const maxHoldNs = numberOption(P, 'maxHoldNs', options.maxHoldNs, 50 * MS, {
    ...positive,
    max: MAX_WAIT_NS,
    unit: 'ns',
  });
  const measure = enumOption(P, 'measure', options.measure, 'true', LATENCY_MEASURES);

  return new LatencyTarget({ target, control, intervalNs, maxQueue, minQueue, pollNs, maxHoldNs, measure });
}

interface LatencyTargetConfig {
  target: number;
  control: LatencyControl;
  intervalNs: number;
  maxQueue: number;
  minQueue: number;
  pollNs: number;
  maxHoldNs: number;
  measure: LatencyMeasure;
}

/**
 * The latency-target state machine. A class rather than a closure: V8 keeps number fields unboxed,
 * while numbers captured by a closure are re-boxed on every store.
 */
class LatencyTarget implements LimiterPolicy {
  readonly name: string;
  private readonly c: LatencyTargetConfig;
  private pageSize = 4096;
  /** Bytes allowed in flight; starts wide open: background work gets the bandwidth until latency says otherwise. */
  private window: number;
  private windowFloor: number;
  /**
   * aimd: a learnt ceiling — half the most data that was queued when faults turned late (the stream
   * writer's unknown high-water mark shows up there) — relaxed only after a quiet spell.
   */
  private ceiling: number;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** Last late fault or sink stall. */
  private lastTroubleAt = Number.NEGATIVE_INFINITY;
  private peakQueued = 0;
  private prevPeakQueued = 0;
  // interval statistics
  private intervalEnd = 0;
  private intervalStartAt = 0;
  /** Sink blocked time completed this interval. */
  private intervalBusyNs = 0;
  private intervalWrites = 0;
  /** Time between completed sink writes when none was in progress, this interval. */
  private intervalIdleNs = 0;
  private intervalFaults = 0;
  private intervalLate = 0;
  private intervalMin = Number.POSITIVE_INFINITY;
  private readonly samples = new Float64Array(LATENCY_SAMPLES);
  private codelStep = 0;
  private piError = 0;
  /** Backlog estimate in onScan/onFault bytes, replaced by the writer's figure wherever onBacklog reports it. */
  private queued = 0;
  private backlogKnown = false;
  /**
   * Sink bytes per input byte (zero pages, compression, record headers), re-learnt at each quiet
   * point. Biased high so the estimate errs towards "more queued": that error shows (the sink idles)
   * and is corrected; the opposite one would only show as a full writer and late faults.
   */
  private outPerIn = ESTIMATE_BIAS;
  private lastRatioBumpAt = Number.NEGATIVE_INFINITY;
  private segmentIn = 0;
  private segmentOut = 0;
  private lastCompletionAt = 0;
  /** EWMA of non-stall sink write times; 0 = none seen. */
  private typicalWriteNs = 0;
  private biggestWrite = 0;
  // scan cost
  private nsPerPage = 0;
  private decidedAt = 0;
  private decidedScan = false;
  private lastScanAt = 0;

  constructor(config: LatencyTargetConfig) {
    this.c = config;
    this.name = `latency-target(p99<${formatNs(config.target)},${config.control},max=${formatBytes(Math.round(config.maxQueue))})`;
    this.window = config.maxQueue;
    this.windowFloor = config.minQueue;
    this.ceiling = config.maxQueue;
  }

  start(context: LimiterContext): void {
    const c = this.c;
    this.pageSize = context.pageSize;
    this.window = c.maxQueue;
    this.windowFloor = c.minQueue;
    this.ceiling = c.maxQueue;
    this.lastDecreaseAt = Number.NEGATIVE_INFINITY;
    this.lastTroubleAt = Number.NEGATIVE_INFINITY;
    this.peakQueued = 0;
    this.prevPeakQueued = 0;
    this.intervalEnd = context.startedAt + c.intervalNs;
    this.intervalStartAt = context.startedAt;
    this.intervalBusyNs = 0;
    this.intervalWrites = 0;
    this.intervalIdleNs = 0;
    this.intervalFaults = 0;
    this.intervalLate = 0;
    this.intervalMin = Number.POSITIVE_INFINITY;
    this.codelStep = 0;
    this.piError = 0;
    this.queued = 0;
    this.backlogKnown = false;
    this.outPerIn = ESTIMATE_BIAS;
    this.lastRatioBumpAt = Number.NEGATIVE_INFINITY;
    this.segmentIn = 0;
    this.segmentOut = 0;
    this.lastCompletionAt = context.startedAt;
    this.typicalWriteNs = 0;
    this.biggestWrite = 0;
    this.nsPerPage = 0;
    this.decidedAt = context.startedAt;
    this.decidedScan = false;
    this.lastScanAt = context.startedAt;
  }

  onFault(o: FaultObservation): void {
    const now = o.now;
    if (now >= this.intervalEnd) this.closeInterval(now);
    this.queued += this.pageSize;
    this.segmentIn += this.pageSize;
    if (this.queued > this.peakQueued) this.peakQueued = this.queued;
    const lat = faultLatency(o, this.c.measure);
    if (this.intervalFaults < LATENCY_SAMPLES) this.samples[this.intervalFaults] = lat;
    this.intervalFaults++;
    if (lat < this.intervalMin) this.intervalMin = lat;
    if (lat > this.c.target) {
      if (!this.backlogKnown && now - this.lastRatioBumpAt >= this.c.intervalNs) {
        // A late fault may mean more is queued than estimated: assume a larger stream per input byte.
        this.lastRatioBumpAt = now;
        this.outPerIn = Math.min(2, this.outPerIn * 1.1);
      }
      this.intervalLate++;
      if (this.c.control === 'aimd') this.decrease(now);
    }
  }

  onScan(now: number, pages: number, bytes: number): void {
    if (pages <= 0) return;
    this.queued += bytes;
    this.segmentIn += bytes;
    if (this.queued > this.peakQueued) this.peakQueued = this.queued;
    this.lastScanAt = now;
    if (this.decidedScan && now >= this.decidedAt) {
      const perPage = (now - this.decidedAt) / pages;
      this.nsPerPage = this.nsPerPage === 0 ? perPage : this.nsPerPage * 0.875 + perPage * 0.125;
    }
    this.decidedScan = false;
  }

  onSinkWrite(now: number, bytes: number, blockedNs: number): void {
    if (now >= this.intervalEnd) this.closeInterval(now);
    this.intervalBusyNs += blockedNs;
    this.intervalWrites++;
    const gap = now - this.lastCompletionAt;
    if (gap > blockedNs) this.intervalIdleNs += gap - blockedNs;
    const typical = this.typicalWriteNs;
    if (typical === 0 || blockedNs < STALL_FACTOR * typical) {
      this.typicalWriteNs = typical === 0 ? blockedNs : typical * 0.875 + blockedNs * 0.125;
    } else {
      // A stall: the sink can stop again, so keep the learnt ceiling for a while.
      this.lastTroubleAt = now;
    }
    if (bytes > this.biggestWrite) {
      this.biggestWrite = bytes;
      this.windowFloor = Math.min(this.c.maxQueue, Math.max(this.c.minQueue, 2 * bytes));
      this.window = this.clampWindow(this.window);
    }
    this.queued = Math.max(0, this.queued - bytes / this.outPerIn);
    this.segmentOut += bytes;
    this.lastCompletionAt = now;
  }

  onBacklog(now: number, bufferedBytes: number): void {
    if (now >= this.intervalEnd) this.closeInterval(now);
    // The writer's own figure, in the units of its high-water mark: no estimate needed.
    this.backlogKnown = true;
    this.queued = Math.max(bufferedBytes, 0);
    if (this.queued > this.peakQueued) this.peakQueued = this.queued;
  }

  decide(now: number): LimiterDecision {
    const c = this.c;
    if (now >= this.intervalEnd) this.closeInterval(now);
    const silentNs = now - this.lastCompletionAt;
    if (!this.backlogKnown && this.queued > 0 && silentNs > SILENCE_RESET_FACTOR * c.maxHoldNs) {
      // Long silence with data believed queued: the writer has in fact run dry (the byte estimate
      // drifted, e.g. zero pages or compression shrank the stream).
      this.reanchor();
    }
    const queued = this.queued;
    const stalled =
      this.typicalWriteNs > 0 &&
      queued >= this.biggestWrite &&
      silentNs > STALL_FACTOR * this.typicalWriteNs + c.pollNs;
    const room = this.window - queued;
    if (!stalled && room >= this.pageSize) {
      let pages = Math.floor(room / this.pageSize);
      if (this.nsPerPage > 0) {
        const fit = Math.floor((c.target * SCAN_SHARE_OF_TARGET) / this.nsPerPage);
        if (fit < pages) pages = Math.max(fit, 1);
      }
      this.decidedAt = now;
      this.decidedScan = true;
      return { scanPages: pages, waitNs: 0 };
    }
    const heldNs = now - this.lastScanAt;
    if (heldNs >= c.maxHoldNs) {
      this.decidedAt = now;
      this.decidedScan = true;
      return { scanPages: 1, waitNs: 0 };
    }
    this.decidedScan = false;
    return { scanPages: 0, waitNs: Math.min(Math.ceil(c.maxHoldNs - heldNs), c.pollNs) };
  }

  private clampWindow(w: number): number {
    return w < this.windowFloor ? this.windowFloor : Math.min(w, this.c.maxQueue);
  }

  private decrease(now: number): void {
    this.lastTroubleAt = now;
    if (now - this.lastDecreaseAt < this.c.intervalNs) return;
    this.lastDecreaseAt = now;
    const peak = Math.max(this.peakQueued, this.prevPeakQueued);
    this.ceiling = this.clampWindow(Math.min(this.ceiling, peak / 2));
    this.window = this.clampWindow(Math.min(this.window / 2, this.ceiling));
  }

  /** The queue is in fact (nearly) empty: restart the estimate and re-learn sink bytes per input byte. */
  private reanchor(): void {
    if (this.segmentIn > 0 && this.segmentOut > 0) {
      this.outPerIn = ESTIMATE_BIAS * Math.min(2, Math.max(0.02, this.segmentOut / this.segmentIn));
    }
    this.segmentIn = 0;
    this.segmentOut = 0;
    this.queued = 0;
  }

  private closeInterval(now: number): void {
    const c = this.c;
    const n = this.intervalFaults;
    const length = now - this.intervalStartAt;
    // Writes completed with idle gaps between them for half the interval, while the estimate says a
    // window's worth is queued: a sink with that much to do would not idle, so the estimate is high.
    // Only gaps that ended in a completion count, so a stall in progress (no completion yet) or one
    // that ended (its write was blocked the whole gap) never looks idle.
    if (
      !this.backlogKnown &&
      this.intervalWrites > 0 &&
      this.intervalIdleNs > IDLE_SHARE * length &&
      this.queued + this.pageSize >= this.window
    ) {
      this.reanchor();
    }
    if (c.control === 'aimd') {
      // A sink already busy (nearly) all the time gains nothing from a bigger window, only a longer
      // queue (BBR's lesson): grow only when the window, not the sink, limits the scan.
      const saturated = this.intervalBusyNs >= SATURATED * length;
      if (this.intervalLate === 0 && !saturated && now - this.lastDecreaseAt >= c.intervalNs) {
        // Relax the ceiling only after a quiet spell: with periodic stalls, growing back between them
        // would make every stall hurt again.
        if (now - this.lastTroubleAt >= RELAX_AFTER_INTERVALS * c.intervalNs) {
          this.ceiling = this.clampWindow(this.ceiling * 1.25);
        }
        // Fast recovery (SILK): double per good interval up to the ceiling.
        this.window = this.clampWindow(Math.min(this.ceiling, this.window * 2));
      }
      this.prevPeakQueued = this.peakQueued;
      this.peakQueued = this.queued;
    } else if (c.control === 'codel') {
      if (n > 0 && this.intervalMin > c.target) this.codelStep++;
      else if (this.codelStep > 0) this.codelStep--;
      this.window = this.clampWindow(c.maxQueue / 2 ** this.codelStep);
    } else {
      let p99 = 0;
      if (n > 0) {
        const k = Math.min(n, LATENCY_SAMPLES);
        const sorted = this.samples.subarray(0, k).sort();
        p99 = sorted[Math.min(k - 1, Math.floor(k * 0.99))]!;
      }
      // Normalised error, clipped so one terrible interval cannot wind the integral up, and so a quiet
      // interval grows the window gently. Gains: the best of a small grid under the latency model
      // (package README); larger ones bounce between the floor and the ceiling.
      const e = Math.max(-0.1, Math.min(4, (p99 - c.target) / c.target));
      const kp = 0.1;
      const ki = 0.2;
      this.window = this.clampWindow(this.window * Math.exp(-(kp * (e - this.piError) + ki * e)));
      this.piError = e;
    }
    this.intervalFaults = 0;
    this.intervalLate = 0;
    this.intervalMin = Number.POSITIVE_INFINITY;
    this.intervalBusyNs = 0;
    this.intervalWrites = 0;
    this.intervalIdleNs = 0;
    this.intervalStartAt = now;
    this.intervalEnd =
      now + (c.control === 'codel' ? c.intervalNs / Math.sqrt(this.codelStep + 1) : c.intervalNs);
  }
}
