import type { FaultSource, RegionInfo, WriteFault } from '@bgsnap/fault-source';
import { LoopCounters } from '../save-loop/loop-counters.js';
import type { PageWriter } from '../save-loop/types.js';
import { createUnsavedPages } from '../save-loop/unsaved-pages.js';
import { unlimitedPolicy } from './policies.js';

/**
 * A FaultSource stub for unit tests of the save loop's parts: every call is recorded, reads return
 * zero pages, `claim` grants what `claimable` allows, and `takeFaults`/`waitForFaults` hand out the
 * batches queued in `faults`. The clock advances only by `tick()`.
 */
export class RecordingSource implements FaultSource {
  readonly regions: RegionInfo[];
  readonly capabilities = {
    knowsFaultTime: true,
    knowsThreadId: false,
    copiesOnFault: false,
    protectsUnpopulated: true,
  };
  readonly state = 'tracking' as const;
  t = 0;
  readonly clock = { now: (): number => this.t };
  readonly calls: string[] = [];
  readonly releases: Array<[number, number, number]> = [];
  /** Batches of faults the next takeFaults/waitForFaults calls return, in order. */
  readonly faults: WriteFault[][] = [];
  /** Pages claim() grants from `first` (default all). */
  claimable: (region: number, first: number, count: number) => number = (_r, _f, c) => c;

  constructor(pageCounts: number[], pageSize = 64) {
    this.regions = pageCounts.map((pageCount, i) => ({ name: `r${i}`, pageSize, pageCount }));
  }

  tick(ns: number): void {
    this.t += ns;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  takeFaults(): readonly WriteFault[] {
    this.calls.push('take');
    return this.faults.shift() ?? [];
  }

  waitForFaults(timeoutNs: number): Promise<readonly WriteFault[]> {
    this.calls.push(`wait ${timeoutNs}`);
    return Promise.resolve(this.faults.shift() ?? []);
  }

  claim(region: number, first: number, count: number): number {
    const n = this.claimable(region, first, count);
    this.calls.push(`claim ${region}:${first}+${count}=${n}`);
    return n;
  }

  read(region: number, first: number, count: number): Uint8Array {
    this.calls.push(`read ${region}:${first}+${count}`);
    return new Uint8Array(count * this.regions[region]!.pageSize);
  }

  release(region: number, first: number, count: number): void {
    this.calls.push(`release ${region}:${first}+${count}`);
    this.releases.push([region, first, count]);
  }
}

/** A plain-mode fault event on `page` of `region`, fetched at `at`. */
export function faultOn(region: number, page: number, at = 0): WriteFault {
  return { region, page, fetchedAt: at, raisedAt: at };
}

/** The save loop's shared parts over a {@link RecordingSource} of 64-byte pages, for unit tests. */
export function recordingParts(pageCounts: number[], writer: PageWriter) {
  const source = new RecordingSource(pageCounts);
  const limiter = unlimitedPolicy();
  const total = pageCounts.reduce((a, b) => a + b, 0);
  const counters = new LoopCounters(total, total * 64, 0);
  const unsaved = pageCounts.map((n) => createUnsavedPages(n));
  const pageSizes = pageCounts.map(() => 64);
  return { source, writer, limiter, counters, unsaved, pageSizes };
}
