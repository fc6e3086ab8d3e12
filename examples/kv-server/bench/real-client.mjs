#!/usr/bin/env node
// What a real client sees during a save: redis-benchmark SETs against Redis (BGSAVE: fork + copy-on-write)
// and against the example kv-server (values in TrackedMemory, BGSAVE: a bgsnap snapshot), each compared
// with its own baseline in the same run. Every "during" request falls inside the save: the load starts
// after BGSAVE has replied (memory protected / fork done) and must end while the save is still in
// progress (checked through INFO); -n is sized from a first save's duration and halved if it was not.
// Usage: node bench/real-client.mjs --help
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const APT = 'apt-get update && apt-get install -y redis-server redis-tools';
const USAGE = `usage: node bench/real-client.mjs [options]
  --size 1GiB            dataset (default 1GiB); --keys defaults to size / value-bytes
  --value-bytes 4096     SET value size (redis-benchmark -d)
  --keys <n>             keyspace (redis-benchmark -r), filled before measuring
  --requests 200000      first baseline (redis-benchmark -n); during a save: fewer, see --inside,
                         and each save's ratios are against a baseline of the same -n
  --clients 50           redis-benchmark -c          --pipeline 1   redis-benchmark -P
  --modes plain,copy-on-fault    bgsnap modes (in-thread too, where the backend has it)
  --limiters default,unlimited   bgsnap limiter specs ('default': bgsnap's default policy)
  --inside 0.5           during-save requests = baseline rps × first save's duration × this
  --no-redis             skip Redis           --json <file|->   write the results as JSON`;

const { values: o } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    'value-bytes': { type: 'string', default: '4096' },
    keys: { type: 'string' },
    requests: { type: 'string', default: '200000' },
    clients: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'plain,copy-on-fault' },
    limiters: { type: 'string', default: 'default,unlimited' },
    inside: { type: 'string', default: '0.5' },
    'no-redis': { type: 'boolean' },
    json: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}

const fail = (message) => {
  console.error(`real-client: ${message}`);
  process.exit(2);
};
const which = (name) =>
  (process.env.PATH ?? '')
    .split(delimiter)
    .map((d) => join(d, name))
    .find((p) => existsSync(p));
const server = which('redis-server');
const benchmark = which('redis-benchmark');
if (!benchmark || (!server && !o['no-redis']))
  fail(`redis-benchmark and redis-server are needed; on Debian/Ubuntu: ${APT}`);
const mainJs = join(HERE, 'dist', 'main.js');
if (!existsSync(mainJs)) fail(`build the example first: pnpm --filter @bgsnap/example-kv-server build`);
const { RespClient, parseSize } = await import(join(HERE, 'dist', 'index.js'));

const num = (text, what) => {
  try {
    return parseSize(text, what);
  } catch (e) {
    fail(e.message);
  }
};
const sizeBytes = num(o.size, '--size');
const valueBytes = num(o['value-bytes'], '--value-bytes');
const keys = o.keys ? num(o.keys, '--keys') : Math.floor(sizeBytes / valueBytes);
const requests = num(o.requests, '--requests');
const clients = num(o.clients, '--clients');
const pipeline = num(o.pipeline, '--pipeline');
const inside = Number(o.inside);
if (!(inside > 0 && inside <= 1)) fail(`--inside must be in (0, 1]; got '${o.inside}'`);
const modes = o.modes.split(',').filter(Boolean);
const limiters = o.limiters.split(',').filter(Boolean);
const slotBytes = Math.ceil(valueBytes / 4096) * 4096;

const children = new Set();
const dirs = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => console.error(`[real-client] ${s}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a server and connects once it accepts; `ready` parses the port from its stdout if needed. */
async function start(name, cmd, args, portFromStdout) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} at start:\n${out}`);
    const port = portFromStdout ? Number(/listening on [\d.]+:(\d+)/.exec(out)?.[1]) : args[1];
    if (port) {
      try {
        return { child, port: Number(port), client: await RespClient.connect(Number(port)) };
      } catch (e) {
        if (Date.now() > until) throw e;
      }
    } else if (Date.now() > until) throw new Error(`${name} did not start:\n${out}`);
    await sleep(50);
  }
}

