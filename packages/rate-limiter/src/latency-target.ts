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
/** Estimate check: a sink busy less than this share of an interval while "a window is queued" means the estimate is high. */
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

  // --- state (reset by start) ---
  let pageSize = 4096;
  let window = maxQueue; // start wide open: background work gets the bandwidth until latency says otherwise
  let windowFloor = minQueue;
  // aimd: a learnt ceiling — half the most data that was queued when faults turned late (the stream
  // writer's unknown high-water mark shows up there) — relaxed only after a quiet spell.
  let ceiling = maxQueue;
  let lastDecreaseAt = Number.NEGATIVE_INFINITY;
  let lastTroubleAt = Number.NEGATIVE_INFINITY; // last late fault or sink stall
  let peakQueued = 0;
  let prevPeakQueued = 0;
  // interval statistics
  let intervalEnd = 0;
  let intervalStartAt = 0;
  let intervalBusyNs = 0; // sink blocked time completed this interval
  let intervalWrites = 0;
  let intervalFaults = 0;
  let intervalLate = 0;
  let intervalMin = Number.POSITIVE_INFINITY;
  const samples = new Float64Array(LATENCY_SAMPLES);
  let codelStep = 0;
  let piError = 0;
  // queue estimate, in onScan/onFault bytes, replaced by the writer's figure wherever onBacklog reports it
  let queued = 0;
  let backlogKnown = false;
  // Sink bytes per input byte (zero pages, compression, record headers), re-learnt at each quiet point.
  // Biased high so the estimate errs towards "more queued": that error shows (the sink idles) and is
  // corrected; the opposite one would only show as a full writer and late faults.
  let outPerIn = ESTIMATE_BIAS;
  let segmentIn = 0;
  let segmentOut = 0;
  let lastCompletionAt = 0;
  let typicalWriteNs = 0; // EWMA of non-stall sink write times; 0 = none seen
  let biggestWrite = 0;
  // scan cost
  let nsPerPage = 0;
  let decidedAt = 0;
  let decidedScan = false;
  let lastScanAt = 0;

  const clampWindow = (w: number): number => (w < windowFloor ? windowFloor : Math.min(w, maxQueue));

  const decrease = (now: number): void => {
    lastTroubleAt = now;
    if (now - lastDecreaseAt < intervalNs) return;
    lastDecreaseAt = now;
    const peak = Math.max(peakQueued, prevPeakQueued);
    ceiling = clampWindow(Math.min(ceiling, peak / 2));
    window = clampWindow(Math.min(window / 2, ceiling));
  };

  /** The queue is in fact (nearly) empty: restart the estimate and re-learn sink bytes per input byte. */
  const reanchor = (): void => {
    if (segmentIn > 0 && segmentOut > 0) {
      outPerIn = ESTIMATE_BIAS * Math.min(2, Math.max(0.02, segmentOut / segmentIn));
    }
    segmentIn = 0;
    segmentOut = 0;
    queued = 0;
  };

  const closeInterval = (now: number): void => {
    const n = intervalFaults;
    // Writes completed but the sink idled half the interval, while the estimate says at least a
    // window's worth is queued: a sink with that much to do would not idle, so the estimate is high.
    // (A stall cannot look like this: its one completing write counts the whole stall as busy.)
    if (
      !backlogKnown &&
      intervalWrites > 0 &&
      intervalBusyNs < IDLE_SHARE * (now - intervalStartAt) &&
      queued + pageSize >= window
    ) {
      reanchor();
    }
    if (control === 'aimd') {
      // A sink already busy (nearly) all the time gains nothing from a bigger window, only a longer
      // queue (BBR's lesson): grow only when the window, not the sink, limits the scan.
      const saturated = intervalBusyNs >= SATURATED * (now - intervalStartAt);
      if (intervalLate === 0 && !saturated && now - lastDecreaseAt >= intervalNs) {
        // Relax the ceiling only after a quiet spell: with periodic stalls, growing back between them
        // would make every stall hurt again.
        if (now - lastTroubleAt >= RELAX_AFTER_INTERVALS * intervalNs) ceiling = clampWindow(ceiling * 1.25);
        // Fast recovery (SILK): double per good interval up to the ceiling.
        window = clampWindow(Math.min(ceiling, window * 2));
      }
      prevPeakQueued = peakQueued;
      peakQueued = queued;
    } else if (control === 'codel') {
      if (n > 0 && intervalMin > target) codelStep++;
      else if (codelStep > 0) codelStep--;
      window = clampWindow(maxQueue / 2 ** codelStep);
    } else {
      let p99 = 0;
      if (n > 0) {
        const k = Math.min(n, LATENCY_SAMPLES);
        const sorted = samples.subarray(0, k).sort();
        p99 = sorted[Math.min(k - 1, Math.floor(k * 0.99))]!;
      }
      // Normalised error, clipped so one terrible interval cannot wind the integral up, and so a quiet
      // interval grows the window gently. Gains: the best of a small grid under the latency model
      // (package README); larger ones bounce between the floor and the ceiling.
      const e = Math.max(-0.1, Math.min(4, (p99 - target) / target));
      const kp = 0.1;
      const ki = 0.2;
      window = clampWindow(window * Math.exp(-(kp * (e - piError) + ki * e)));
      piError = e;
    }
    intervalFaults = 0;
    intervalLate = 0;
    intervalMin = Number.POSITIVE_INFINITY;
    intervalBusyNs = 0;
    intervalWrites = 0;
    intervalStartAt = now;
    const len = control === 'codel' ? intervalNs / Math.sqrt(codelStep + 1) : intervalNs;
    intervalEnd = now + len;
  };

  return {
    name: `latency-target(p99<${formatNs(target)},${control},max=${formatBytes(Math.round(maxQueue))})`,
    start(context: LimiterContext) {
      pageSize = context.pageSize;
      window = maxQueue;
      windowFloor = minQueue;
      ceiling = maxQueue;
      lastDecreaseAt = Number.NEGATIVE_INFINITY;
      lastTroubleAt = Number.NEGATIVE_INFINITY;
      peakQueued = 0;
      prevPeakQueued = 0;
      intervalEnd = context.startedAt + intervalNs;
      intervalStartAt = context.startedAt;
      intervalBusyNs = 0;
      intervalWrites = 0;
      intervalFaults = 0;
      intervalLate = 0;
      intervalMin = Number.POSITIVE_INFINITY;
      codelStep = 0;
      piError = 0;
      queued = 0;
      backlogKnown = false;
      outPerIn = ESTIMATE_BIAS;
      segmentIn = 0;
      segmentOut = 0;
      lastCompletionAt = context.startedAt;
      typicalWriteNs = 0;
      biggestWrite = 0;
      nsPerPage = 0;
      decidedAt = context.startedAt;
      decidedScan = false;
      lastScanAt = context.startedAt;
    },
    onFault(o: FaultObservation) {
      if (o.now >= intervalEnd) closeInterval(o.now);
      queued += pageSize;
      segmentIn += pageSize;
      if (queued > peakQueued) peakQueued = queued;
      const lat = faultLatency(o, measure);
      if (intervalFaults < LATENCY_SAMPLES) samples[intervalFaults] = lat;
      intervalFaults++;
      if (lat < intervalMin) intervalMin = lat;
      if (lat > target) {
        intervalLate++;
        if (control === 'aimd') decrease(o.now);
      }
    },
    onScan(now: number, pages: number, bytes: number) {
      if (pages <= 0) return;
      queued += bytes;
      segmentIn += bytes;
      if (queued > peakQueued) peakQueued = queued;
      lastScanAt = now;
      if (decidedScan && now >= decidedAt) {
        const perPage = (now - decidedAt) / pages;
        nsPerPage = nsPerPage === 0 ? perPage : nsPerPage * 0.875 + perPage * 0.125;
      }
      decidedScan = false;
    },
    onSinkWrite(now: number, bytes: number, blockedNs: number) {
      if (now >= intervalEnd) closeInterval(now);
      intervalBusyNs += blockedNs;
      intervalWrites++;
      if (typicalWriteNs === 0 || blockedNs < STALL_FACTOR * typicalWriteNs) {
        typicalWriteNs = typicalWriteNs === 0 ? blockedNs : typicalWriteNs * 0.875 + blockedNs * 0.125;
      } else {
        // A stall: the sink can stop again, so keep the learnt ceiling for a while.
        lastTroubleAt = now;
      }
      if (bytes > biggestWrite) {
        biggestWrite = bytes;
        windowFloor = Math.min(maxQueue, Math.max(minQueue, 2 * biggestWrite));
        window = clampWindow(window);
      }
      queued -= bytes / outPerIn;
      if (queued < 0) queued = 0;
      segmentOut += bytes;
      lastCompletionAt = now;
    },
    onBacklog(now: number, bufferedBytes: number) {
      if (now >= intervalEnd) closeInterval(now);
      // The writer's own figure, in the units of its high-water mark: no estimate needed.
      backlogKnown = true;
      queued = Math.max(bufferedBytes, 0);
      if (queued > peakQueued) peakQueued = queued;
    },
    decide(now: number): LimiterDecision {
      if (now >= intervalEnd) closeInterval(now);
      const silentNs = now - lastCompletionAt;
      if (!backlogKnown && queued > 0 && silentNs > SILENCE_RESET_FACTOR * maxHoldNs) {
        // Long silence with data believed queued: the writer has in fact run dry (the byte estimate
        // drifted, e.g. zero pages or compression shrank the stream).
        reanchor();
      }
      const stalled =
        typicalWriteNs > 0 && queued >= biggestWrite && silentNs > STALL_FACTOR * typicalWriteNs + pollNs;
      const room = window - queued;
      if (!stalled && room >= pageSize) {
        let pages = Math.floor(room / pageSize);
        if (nsPerPage > 0) {
          const fit = Math.floor((target * SCAN_SHARE_OF_TARGET) / nsPerPage);
          if (fit < pages) pages = Math.max(fit, 1);
        }
        decidedAt = now;
        decidedScan = true;
        return { scanPages: pages, waitNs: 0 };
      }
      const heldNs = now - lastScanAt;
      if (heldNs >= maxHoldNs) {
        decidedAt = now;
        decidedScan = true;
        return { scanPages: 1, waitNs: 0 };
      }
      const left = Math.ceil(maxHoldNs - heldNs);
      decidedScan = false;
      return { scanPages: 0, waitNs: Math.min(left, pollNs) };
    },
  };
}
