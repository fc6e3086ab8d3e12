import type { MonotonicClock } from './types.js';

/**
 * The real monotonic clock, in nanoseconds. `performance.now()` is used rather than
 * `process.hrtime.bigint()` because it allocates nothing, which matters on the fault path.
 */
export const realClock: MonotonicClock = {
  now: () => performance.now() * 1e6,
};
