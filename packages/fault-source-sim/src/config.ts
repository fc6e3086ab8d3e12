import { parseTrace, type TraceEntry, TraceFormatError } from './trace.js';

/** One region of simulated guest memory. */
export interface SimRegionConfig {
  /** Unique name (written into snapshot headers). */
  readonly name: string;
  /** Number of pages, at least 1. */
  readonly pageCount: number;
  /** Page size in bytes, a power of two ≥ 16. Default 4096. */
  readonly pageSize?: number;
}

/**
 * What a virtual CPU writes. Pages are global indices: regions are numbered one after another in
 * configuration order.
 *
 * - `uniform`: every page equally likely.
 * - `hot-set`: a fraction `hotFraction` of the pages (scattered over memory) receives `hotProbability`
 *   of the writes; the rest is uniform over all pages.
 * - `zipf`: page ranks follow a power law with exponent `skew` (> 0; 1 is classic Zipf, larger is more
 *   skewed); ranks are scattered over memory by a fixed permutation.
 * - `sequential`: a sweep from `start` with `stride`, wrapping around.
 * - `idle`: never writes.
 * - `trace`: replays the lines of {@link SimConfig.trace} whose `cpu` field is this CPU's index
 *   (`rate` is ignored), then idles.
 */
export type SimWorkload =
  | { readonly kind: 'uniform' }
  | { readonly kind: 'hot-set'; readonly hotFraction?: number; readonly hotProbability?: number }
  | { readonly kind: 'zipf'; readonly skew?: number }
  | { readonly kind: 'sequential'; readonly start?: number; readonly stride?: number }
  | { readonly kind: 'idle' }
  | { readonly kind: 'trace' };

/** The workload names {@link SimWorkload} accepts. */
export const WORKLOAD_KINDS = ['uniform', 'hot-set', 'zipf', 'sequential', 'idle', 'trace'] as const;

/** One virtual CPU. */
export interface SimCpuConfig {
  /** Writes per second of virtual time (Poisson arrivals); 0 means idle. Ignored for `trace`. */
  readonly rate: number;
  /** What it writes; a bare name means that workload with default parameters. Default `uniform`. */
  readonly workload?: SimWorkload | SimWorkload['kind'];
}

/**
 * Virtual-time costs, in nanoseconds. The defaults approximate the measurements in the project's
 * anchors: a userfaultfd round trip of ~50 µs p50 with a handler sleeping in poll(2) (pollWakeNs +
 * wakeNs + the loop's own work) and ~17 µs when it busy-polls (wakeNs + work); ~12 GB/s copies.
 */
export interface SimCosts {
  /**
   * From a write hitting a protected page until its event can be read. Default 0: the kernel queues
   * the message in the faulting thread before it sleeps, so a polling save loop sees it at once (and
   * "the queue was empty at t" really bounds the fault time from below).
   */
  readonly faultDeliveryNs?: number;
  /**
   * How long a thread sleeping for fault events (the save loop in `waitForFaults()`, the copy-on-fault
   * handler when idle or waiting for buffer space) takes to run after an event arrives. Default 30 000.
   */
  readonly pollWakeNs?: number;
  /** From a page's release until its blocked writer runs again. Default 15 000. */
  readonly wakeNs?: number;
  /** Save-loop CPU time per page returned by `read()` (the copy into the stream). Default 340 (≈12 GB/s). */
  readonly copyPageNs?: number;
  /** Save-loop CPU time per `release()` call (one ioctl per contiguous range). Default 2 000. */
  readonly releaseCallNs?: number;
  /** Save-loop CPU time per `takeFaults()` or `waitForFaults(0)` call (one non-blocking read). Default 500. */
  readonly pollNs?: number;
}

/** Copy-on-fault mode: a simulated handler thread copies faulting pages into a bounded buffer. */
export interface SimCopyOnFaultConfig {
  /** Handler time to copy one page and release it. Default 1 000. */
  readonly copyNs?: number;
  /** Pages the buffer holds until the save loop takes their events; when full the handler (and so the faulting CPU) waits. Default 256. */
  readonly bufferPages?: number;
}

