/** A native (userfaultfd) mode the harness measures: the backend's three modes. */
export type NativeMode = 'plain' | 'copy-on-fault' | 'in-thread';

/** Every native mode, in the order tables list them. */
export const NATIVE_MODES: readonly NativeMode[] = ['plain', 'copy-on-fault', 'in-thread'];

/** `UFFD_FEATURE_SIGBUS`: the kernel raises SIGBUS in the writer instead of queueing an event. */
const FEATURE_SIGBUS = 1 << 7;

/** What {@link inThreadSkipReason} needs of `probeUffd()`'s answer. */
export type UffdProbe = { available: true; features: number } | { available: false; error: Error };

/**
 * Why in-thread mode cannot run here, or undefined when it can: it needs write-protect userfaultfd and
 * `UFFD_FEATURE_SIGBUS` (Linux ≥ 4.14). The harness drops the mode with this reason instead of failing
 * the whole run.
 */
export function inThreadSkipReason(probe: UffdProbe): string | undefined {
  if (!probe.available) return `userfaultfd write-protect is not available (${probe.error.message})`;
  if ((probe.features & FEATURE_SIGBUS) === 0) {
    return 'the kernel lacks UFFD_FEATURE_SIGBUS (Linux >= 4.14), which in-thread mode needs';
  }
  return undefined;
}

/**
 * The copy buffer for in-thread runs under a stalling sink, in pages: every fault the writers can take
 * while the sink stalls, twice over, rounded up to a power of two, never below the backend's default
 * of 1024. A slab that holds a whole stall keeps writers from waiting for the sink (`slotWaits`).
 * @example copyBufferPagesFor(50e6, 2 * 20_000) === 4096 // 50 ms × 40 000 faults/s = 2000 pages, × 2
 */
export function copyBufferPagesFor(stallNs: number, faultsPerSec: number): number {
  const need = Math.ceil(2 * (stallNs / 1e9) * faultsPerSec);
  let pages = 1024;
  while (pages < need && pages < 1 << 20) pages *= 2;
  return pages;
}
