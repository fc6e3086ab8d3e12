import type { RegionInfo } from '@bgsnap/fault-source';
import { DataViewCache, type DecodedPage, decodePage, PAGE_MAGIC as MAGIC } from './page-contents.js';
import type { SimFaultSource } from './sim-fault-source.js';

/** What a zero page decodes to. */
const ZERO_PAGE: DecodedPage = Object.freeze({ version: 0, region: -1, page: -1 });

/** One page whose saved bytes are not what the simulated memory held at snapshot start. */
export interface PageMismatch {
  /** Region index. */
  readonly region: number;
  /** Page index within the region. */
  readonly page: number;
  /** The page's version at `start()`. */
  readonly expectedVersion: number;
  /** What the bytes decode to, or `'garbage'` when they are not a simulated page at all. */
  readonly found: DecodedPage | 'garbage' | 'wrong-length';
}

/** Verdict of a {@link SnapshotChecker}. */
export interface CheckResult {
  /** Every page of every region was checked exactly once and matched. */
  readonly ok: boolean;
  /** Records fed (duplicates included). */
  readonly pagesChecked: number;
  /** Records whose bytes were not the page at `start()`. */
  readonly mismatchCount: number;
  /** The first 100 mismatches. */
  readonly mismatches: readonly PageMismatch[];
  /** Pages fed more than once (a saved stream must hold each page once). */
  readonly duplicateCount: number;
  /** Pages never fed. */
  readonly missingCount: number;
  /** Up to 100 missing pages, as `[region, page]`. */
  readonly missing: readonly (readonly [number, number])[];
}

/**
 * Checks a saved snapshot against the simulation's ground truth, page by page: feed it every decoded
 * `(region, page, bytes)` record of the stream, then ask for {@link SnapshotChecker.result}. Memory
 * use: one bit per page.
 */
export class SnapshotChecker {
  private readonly seen: Uint32Array[];
  private checked = 0;
  private mismatchCount = 0;
  private duplicateCount = 0;
  private readonly mismatches: PageMismatch[] = [];
  private readonly regions: readonly RegionInfo[];
  private readonly views = new DataViewCache();
  /** Scratch for the start versions of the pages `checkIdentities` is given. */
  private expected = new Int32Array(64);
  private zeros = new Uint8Array(64);

  constructor(private readonly sim: SimFaultSource) {
    this.regions = sim.regions;
    this.seen = this.regions.map((r) => new Uint32Array(Math.ceil(r.pageCount / 32)));
  }

  /**
   * Checks one saved page; returns whether it matched. `bytes` of `null` means the stream recorded a
   * zero page without data.
   * @throws RangeError when `region`/`page` are out of range.
   */
  check(region: number, page: number, bytes: Uint8Array | null): boolean {
    const r = this.assertPage(region, page);
    let found: PageMismatch['found'];
    if (bytes === null) {
      found = ZERO_PAGE;
    } else if (bytes.length !== r.pageSize) {
      found = 'wrong-length';
    } else {
      found = decodePage(bytes) ?? 'garbage';
    }
    return this.record(region, page, found);
  }

  /**
   * Checks `data.length / pageSize` consecutive pages from `first` by identity: each page's 16-byte
   * header (region, page, version; all zero for version 0) against the page's version at `start()`.
   * Page bodies are not read — the simulator never writes them — so this costs O(1) per page and is
   * meant for pages straight from the simulator's `read()` or fault contents, as they are saved. A
   * page saved at the wrong version, from the wrong place or with a foreign header is a mismatch.
   * Use {@link SnapshotChecker.check} for bytes read back from a stream. With `zero`, sets `zero[i]`
   * to 1 when page i's header is all zero (a zero page, as the stream writer sees it), else 0, so a
   * caller that accounts zero pages need not read the pages again.
   * @throws RangeError when the pages are out of range, `data` is not whole pages or `zero` is short.
   */
  checkIdentities(region: number, first: number, data: Uint8Array, zero?: Uint8Array): boolean {
    const r = this.assertPage(region, first);
    const size = r.pageSize;
    const count = data.length / size;
    if (!Number.isInteger(count) || first + count > r.pageCount) {
      throw new RangeError(`${data.length} bytes from page ${first} are not whole pages of region ${region}`);
    }
    if (zero && zero.length < count) throw new RangeError(`zero flags hold ${zero.length} of ${count} pages`);
    const view = this.views.of(data.buffer);
    if (this.expected.length < count)
      this.expected = new Int32Array(Math.max(count, 2 * this.expected.length));
    const versions = this.expected;
    this.sim.startVersionsInto(region, first, count, versions);
    const seen = this.seen[region] as Uint32Array;
    // Words are compared as int32: the tag word is above 2^31, and uint32 values that large are boxed
    // (a heap number per data page) where int32 ones stay in registers.
    const tag = MAGIC | (region & 0xffff) | 0;
    const flags = zero ?? this.zeroScratch(count);
    // The high word of the page index, per page only where a run crosses a multiple of 2^32.
    const hiFirst = Math.floor(first / 4294967296) | 0;
    const sameHi = Math.floor((first + count - 1) / 4294967296) === hiFirst;
    let ok = true;
    let checked = 0;
    let duplicates = 0;
    for (let i = 0, o = data.byteOffset; i < count; i++, o += size) {
      const page = first + i;
      const w0 = view.getInt32(o, true);
      const w1 = view.getInt32(o + 4, true);
      const w2 = view.getInt32(o + 8, true);
      const w3 = view.getInt32(o + 12, true);
      const expected = versions[i] as number;
      const blank = (w0 | w1 | w2 | w3) === 0;
      flags[i] = blank ? 1 : 0;
      // The common case allocates nothing: only a mismatch decodes the identity for the report.
      const match =
        expected === 0
          ? blank
          : w2 === expected &&
            w3 === tag &&
            w0 === (page | 0) &&
            w1 === (sameHi ? hiFirst : Math.floor(page / 4294967296) | 0);
      if (match) {
        // markSeen, inlined
        const bit = 1 << (page & 31);
        const word = seen[page >>> 5] as number;
        if (word & bit) duplicates++;
        seen[page >>> 5] = word | bit;
        checked++;
      } else ok = this.record(region, page, headerIdentity(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0)) && ok;
    }
    this.checked += checked;
    this.duplicateCount += duplicates;
    return ok;
  }

