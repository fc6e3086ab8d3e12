// writer-yield: a bgsnap limiter policy module, loadable with `--limiter ./writer-yield.mjs:key=value`.
//
// While writers are active (a write fault within the last `quiet`), the scan yields to them: before
// each small step of `pages` pages the save loop waits up to `poll` for faults, serving any that
// arrive at once. When the writers have been quiet for `quiet`, the scan runs at full speed again.
//
// Why: in plain mode a writer that faults waits until the save loop gets to its fault, and the loop
// gets to it only between scan steps. Small steps and a short wait for faults while writers are busy
// keep that wait short (and leave the CPU to the writers); a snapshot of idle memory pays nothing.
// Unlike the built-in `threshold` (QEMU's rule), it reacts to every fault rather than only to slow
// ones, and its throttling ends by time, not after a count of steps.
import { formatNs, PolicyOptionsError, parseDuration, SCAN_UNLIMITED } from '@bgsnap/rate-limiter';

const POLICY = 'writer-yield';
const MAX_WAIT_NS = 1e9; // the contract's bound on one wait

/** Reads a duration option given as written (`'2ms'`), within (0, 1 s]. */
function durationOption(options, key, fallback) {
  const text = options[key] ?? fallback;
  const allowed = 'a duration such as 500us or 2ms, > 0 and <= 1s';
  let ns;
  try {
    ns = parseDuration(text, POLICY, key);
  } catch {
    throw new PolicyOptionsError(POLICY, key, allowed, text);
  }
  if (!Number.isInteger(ns) || ns <= 0 || ns > MAX_WAIT_NS)
    throw new PolicyOptionsError(POLICY, key, allowed, text);
  return ns;
}

/**
 * The factory bgsnap calls with the spec's options, as strings (`{ quiet: '2ms' }`), or `{}`.
 * It runs twice (to validate, then in the save loop's worker), so it has no side effects.
 * @param {Record<string, unknown>} [options]
 */
export default function createPolicy(options = {}) {
  for (const key of Object.keys(options)) {
    if (!['quiet', 'pages', 'poll'].includes(key))
      throw new PolicyOptionsError(POLICY, key, 'one of quiet, pages, poll', options[key]);
  }
  const quietNs = durationOption(options, 'quiet', '2ms');
  const pollNs = durationOption(options, 'poll', '200us');
  const pages = Number(options.pages ?? '8');
  if (!Number.isInteger(pages) || pages < 1 || pages > 65536) {
    throw new PolicyOptionsError(POLICY, 'pages', 'an integer from 1 to 65536', options.pages);
  }

  let activeUntil = 0; // clock time (ns) until which writers count as active
  return {
    name: `${POLICY}(quiet=${formatNs(quietNs)},pages=${pages},poll=${formatNs(pollNs)})`,
    start(context) {
      activeUntil = context.startedAt; // every run starts with idle writers: no state from the last one
    },
    onFault(observation) {
      activeUntil = observation.now + quietNs;
    },
    onScan() {},
    onSinkWrite() {},
    decide(now) {
      if (now >= activeUntil) return { scanPages: SCAN_UNLIMITED, waitNs: 0 };
      // Never zero pages: the scan must progress even if faults keep coming forever.
      return { scanPages: pages, waitNs: Math.min(pollNs, Math.ceil(activeUntil - now)) };
    },
  };
}
