import type { LimiterPolicy } from './types.js';

/** Periodic sink stalls: the sink makes no progress for `forNs` at the start of every `everyNs`. */
export interface StallProfile {
  /** Period in ns, for example 250 ms. */
  everyNs: number;
  /** Stall length in ns, for example 50 ms. */
  forNs: number;
  /** First stall starts at this time (ns). Default: `everyNs`. */
  firstAtNs?: number;
  /** No stall starts at or after this time (ns). Default: never stops. */
  untilNs?: number;
}

/**
 * Parameters of {@link runLatencyModel}, a deterministic synthetic model of a plain-mode save loop (the
 * thread that serves faults also feeds the stream) in virtual time. Every field has a default.
 */
export interface LatencyModelOptions {
  /** Virtual time to run, ns. Default 2 s. */
  durationNs?: number;
  /** Page size, bytes. Default 4096. */
  pageSize?: number;
  /** Save-loop cost per scanned page (read + copy + release), ns. Default 1000 (≈ 4 GB/s). */
  scanNsPerPage?: number;
  /** Save-loop cost per fault served, ns. Default 5000. */
  faultServiceNs?: number;
  /** Poisson write-fault arrival rate, faults/s. Default 2000. */
  faultsPerSecond?: number;
  /** Sink bandwidth, bytes/s. Default 256 MiB/s. */
  sinkBytesPerSecond?: number;
  /** Largest sink write, bytes. Default 1 MiB. */
  batchBytes?: number;
  /** Queued bytes at which the loop must await drain. Default 8 MiB. */
  highWaterMark?: number;
  /** Drain resolves when queued bytes fall to this. Default highWaterMark / 2. */
  lowWaterMark?: number;
  /** Pages the loop scans per step at most. Default 64. */
  batchPages?: number;
  /** Sink stall profile. Default none. */
  stall?: StallProfile;
  /** Whether the backend knows fault times (`trueNs` set). Default true. */
  knowsFaultTime?: boolean;
  /** PRNG seed for fault arrivals. Default 1. */
  seed?: number;
  /** Bin width (ns) of {@link LatencyModelResult.throughput}. Default 10 ms. */
  binNs?: number;
  /** Whether the loop calls `onBacklog` with the writer's exact backlog after each step. Default true. */
  reportBacklog?: boolean;
  /**
   * Stream bytes per page byte (zero pages, compression). `onScan` still reports raw bytes, as the
   * bgsnap save loop does. Default 1.
   */
  streamRatio?: number;
}

