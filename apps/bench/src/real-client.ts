import { type ChildProcess, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideInside, requestsInside } from './inside-save.js';
import { parseRedisBenchmarkCsv, type RedisBenchmarkFigures } from './redis-benchmark-csv.js';
import { freePort } from './redis-bgsave.js';
import { parseInfo, RespClient } from './resp.js';

/** Options of {@link runRealClient}. */
export interface RealClientOptions {
  /** redis-benchmark (Redis ≥ 7). */
  redisBenchmark: string;
  /** redis-server for the Redis BGSAVE rows; undefined skips Redis. */
  redisServer?: string | undefined;
  /** The example kv-server's built `dist/main.js`. */
  kvServerMain: string;
  /** Dataset bytes: keys = size / value bytes. */
  sizeBytes: number;
  /** SET value bytes (redis-benchmark -d). */
  valueBytes: number;
  /** First baseline's requests (redis-benchmark -n), and the most sent during a save. */
  requests: number;
  /** redis-benchmark -c. */
  clients: number;
  /** redis-benchmark -P. */
  pipeline: number;
  /** bgsnap modes, one save each per limiter (`BGSAVE MODE <mode>`). */
  modes: readonly string[];
  /** bgsnap limiter specs; `default` is bgsnap's default policy. */
  limiters: readonly string[];
  /** During-save requests = baseline rps × a first save's duration × this, (0, 1]. */
  inside: number;
  log: (line: string) => void;
}

/** One redis-benchmark run. */
export interface ClientRun extends RedisBenchmarkFigures {
  requests: number;
}

/** One save as the client saw it. */
export interface RealClientRow {
  /** `redis BGSAVE`, or `bgsnap <mode> <limiter>`. */
  name: string;
  /** `redis`, or the bgsnap mode. */
  mode: string;
  limiter?: string | undefined;
  /** The server's first baseline (`requests`). */
  baseline: ClientRun;
  /** The requests sent during the save, and the same count without a save (ratios compare these). */
  during: ClientRun;
  baselineSameN: ClientRun;
  /** Every request fell inside the save (it was in progress before the first and after the last). */
  allInside: boolean;
  drySaveMs: number;
  saveMs: number;
  throughputRatio: number;
  p99Ratio: number;
  forkUsec?: number | undefined;
  cowBytes?: number | undefined;
  bgsnapSaveMs?: number | undefined;
  faultedPages?: number | undefined;
}

/** Everything {@link runRealClient} measured. */
export interface RealClientResult {
  sizeBytes: number;
  keys: number;
  valueBytes: number;
  requests: number;
  clients: number;
  pipeline: number;
  cpus: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  redisVersion?: string | undefined;
  rows: RealClientRow[];
  errors: { name: string; error: string }[];
}

/** `a / b`, NaN when b is not positive. */
export const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A server process and a connection to it. */
interface Server {
  child: ChildProcess;
  port: number;
  client: RespClient;
}

/**
 * What a real client sees during a save: redis-benchmark SETs against Redis (BGSAVE: fork +
 * copy-on-write) and against the example kv-server (values in TrackedMemory, BGSAVE: a bgsnap
 * snapshot), each against its own baseline in the same run. The load of a "during" phase starts
 * after BGSAVE replied and must end while the save is in progress (checked through INFO); its size
 * comes from a first save's duration and is halved when the save ended first. Servers, clients and
 * folders are removed whatever happens.
 */
