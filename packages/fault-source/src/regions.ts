import type { RegionInfo } from './types.js';

/**
 * Checks that `regions` is a valid region list for a {@link FaultSource}: at least one region, unique
 * non-empty names, page sizes that are powers of two, page counts that are positive safe integers.
 *
 * @throws RangeError naming the first offending field (`regions[1].pageSize`, ...) and the allowed range.
 */
export function assertValidRegions(regions: readonly RegionInfo[]): void {
  if (!Array.isArray(regions) || regions.length === 0) {
    throw new RangeError('regions must be a non-empty array of { name, pageSize, pageCount }');
  }
  const names = new Set<string>();
  regions.forEach((r, i) => {
    const at = `regions[${i}]`;
    if (typeof r?.name !== 'string' || r.name.length === 0) {
      throw new RangeError(`${at}.name must be a non-empty string`);
    }
    if (names.has(r.name)) throw new RangeError(`${at}.name '${r.name}' is used by an earlier region`);
    names.add(r.name);
    if (!Number.isSafeInteger(r.pageSize) || r.pageSize < 1 || (r.pageSize & (r.pageSize - 1)) !== 0) {
      throw new RangeError(`${at}.pageSize must be a power of two, got ${r.pageSize}`);
    }
    if (!Number.isSafeInteger(r.pageCount) || r.pageCount < 1) {
      throw new RangeError(`${at}.pageCount must be a positive integer, got ${r.pageCount}`);
    }
  });
}

/** Total number of pages over all regions: what a snapshot of them saves. */
export function totalPages(regions: readonly RegionInfo[]): number {
  let total = 0;
  for (const r of regions) total += r.pageCount;
  return total;
}

/** Total number of bytes over all regions. */
export function totalBytes(regions: readonly RegionInfo[]): number {
  let total = 0;
  for (const r of regions) total += r.pageCount * r.pageSize;
  return total;
}

/**
 * Validates a page range argument the way every {@link FaultSource} method must: `region` an index
 * into `regions`, `first` an integer in `[0, pageCount)`, `count` an integer ≥ 1 with
 * `first + count ≤ pageCount`. Backends call it at the top of `claim`, `read` and `release`.
 *
 * @throws RangeError naming the argument (`region`, `first` or `count`) and its allowed range.
 */
export function assertPageRange(
  regions: readonly RegionInfo[],
  region: number,
  first: number,
  count: number,
): void {
  if (!Number.isInteger(region) || region < 0 || region >= regions.length) {
    throw new RangeError(`region must be an integer in [0, ${regions.length}), got ${region}`);
  }
  const pageCount = (regions[region] as RegionInfo).pageCount;
  if (!Number.isInteger(first) || first < 0 || first >= pageCount) {
    throw new RangeError(`first must be an integer in [0, ${pageCount}), got ${first}`);
  }
  if (!Number.isInteger(count) || count < 1 || first + count > pageCount) {
    throw new RangeError(
      `count must be an integer in [1, ${pageCount - first}] for first=${first}, got ${count}`,
    );
  }
}

/**
 * Validates the `timeoutNs` argument of {@link FaultSource.waitForFaults}: finite and ≥ 0.
 * @throws RangeError naming `timeoutNs`.
 */
export function assertTimeout(timeoutNs: number): void {
  if (typeof timeoutNs !== 'number' || !Number.isFinite(timeoutNs) || timeoutNs < 0) {
    throw new RangeError(`timeoutNs must be a finite number ≥ 0 (nanoseconds), got ${timeoutNs}`);
  }
}

/**
 * Validates the optional `max` argument of {@link FaultSource.takeFaults} and
 * {@link FaultSource.waitForFaults}: `undefined` or `Infinity` (no limit) or an integer ≥ 1.
 * @throws RangeError naming `max`.
 */
export function assertMax(max: number | undefined): void {
  if (max === undefined || max === Number.POSITIVE_INFINITY) return;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`max must be an integer ≥ 1, Infinity or undefined, got ${max}`);
  }
}
