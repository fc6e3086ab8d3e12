import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The script only translates the example's former option names and runs `bgsnap-bench --real-client`
// (apps/bench); the root `pnpm test` builds every package first.
const runner = fileURLToPath(new URL('../bench/real-client.mjs', import.meta.url));
const bench = fileURLToPath(new URL('../../../apps/bench/dist/cli.js', import.meta.url));
const run = (args: string[], path = process.env.PATH ?? '') =>
  spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8', env: { ...process.env, PATH: path } });

describe.skipIf(!existsSync(bench))('bench/real-client.mjs (bench built)', () => {
  it('names the apt command when redis-benchmark is missing', () => {
    const r = run(['--size', '64MiB'], '');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('apt-get update && apt-get install -y redis-server redis-tools');
  });

  it('passes the former option names on under their bgsnap-bench names, rejected by name before starting anything', () => {
    const r = run(['--size', '64MiB', '--inside', '2', '--no-redis']);
    expect(r.stderr).toContain('--real-client --no-plots --native-size 64MiB --client-inside 2 --redis none');
    // Where redis-benchmark is missing the tools message comes first; both exit 2 naming the problem.
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--client-inside: must be a fraction in \(0, 1\]|apt-get install/);
    expect(run(['--size=12XB', '--no-redis']).stderr).toMatch(/--native-size|apt-get install/);
  });
});
