import type { RegionInfo } from '@bgsnap/fault-source';
import { DEFAULT_STAGED_FAULT_BYTES } from './staged-faults.js';
import type { SaveLoopOptions } from './types.js';

const DEFAULT_BATCH_PAGES = 64;
const DEFAULT_RELEASE_ALIGN_BYTES = 2 * 2 ** 20;
const DEFAULT_PROGRESS_INTERVAL_NS = 100e6;
const DEFAULT_MISSING_PAGES_TIMEOUT_NS = 30e9;
const DEFAULT_MAX_BUFFERED_WHILE_DRAINING_BYTES = 64 * 2 ** 20;

/** {@link SaveLoopOptions} tuning, validated, with defaults applied. */
export interface LoopConfig {
  batchPages: number;
  /** At least `batchPages`. */
  quietBatchPages: number;
  /** Pages per release block, per region; all 1 when runs are released at once. */
  releaseAlignPages: number[];
  /** Whether scanned pages are released per block (plain mode, `releaseAlignBytes` > 0). */
  deferRelease: boolean;
  /**
   * Whether a faulting writer waits until the loop saves its page (plain mode). False where the
   * backend copies on fault: then scan steps are always `quietBatchPages` long.
   */
  faultsWaitForLoop: boolean;
  /** Copy-on-fault: bytes of faulted pages held for the scan to write in its runs; 0 turns it off. */
  stagedFaultBytes: number;
  progressIntervalNs: number;
  missingPagesTimeoutNs: number;
  serveFaultsWhileDraining: boolean;
  maxBufferedWhileDrainingBytes: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
  return value;
}

/**
 * Validates the loop's tuning options and applies defaults.
 * @throws RangeError naming the first bad option.
 */
export function resolveLoopConfig(
  options: SaveLoopOptions,
  regions: readonly RegionInfo[],
  copiesOnFault: boolean,
): LoopConfig {
  const batchPages = positiveInteger('batchPages', options.batchPages ?? DEFAULT_BATCH_PAGES);
  const quietBatchOption = positiveInteger('quietBatchPages', options.quietBatchPages ?? batchPages);
  const releaseAlignBytes = options.releaseAlignBytes ?? DEFAULT_RELEASE_ALIGN_BYTES;
  if (!Number.isInteger(releaseAlignBytes) || releaseAlignBytes < 0) {
    throw new RangeError(`releaseAlignBytes must be an integer >= 0, got ${releaseAlignBytes}`);
  }
  // Copy-on-fault sources do not report faults on claimed pages, so nothing saved may stay protected.
  const deferRelease = releaseAlignBytes > 0 && !copiesOnFault;
  return {
    batchPages,
    quietBatchPages: Math.max(batchPages, quietBatchOption),
    releaseAlignPages: regions.map((r) =>
      deferRelease ? Math.max(1, Math.floor(releaseAlignBytes / r.pageSize)) : 1,
    ),
    deferRelease,
    faultsWaitForLoop: !copiesOnFault,
    stagedFaultBytes: nonNegativeInteger(
      'stagedFaultBytes',
      options.stagedFaultBytes ?? DEFAULT_STAGED_FAULT_BYTES,
    ),
    progressIntervalNs: options.progressIntervalNs ?? DEFAULT_PROGRESS_INTERVAL_NS,
    missingPagesTimeoutNs: options.missingPagesTimeoutNs ?? DEFAULT_MISSING_PAGES_TIMEOUT_NS,
    serveFaultsWhileDraining: options.serveFaultsWhileDraining === true,
    maxBufferedWhileDrainingBytes:
      options.maxBufferedWhileDrainingBytes ?? DEFAULT_MAX_BUFFERED_WHILE_DRAINING_BYTES,
  };
}