/** The keys redis-benchmark -r hits: key:000000000000 … key:<keys-1>, each with distinct random bytes. */
async function fill(client) {
  const value = Buffer.alloc(valueBytes);
  const pending = [];
  for (let i = 0; i < keys; i++) {
    randomFillSync(value);
    pending.push(client.send('SET', `key:${String(i).padStart(12, '0')}`, Buffer.from(value)));
    if (pending.length >= 256) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

/** One redis-benchmark SET run; latencies in ms as redis-benchmark reports them (--csv, Redis ≥ 7). */
function runBenchmark(port, n) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-d', String(valueBytes)];
  args.push('-r', String(keys), '-n', String(n), '-c', String(clients), '-P', String(pipeline));
  args.push('--csv', '--precision', '3');
  return new Promise((resolve, reject) => {
    const child = spawn(benchmark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      children.delete(child);
      const row = out.split('\n').find((l) => l.startsWith('"SET"'));
      const f = row?.split(',').map((c) => Number(c.replaceAll('"', '')));
      if (code !== 0 || !f || f.length < 8)
        return reject(new Error(`redis-benchmark ${args.join(' ')} failed (exit ${code}):\n${out}`));
      resolve({ requests: n, rps: f[1], avgMs: f[2], p50Ms: f[4], p95Ms: f[5], p99Ms: f[6], maxMs: f[7] });
    });
  });
}

const info = (client) => client.info();
async function waitSaveEnd(client) {
  while ((await info(client)).get('rdb_bgsave_in_progress') === '1') await sleep(10);
}

/** A dry save (for its duration), then the load inside a second one, retried with half the requests if the save ended first. */
async function duringSave(target, trigger, baseline, extra) {
  let t = performance.now();
  await target.client.send(...trigger);
  await waitSaveEnd(target.client);
  const drySaveMs = performance.now() - t;
  let n = Math.max(1, Math.min(requests, Math.floor((baseline.rps * drySaveMs * inside) / 1000)));
  for (let attempt = 1; ; attempt++) {
    t = performance.now();
    await target.client.send(...trigger); // replies once the fork is done / memory is protected
    const before = (await info(target.client)).get('rdb_bgsave_in_progress') === '1';
    const during = await runBenchmark(target.port, n);
    const after = (await info(target.client)).get('rdb_bgsave_in_progress') === '1';
    await waitSaveEnd(target.client);
    const saveMs = performance.now() - t;
    const p = await info(target.client);
    if (p.get('rdb_last_bgsave_status') !== 'ok')
      throw new Error(`${trigger.join(' ')} failed: ${p.get('bgsnap_last_save_error') ?? ''}`);
    const allInside = before && after;
    if (allInside || attempt === 3 || n === 1) {
      if (!allInside) log(`${trigger.join(' ')}: the save ended before the load did, even with -n ${n}`);
      // The same -n without a save: redis-benchmark's rps includes connecting its clients, which
      // weighs more in a short run, so the ratios compare runs of the same length.
      const baselineSameN = await runBenchmark(target.port, n);
      return { drySaveMs, saveMs, allInside, during, baselineSameN, ...extra(p) };
    }
    log(`${trigger.join(' ')}: the save ended before the load (-n ${n}); again with -n ${Math.floor(n / 2)}`);
    n = Math.floor(n / 2);
  }
}

const ratio = (a, b) => (b > 0 ? a / b : Number.NaN);
function row(name, baseline, r) {
  return {
    name,
    baseline,
    ...r,
    throughputRatio: ratio(r.during.rps, r.baselineSameN.rps),
    p99Ratio: ratio(r.during.p99Ms, r.baselineSameN.p99Ms),
  };
}