/** Everything that defines a simulation. Same configuration + same seed → identical results. */
export interface SimConfig {
  /** Guest memory: at least one region. Up to 2^32 pages in total (16 TiB of 4 KiB pages). */
  readonly regions: readonly SimRegionConfig[];
  /** Virtual CPUs writing the memory. Default none. */
  readonly cpus?: readonly SimCpuConfig[];
  /** `plain` (the save loop releases faulted pages) or `copy-on-fault`. Default `plain`. */
  readonly mode?: 'plain' | 'copy-on-fault';
  /** Settings of the copy-on-fault handler. */
  readonly copyOnFault?: SimCopyOnFaultConfig;
  /** Seed of every random choice (workloads, initial contents). Default 1. */
  readonly seed?: number;
  /** Fraction of pages holding data (a non-zero version) when the snapshot starts; the rest are zero pages. Default 0.5. */
  readonly initialFill?: number;
  /** Virtual-time costs. */
  readonly costs?: SimCosts;
  /** Write trace for CPUs with the `trace` workload: text in the format of {@link parseTrace}, or parsed entries. */
  readonly trace?: string | readonly TraceEntry[];
  /**
   * Keep a record of every fault (raised, fetched, resumed; 32 bytes each) for
   * {@link SimFaultSource.faultLog}. Default true; the aggregate statistics are always kept.
   */
  readonly recordFaults?: boolean;
}

