import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const runner = fileURLToPath(new URL('../bench/real-client.mjs', import.meta.url));
const run = (args: string[], path = process.env.PATH ?? '') =>
  spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8', env: { ...process.env, PATH: path } });

describe('bench/real-client.mjs', () => {
  it('names the apt command when redis-benchmark and redis-server are missing', () => {
    const r = run(['--size', '64MiB'], '');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('apt-get update && apt-get install -y redis-server redis-tools');
  });

  it('rejects bad options by name before starting anything', () => {
    const r = run(['--size', '64MiB', '--inside', '2', '--no-redis']);
    // Where redis-benchmark is missing the tools message comes first; both exit 2 naming the problem.
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--inside must be in \(0, 1\]|apt-get install/);
    expect(run(['--size', '12XB', '--no-redis']).stderr).toMatch(/--size must be|apt-get install/);
  });
});
