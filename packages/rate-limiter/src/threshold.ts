import { MAX_WAIT_NS, MS, SCAN_UNLIMITED } from './constants.js';
import { faultLatency, LATENCY_MEASURES, type LatencyMeasure } from './measure.js';
import type { FaultObservation, LimiterDecision, LimiterPolicy } from './types.js';
import { formatNs } from './units.js';
import { checkOptionNames, enumOption, numberOption } from './validate.js';

/** Options of {@link threshold}; every field is optional and defaults to the QEMU patch's constant. */
export interface ThresholdOptions {
  /** A fault slower than this (strictly) starts throttling. Default 5 ms (`FAULT_HIGH_LATENCY_NS`). */
  latencyNs?: number;
  /** Steps (pages) throttled after a slow fault. Default 200 (`SLOW_FAULT_SKIP_PAGES`). */
  pages?: number;
  /** How long each throttled step waits for a fault. Default 5 ms (`SLOW_FAULT_POLL_TMO`). */
  pollNs?: number;
  /**
   * Which latency is compared with `latencyNs`. Default `sinceFetch`, the patch's own measure; `true`
   * or `upperBound` show what the patch would have done had it seen what the writer suffered.
   */
  measure?: LatencyMeasure;
}

/** Option names {@link threshold} accepts. */
export const THRESHOLD_OPTION_NAMES: readonly (keyof ThresholdOptions)[] = [
  'latencyNs',
  'pages',
  'pollNs',
  'measure',
];

/**
 * Faithful port of the QEMU patch's `limit_scan_rate` ("migration: introduce 'background-snapshot'
 * migration capability" series, dropped before merging): after a write fault whose latency exceeds
 * `latencyNs`, the next `pages` save steps each first wait up to `pollNs` for a new fault.
 *
 * QEMU runs `limit_scan_rate` after every saved page, fault page or scan page alike; here each
 * `onFault` is one step and each page reported by `onScan` is one step. Where QEMU would block in
 * `uffd_poll_events`, `decide` answers `{ waitNs: pollNs, scanPages: 0 }`; when that wait ends without
 * a fault, the next step is a single scan page `{ waitNs: 0, scanPages: 1 }`, as QEMU's next
 * `ram_find_and_save_block` finds no fault and takes one page from the linear scan. With the counter at
 * zero the scan is unlimited. The package README maps every line of the patch to this code.
 *
 * After one slow fault and no further faults the decisions are: wait, 1 page, wait, 1 page, … —
 * 200 waits and 199 single pages in between — then unlimited. A second slow fault resets the counter
 * to `pages`. Each fast fault during throttling is a step and uses up one count, as in QEMU.
 *
 * @param options - See {@link ThresholdOptions}.
 * @returns A fresh policy named like `threshold(>5ms,200p,poll=5ms)`.
 * @throws {@link LimiterConfigError} naming the option for negative, non-finite or unknown options.
 *
 * @example
 * const policy = threshold();                       // the patch's constants
 * const truthful = threshold({ measure: 'true' });  // same rule, fed the writer's real wait
 */
export function threshold(options: ThresholdOptions = {}): LimiterPolicy {
  const P = 'threshold';
  checkOptionNames(P, options, THRESHOLD_OPTION_NAMES);
  const latencyNs = numberOption(P, 'latencyNs', options.latencyNs, 5 * MS, { min: 0, unit: 'ns' });
  const pages = numberOption(P, 'pages', options.pages, 200, { min: 0, integer: true, unit: 'pages' });
  // Decisions carry integer nanoseconds; a sub-nanosecond poll still has to be a wait.
  const pollNs = Math.max(
    1,
    Math.round(
      numberOption(P, 'pollNs', options.pollNs, 5 * MS, {
        min: 0,
        minExclusive: true,
        max: MAX_WAIT_NS,
        unit: 'ns',
      }),
    ),
  );
  const measure = enumOption(P, 'measure', options.measure, 'sinceFetch', LATENCY_MEASURES);

  // rs->throttle_skip_counter
  let counter = 0;
  // The last step ran with the counter positive, so it owes its uffd_poll_events(); decide() issues it.
  let pollOwed = false;

  /** One `limit_scan_rate()` call; `latency` is undefined when `rs->last_fault_ns` was 0. */
  const step = (latency: number | undefined): void => {
    if (latency !== undefined && latency > latencyNs) counter = pages;
    if (counter > 0) {
      pollOwed = true;
      counter--;
    }
  };

  const measureName = measure === 'sinceFetch' ? '' : `,${measure}`;
  return {
    name: `threshold(>${formatNs(latencyNs)},${pages}p,poll=${formatNs(pollNs)}${measureName})`,
    start() {
      // ram_state_reset(): last_fault_ns = 0; throttle_skip_counter = 0
      counter = 0;
      pollOwed = false;
    },
    onFault(o: FaultObservation) {
      // A fault ends the previous step's poll early (poll_fault_page then fetches it), and saving its
      // page is a step of its own, measured from the fetch.
      pollOwed = false;
      step(faultLatency(o, measure));
    },
    onScan(_now: number, n: number) {
      // n scan steps, none with a fault time (last_fault_ns was reset by the step that read it). Only
      // the last one's poll can still be owed; QEMU would have polled between the others too, which
      // cannot happen when the loop sends several pages at once (this policy never allows that while
      // throttling).
      if (n <= 0) return;
      pollOwed = counter >= n;
      counter = counter > n ? counter - n : 0;
    },
    onSinkWrite() {},
    decide(_now: number, pendingFaults: number): LimiterDecision {
      if (pollOwed || (counter > 0 && pendingFaults > 0)) {
        // uffd_poll_events(fd, SLOW_FAULT_POLL_TMO): returns at once if a fault is already pending.
        pollOwed = false;
        return { scanPages: 0, waitNs: pollNs };
      }
      // The poll timed out: the next step is one linear-scan page, itself throttled.
      if (counter > 0) return { scanPages: 1, waitNs: 0 };
      return { scanPages: SCAN_UNLIMITED, waitNs: 0 };
    },
  };
}

/** Alias of {@link threshold}, named after the QEMU function it ports. */
export const qemuThreshold: typeof threshold = threshold;
