/**
 * The loop shared by the writer threads of `bgsnap run` and of the benchmark: pacing, and the
 * pause/stop handshake with the thread that owns them. Each writer supplies only its store and what
 * it measures about it.
 */

/**
 * Control words (Int32 in a SharedArrayBuffer) every writer pool shares with its threads. Word 2 is
 * the pool's own (recording flag or epoch); words from `counts` on hold per-writer write counts.
 */
export const WRITER_CONTROL = {
  /** 0 run, 1 pause, 2 stop. */
  command: 0,
  /** Writers currently parked in a pause. */
  parked: 1,
  /** Words 3.. : per-writer write counts (wrapping). */
  counts: 3,
} as const;

/** xorshift32 from `seed` (0 becomes 1): cheap and allocation-free, for picking pages in a hot loop. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * Calls `write` `ratePerSec` times a second (0: back to back) until the pool sets `command` to 2,
 * parking while it is 1. Sleeps are whole milliseconds, with the writes that fell due written in a
 * burst after them: finer sleeps are not reliable. After a stall of more than 100 ms the schedule
 * restarts from now instead of catching up in a storm of writes.
 */
export function runPacedWrites(ctrl: Int32Array, ratePerSec: number, write: () => void): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const intervalNs = ratePerSec > 0 ? 1e9 / ratePerSec : 0;
  let due = performance.now() * 1e6;
  for (;;) {
    const command = Atomics.load(ctrl, WRITER_CONTROL.command);
    if (command === 2) return;
    if (command === 1) {
      Atomics.add(ctrl, WRITER_CONTROL.parked, 1);
      Atomics.notify(ctrl, WRITER_CONTROL.parked);
      while (Atomics.load(ctrl, WRITER_CONTROL.command) === 1) {
        Atomics.wait(ctrl, WRITER_CONTROL.command, 1, 20);
      }
      Atomics.sub(ctrl, WRITER_CONTROL.parked, 1);
      due = performance.now() * 1e6;
      continue;
    }
    if (intervalNs > 0) {
      const now = performance.now() * 1e6;
      if (due - now > 1e6) {
        Atomics.wait(sleeper, 0, 0, Math.floor((due - now) / 1e6));
        continue;
      }
      if (now - due > 1e8) due = now;
      due += intervalNs;
    }
    write();
  }
}
