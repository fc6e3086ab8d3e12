/**
 * @bgsnap/fault-source-uffd: the native Linux userfaultfd write-protect FaultSource: tracked memory,
 * plain, copy-on-fault and in-thread modes.
 * @packageDocumentation
 */
export {
  SameThreadWriteError,
  TrackedMemoryReleasedError,
  UffdError,
  type UffdErrorCode,
  type UffdErrorDetails,
  UffdPermissionError,
  UffdSyscallError,
  UffdUnavailableError,
  UffdUnsupportedError,
} from './errors.js';
export { type CopyCrc32Function, type Crc32Function, type NativeCrc32, nativeCrc32 } from './native-crc32.js';
export { probeUffd, type UffdSupport } from './support.js';
export {
  MAX_TRACKED_BYTES,
  MAX_VIEW_BYTES,
  TrackedMemory,
  type TrackedMemoryHandle,
  type TrackedMemoryOptions,
} from './tracked-memory.js';
export {
  createUffdFaultSource,
  type UffdDetails,
  UffdFaultSource,
  type UffdFaultSourceOptions,
  type UffdMode,
  type UffdRegionSpec,
  type UffdStats,
  uffdClock,
} from './uffd-fault-source.js';
