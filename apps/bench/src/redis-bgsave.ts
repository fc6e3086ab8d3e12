import { type ChildProcess, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { LatencySummary } from 'bgsnap';
import { createLatencyHistogram, recordLatency, summarizeLatency } from 'bgsnap';
import { parseInfo, RespClient } from './resp.js';

/** What Redis BGSAVE (fork + copy-on-write) cost a client writing at a steady rate. */
export interface RedisBgsaveResult {
  version: string;
  /** Bytes of values loaded (the dataset; Redis's own memory use is larger). */
  datasetBytes: number;
  /** `used_memory` after loading. */
  usedMemoryBytes: number;
  /** `latest_fork_usec`: how long fork() froze the server, ns. */
  forkNs: number;
  /** From BGSAVE sent to the child's end, ns (measured by the client). */
  bgsaveNs: number;
  /** `rdb_last_cow_size`: memory copied on write while the child ran. */
  cowBytes: number;
  /** SET latency as the client saw it, for `baselineMs` before BGSAVE and while it ran. */
  setBefore: LatencySummary;
  setDuring: LatencySummary;
  /** SETs per second the client achieved, before and during. */
  setsPerSecBefore: number;
  setsPerSecDuring: number;
}

/** Options of {@link runRedisBgsave}. */
export interface RedisBgsaveOptions {
  /** The redis-server executable. */
  server: string;
  /** Bytes of values to load. */
  sizeBytes: number;
  /** Bytes per value (keys are `k:<i>`). Default 64 KiB. */
  valueBytes?: number;
  /** SETs per second during the measurement (one client, one outstanding command). Default 20 000. */
  setsPerSec?: number;
  /** Measurement before BGSAVE, ms. Default 2000. */
  baselineMs?: number;
  log?: (line: string) => void;
}

/** Whether `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first `redis-server` on PATH, or undefined. */
export function findRedisServer(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir && isExecutableFile(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function connectWithRetry(
  port: number,
  child: ChildProcess,
  deadlineMs: number,
  spawnError: () => Error | undefined,
): Promise<RespClient> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const failed = spawnError();
    if (failed) throw new Error(`could not start redis-server: ${failed.message}`);
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} at start`);
    try {
      return await RespClient.connect(port);
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts a private redis-server (no persistence of its own, data in a temporary folder), loads
 * `sizeBytes` of random values, then measures SET latency at a steady rate before and during one
 * BGSAVE: the fork pause, the copy-on-write volume and the client's latency, for comparison with a
 * bgsnap snapshot of the same size. The server and its folder are removed whatever happens.
 */
export async function runRedisBgsave(o: RedisBgsaveOptions): Promise<RedisBgsaveResult> {
  const log = o.log ?? (() => {});
  const valueBytes = o.valueBytes ?? 64 * 1024;
  const setsPerSec = o.setsPerSec ?? 20_000;
  const baselineMs = o.baselineMs ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'bgsnap-redis-'));
  const port = await freePort();
  const child = spawn(
    o.server,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });
  let client: RespClient | undefined;
  let probe: RespClient | undefined;
  try {
    client = await connectWithRetry(port, child, 5000, () => spawnError);
    probe = await RespClient.connect(port);
    const version = parseInfo(await client.send('INFO', 'server')).get('redis_version') ?? '?';

    const count = Math.max(1, Math.floor(o.sizeBytes / valueBytes));
    log(`targets (d): redis ${version}, loading ${count} values of ${valueBytes} bytes`);
    const value = Buffer.alloc(valueBytes);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      randomFillSync(value); // incompressible, and distinct per key
      pending.push(client.send('SET', `k:${i}`, Buffer.from(value)));
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const usedMemoryBytes = Number(parseInfo(await client.send('INFO', 'memory')).get('used_memory') ?? 0);

    // One client, one outstanding SET at a time, paced: the latency a request sees.
    const small = Buffer.alloc(64);
    let key = 0;
    const measure = async (until: () => boolean) => {
      const h = createLatencyHistogram();
      const interval = 1e9 / setsPerSec;
      let due = performance.now() * 1e6;
      let sets = 0;
      const t0 = performance.now();
      while (!until()) {
        const now = performance.now() * 1e6;
        if (due > now + 1e6) await new Promise((r) => setTimeout(r, Math.floor((due - now) / 1e6)));
        due += interval;
        randomFillSync(small);
        const s = performance.now();
        await client!.send('SET', `k:${key++ % count}`, small);
        recordLatency(h, Math.max(1, Math.round((performance.now() - s) * 1e6)));
        sets++;
      }
      return { summary: summarizeLatency(h), perSec: (sets * 1e3) / (performance.now() - t0) };
    };

    log(`targets (d): SET latency at ${setsPerSec}/s for ${baselineMs} ms before BGSAVE`);
    const endBefore = performance.now() + baselineMs;
    const before = await measure(() => performance.now() >= endBefore);

    log('targets (d): BGSAVE, SETs continuing');
    const t0 = performance.now();
    await probe.send('BGSAVE');
    let done = false;
    let bgsaveNs = 0;
    const watcher = (async () => {
      while (!done) {
        await new Promise((r) => setTimeout(r, 20));
        const p = parseInfo(await probe!.send('INFO', 'persistence'));
        if (p.get('rdb_bgsave_in_progress') === '0') {
          bgsaveNs = (performance.now() - t0) * 1e6;
          done = true;
        }
      }
    })();
    const during = await measure(() => done);
    await watcher;
    const stats = parseInfo(await probe.send('INFO', 'stats'));
    const persistence = parseInfo(await probe.send('INFO', 'persistence'));
    if (persistence.get('rdb_last_bgsave_status') !== 'ok') {
      throw new Error(
        `redis BGSAVE failed: rdb_last_bgsave_status ${persistence.get('rdb_last_bgsave_status')}`,
      );
    }
    return {
      version,
      datasetBytes: count * valueBytes,
      usedMemoryBytes,
      forkNs: Number(stats.get('latest_fork_usec') ?? 0) * 1e3,
      bgsaveNs,
      cowBytes: Number(persistence.get('rdb_last_cow_size') ?? 0),
      setBefore: before.summary,
      setDuring: during.summary,
      setsPerSecBefore: before.perSec,
      setsPerSecDuring: during.perSec,
    };
  } finally {
    client?.close();
    probe?.close();
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