  /** Zero flags for a caller that did not ask for them. */
  private zeroScratch(count: number): Uint8Array {
    if (this.zeros.length < count) this.zeros = new Uint8Array(Math.max(count, 2 * this.zeros.length));
    return this.zeros;
  }

  private assertPage(region: number, page: number): RegionInfo {
    const r = this.regions[region];
    if (!Number.isInteger(region) || !r)
      throw new RangeError(`region must be in [0, ${this.regions.length}), got ${region}`);
    if (!Number.isInteger(page) || page < 0 || page >= r.pageCount) {
      throw new RangeError(`page must be in [0, ${r.pageCount}), got ${page}`);
    }
    return r;
  }

  private markSeen(region: number, page: number): void {
    const seen = this.seen[region] as Uint32Array;
    const bit = 1 << (page & 31);
    if ((seen[page >>> 5] as number) & bit) this.duplicateCount++;
    seen[page >>> 5] = (seen[page >>> 5] as number) | bit;
    this.checked++;
  }

  /** Marks the page seen and compares what was found with its version at `start()`. */
  private record(region: number, page: number, found: PageMismatch['found']): boolean {
    this.markSeen(region, page);
    const expected = this.sim.startVersion(region, page);
    const ok =
      typeof found === 'object' &&
      found.version === expected &&
      (expected === 0 || (found.region === region && found.page === page));
    if (!ok) {
      this.mismatchCount++;
      if (this.mismatches.length < 100)
        this.mismatches.push({ region, page, expectedVersion: expected, found });
    }
    return ok;
  }

  /** Checks `data.length / pageSize` consecutive pages from `first`. */
  checkPages(region: number, first: number, data: Uint8Array): boolean {
    const size = this.regions[region]?.pageSize ?? 1;
    let ok = data.length % size === 0;
    for (let i = 0; i * size < data.length; i++) {
      ok = this.check(region, first + i, data.subarray(i * size, (i + 1) * size)) && ok;
    }
    return ok;
  }

  /** The verdict so far; `missing` counts every page not fed yet. */
  result(): CheckResult {
    let missingCount = 0;
    const missing: [number, number][] = [];
    this.regions.forEach((r, ri) => {
      const seen = this.seen[ri] as Uint32Array;
      for (let w = 0; w < seen.length; w++) {
        const full =
          w === seen.length - 1 && r.pageCount % 32 !== 0 ? (1 << (r.pageCount % 32)) - 1 : 0xffffffff;
        const absent = (~(seen[w] as number) & full) >>> 0;
        if (absent === 0) continue;
        for (let b = 0; b < 32; b++) {
          if (absent & (1 << b)) {
            missingCount++;
            if (missing.length < 100) missing.push([ri, w * 32 + b]);
          }
        }
      }
    });
    return {
      ok: this.mismatchCount === 0 && this.duplicateCount === 0 && missingCount === 0,
      pagesChecked: this.checked,
      mismatchCount: this.mismatchCount,
      mismatches: [...this.mismatches],
      duplicateCount: this.duplicateCount,
      missingCount,
      missing,
    };
  }
}

/** Creates a checker for a snapshot of `sim`'s memory as it was at `start()`. */
export function createSnapshotChecker(sim: SimFaultSource): SnapshotChecker {
  return new SnapshotChecker(sim);
}

/** What a page header (four little-endian words) says, as {@link decodePage} would for a page whose body is zero. */
function headerIdentity(w0: number, w1: number, w2: number, w3: number): PageMismatch['found'] {
  if (w3 === 0) return (w0 | w1 | w2) === 0 ? ZERO_PAGE : 'garbage';
  if ((w3 & 0xffff0000) >>> 0 !== MAGIC || w2 === 0) return 'garbage';
  return { version: w2, region: w3 & 0xffff, page: w0 + w1 * 4294967296 };
}
