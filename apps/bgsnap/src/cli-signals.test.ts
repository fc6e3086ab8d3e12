import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cliBuilt, leftovers, runCli } from './testing/spawn-cli.js';

// SIGINT/SIGTERM/SIGHUP at many instants of `run` and `restore` (build first). Whatever the instant,
// exactly one outcome: the abort wins (exit 130, the old file untouched, nothing new) or the command
// completes (exit 0, a file `bgsnap verify` accepts) — and no staging or .partial file is left.
const uffdAvailable = await import('@bgsnap/fault-source-uffd')
  .then((m) => m.probeUffd().available)
  .catch(() => false);

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const OLD = Buffer.from('an older file that must survive an interrupted command\n');
let root = '';
let snapshotFile = '';
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bgsnap-signals-'));
  if (!cliBuilt) return;
  snapshotFile = join(root, 'source.bgsnap');
  const r = await runCli(['sim', '--size', '8MiB', '--out', snapshotFile, '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder holding an old output file, and a private TMPDIR to check for leftovers too. */
function workspace(name: string): { dir: string; out: string; tmp: string } {
  const dir = join(root, name);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const out = join(dir, 'out.file');
  writeFileSync(out, OLD);
  return { dir, out, tmp };
}

/** Sends `sig` once the CLI reports it paused at `phase` (the test-only BGSNAP_TEST_PAUSE_AT hook). */
function signalAtPhase(phase: string, sig: NodeJS.Signals, again?: { afterMs: number }) {
  let sent = false;
  return {
    env: { BGSNAP_TEST_PAUSE_AT: phase },
    onStderr: (child: import('node:child_process').ChildProcess, stderr: string) => {
      if (sent || !stderr.includes(`bgsnap-test-paused:${phase}`)) return;
      sent = true;
      child.kill(sig);
      if (again) setTimeout(() => child.kill(sig), again.afterMs);
    },
  };
}

async function expectOneOutcome(r: CliResult, ws: { dir: string; out: string; tmp: string }) {
  const detail = `code ${r.code} signal ${r.signal}\n${r.stderr}`;
  if (r.code === 0) {
    const verify = await runCli(['verify', ws.out]);
    expect(verify.code, `completed, so the file must verify: ${detail}`).toBe(0);
  } else {
    // Killed before the handlers were installed (signal set) or cancelled (130): the old file stands.
    expect(r.code === 130 || (r.code === null && r.signal !== null), detail).toBe(true);
    expect(readFileSync(ws.out).equals(OLD), detail).toBe(true);
  }
  expect(leftovers(ws.dir), detail).toEqual([]);
  expect(readdirSync(ws.tmp), detail).toEqual([]);
}

describe.skipIf(!cliBuilt)('signals: one honest outcome', () => {
  const runArgs = (out: string) => ['run', '--size', '16MiB', '--writers', '1', '--out', out, '--force'];

  it
    .skipIf(!uffdAvailable)
    .each(['start', 'finish', 'verify'].flatMap((phase) => SIGNALS.map((sig) => [phase, sig] as const)))(
    'run: %s at phase %s... → exit 130, old file intact, nothing left',
    async (phase, sig) => {
      const ws = workspace(`run-${phase}-${sig}`);
      const r = await runCli([...runArgs(ws.out), '--no-progress'], {
        ...signalAtPhase(phase, sig),
        env: { BGSNAP_TEST_PAUSE_AT: phase, TMPDIR: ws.tmp },
      });
      expect(r.code, r.stderr).toBe(130);
      expect(r.stdout).toBe('');
      await expectOneOutcome(r, ws);
    },
  );

  it.skipIf(!uffdAvailable)(
    'run: a second signal while the first is pending exits 130 at once and still removes the staged file',
    async () => {
      const ws = workspace('run-twice');
      const hook = signalAtPhase('finish', 'SIGINT', { afterMs: 300 });
      const r = await runCli([...runArgs(ws.out), '--no-progress'], {
        ...hook,
        env: { ...hook.env, BGSNAP_TEST_PAUSE_MS: '15000', TMPDIR: ws.tmp },
      });
      expect(r.code, r.stderr).toBe(130);
      expect(r.ms).toBeLessThan(10_000); // did not sit out the 15 s pause
      await expectOneOutcome(r, ws);
    },
  );

  it.skipIf(!uffdAvailable)(
    'run: signals after varied delays (start, scan, finish, verification) → 130 with the old file, or 0 with a verified file',
    async () => {
      const outcomes = new Set<number | null>();
      const delays = [150, 500, 900, 1400, 2200];
      for (const [i, delay] of delays.entries()) {
        const ws = workspace(`run-delay-${delay}`);
        const sig = SIGNALS[i % SIGNALS.length]!;
        const r = await runCli(
          [...runArgs(ws.out), '--limiter', 'token-bucket:rate=16MiB/s,burst=1MiB', '--no-progress'],
          {
            env: { TMPDIR: ws.tmp },
            onSpawn: (child) => {
              setTimeout(() => child.kill(sig), delay);
            },
          },
        );
        outcomes.add(r.code);
        await expectOneOutcome(r, ws);
      }
      expect(outcomes.has(130)).toBe(true);
    },
  );

  it.each(SIGNALS)('sim: %s mid-snapshot → exit 130, old file intact, nothing left', async (sig) => {
    const ws = workspace(`sim-${sig}`);
    let sent = false;
    const r = await runCli(
      ['sim', '--size', '4GiB', '--sink-profile', 'slow:200MB/s', '--out', ws.out, '--force'],
      {
        env: { TMPDIR: ws.tmp },
        onStderr: (child, stderr) => {
          if (sent || !/progress/.test(stderr)) return;
          sent = true;
          setTimeout(() => child.kill(sig), 100);
        },
      },
    );
    expect(r.code, r.stderr).toBe(130);
    await expectOneOutcome(r, ws);
  });

  it.each(['restore', 'restore-commit'].flatMap((phase) => SIGNALS.map((sig) => [phase, sig] as const)))(
    'restore: %s at phase %s → exit 130, old image intact, nothing left',
    async (phase, sig) => {
      const ws = workspace(`restore-${phase}-${sig}`);
      const hook = signalAtPhase(phase, sig);
      const r = await runCli(['restore', snapshotFile, '--out', ws.out, '--force'], {
        ...hook,
        env: { ...hook.env, TMPDIR: ws.tmp },
      });
      expect(r.code, r.stderr).toBe(130);
      await expectOneOutcome(r, ws);
    },
  );

  it('restore: signals after varied delays → 130 with the old image, or 0 with the full image', async () => {
    for (const [i, delay] of [60, 150, 250, 400, 600, 900].entries()) {
      const ws = workspace(`restore-delay-${delay}`);
      const r = await runCli(['restore', snapshotFile, '--out', ws.out, '--force'], {
        env: { TMPDIR: ws.tmp },
        onSpawn: (child) => {
          setTimeout(() => child.kill(SIGNALS[i % SIGNALS.length]!), delay);
        },
      });
      if (r.code === 0) expect(readFileSync(ws.out).length).toBe(8 * 2 ** 20);
      else {
        expect(r.code === 130 || r.signal !== null, r.stderr).toBe(true);
        expect(readFileSync(ws.out).equals(OLD)).toBe(true);
      }
      expect(leftovers(ws.dir)).toEqual([]);
    }
  });

  it('restore: a file that appears at the output meanwhile is never replaced', async () => {
    const ws = workspace('restore-race-new');
    unlinkSync(ws.out);
    const theirs = Buffer.from('created by someone else while restore ran\n');
    let planted = false;
    const resume = join(ws.dir, 'resume');
    const r = await runCli(['restore', snapshotFile, '--out', ws.out], {
      env: { BGSNAP_TEST_PAUSE_AT: 'restore-commit', BGSNAP_TEST_RESUME_FILE: resume },
      onStderr: (_child, stderr) => {
        if (planted || !stderr.includes('bgsnap-test-paused:restore-commit')) return;
        planted = true;
        writeFileSync(ws.out, theirs);
        writeFileSync(resume, '');
      },
    });
    unlinkSync(resume);
    expect(planted).toBe(true);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/appeared/);
    expect(readFileSync(ws.out).equals(theirs)).toBe(true);
    expect(leftovers(ws.dir)).toEqual([]);
  });

  it('restore --force: a file swapped in at the output meanwhile is not the one --force allowed replacing', async () => {
    const ws = workspace('restore-race-swap');
    const theirs = Buffer.from('swapped in by someone else while restore ran\n');
    let swapped = false;
    const resume = join(ws.dir, 'resume');
    const r = await runCli(['restore', snapshotFile, '--out', ws.out, '--force'], {
      env: { BGSNAP_TEST_PAUSE_AT: 'restore-commit', BGSNAP_TEST_RESUME_FILE: resume },
      onStderr: (_child, stderr) => {
        if (swapped || !stderr.includes('bgsnap-test-paused:restore-commit')) return;
        swapped = true;
        unlinkSync(ws.out);
        writeFileSync(join(ws.dir, 'spare'), OLD); // keeps the old inode number from being reused
        writeFileSync(ws.out, theirs);
        writeFileSync(resume, '');
      },
    });
    unlinkSync(resume);
    expect(swapped).toBe(true);
    expect(r.code, r.stderr).toBe(2);
    expect(readFileSync(ws.out).equals(theirs)).toBe(true);
    expect(leftovers(ws.dir)).toEqual([]);
  });
});
