/**
 * The FaultSource contract: how a background-snapshot save loop receives write faults on protected
 * memory. Backends: `@bgsnap/fault-source-sim` (virtual time) and `@bgsnap/fault-source-uffd` (Linux).
 * The conformance suite for backends is in `@bgsnap/fault-source/testing`.
 * @packageDocumentation
 */
export { realClock } from './clock.js';
export {
  assertMax,
  assertPageRange,
  assertTimeout,
  assertValidRegions,
  totalBytes,
  totalPages,
} from './regions.js';
export type {
  FaultSource,
  FaultSourceCapabilities,
  FaultSourceState,
  MonotonicClock,
  RegionInfo,
  WriteFault,
} from './types.js';
export { FaultSourceStateError } from './types.js';
