/**
 * What the save loop knows when it starts; given to {@link LimiterPolicy.start}.
 */
export interface LimiterContext {
  /** Clock time (ns) at which the snapshot started. */
  readonly startedAt: number;
  /** Page size in bytes. */
  readonly pageSize: number;
  /** Total pages the snapshot will save. */
  readonly totalPages: number;
  /** Whether fault events carry the true fault time (see {@link FaultObservation.trueNs}). */
  readonly knowsFaultTime: boolean;
}

/**
 * One serviced write fault, reported after its page was saved and released.
 *
 * Three measures of the same wait, from weakest to best:
 * - `sinceFetchNs`: the QEMU patch's measure, from when the save loop fetched the event to now. It misses
 *   the time the event sat in the queue.
 * - `upperBoundNs`: from the last time the save loop found the fault queue empty to now. The event was
 *   delivered after that, so this bounds the writer's wait from above, up to the backend's delivery
 *   delay (the time between a write faulting and its event becoming visible, tens of microseconds).
 * - `trueNs`: from when the writer faulted to when it was released, where the backend knows it.
 */
export interface FaultObservation {
  /** Clock time (ns) when the fault's page was released. */
  readonly now: number;
  /** The QEMU patch's latency measure, in ns. */
  readonly sinceFetchNs: number;
  /** Upper bound on the writer's wait, in ns. */
  readonly upperBoundNs: number;
  /** The writer's real wait in ns, when the backend knows the fault time; otherwise undefined. */
  readonly trueNs: number | undefined;
}

/**
 * A policy's answer to "what now?": first wait up to `waitNs` for write faults (serving any that
 * arrive), then send up to `scanPages` linear-scan pages.
 *
 * Both fields are finite, non-negative integers. "No limit" is `scanPages: SCAN_UNLIMITED`
 * (`Number.MAX_SAFE_INTEGER`; the save loop caps it to its batch size). Built-in policies never ask
 * for more than `MAX_WAIT_NS` (1 s), the bound the conformance suite checks by default. A decision of
 * `{ scanPages: 0, waitNs: 0 }` is illegal: the scan would never progress.
 */
export interface LimiterDecision {
  /** Linear-scan pages the save loop may send now. */
  scanPages: number;
  /** How long to wait for faults before scanning, in ns. */
  waitNs: number;
}

/**
 * A rate-limiting policy for the linear scan of a background snapshot.
 *
 * Policies are pure state machines: they see time only through the `now` arguments, own no timers and
 * do no I/O, so they are deterministic under test and run unchanged in virtual time.
 *
 * Call order, driven by the save loop: `start` once; then any interleaving of `onFault`, `onScan`,
 * `onSinkWrite`, `onBacklog` (if defined) and `decide`, with non-decreasing `now`.
 */
export interface LimiterPolicy {
  /** Short name for reports, for example `threshold` or `latency-target(p99<1ms)`. */
  readonly name: string;
  /** Reset state for a new snapshot. */
  start(context: LimiterContext): void;
  /** A write fault was serviced (its page saved and released). */
  onFault(observation: FaultObservation): void;
  /**
   * The linear scan sent `pages` pages at time `now`. `bytes` is what they added to the stream writer;
   * the save loop may pass raw bytes (`pages × pageSize`). Policies that compare it with
   * {@link LimiterPolicy.onSinkWrite}'s bytes must tolerate the difference made by zero pages and
   * compression.
   */
  onScan(now: number, pages: number, bytes: number): void;
  /** A sink write of `bytes` completed at `now` after being blocked for `blockedNs`. */
  onSinkWrite(now: number, bytes: number, blockedNs: number): void;
  /**
   * Optional. The stream writer's backlog at `now`: bytes encoded but not yet written by the sink
   * (`SnapshotWriter.stats.bufferedBytes`, the quantity its high-water mark applies to). A save loop
   * that can, reports it after serving faults and after each scan step; a policy that bounds the data
   * queued ahead of the sink then uses it instead of estimating the backlog from `onScan` and
   * `onSinkWrite` bytes (which differ by zero pages, compression and record headers).
   */
  onBacklog?(now: number, bufferedBytes: number): void;
  /**
   * What to do next, at time `now`, with `pendingFaults` fault events known to be waiting (0 when the
   * loop has just drained the queue). Must be cheap: it runs between every scan step.
   *
   * The save loop acts on each decision before asking again (it performs a returned wait, ended early
   * only by faults, which it reports through `onFault`). A policy may rely on that: the QEMU port, for
   * one, counts a returned wait as the poll it stands for.
   */
  decide(now: number, pendingFaults: number): LimiterDecision;
}
