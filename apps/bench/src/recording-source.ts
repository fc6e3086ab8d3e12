import type { FaultSource, WriteFault } from '@bgsnap/fault-source';

/** A {@link FaultSource} that remembers which pages write-fault events named. */
export interface RecordingFaultSource extends FaultSource {
  /** Per region, one byte per page: 1 when a fault event named the page. */
  readonly faulted: readonly Uint8Array[];
}

/**
 * Wraps a fault source and records the page of every fault event it hands to the save loop, so the
 * benchmark can tell a writer's slow store that was a userfaultfd write fault from one that was slow for
 * another reason (a kernel minor fault, being descheduled). Every call is forwarded unchanged.
 */
export function recordingFaultSource(inner: FaultSource): RecordingFaultSource {
  const faulted = inner.regions.map((r) => new Uint8Array(r.pageCount));
  const note = (faults: readonly WriteFault[]): readonly WriteFault[] => {
    for (const f of faults) faulted[f.region]![f.page] = 1;
    return faults;
  };
  return {
    faulted,
    get regions() {
      return inner.regions;
    },
    get capabilities() {
      return inner.capabilities;
    },
    get clock() {
      return inner.clock;
    },
    get state() {
      return inner.state;
    },
    start: () => inner.start(),
    takeFaults: (max) => note(inner.takeFaults(max)),
    waitForFaults: async (timeoutNs, max) => note(await inner.waitForFaults(timeoutNs, max)),
    claim: (region, first, count) => inner.claim(region, first, count),
    read: (region, first, count) => inner.read(region, first, count),
    release: (region, first, count) => inner.release(region, first, count),
    stop: () => inner.stop(),
  };
}