/** What {@link runLatencyModel} measured. */
export interface LatencyModelResult {
  /** Faults served. */
  faults: number;
  /** Writer-latency percentiles (ns), from the model's ground truth. */
  p50Ns: number;
  /** 99th percentile writer latency, ns. */
  p99Ns: number;
  /** 99.9th percentile writer latency, ns. */
  p999Ns: number;
  /** Worst writer latency, ns. */
  maxNs: number;
  /** Bytes the linear scan sent. */
  scannedBytes: number;
  /** Scan bytes per second over the run. */
  scanBytesPerSecond: number;
  /** Share of the run the sink was busy writing (stalls count as busy). */
  sinkBusyFraction: number;
  /** Time the loop spent blocked in drain, ns. */
  drainBlockedNs: number;
  /** Decisions asked of the policy. */
  decisions: number;
  /** Scan bytes per bin of `binNs`, for recovery measurements. */
  throughput: number[];
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/**
 * Runs `policy` in a synthetic plain-mode save loop and reports what the writers suffered. The model
 * mirrors the bgsnap save loop: serve every pending fault (each costs `faultServiceNs`), ask
 * `decide`, wait (ended early by a fault), scan (each page costs `scanNsPerPage`, faults arriving
 * meanwhile wait), and await drain when the queued bytes reach the high-water mark — the moment a
 * stalled sink stalls every waiting writer. After serving faults and after each scan it reports the
 * writer's backlog through `onBacklog` (unless `reportBacklog` is false). The sink writes at most `batchBytes` at a time at
 * `sinkBytesPerSecond`, and makes no progress during stalls.
 *
 * Use it to compare policies, or to check a custom one, without a real memory or sink. Deterministic
 * for a given seed.
 *
 * @param policy - The policy under test (it is `start`ed by the model).
 * @param options - Model parameters; see {@link LatencyModelOptions}.
 * @returns Latency percentiles, throughput and counters.
 */
export function runLatencyModel(
  policy: LimiterPolicy,
  options: LatencyModelOptions = {},
): LatencyModelResult {
  const duration = options.durationNs ?? 2e9;
  const pageSize = options.pageSize ?? 4096;
  const scanCost = options.scanNsPerPage ?? 1000;
  const faultCost = options.faultServiceNs ?? 5000;
  const faultRate = options.faultsPerSecond ?? 2000;
  const bytesPerNs = (options.sinkBytesPerSecond ?? 256 * 2 ** 20) / 1e9;
  const batchBytes = options.batchBytes ?? 2 ** 20;
  const hwm = options.highWaterMark ?? 8 * 2 ** 20;
  const lwm = options.lowWaterMark ?? hwm / 2;
  const batchPages = options.batchPages ?? 64;
  const stall = options.stall;
  const knows = options.knowsFaultTime ?? true;
  const binNs = options.binNs ?? 10e6;
  const rand = prng(options.seed ?? 1);
  const reportBacklog = options.reportBacklog ?? true;
  const ratio = options.streamRatio ?? 1;

  // Fault arrival times, pre-drawn.
  const arrivals: number[] = [];
  if (faultRate > 0) {
    for (let t = 0; ; ) {
      t += (-Math.log(1 - rand()) / faultRate) * 1e9;
      if (t >= duration) break;
      arrivals.push(t);
    }
  }
  let nextArrival = 0;

  /** Time at which `work` ns of sink service started at `s` completes, skipping stalls. */
  const finishAt = (s: number, work: number): number => {
    if (!stall) return s + work;
    const first = stall.firstAtNs ?? stall.everyNs;
    const until = stall.untilNs ?? Number.POSITIVE_INFINITY;
    let t = s;
    let left = work;
    for (;;) {
      const k = t < first ? 0 : Math.floor((t - first) / stall.everyNs);
      let stallStart = first + k * stall.everyNs;
      if (stallStart + stall.forNs <= t) stallStart += stall.everyNs;
      if (stallStart >= until) return t + left;
      if (t >= stallStart) {
        t = stallStart + stall.forNs;
        continue;
      }
      if (t + left <= stallStart) return t + left;
      left -= stallStart - t;
      t = stallStart + stall.forNs;
    }
  };

  let now = 0;
  let queued = 0; // bytes handed to the writer and not yet completed by the sink (in-flight included)
  let inFlight = 0;
  let writeStart = 0;
  let writeEnd = Number.POSITIVE_INFINITY;
  let sinkBusy = 0;
  let scanned = 0;
  let decisions = 0;
  let drainBlocked = 0;
  let lastEmptyAt = 0;
  const latencies: number[] = [];
  const throughput: number[] = new Array(Math.ceil(duration / binNs)).fill(0);

  const startWrite = (t: number): void => {
    const bytes = Math.min(batchBytes, queued);
    if (bytes <= 0) return;
    inFlight = bytes;
    writeStart = t;
    writeEnd = finishAt(t, bytes / bytesPerNs);
  };
  /** Moves time to `t`, completing sink writes on the way. */
  const advance = (t: number): void => {
    while (inFlight > 0 && writeEnd <= t) {
      const end = writeEnd;
      const bytes = inFlight;
      queued -= bytes;
      inFlight = 0;
      sinkBusy += end - writeStart;
      policy.onSinkWrite(end, bytes, end - writeStart);
      writeEnd = Number.POSITIVE_INFINITY;
      startWrite(end);
    }
    if (inFlight === 0) startWrite(t);
    if (t > now) now = t;
  };
  const serveFaults = (): void => {
    for (;;) {
      if (nextArrival >= arrivals.length || arrivals[nextArrival]! > now) {
        lastEmptyAt = now;
        return;
      }
      const fetchedAt = now;
      const emptyAt = lastEmptyAt;
      while (nextArrival < arrivals.length && arrivals[nextArrival]! <= fetchedAt) {
        const raised = arrivals[nextArrival++]!;
        advance(now + faultCost);
        queued += pageSize * ratio;
        if (inFlight === 0) startWrite(now);
        latencies.push(now - raised);
        policy.onFault({
          now,
          sinceFetchNs: now - fetchedAt,
          upperBoundNs: now - emptyAt,
          trueNs: knows ? now - raised : undefined,
        });
      }
    }
  };
  const drainIfNeeded = (): void => {
    if (queued < hwm) return;
    const t0 = now;
    while (queued > lwm && inFlight > 0) advance(writeEnd);
    drainBlocked += now - t0;
  };

  policy.start({ startedAt: 0, pageSize, totalPages: Math.ceil(duration / scanCost), knowsFaultTime: knows });
  while (now < duration) {
    serveFaults();
    drainIfNeeded();
    if (reportBacklog) policy.onBacklog?.(now, queued);
    const d = policy.decide(now, 0);
    decisions++;
    if (!(d.waitNs >= 0 && d.scanPages >= 0) || (d.waitNs === 0 && d.scanPages === 0)) {
      throw new TypeError(`${policy.name}: illegal decision ${JSON.stringify(d)} at ${now}`);
    }
    if (d.waitNs > 0) {
      const until = now + d.waitNs;
      const a = nextArrival < arrivals.length ? arrivals[nextArrival]! : Number.POSITIVE_INFINITY;
      advance(a < until ? Math.max(a, now) : until);
      serveFaults();
    }
    const n = Math.min(Math.floor(d.scanPages), batchPages);
    if (n > 0 && now < duration) {
      advance(now + n * scanCost);
      queued += n * pageSize * ratio;
      if (inFlight === 0) startWrite(now);
      scanned += n * pageSize;
      const bin = Math.min(throughput.length - 1, Math.floor(now / binNs));
      throughput[bin]! += n * pageSize;
      policy.onScan(now, n, n * pageSize);
      if (reportBacklog) policy.onBacklog?.(now, queued);
    }
    drainIfNeeded();
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    faults: latencies.length,
    p50Ns: percentile(sorted, 0.5),
    p99Ns: percentile(sorted, 0.99),
    p999Ns: percentile(sorted, 0.999),
    maxNs: sorted.length ? sorted[sorted.length - 1]! : 0,
    scannedBytes: scanned,
    scanBytesPerSecond: scanned / (now / 1e9),
    sinkBusyFraction: sinkBusy / now,
    drainBlockedNs: drainBlocked,
    decisions,
    throughput,
  };
}