async function main() {
  const results = {
    command: process.argv.slice(1).join(' '),
    sizeBytes: keys * valueBytes,
    keys,
    valueBytes,
    requests,
    clients,
    pipeline,
    cpus: cpus().length,
    loadAvgStart: loadavg(),
    rows: [],
    errors: [],
  };
  log(
    `${keys} keys × ${valueBytes} B, redis-benchmark -c ${clients} -P ${pipeline}, baseline -n ${requests}`,
  );

  if (!o['no-redis']) {
    const dir = mkdtempSync(join(tmpdir(), 'real-client-redis-'));
    dirs.push(dir);
    const port = await freePort();
    // --hz 100: Redis notices its save child's exit in its cron, so INFO may say "in progress" up to
    // 1/hz after the save really ended (10 ms here, 100 ms at the default hz 10).
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--hz',
      '100',
      '--dir',
      dir,
    ];
    const redis = await start('redis-server', server, args, false);
    results.redisVersion = (await info(redis.client)).get('redis_version');
    log(`redis ${results.redisVersion}: filling`);
    await fill(redis.client);
    const baseline = await runBenchmark(port, requests);
    log(`redis: BGSAVE`);
    const r = await duringSave(redis, ['BGSAVE'], baseline, (p) => ({
      cowBytes: Number(p.get('rdb_last_cow_size')),
    }));
    const stats = await info(redis.client);
    results.rows.push(
      row('redis BGSAVE', baseline, { ...r, forkUsec: Number(stats.get('latest_fork_usec')) }),
    );
    redis.client.close();
    redis.child.kill('SIGKILL');
  }

  const dir = mkdtempSync(join(tmpdir(), 'real-client-kv-'));
  dirs.push(dir);
  const kvArgs = [
    mainJs,
    '--port',
    '0',
    '--size',
    String(keys * slotBytes),
    '--slot-bytes',
    String(slotBytes),
    '--dir',
    dir,
  ];
  const kv = await start('kv-server', process.execPath, kvArgs, true);
  log('kv-server: filling');
  await fill(kv.client);
  const baseline = await runBenchmark(kv.port, requests);
  for (const mode of modes) {
    for (const limiter of limiters) {
      const trigger = ['BGSAVE', 'MODE', mode, ...(limiter === 'default' ? [] : ['LIMITER', limiter])];
      log(`kv-server: ${trigger.join(' ')}`);
      try {
        const r = await duringSave(kv, trigger, baseline, (p) => ({
          bgsnapSaveMs: Number(p.get('bgsnap_last_duration_ms')),
          faultedPages: Number(p.get('bgsnap_last_faulted_pages')),
        }));
        results.rows.push(row(`bgsnap ${mode} ${limiter}`, baseline, r));
      } catch (e) {
        // e.g. a mode this build of the backend does not have: report it, measure the others
        log(`kv-server: ${trigger.join(' ')} failed: ${e.message}`);
        results.errors.push({ name: `bgsnap ${mode} ${limiter}`, error: e.message });
      }
    }
  }
  kv.client.close();
  results.loadAvgEnd = loadavg();
  return results;
}

function table(results) {
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const head = [
    'save',
    'n',
    'base rps',
    'save rps',
    'rps ×',
    'base p50',
    'base p99',
    'save p50',
    'save p99',
    'save max',
    'p99 ×',
    'inside',
    'save ms',
    'fork µs',
    'COW MiB',
  ];
  const lines = results.rows.map((r) => [
    r.name,
    r.during.requests,
    f(r.baselineSameN.rps, 0),
    f(r.during.rps, 0),
    f(r.throughputRatio),
    f(r.baselineSameN.p50Ms, 3),
    f(r.baselineSameN.p99Ms, 3),
    f(r.during.p50Ms, 3),
    f(r.during.p99Ms, 3),
    f(r.during.maxMs, 3),
    f(r.p99Ratio),
    r.allInside ? 'yes' : 'NO',
    f(r.saveMs, 0),
    r.forkUsec ?? '-',
    r.cowBytes === undefined ? '-' : f(r.cowBytes / 2 ** 20, 1),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmt = (l) => `| ${l.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [
    `${results.keys} keys × ${results.valueBytes} B (${f(results.sizeBytes / 2 ** 30, 3)} GiB), -c ${results.clients} -P ${results.pipeline}; latencies in ms; load average ${results.loadAvgStart.map((x) => x.toFixed(2)).join(' ')} → ${results.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')}`,
    `n: requests measured during the save; base: the same n without a save (first baseline: -n ${results.requests})`,
    fmt(head),
    fmt(w.map((n) => '-'.repeat(n))),
    ...lines.map(fmt),
    ...results.errors.map((e) => `${e.name}: FAILED: ${e.error}`),
  ].join('\n');
}

try {
  const results = await main();
  console.log(table(results));
  if (o.json === '-') console.log(JSON.stringify(results));
  else if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
} catch (e) {
  console.error(`real-client: ${e.stack ?? e}`);
  process.exit(1);
}
