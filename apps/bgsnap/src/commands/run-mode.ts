import type { SnapshotMode } from '../report/report.js';

/** The uffd package's parts the probe needs (the real module, or a test's stand-in). */
export interface InThreadProbeApi {
  TrackedMemory: { allocate(bytes: number): { release(): void } };
  createUffdFaultSource(options: { regions: { name: string; memory: never }[]; mode: 'in-thread' }): {
    stop(): Promise<void>;
  };
}

/** The mode `bgsnap run` uses, and why, when it is not the one asked for. */
export interface RunModeChoice {
  mode: SnapshotMode;
  /** One line for stderr and the report when the default `in-thread` was not available. */
  note?: string;
}

/** Whether `error` says the kernel lacks UFFD_FEATURE_SIGBUS (checked by name: it may come from another realm). */
export function isMissingSigbus(error: unknown): boolean {
  const e = error as { name?: unknown; feature?: unknown } | null;
  return e?.name === 'UffdUnsupportedError' && e.feature === 'UFFD_FEATURE_SIGBUS';
}

/**
 * Opens (and closes at once) an in-thread fault source on one page: the kernel's answer, not a guess
 * from feature bits. `BGSNAP_TEST_NO_SIGBUS=1` makes it fail as a kernel without the feature would
 * (the test seam of the fallback).
 */
export async function probeInThread(uffd: InThreadProbeApi): Promise<void> {
  if (process.env.BGSNAP_TEST_NO_SIGBUS === '1') {
    const { UffdUnsupportedError } = await import('@bgsnap/fault-source-uffd');
    throw new UffdUnsupportedError('UFFD_FEATURE_SIGBUS refused (BGSNAP_TEST_NO_SIGBUS)', {
      feature: 'UFFD_FEATURE_SIGBUS',
    });
  }
  const memory = uffd.TrackedMemory.allocate(4096);
  try {
    const source = uffd.createUffdFaultSource({
      regions: [{ name: 'probe', memory: memory as never }],
      mode: 'in-thread',
    });
    await source.stop();
  } finally {
    memory.release();
  }
}

/**
 * The mode of a native `bgsnap run`: the one asked for, or by default `in-thread` where the kernel
 * supports it, else `copy-on-fault` with a note. The run's writers are worker threads that only store
 * to memory, so in-thread mode's EFAULT hazard (kernel writes into tracked memory) does not apply.
 * An explicit `--mode in-thread` is not changed: the snapshot then fails with the kernel's reason.
 */
export async function chooseRunMode(
  requested: SnapshotMode | undefined,
  probe: () => Promise<void>,
): Promise<RunModeChoice> {
  if (requested !== undefined) return { mode: requested };
  try {
    await probe();
    return { mode: 'in-thread' };
  } catch (error) {
    if (!isMissingSigbus(error)) throw error;
    return {
      mode: 'copy-on-fault',
      note: `in-thread mode is unavailable (the kernel lacks UFFD_FEATURE_SIGBUS: ${(error as Error).message}); using copy-on-fault`,
    };
  }
}
