/**
 * Pluggable limiter policies for background snapshots.
 * @packageDocumentation
 */
export type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';
