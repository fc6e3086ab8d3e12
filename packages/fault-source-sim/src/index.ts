/**
 * @bgsnap/fault-source-sim: a deterministic virtual-time simulator of memory being snapshotted under
 * concurrent writers — a FaultSource backend, simulated sinks, ground-truth fault latencies and an
 * oracle that checks a saved snapshot page by page.
 * @packageDocumentation
 */
export type {
  ResolvedConfig,
  ResolvedWorkload,
  SimConfig,
  SimCopyOnFaultConfig,
  SimCosts,
  SimCpuConfig,
  SimRegionConfig,
  SimWorkload,
} from './config.js';
export { resolveConfig, SimConfigError, WORKLOAD_KINDS } from './config.js';
export type { FaultRecords } from './fault-log.js';
export type { CheckResult, PageMismatch } from './oracle.js';
export { createSnapshotChecker, SnapshotChecker } from './oracle.js';
export type { DecodedPage, PageContentsOptions } from './page-contents.js';
export { DataViewCache, decodePage, PAGE_HEADER_BYTES, PAGE_MAGIC, pageContents } from './page-contents.js';
export type { ChunkSink, ReferenceSaveLoopOptions, ReferenceSaveLoopResult } from './reference-save-loop.js';
export { runReferenceSaveLoop } from './reference-save-loop.js';
export type { ResolvedFault, SimFaultSourceOptions, SimStats } from './sim-fault-source.js';
export { createSimFaultSource, SimFaultSource } from './sim-fault-source.js';
export type { SimSinkOptions, SimSinkStats, SinkStall } from './sink.js';
export { createSimSink, parseSinkProfile, SimSink, SimSinkError, validateSinkOptions } from './sink.js';
export type { TraceEntry } from './trace.js';
export { parseTrace, TraceFormatError } from './trace.js';
