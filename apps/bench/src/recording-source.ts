import type { FaultSource } from '@bgsnap/fault-source';
import { createFaultedPages, recordFaultedPages } from 'bgsnap';

/** A {@link FaultSource} that remembers which pages write-fault events named. */
export interface RecordingFaultSource extends FaultSource {
  /** Per region, one byte per page: 1 when a fault event named the page. */
  readonly faulted: readonly Uint8Array[];
}

/**
 * Wraps a fault source and records the page of every fault event it hands to the save loop (bgsnap's
 * `recordFaultedPages`), so the benchmark can tell a writer's slow store that was a userfaultfd write
 * fault from one that was slow for another reason (a kernel minor fault, being descheduled).
 */
export function recordingFaultSource(inner: FaultSource): RecordingFaultSource {
  const faulted = createFaultedPages(inner.regions.map((r) => r.pageCount));
  return Object.assign(recordFaultedPages(inner, faulted), { faulted });
}
