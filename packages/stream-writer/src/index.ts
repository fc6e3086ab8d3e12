/**
 * @bgsnap/stream-writer: the bgsnap snapshot stream format (docs/FORMAT.md), a writer with zero-page
 * detection, optional zstd, batching and backpressure, sinks (file, fd/pipe, TCP, Writable, discard),
 * and a validating streaming reader that restores, verifies, inspects and compares snapshots.
 * @packageDocumentation
 */
export { crc32Implementation } from './crc.js';
export {
  RestoreError,
  type RestoreErrorCode,
  SinkError,
  SinkStalledError,
  SnapshotArgumentError,
  type SnapshotArgumentErrorCode,
  SnapshotFormatError,
  type SnapshotFormatErrorCode,
  SnapshotStateError,
  type SnapshotStateErrorCode,
} from './errors.js';
export {
  FORMAT_VERSION,
  type RegionDescriptor,
  type SnapshotHeader,
  type SnapshotTrailer,
} from './format.js';
export type { ByteSource, SnapshotSource } from './reader/byte-source.js';
export {
  type HeaderEvent,
  type PagesEvent,
  type PagesEventBase,
  type ReadSnapshotOptions,
  readSnapshot,
  type SnapshotEvent,
  type TrailerEvent,
} from './reader/read-snapshot.js';
export {
  DEFAULT_MAX_IMAGE_BYTES,
  type RestoredImage,
  type RestoredRegion,
  type RestoredSnapshot,
  type RestoreOptions,
  type RestoreToFileOptions,
  restoreSnapshot,
  restoreSnapshotToFile,
} from './reader/restore.js';
export {
  type CompareReport,
  compareSnapshot,
  inspectSnapshot,
  type PageMismatch,
  type RegionCounts,
  type SnapshotReport,
  verifySnapshot,
} from './reader/verify.js';
export { discardSink } from './sinks/discard-sink.js';
export { type FdSinkOptions, fdSink } from './sinks/fd-sink.js';
export { type FileSink, type FileSinkOptions, fileSink } from './sinks/file-sink.js';
export { describeOutputTarget, type OutputTargetKind, resolveLink } from './sinks/output-target.js';
export type { Sink } from './sinks/sink.js';
export { DEFAULT_STALL_TIMEOUT_MS } from './sinks/stall.js';
export { type TcpSinkOptions, tcpSink } from './sinks/tcp-sink.js';
export { type WritableSinkOptions, writableSink } from './sinks/writable-sink.js';
export { VERSION } from './version.js';
export {
  createSnapshotWriter,
  type SnapshotCompression,
  type SnapshotRegion,
  type SnapshotWriter,
  type SnapshotWriterOptions,
  type WriterStats,
  type WriterSummary,
} from './writer.js';
export { ZstdNotReadyError, zstdReady } from './zstd.js';