/** A configuration that cannot be simulated; lists every problem found, not only the first. */
export class SimConfigError extends Error {
  /** One message per problem, each naming the option (`cpus[1].rate`, `regions[0].pageCount`, ...). */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid simulation configuration (${problems.length} problem(s)):\n  ${problems.join('\n  ')}`);
    this.name = 'SimConfigError';
    this.problems = problems;
  }
}

/** Workload with every parameter filled in. */
export type ResolvedWorkload =
  | { kind: 'uniform' }
  | { kind: 'hot-set'; hotFraction: number; hotProbability: number }
  | { kind: 'zipf'; skew: number }
  | { kind: 'sequential'; start: number; stride: number }
  | { kind: 'idle' }
  | { kind: 'trace' };

/** {@link SimConfig} after validation, with defaults applied. */
export interface ResolvedConfig {
  /** {@link SimConfig.regions} with page sizes filled in. */
  regions: { name: string; pageCount: number; pageSize: number }[];
  /** {@link SimConfig.cpus} with workloads resolved. */
  cpus: { rate: number; workload: ResolvedWorkload }[];
  /** {@link SimConfig.mode}. */
  mode: 'plain' | 'copy-on-fault';
  /** {@link SimConfig.seed}. */
  seed: number;
  /** {@link SimConfig.initialFill}. */
  initialFill: number;
  /** {@link SimConfig.costs}, every cost filled in. */
  costs: Required<SimCosts>;
  /** {@link SimConfig.copyOnFault}, filled in. */
  cof: Required<SimCopyOnFaultConfig>;
  /** The parsed trace (empty without one). */
  trace: TraceEntry[];
  /** {@link SimConfig.recordFaults}. */
  recordFaults: boolean;
  /** Pages over all regions. */
  totalPages: number;
}

const MAX_PAGES = 2 ** 32;

function finiteNonNegative(problems: string[], name: string, v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    problems.push(`${name} must be a finite number ≥ 0, got ${String(v)}`);
    return false;
  }
  return true;
}

/**
 * Validates a configuration and applies defaults.
 * @throws SimConfigError listing every problem found.
 */
export function resolveConfig(config: SimConfig): ResolvedConfig {
  const problems: string[] = [];
  if (config === null || typeof config !== 'object') throw new SimConfigError(['config must be an object']);
  const regions: ResolvedConfig['regions'] = [];
  if (!Array.isArray(config.regions) || config.regions.length === 0) {
    problems.push('regions must be a non-empty array of { name, pageCount, pageSize? }');
  } else {
    const names = new Set<string>();
    config.regions.forEach((r, i) => {
      const at = `regions[${i}]`;
      const name = r?.name;
      if (typeof name !== 'string' || name === '') problems.push(`${at}.name must be a non-empty string`);
      else if (names.has(name)) problems.push(`${at}.name '${name}' is used twice`);
      else names.add(name);
      const pageCount = r?.pageCount;
      if (!Number.isSafeInteger(pageCount) || (pageCount as number) < 1) {
        problems.push(`${at}.pageCount must be an integer ≥ 1, got ${String(pageCount)}`);
      }
      const pageSize = r?.pageSize ?? 4096;
      if (
        !Number.isSafeInteger(pageSize) ||
        pageSize < 16 ||
        pageSize > 2 ** 30 ||
        (pageSize & (pageSize - 1)) !== 0
      ) {
        problems.push(`${at}.pageSize must be a power of two in [16, 2^30], got ${String(pageSize)}`);
      }
      regions.push({ name: String(name), pageCount: Number(pageCount), pageSize });
    });
  }
  const totalPages = regions.reduce((s, r) => s + (Number.isSafeInteger(r.pageCount) ? r.pageCount : 0), 0);
  if (totalPages > MAX_PAGES)
    problems.push(`regions hold ${totalPages} pages in total; at most 2^32 are supported`);

  const mode = config.mode ?? 'plain';
  if (mode !== 'plain' && mode !== 'copy-on-fault') {
    problems.push(`mode must be 'plain' or 'copy-on-fault', got '${String(mode)}'`);
  }
  const seed = config.seed ?? 1;
  if (!Number.isSafeInteger(seed)) problems.push(`seed must be a safe integer, got ${String(seed)}`);
  const initialFill = config.initialFill ?? 0.5;
  if (typeof initialFill !== 'number' || !(initialFill >= 0 && initialFill <= 1)) {
    problems.push(`initialFill must be a number in [0, 1], got ${String(initialFill)}`);
  }

  const c = config.costs ?? {};
  const costs: Required<SimCosts> = {
    faultDeliveryNs: c.faultDeliveryNs ?? 0,
    pollWakeNs: c.pollWakeNs ?? 30_000,
    wakeNs: c.wakeNs ?? 15_000,
    copyPageNs: c.copyPageNs ?? 340,
    releaseCallNs: c.releaseCallNs ?? 2_000,
    pollNs: c.pollNs ?? 500,
  };
  for (const [k, v] of Object.entries(costs)) finiteNonNegative(problems, `costs.${k}`, v);
  const cc = config.copyOnFault ?? {};
  const cof: Required<SimCopyOnFaultConfig> = {
    copyNs: cc.copyNs ?? 1_000,
    bufferPages: cc.bufferPages ?? 256,
  };
  finiteNonNegative(problems, 'copyOnFault.copyNs', cof.copyNs);
  if (!Number.isSafeInteger(cof.bufferPages) || cof.bufferPages < 1) {
    problems.push(`copyOnFault.bufferPages must be an integer ≥ 1, got ${String(cof.bufferPages)}`);
  }

  const cpus: ResolvedConfig['cpus'] = [];
  if (config.cpus !== undefined && !Array.isArray(config.cpus)) problems.push('cpus must be an array');
  (Array.isArray(config.cpus) ? config.cpus : []).forEach((cpu, i) => {
    const at = `cpus[${i}]`;
    const raw =
      typeof cpu?.workload === 'string' ? { kind: cpu.workload } : (cpu?.workload ?? { kind: 'uniform' });
    const kind = (raw as { kind?: unknown }).kind;
    let workload: ResolvedWorkload = { kind: 'idle' };
    switch (kind) {
      case 'uniform':
      case 'idle':
      case 'trace':
        workload = { kind };
        break;
      case 'hot-set': {
        const w = raw as { hotFraction?: number; hotProbability?: number };
        const hotFraction = w.hotFraction ?? 0.1;
        const hotProbability = w.hotProbability ?? 0.9;
        if (typeof hotFraction !== 'number' || !(hotFraction > 0 && hotFraction <= 1)) {
          problems.push(`${at}.workload.hotFraction must be in (0, 1], got ${String(hotFraction)}`);
        }
        if (typeof hotProbability !== 'number' || !(hotProbability >= 0 && hotProbability <= 1)) {
          problems.push(`${at}.workload.hotProbability must be in [0, 1], got ${String(hotProbability)}`);
        }
        workload = { kind, hotFraction, hotProbability };
        break;
      }
      case 'zipf': {
        const skew = (raw as { skew?: number }).skew ?? 1;
        if (typeof skew !== 'number' || !Number.isFinite(skew) || skew <= 0) {
          problems.push(`${at}.workload.skew must be a finite number > 0, got ${String(skew)}`);
        }
        workload = { kind, skew };
        break;
      }
      case 'sequential': {
        const w = raw as { start?: number; stride?: number };
        const start = w.start ?? 0;
        const stride = w.stride ?? 1;
        if (!Number.isSafeInteger(start) || start < 0 || (totalPages > 0 && start >= totalPages)) {
          problems.push(
            `${at}.workload.start must be a page index in [0, ${totalPages}), got ${String(start)}`,
          );
        }
        if (!Number.isSafeInteger(stride) || stride < 1) {
          problems.push(`${at}.workload.stride must be an integer ≥ 1, got ${String(stride)}`);
        }
        workload = { kind, start, stride };
        break;
      }
      default:
        problems.push(
          `${at}.workload: unknown workload '${String(kind)}'; known: ${WORKLOAD_KINDS.join(', ')}`,
        );
    }
    const rate = cpu?.rate;
    if (workload.kind !== 'trace') finiteNonNegative(problems, `${at}.rate`, rate);
    cpus.push({ rate: Number(rate) || 0, workload });
  });

  let trace: TraceEntry[] = [];
  if (config.trace !== undefined) {
    if (typeof config.trace === 'string') {
      try {
        trace = parseTrace(config.trace);
      } catch (e) {
        if (e instanceof TraceFormatError) problems.push(...e.problems.map((p) => `trace ${p}`));
        else throw e;
      }
    } else if (Array.isArray(config.trace)) {
      trace = [...config.trace];
    } else {
      problems.push('trace must be a string or an array of { timeNs, cpu, page }');
    }
    let reported = 0;
    for (const e of trace) {
      if (reported >= 20) {
        problems.push('trace: further problems not listed');
        break;
      }
      const where = `trace line ${e.line ?? '?'}`;
      if (!(Number.isSafeInteger(e.page) && e.page >= 0 && e.page < totalPages)) {
        problems.push(`${where}: page ${e.page} is out of range [0, ${totalPages})`);
        reported++;
      }
      if (!(Number.isSafeInteger(e.cpu) && e.cpu >= 0 && e.cpu < cpus.length)) {
        problems.push(`${where}: cpu ${e.cpu} does not exist (${cpus.length} cpus configured)`);
        reported++;
      } else if (cpus[e.cpu]?.workload.kind !== 'trace') {
        problems.push(`${where}: cpu ${e.cpu} does not have the 'trace' workload`);
        reported++;
      }
      if (!(Number.isFinite(e.timeNs) && e.timeNs >= 0)) {
        problems.push(`${where}: time_ns must be ≥ 0, got ${e.timeNs}`);
        reported++;
      }
    }
  } else if (cpus.some((c) => c.workload.kind === 'trace')) {
    problems.push("a cpu has the 'trace' workload but no trace is configured");
  }
  const recordFaults = config.recordFaults ?? true;
  if (problems.length > 0) throw new SimConfigError(problems);
  return {
    regions,
    cpus,
    mode,
    seed,
    initialFill,
    costs,
    cof,
    trace,
    recordFaults,
    totalPages,
  };
}
