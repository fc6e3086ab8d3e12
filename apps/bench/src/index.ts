/**
 * @bgsnap/bench: the benchmark harness of bgsnap (lab equipment, not published) — every limiter policy
 * × sink stall profile on the simulator and the native backend, the app-level targets, tables and
 * plots. The `bgsnap-bench` command is built from these.
 * @packageDocumentation
 */
export {
  type BenchCommandOptions,
  defineBenchCommand,
  parseBenchOptions,
  runBenchCommand,
} from './bench-command.js';
export { copyBufferPagesFor, inThreadSkipReason, NATIVE_MODES, type NativeMode } from './modes.js';
export { BENCH_POLICIES, type BenchPolicy, parsePolicies } from './policies.js';
export {
  type ClientRun,
  type RealClientOptions,
  type RealClientResult,
  type RealClientRow,
  runRealClient,
} from './real-client.js';
export { judgeRealClient, REAL_CLIENT_GOAL, realClientMarkdown } from './real-client-verdict.js';
export {
  parseRedisBenchmarkCsv,
  type RedisBenchmarkFigures,
  RedisBenchmarkOutputError,
} from './redis-benchmark-csv.js';
export type { BenchResult, BenchRow } from './row.js';
export { type BenchOptions, type BenchOutput, replotBench, runBench } from './run-bench.js';
export { DEFAULT_PROFILES, parseStallProfile, type StallProfile } from './stall-profile.js';
export { resultsMarkdown } from './table.js';
export { SNAPSHOT_GOAL, targetsMarkdown } from './targets.js';
export type { Verdict } from './verdict.js';
