/**
 * The FaultSource contract: how a background-snapshot save loop receives write faults on protected
 * memory. Backends: `@bgsnap/fault-source-sim` (virtual time) and `@bgsnap/fault-source-uffd` (Linux).
 * @packageDocumentation
 */
export { realClock } from './clock.js';
export type {
  FaultSource,
  FaultSourceCapabilities,
  FaultSourceState,
  MonotonicClock,
  RegionInfo,
  WriteFault,
} from './types.js';
export { FaultSourceStateError } from './types.js';
