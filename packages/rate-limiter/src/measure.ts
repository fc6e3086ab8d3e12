import type { FaultObservation } from './types.js';

/**
 * Which of a {@link FaultObservation}'s three latency measures a policy reacts to:
 * - `sinceFetch`: the QEMU patch's measure (misses time spent queued);
 * - `upperBound`: time since the save loop last found the fault queue empty (never under-reports);
 * - `true`: the writer's real wait where the backend knows it, else the upper bound.
 */
export type LatencyMeasure = 'sinceFetch' | 'upperBound' | 'true';

/** The accepted {@link LatencyMeasure} values. */
export const LATENCY_MEASURES: readonly LatencyMeasure[] = ['sinceFetch', 'upperBound', 'true'];

/**
 * Picks the latency a policy should use from an observation.
 *
 * @param o - The observation.
 * @param measure - Which measure to use; `true` falls back to `upperBoundNs` when `trueNs` is undefined.
 * @returns Latency in ns.
 */
export function faultLatency(o: FaultObservation, measure: LatencyMeasure): number {
  if (measure === 'sinceFetch') return o.sinceFetchNs;
  if (measure === 'upperBound') return o.upperBoundNs;
  return o.trueNs ?? o.upperBoundNs;
}
