import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRedisServer, runRedisBgsave } from './redis-bgsave.js';

const dir = mkdtempSync(join(tmpdir(), 'bgsnap-redis-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('findRedisServer', () => {
  it('takes the first executable redis-server on PATH and skips non-executable ones', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    for (const d of [a, b]) rmSync(d, { recursive: true, force: true });
    for (const [d, mode] of [
      [a, 0o644],
      [b, 0o755],
    ] as const) {
      mkdirSync(d);
      writeFileSync(join(d, 'redis-server'), '#!/bin/sh\n');
      chmodSync(join(d, 'redis-server'), mode);
    }
    expect(findRedisServer([a, b].join(delimiter))).toBe(join(b, 'redis-server'));
    expect(findRedisServer(a)).toBeUndefined();
    expect(findRedisServer('')).toBeUndefined();
  });
});

// Runs where Redis is installed (`apt-get install redis-server`); the bench quotes the reference otherwise.
const server = findRedisServer();
describe.skipIf(!server)('runRedisBgsave (needs redis-server)', () => {
  it('loads the dataset, forks one BGSAVE and reports its costs', async () => {
    const r = await runRedisBgsave({
      server: server!,
      sizeBytes: 8 * 2 ** 20,
      baselineMs: 200,
      setsPerSec: 2000,
    });
    expect(r.datasetBytes).toBe(8 * 2 ** 20);
    expect(r.usedMemoryBytes).toBeGreaterThanOrEqual(r.datasetBytes);
    expect(r.forkNs).toBeGreaterThan(0);
    expect(r.bgsaveNs).toBeGreaterThan(0);
    expect(r.setBefore.count).toBeGreaterThan(0);
    expect(r.setDuring.count).toBeGreaterThan(0);
  }, 60_000);

  it('fails clearly when the executable is not a redis server', async () => {
    const fake = join(dir, 'not-redis');
    writeFileSync(fake, '#!/bin/sh\nexit 3\n');
    chmodSync(fake, 0o755);
    await expect(runRedisBgsave({ server: fake, sizeBytes: 2 ** 20 })).rejects.toThrow(
      /redis-server exited with code 3 at start/,
    );
  }, 20_000);
});
