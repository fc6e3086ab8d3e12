import type { Sink } from '@bgsnap/stream-writer';
import type { StallProfile } from './stall-profile.js';

/** Time source and sleeper of a {@link stallingSink}; injectable so tests can run in virtual time. */
export interface StallTimer {
  /** Monotonic time in ns. */
  now(): number;
  /** Resolves after at least `ns` of {@link StallTimer.now} time. */
  sleep(ns: number): Promise<void>;
}

/** Real time: `performance.now()` and `setTimeout` (re-armed until the deadline has really passed). */
export const realStallTimer: StallTimer = {
  now: () => performance.now() * 1e6,
  async sleep(ns) {
    const until = performance.now() * 1e6 + ns;
    for (;;) {
      const left = until - performance.now() * 1e6;
      if (left <= 0) return;
      // setTimeout rounds to whole ms and may fire a little early by the hrtime clock: loop until done.
      await new Promise<void>((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(left / 1e6))));
    }
  },
};

/** Counters of a {@link stallingSink}. */
export interface StallingSinkStats {
  /** Writes forwarded. */
  writes: number;
  /** Bytes forwarded. */
  bytes: number;
  /** Total delay the schedule injected into writes, ns. */
  stalledNs: number;
  /** Longest single injected delay, ns. */
  longestStallNs: number;
}

/** A {@link Sink} with a stall schedule, and its counters. */
export interface StallingSink extends Sink {
  /** Live counters. */
  readonly stats: Readonly<StallingSinkStats>;
}

/**
 * Wraps a sink so that its writes really stall by a schedule: each `write()` first sleeps for the
 * delay the profile imposes, then forwards the chunk. `periodic`: a write issued inside a stall window
 * (the last `stallNs` of each `everyNs` period, periods counted from the sink's creation) waits until
 * the window ends. `slow`: writes are paced as if sent over a link of `bytesPerSecond`; a write completes
 * when its last byte would have been sent. `close()` and `abort()` are forwarded at once.
 *
 * @example
 * ```ts
 * const sink = stallingSink(fileSink('/tmp/x.bgsnap'), parseStallProfile('periodic:50ms/250ms'));
 * ```
 */
export function stallingSink(
  inner: Sink,
  profile: StallProfile,
  timer: StallTimer = realStallTimer,
): StallingSink {
  const origin = timer.now();
  const stats: StallingSinkStats = { writes: 0, bytes: 0, stalledNs: 0, longestStallNs: 0 };
  let linkFreeAt = origin;

  const delayFor = (bytes: number, now: number): number => {
    switch (profile.kind) {
      case 'none':
        return 0;
      case 'periodic': {
        const phase = (now - origin) % profile.everyNs;
        const stallFrom = profile.everyNs - profile.stallNs;
        return phase >= stallFrom ? profile.everyNs - phase : 0;
      }
      case 'slow': {
        const start = Math.max(now, linkFreeAt);
        linkFreeAt = start + (bytes * 1e9) / profile.bytesPerSecond;
        return linkFreeAt - now;
      }
    }
  };

  return {
    get stats() {
      return stats;
    },
    async write(chunk) {
      const t0 = timer.now();
      const delay = delayFor(chunk.byteLength, t0);
      if (delay > 0) {
        await timer.sleep(delay);
        const waited = timer.now() - t0;
        stats.stalledNs += waited;
        if (waited > stats.longestStallNs) stats.longestStallNs = waited;
      }
      stats.writes++;
      stats.bytes += chunk.byteLength;
      await inner.write(chunk);
    },
    close: () => inner.close(),
    abort: (reason) => inner.abort(reason),
  };
}