export async function runRealClient(o: RealClientOptions): Promise<RealClientResult> {
  const keys = Math.max(1, Math.floor(o.sizeBytes / o.valueBytes));
  const slotBytes = Math.ceil(o.valueBytes / 4096) * 4096;
  const children = new Set<ChildProcess>();
  const dirs: string[] = [];
  const result: RealClientResult = {
    sizeBytes: keys * o.valueBytes,
    keys,
    valueBytes: o.valueBytes,
    requests: o.requests,
    clients: o.clients,
    pipeline: o.pipeline,
    cpus: cpus().length,
    loadAvgStart: loadavg(),
    loadAvgEnd: [],
    rows: [],
    errors: [],
  };

  const start = async (name: string, cmd: string, args: string[], port?: number): Promise<Server> => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    const until = Date.now() + 15_000;
    for (;;) {
      if (spawnError) throw new Error(`could not start ${name}: ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} at start:\n${out}`);
      const bound = port ?? Number(/listening on [\d.]+:(\d+)/.exec(out)?.[1]);
      if (bound) {
        try {
          return { child, port: bound, client: await RespClient.connect(bound) };
        } catch (e) {
          if (Date.now() > until) throw e;
        }
      } else if (Date.now() > until) throw new Error(`${name} did not start in 15 s:\n${out}`);
      await sleep(50);
    }
  };

  /** The keys redis-benchmark -r hits (key:000000000000 …), each with distinct random bytes. */
  const fill = async (client: RespClient): Promise<void> => {
    const value = Buffer.alloc(o.valueBytes);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < keys; i++) {
      randomFillSync(value);
      pending.push(client.send('SET', `key:${String(i).padStart(12, '0')}`, Buffer.from(value)));
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  };

  const benchmark = (port: number, n: number): Promise<ClientRun> => {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-d', String(o.valueBytes)];
    args.push('-r', String(keys), '-n', String(n), '-c', String(o.clients), '-P', String(o.pipeline));
    args.push('--csv', '--precision', '3');
    return new Promise((resolve, reject) => {
      const child = spawn(o.redisBenchmark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      // redis-benchmark retries a refused connection for ever: a dead server must not hang the run.
      const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        if (code !== 0) {
          reject(
            new Error(`redis-benchmark ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out}`),
          );
          return;
        }
        try {
          resolve({ ...parseRedisBenchmarkCsv(out, 'SET'), requests: n });
        } catch (e) {
          reject(e);
        }
      });
    });
  };

  const info = async (s: Server): Promise<Map<string, string>> => parseInfo(await s.client.send('INFO'));
  const inProgress = async (s: Server): Promise<boolean> =>
    (await info(s)).get('rdb_bgsave_in_progress') === '1';
  const waitSaveEnd = async (s: Server): Promise<void> => {
    while (await inProgress(s)) await sleep(10);
  };

  /** A dry save (for its duration), then the load inside a second one. */
  const duringSave = async (
    s: Server,
    trigger: string[],
    baseline: ClientRun,
  ): Promise<Pick<RealClientRow, 'during' | 'baselineSameN' | 'allInside' | 'drySaveMs' | 'saveMs'>> => {
    let t = performance.now();
    await s.client.send(...trigger);
    await waitSaveEnd(s);
    const drySaveMs = performance.now() - t;
    let n = requestsInside(baseline.rps, drySaveMs, o.inside, o.requests);
    for (let attempt = 1; ; attempt++) {
      t = performance.now();
      await s.client.send(...trigger); // replies once the fork is done / the memory is protected
      const before = await inProgress(s);
      const during = await benchmark(s.port, n);
      const after = await inProgress(s);
      await waitSaveEnd(s);
      const saveMs = performance.now() - t;
      const p = await info(s);
      if (p.get('rdb_last_bgsave_status') !== 'ok') {
        throw new Error(`${trigger.join(' ')} failed: ${p.get('bgsnap_last_save_error') ?? ''}`);
      }
      const next = decideInside({ before, after }, attempt, n);
      if (next.keep) {
        if (!next.allInside)
          o.log(`${trigger.join(' ')}: the save ended before the load did, even with -n ${n}`);
        // The same -n without a save: redis-benchmark's rate includes connecting its clients, which
        // weighs more in a short run, so the ratios compare runs of the same length.
        const baselineSameN = await benchmark(s.port, n);
        return { during, baselineSameN, allInside: next.allInside, drySaveMs, saveMs };
      }
      o.log(
        `${trigger.join(' ')}: the save ended before the load (-n ${n}); again with -n ${next.nextRequests}`,
      );
      n = next.nextRequests;
    }
  };

  const row = (
    name: string,
    mode: string,
    baseline: ClientRun,
    r: Awaited<ReturnType<typeof duringSave>>,
    extra: Partial<RealClientRow>,
  ): RealClientRow => ({
    name,
    mode,
    baseline,
    ...r,
    throughputRatio: ratio(r.during.rps, r.baselineSameN.rps),
    p99Ratio: ratio(r.during.p99Ms, r.baselineSameN.p99Ms),
    ...extra,
  });

  try {
    o.log(
      `${keys} keys × ${o.valueBytes} B, redis-benchmark -c ${o.clients} -P ${o.pipeline}, baseline -n ${o.requests}`,
    );
    if (o.redisServer) {
      const dir = mkdtempSync(join(tmpdir(), 'bgsnap-real-client-redis-'));
      dirs.push(dir);
      const port = await freePort();
      // --hz 100: Redis notices its save child's exit in its cron, so INFO may say "in progress" up to
      // 1/hz after the save ended (10 ms here, 100 ms at the default hz 10).
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      args.push('--hz', '100', '--dir', dir);
      const redis = await start('redis-server', o.redisServer, args, port);
      try {
        result.redisVersion = (await info(redis)).get('redis_version');
        o.log(`redis ${result.redisVersion}: filling`);
        await fill(redis.client);
        const baseline = await benchmark(port, o.requests);
        o.log('redis: BGSAVE');
        const r = await duringSave(redis, ['BGSAVE'], baseline);
        const stats = await info(redis);
        result.rows.push(
          row('redis BGSAVE', 'redis', baseline, r, {
            cowBytes: Number(stats.get('rdb_last_cow_size')),
            forkUsec: Number(stats.get('latest_fork_usec')),
          }),
        );
      } finally {
        redis.client.close();
        redis.child.kill('SIGKILL');
      }
    }

    const dir = mkdtempSync(join(tmpdir(), 'bgsnap-real-client-kv-'));
    dirs.push(dir);
    const kvArgs = [o.kvServerMain, '--port', '0', '--size', String(keys * slotBytes)];
    kvArgs.push('--slot-bytes', String(slotBytes), '--dir', dir);
    const kv = await start('kv-server', process.execPath, kvArgs);
    try {
      o.log('kv-server: filling');
      await fill(kv.client);
      const baseline = await benchmark(kv.port, o.requests);
      for (const mode of o.modes) {
        for (const limiter of o.limiters) {
          const trigger = ['BGSAVE', 'MODE', mode, ...(limiter === 'default' ? [] : ['LIMITER', limiter])];
          o.log(`kv-server: ${trigger.join(' ')}`);
          try {
            const r = await duringSave(kv, trigger, baseline);
            const p = await info(kv);
            result.rows.push(
              row(`bgsnap ${mode} ${limiter}`, mode, baseline, r, {
                limiter,
                bgsnapSaveMs: Number(p.get('bgsnap_last_duration_ms')),
                faultedPages: Number(p.get('bgsnap_last_faulted_pages')),
              }),
            );
          } catch (e) {
            // e.g. a mode this build of the backend does not have: report it, measure the others
            o.log(`kv-server: ${trigger.join(' ')} failed: ${(e as Error).message}`);
            result.errors.push({ name: `bgsnap ${mode} ${limiter}`, error: (e as Error).message });
          }
        }
      }
    } finally {
      kv.client.close();
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  result.loadAvgEnd = loadavg();
  return result;
}
