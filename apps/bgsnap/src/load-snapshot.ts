import type { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { type RegionDescriptor, readSnapshot, type SnapshotSource } from '@bgsnap/stream-writer';
import { SnapshotLoadAbortedError, SnapshotLoadError } from './load-snapshot-errors.js';

/**
 * Memory to load into: one `TrackedMemory` (matched to the region `snapshot({ memory })` names
 * `memory`), named regions as `snapshot()` takes them, or a map or record from region name to memory.
 */
export type LoadTarget =
  | TrackedMemory
  | readonly { name: string; memory: TrackedMemory }[]
  | ReadonlyMap<string, TrackedMemory>
  | Readonly<Record<string, TrackedMemory>>;

/** Progress of {@link loadSnapshot}. */
export interface LoadProgress {
  /** Pages handled so far (written or skipped as zero), over the regions being loaded. */
  readonly pagesDone: number;
  /** Pages to handle in total. */
  readonly pagesTotal: number;
  /** Bytes of page data copied into memory so far. */
  readonly bytesWritten: number;
}

/** Options of {@link loadSnapshot}. */
export interface LoadSnapshotOptions {
  /** The snapshot: a file path, a Node `Readable` (or any async iterable of chunks), an fd, or bytes. */
  from: SnapshotSource;
  /** Where its regions go, matched by name; see {@link LoadTarget}. */
  memory: LoadTarget;
  /**
   * Zero pages in the snapshot: `skip` (default) leaves them alone, which is right for memory fresh
   * from `TrackedMemory.allocate` (all zero, and untouched pages then use no RAM); `write` zeroes
   * them, for memory that may hold something else.
   */
  zeroPages?: 'skip' | 'write';
  /** Accept a target region the snapshot lacks, leaving it untouched. Default false: an error. */
  allowMissingRegions?: boolean;
  /** Accept a snapshot region the target lacks, skipping its pages. Default false: an error. */
  allowExtraRegions?: boolean;
  /** Called after each run of pages at most every `progressIntervalMs`, and once at the end. */
  onProgress?: (progress: LoadProgress) => void;
  /** Least time between progress calls, in ms (default 100). */
  progressIntervalMs?: number;
  /** Stops the load: {@link SnapshotLoadAbortedError}; memory is left as it is at that point. */
  signal?: AbortSignal;
}

/** What one region received. */
export interface LoadedRegion {
  /** Region name. */
  readonly name: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** Pages copied from the stream. */
  readonly pagesWritten: number;
  /** Zero pages (skipped or zeroed, per `zeroPages`). */
  readonly zeroPages: number;
}

/** Result of {@link loadSnapshot}: the stream was complete and valid (trailer and CRC chain checked). */
export interface LoadResult {
  /** Regions loaded, in the snapshot's order. */
  readonly regions: readonly LoadedRegion[];
  /** Snapshot regions skipped because the target lacks them (`allowExtraRegions`). */
  readonly skippedRegions: readonly string[];
  /** Target regions left untouched because the snapshot lacks them (`allowMissingRegions`). */
  readonly missingRegions: readonly string[];
  /** Bytes of page data copied into memory. */
  readonly bytesWritten: number;
}

function targetsOf(memory: LoadTarget): Map<string, TrackedMemory> {
  if (memory instanceof Map) return new Map(memory);
  if (Array.isArray(memory)) {
    return new Map(
      (memory as readonly { name: string; memory: TrackedMemory }[]).map((r) => [r.name, r.memory]),
    );
  }
  if (typeof (memory as TrackedMemory).block === 'function')
    return new Map([['memory', memory as TrackedMemory]]);
  return new Map(Object.entries(memory as Record<string, TrackedMemory>));
}

function describeBytes(n: number): string {
  return `${n} bytes`;
}

/** Calls `fn` for each piece of `[offset, offset + length)` of `memory`, split at its 1 GiB blocks. */
function eachBlockSpan(
  memory: TrackedMemory,
  offset: number,
  length: number,
  fn: (block: Uint8Array, within: number, done: number, n: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const at = offset + done;
    const index = Math.floor(at / memory.blockSize);
    const within = at - index * memory.blockSize;
    const block = memory.block(index);
    const n = Math.min(length - done, block.byteLength - within);
    fn(block, within, done, n);
    done += n;
  }
}

function writeAt(memory: TrackedMemory, offset: number, data: Uint8Array): void {
  eachBlockSpan(memory, offset, data.byteLength, (block, within, done, n) =>
    block.set(data.subarray(done, done + n), within),
  );
}

function zeroAt(memory: TrackedMemory, offset: number, length: number): void {
  eachBlockSpan(memory, offset, length, (block, within, _done, n) => block.fill(0, within, within + n));
}

/** Matches the snapshot's regions to the target's, before any page is written. */
function plan(
  regions: readonly RegionDescriptor[],
  targets: Map<string, TrackedMemory>,
  options: LoadSnapshotOptions,
): { byIndex: (TrackedMemory | undefined)[]; skipped: string[]; missing: string[] } {
  const byIndex: (TrackedMemory | undefined)[] = [];
  const skipped: string[] = [];
  for (const r of regions) {
    const memory = targets.get(r.name);
    const bytes = r.pageSize * r.pageCount;
    if (!memory) {
      if (!options.allowExtraRegions) {
        throw new SnapshotLoadError(
          'EXTRA_REGION',
          `the snapshot has region '${r.name}' (${describeBytes(bytes)}) but the target memory has none of that name ` +
            `(target regions: ${[...targets.keys()].join(', ') || 'none'}); pass allowExtraRegions to skip it`,
          { region: r.name },
        );
      }
      skipped.push(r.name);
      byIndex.push(undefined);
      continue;
    }
    if (memory.byteLength !== bytes) {
      throw new SnapshotLoadError(
        'REGION_SIZE_MISMATCH',
        `region '${r.name}' is ${describeBytes(bytes)} in the snapshot but ${describeBytes(memory.byteLength)} in the target memory`,
        { region: r.name },
      );
    }
    byIndex.push(memory);
  }
  const names = new Set(regions.map((r) => r.name));
  const missing = [...targets.keys()].filter((name) => !names.has(name));
  if (missing.length > 0 && !options.allowMissingRegions) {
    throw new SnapshotLoadError(
      'MISSING_REGION',
      `the snapshot has no region '${missing[0]}' (snapshot regions: ${regions.map((r) => r.name).join(', ')}); pass allowMissingRegions to leave it untouched`,
      { region: missing[0] },
    );
  }
  return { byIndex, skipped, missing };
}

/**
 * Loads a snapshot written by `snapshot()` back into memory, typically at start-up: each region of the
 * snapshot goes into the target region of the same name (`snapshot({ memory })` names its single
 * region `memory`, so a lone `TrackedMemory` matches it). Region tables are checked before any page is
 * written: a size difference, or a region on one side only, is a {@link SnapshotLoadError} naming it
 * (unless `allowMissingRegions`/`allowExtraRegions`). Pages are then copied as the stream is read and
 * validated; success is reported only after the trailer and the whole CRC chain checked out.
 *
 * Precondition: with the default `zeroPages: 'skip'` the target must be all zeros, as memory from
 * `TrackedMemory.allocate` is; pass `zeroPages: 'write'` to load into memory that was used. Do not load
 * into memory that another thread writes, or that a running snapshot tracks.
 *
 * @example
 * ```ts
 * const memory = TrackedMemory.allocate(256 * 2 ** 20);
 * if (existsSync('state.bgsnap')) await loadSnapshot({ from: 'state.bgsnap', memory });
 * ```
 * @param options - See {@link LoadSnapshotOptions}.
 * @returns What was loaded.
 * @throws SnapshotLoadError for a mismatch (nothing written) or a truncated/corrupt stream (its
 * `pagesWritten` says whether memory is partial); SnapshotLoadAbortedError when `signal` aborts;
 * the source's own error when it cannot be opened or read (a missing file: ENOENT).
 */
export async function loadSnapshot(options: LoadSnapshotOptions): Promise<LoadResult> {
  const { signal, onProgress } = options;
  const zeroPages = options.zeroPages ?? 'skip';
  if (zeroPages !== 'skip' && zeroPages !== 'write') {
    throw new TypeError(`zeroPages must be 'skip' or 'write', got ${JSON.stringify(zeroPages)}`);
  }
  const targets = targetsOf(options.memory);
  const interval = options.progressIntervalMs ?? 100;
  let pagesWritten = 0;
  let pagesDone = 0;
  let pagesTotal = 0;
  let bytesWritten = 0;
  let lastProgress = 0;
  let byIndex: (TrackedMemory | undefined)[] = [];
  let skipped: string[] = [];
  let missing: string[] = [];
  let descriptors: readonly RegionDescriptor[] = [];
  const perRegion: { pages: number; zero: number }[] = [];
  const aborted = (): SnapshotLoadAbortedError => new SnapshotLoadAbortedError(signal?.reason, pagesWritten);
  if (signal?.aborted) throw aborted();
  const progress = (force: boolean): void => {
    if (!onProgress) return;
    const now = performance.now();
    if (!force && now - lastProgress < interval) return;
    lastProgress = now;
    onProgress({ pagesDone, pagesTotal, bytesWritten });
  };
  let complete = false;
  try {
    for await (const event of readSnapshot(options.from)) {
      if (signal?.aborted) throw aborted();
      if (event.type === 'header') {
        descriptors = event.header.regions;
        ({ byIndex, skipped, missing } = plan(descriptors, targets, options));
        for (const [i, r] of descriptors.entries()) {
          perRegion.push({ pages: 0, zero: 0 });
          if (byIndex[i]) pagesTotal += r.pageCount;
        }
      } else if (event.type === 'pages') {
        const memory = byIndex[event.region];
        if (!memory) continue;
        const pageSize = (descriptors[event.region] as RegionDescriptor).pageSize;
        const stats = perRegion[event.region] as { pages: number; zero: number };
        if (event.zero) {
          if (zeroPages === 'write') zeroAt(memory, event.first * pageSize, event.count * pageSize);
          stats.zero += event.count;
        } else if (event.data) {
          writeAt(memory, event.first * pageSize, event.data);
          stats.pages += event.count;
          pagesWritten += event.count;
          bytesWritten += event.data.byteLength;
        }
        pagesDone += event.count;
        progress(false);
      } else {
        complete = true;
      }
    }
  } catch (error) {
    if (error instanceof SnapshotLoadError || error instanceof SnapshotLoadAbortedError) throw error;
    if ((error as { name?: string } | undefined)?.name === 'SnapshotFormatError') {
      const state =
        pagesWritten > 0
          ? `memory is partial: ${pagesWritten} pages were written before the error, the rest keep their previous contents`
          : 'no page was written';
      throw new SnapshotLoadError(
        'CORRUPT_STREAM',
        `the snapshot stream is not valid (${(error as Error).message}); ${state}`,
        {
          pagesWritten,
          cause: error,
        },
      );
    }
    throw error;
  }
  if (!complete) {
    throw new SnapshotLoadError('CORRUPT_STREAM', 'the snapshot stream ended without a trailer', {
      pagesWritten,
    });
  }
  progress(true);
  return {
    regions: descriptors.flatMap((r, i) =>
      byIndex[i]
        ? [
            {
              name: r.name,
              bytes: r.pageSize * r.pageCount,
              pagesWritten: (perRegion[i] as { pages: number }).pages,
              zeroPages: (perRegion[i] as { zero: number }).zero,
            },
          ]
        : [],
    ),
    skippedRegions: skipped,
    missingRegions: missing,
    bytesWritten,
  };
}
