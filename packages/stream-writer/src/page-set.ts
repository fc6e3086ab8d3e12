/**
 * Which pages of each region have been seen: the duplicate check of writer and reader.
 *
 * An interval set per region: each maximal run of marked pages is one node of a treap keyed by its
 * first page, so marking a run costs O(log n) in the number of runs whatever its length, and a run
 * that touches a neighbour merges with it. A record naming 2^30 zero pages costs one node, and the
 * number of nodes never exceeds the number of `mark` calls (records), so memory is a constant per
 * record read and time is O(records × log records) — never proportional to a page count.
 */

interface Run {
  first: number;
  /** One past the last page. */
  end: number;
  /** Heap priority: random, so the tree stays balanced in expectation whatever the marking order. */
  readonly priority: number;
  left: Run | undefined;
  right: Run | undefined;
}

/** Splits `t` into runs starting before `page` and runs starting at or after it. */
function split(t: Run | undefined, page: number): [Run | undefined, Run | undefined] {
  if (!t) return [undefined, undefined];
  if (t.first < page) {
    const [l, r] = split(t.right, page);
    t.right = l;
    return [t, r];
  }
  const [l, r] = split(t.left, page);
  t.left = r;
  return [l, t];
}

/** Joins two treaps where every run of `a` precedes every run of `b`. */
function merge(a: Run | undefined, b: Run | undefined): Run | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    return a;
  }
  b.left = merge(a, b.left);
  return b;
}

function lastRun(t: Run | undefined): Run | undefined {
  while (t?.right) t = t.right;
  return t;
}

function firstRun(t: Run | undefined): Run | undefined {
  while (t?.left) t = t.left;
  return t;
}

function withoutLast(t: Run): Run | undefined {
  if (!t.right) return t.left;
  t.right = withoutLast(t.right);
  return t;
}

function withoutFirst(t: Run): Run | undefined {
  if (!t.left) return t.right;
  t.left = withoutFirst(t.left);
  return t;
}

export class PageSet {
  private readonly roots: (Run | undefined)[];
  private readonly marked: number[];
  private readonly runs: number[];

  constructor(readonly pageCounts: readonly number[]) {
    this.roots = pageCounts.map(() => undefined);
    this.marked = pageCounts.map(() => 0);
    this.runs = pageCounts.map(() => 0);
  }

  /** Pages marked in `region`. */
  count(region: number): number {
    return this.marked[region]!;
  }

  /** Runs (maximal intervals of marked pages) held for all regions: the whole memory this set uses. */
  intervalCount(): number {
    return this.runs.reduce((a, b) => a + b, 0);
  }

  /** Returns the first page of `[first, first + count)` already marked, or -1. Marks nothing. */
  findMarked(region: number, first: number, count: number): number {
    const end = first + count;
    // The run starting last at or before `first`, and the run starting first after it, are the only
    // candidates: runs are disjoint and sorted.
    let t = this.roots[region];
    let before: Run | undefined;
    let after: Run | undefined;
    while (t) {
      if (t.first <= first) {
        before = t;
        t = t.right;
      } else {
        after = t;
        t = t.left;
      }
    }
    if (before && before.end > first) return first;
    if (after && after.first < end) return after.first;
    return -1;
  }

  /** Marks `[first, first + count)`; the caller has checked that none is marked. */
  mark(region: number, first: number, count: number): void {
    let start = first;
    let end = first + count;
    let [lower, upper] = split(this.roots[region], first);
    let runs = this.runs[region]! + 1;
    const prev = lastRun(lower);
    if (prev && prev.end === start) {
      start = prev.first;
      lower = withoutLast(lower!);
      runs--;
    }
    const next = firstRun(upper);
    if (next && next.first === end) {
      end = next.end;
      upper = withoutFirst(upper!);
      runs--;
    }
    const run: Run = { first: start, end, priority: Math.random(), left: undefined, right: undefined };
    this.roots[region] = merge(merge(lower, run), upper);
    this.runs[region] = runs;
    this.marked[region]! += count;
  }

  /** First page of `region` not marked, or -1 if all are. */
  firstUnmarked(region: number): number {
    const head = firstRun(this.roots[region]);
    if (!head || head.first > 0) return 0;
    // Touching runs are merged, so the first run ends at the first gap.
    return head.end >= this.pageCounts[region]! ? -1 : head.end;
  }
}
