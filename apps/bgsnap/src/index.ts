/**
 * bgsnap: point-in-time snapshots of live memory while its owner keeps writing — the save loop, the
 * `snapshot()` library API, the report, and the pieces the `bgsnap` CLI is built from.
 * @packageDocumentation
 */
/**
 * The `bgsnap` CLI's exit codes and option checks (each throws {@link BadInputError} naming the
 * option), for command-line tools built on the app such as `bgsnap-bench`.
 */

/** The CLI's one output rule (see the README's _Outputs_), for tools built on the app. */
export { type CheckedOutput, checkOutputTarget } from './commands/output-target.js';
export {
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from './commands/shared.js';
export { BadInputError, QuiesceTimeoutError, SnapshotAbortedError } from './errors.js';
export { DEFAULT_LIMITER, KNOWN_LIMITERS, type LimiterSpec, resolveLimiter } from './limiter-spec.js';
export {
  type LoadedRegion,
  type LoadProgress,
  type LoadResult,
  type LoadSnapshotOptions,
  type LoadTarget,
  loadSnapshot,
} from './load-snapshot.js';
export {
  SnapshotLoadAbortedError,
  SnapshotLoadError,
  type SnapshotLoadErrorCode,
} from './load-snapshot-errors.js';
export { formatDuration, formatReport, formatSize } from './report/format-report.js';
export {
  buildReport,
  type LatencyReport,
  type ReportInput,
  reportHistogram,
  type SnapshotMode,
  type SnapshotReport,
} from './report/report.js';
export {
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  type LatencyHistogram,
  type LatencySummary,
  recordLatency,
  summarizeLatency,
} from './save-loop/latency-histogram.js';
export { runSaveLoop } from './save-loop/save-loop.js';
export type { PageWriter, SaveLoopOptions, SaveLoopResult, SnapshotProgress } from './save-loop/types.js';
export {
  describeTarget,
  isLiveSink,
  openSink,
  type SinkSpec,
  type SnapshotTarget,
  toSinkSpec,
} from './sink-spec.js';
export {
  SNAPSHOT_MODES,
  type SnapshotMemory,
  type SnapshotOptions,
  snapshot,
} from './snapshot.js';
export {
  type CoreSnapshotOptions,
  type Quiesce,
  type SnapshotTuning,
  snapshotOnThisThread,
} from './snapshot-core.js';
/**
 * The workload of `bgsnap run`, for harnesses that drive tracked memory the same way: varied
 * contents, and the paced writer loop (with its pause/stop control words and page picker) that
 * writer threads run.
 */
export { fillMemory } from './workload/fill.js';
export { runPacedWrites, WRITER_CONTROL, xorshift32 } from './workload/paced-writes.js';
/**
 * Telling a writer's stores that took a write fault from its other slow ones: the save loop marks the
 * pages fault events named, and the writers' first stores to a page are matched against them.
 */
export {
  createFaultedPages,
  type FaultedPages,
  matchWriterFaults,
  recordFaultedPages,
  type WriterFaultMatch,
} from './workload/writer-faults.js';
