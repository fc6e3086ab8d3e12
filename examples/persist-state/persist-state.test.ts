import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeUffd, TrackedMemory } from '@bgsnap/fault-source-uffd';
import { snapshot } from 'bgsnap';
import { afterAll, describe, expect, it } from 'vitest';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.mjs');
const dir = mkdtempSync(join(tmpdir(), 'persist-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (file: string, ...args: string[]) =>
  spawnSync(process.execPath, [main, '--file', file, ...args], { cwd: dir, encoding: 'utf8' });

interface State {
  ops: number[];
  sha256: string;
}
const stateIn = (line: string): State => {
  const m = /ops=\[([\d,]+)\] sha256=([0-9a-f]{64})$/.exec(line);
  if (!m) throw new Error(`no state in: ${line}`);
  return { ops: (m[1] as string).split(',').map(Number), sha256: m[2] as string };
};
const saved = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('snapshot '));
const loaded = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('loaded ')) ?? '';

// The programs allocate TrackedMemory: without userfaultfd there is nothing to run.
describe.skipIf(!probeUffd().available)('persist-state (needs userfaultfd)', () => {
  const file = join(dir, 'state.bgsnap');

  it('loads, at the next start, exactly the store as it was when the last snapshot started', () => {
    const first = run(file, '--snapshots', '3', '--every-ms', '100', '--digests');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^new store in .*: 2 writers/);
    const snapshots = saved(first.stdout).map(stateIn);
    expect(snapshots).toHaveLength(3);
    // The writers kept writing between snapshots, so each one holds a different state.
    expect(new Set(snapshots.map((s) => s.sha256)).size).toBe(3);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // Started again: the state loaded is the last snapshot's, and the writers continue from it.
    const second = run(file, '--snapshots', '1', '--every-ms', '100', '--digests');
    expect(second.status, second.stderr).toBe(0);
    const atLoad = stateIn(loaded(second.stdout));
    expect(atLoad).toEqual(snapshots[2]);
    const next = stateIn(saved(second.stdout)[0] ?? '');
    for (const [w, n] of next.ops.entries()) expect(n).toBeGreaterThan(atLoad.ops[w] as number);

    const third = run(file, '--snapshots', '0', '--digests');
    expect(third.status, third.stderr).toBe(0);
    expect(stateIn(loaded(third.stdout))).toEqual(next);
  });

  it.each([
    [
      'a flipped byte',
      (bytes: Buffer) => bytes.fill(0xa5, bytes.length >> 1, (bytes.length >> 1) + 4),
      /CHECKSUM_MISMATCH/,
    ],
    [
      'a truncated file',
      (bytes: Buffer) => bytes.subarray(0, bytes.length - 100),
      /not valid|without a trailer/,
    ],
  ])(
    'refuses to start from a file with %s: a clear error, exit 1, the file left alone',
    (_, damage, reason) => {
      const bad = join(dir, 'bad.bgsnap');
      writeFileSync(bad, damage(readFileSync(file)));
      const before = readFileSync(bad);
      const result = run(bad, '--snapshots', '1');
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /^persist-state: cannot load .*bad\.bgsnap: the snapshot stream is not valid/,
      );
      expect(result.stderr).toMatch(reason);
      expect(readFileSync(bad).equals(before)).toBe(true);
    },
  );

  it('refuses a valid snapshot of something else than a store: exit 1', async () => {
    const other = join(dir, 'other.bgsnap');
    const memory = TrackedMemory.allocate(16 << 20);
    try {
      memory.block(0).fill(0xab);
      await snapshot({ memory, to: other });
    } finally {
      memory.release();
    }
    const result = run(other);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cannot load');
    expect(result.stderr).toContain('not of a persist-state store');
  });

  it('refuses bad options with exit 2, naming the option', () => {
    const result = run(file, '--size', '8MB');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--size');
  });

  it('keeps the last complete snapshot when interrupted (SIGINT: exit 130, no partial file)', async () => {
    const live = join(dir, 'live.bgsnap');
    copyFileSync(file, live);
    const args = [main, '--file', live, '--snapshots', '1000', '--every-ms', '10'];
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        if (out.includes('snapshot 2 saved')) resolve();
      });
      void exited.then(() => resolve());
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(dir).filter((name) => name.includes('partial'))).toEqual([]);
    const after = run(live, '--snapshots', '0');
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^loaded .*live\.bgsnap: \d+ keys/);
  });
});
