import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSnapshotWriter, fileSink } from '@bgsnap/stream-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliBuilt, leftovers, runCli } from './testing/spawn-cli.js';

// The output rule, broken pipes, untrusted text and documented exit codes, on the built CLI.
let dir = '';
let small = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-output-'));
  chmodSync(dir, 0o755);
  if (!cliBuilt) return;
  small = join(dir, 'small.bgsnap');
  const r = await runCli(['sim', '--size', '1MiB', '--out', small, '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIM = ['sim', '--size', '1MiB', '--no-progress'];
/** A command whose default output is a temporary file (sim, and run on the simulator, write none). */
const RUN_TO_TMP = ['run', '--backend', 'uffd', '--size', '1MiB', '--writers', '1', '--no-progress'];
const isRoot = process.getuid?.() === 0;
/**
 * The uid-nobody cases need `nobody` to reach the built CLI: a checkout under a folder it cannot
 * traverse (a mktemp clone is 0700) fails them for reasons unrelated to what they test, so they
 * skip there, saying why.
 */
const nobodyReachesCli =
  isRoot &&
  spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(CLI)})`], {
    uid: 65534,
    gid: 65534,
  }).status === 0;
const uffdAvailable = await import('@bgsnap/fault-source-uffd')
  .then((m) => m.probeUffd().available)
  .catch(() => false);

describe.skipIf(!cliBuilt)('the output rule (run, sim, restore)', () => {
  it.each([
    [[...SIM, '--out']],
    [['run', '--backend', 'sim', '--size', '1MiB', '--no-progress', '--out']],
    [['restore', 'SMALL', '--out']],
  ])('%j: an existing file is refused without --force (exit 2, named, untouched)', async (args) => {
    const out = join(dir, `existing-${args[0]}.file`);
    writeFileSync(out, 'keep me');
    const r = await runCli([...args.map((a) => (a === 'SMALL' ? small : a)), out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(out);
    expect(r.stderr).toContain('--force');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const forced = await runCli([...args.map((a) => (a === 'SMALL' ? small : a)), out, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(7);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(leftovers(dir)).toEqual([]);
  });

  it('--force through a symlink replaces the file it names; the link stays a link', async () => {
    const real = join(dir, 'linked-real.bgsnap');
    const link = join(dir, 'linked.bgsnap');
    writeFileSync(real, 'old');
    symlinkSync(real, link);
    const r = await runCli([...SIM, '--out', link, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect((await runCli(['verify', real])).code).toBe(0);
  });

  it.skipIf(!isRoot)('sim --out /dev/null writes into the device and never replaces it', async () => {
    const before = statSync('/dev/null');
    const r = await runCli([...SIM, '--out', '/dev/null']);
    expect(r.code, r.stderr).toBe(0);
    const after = statSync('/dev/null');
    expect(after.isCharacterDevice()).toBe(true);
    expect(after.ino).toBe(before.ino);
    expect(after.mode).toBe(before.mode);
  });

  it('sim --out <fifo> streams the verified snapshot into the FIFO', async () => {
    const fifo = join(dir, 'stream.fifo');
    execFileSync('mkfifo', [fifo]);
    const received = join(dir, 'from-fifo.bgsnap');
    const reader = spawn('sh', ['-c', `cat "${fifo}" > "${received}"`]);
    const readerDone = new Promise((resolve) => reader.on('close', resolve));
    const r = await runCli([...SIM, '--out', fifo]);
    await readerDone;
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect((await runCli(['verify', received])).code).toBe(0);
  });

  it.each([
    ['restore to a device (needs seeking)', ['restore', 'SMALL', '--out', '/dev/null']],
    ['a folder', [...SIM, '--out', 'DIR']],
    ['a trailing slash to a missing folder', [...SIM, '--out', 'DIR/missing-folder/']],
    ['restore into a folder', ['restore', 'SMALL', '--out', 'DIR']],
  ])('%s → exit 2, nothing written', async (_what, args) => {
    const before = readdirSync(dir).sort();
    const r = await runCli(args.map((a) => (a === 'SMALL' ? small : a.replace(/^DIR/, dir))));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^bgsnap: --out: /);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

describe.skipIf(!cliBuilt)('broken pipes', () => {
  it.each([['inspect'], ['verify']])('%s with stdout closed early exits quietly', async (cmd) => {
    const child = spawn(process.execPath, [CLI, cmd, small], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first line (`| head -0`)
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it.skipIf(!uffdAvailable)(
    'run with stderr and stdout closed mid-way completes, keeps a verified file, leaves no temp file',
    async () => {
      const out = join(dir, 'closed-pipes.bgsnap');
      const child = spawn(
        process.execPath,
        [
          CLI,
          'run',
          '--size',
          '32MiB',
          '--writers',
          '1',
          '--limiter',
          'token-bucket:rate=16MiB/s,burst=1MiB',
          '--out',
          out,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // The first progress line proves the snapshot is under way; then both readers go away.
      child.stderr.once('data', () => {
        child.stderr.destroy();
        child.stdout.destroy();
      });
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
      expect((await runCli(['verify', out])).code).toBe(0);
      expect(leftovers(dir)).toEqual([]);
    },
  );
});

describe.skipIf(!cliBuilt)('untrusted text reaches the terminal escaped', () => {
  const evilName = 'r\x1b[2J\x1b[H\nfake.bgsnap: valid, complete snapshot\u202e\x9b31m';
  const evilWriter = 'w\x07\x1b]0;title\x07\u2066';
  let crafted = '';
  beforeAll(async () => {
    crafted = join(dir, 'crafted.bgsnap');
    const writer = createSnapshotWriter({
      regions: [{ name: evilName, pageSize: 4096, pageCount: 2 }],
      sink: fileSink(crafted),
      writerId: evilWriter,
    });
    writer.writePages(0, 0, new Uint8Array(8192).fill(7));
    await writer.finish();
  });

  it.each([['inspect'], ['verify']])('%s: no control character in human output; JSON exact', async (cmd) => {
    const r = await runCli([cmd, crafted]);
    expect(r.code, r.stderr).toBe(0);
    const body = r.stdout.slice(0, -1); // the final newline is ours
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(body).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2066]/u);
    // One verdict line (the only one not indented); the fake one stays inside the region's line.
    expect(body.split('\n').filter((l) => !/^\s/.test(l))).toHaveLength(1);
    expect(body).toContain('\\x1b[2J');
    expect(body).toContain('\\u{202e}');
    const json = JSON.parse((await runCli([cmd, crafted, '--json'])).stdout);
    expect(json.header.regions[0].name).toBe(evilName);
    expect(json.header.writerId).toBe(evilWriter);
  });

  it('restore: the region names it prints are escaped too', async () => {
    const r = await runCli(['restore', crafted, '--out', join(dir, 'crafted.img')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).toContain('\\x1b[2J');
  });
});

describe.skipIf(!cliBuilt)('exit codes and messages as documented', () => {
  it.skipIf(!nobodyReachesCli)(
    'an unreadable input → exit 2 "cannot read" (as root, through uid nobody: skipped where nobody cannot reach the CLI)',
    async () => {
      const locked = join(dir, 'locked.bgsnap');
      writeFileSync(locked, readFileSync(small));
      chmodSync(locked, 0o000);
      const r = await runCli(['verify', locked], { uid: 65534, gid: 65534 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`cannot read ${locked}`);
    },
  );

  it('a missing input → exit 2 "cannot read"', async () => {
    const r = await runCli(['inspect', join(dir, 'nope.bgsnap')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*nope\.bgsnap: it does not exist/);
  });

  it('an unusable TMPDIR → exit 2 naming the folder', async () => {
    const notAFolder = join(dir, 'tmp-is-a-file');
    writeFileSync(notAFolder, '');
    const r = await runCli(RUN_TO_TMP, { env: { TMPDIR: notAFolder } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`cannot create a temporary folder in ${notAFolder}`);
  });

  it.skipIf(!nobodyReachesCli)(
    'a TMPDIR we may not write → exit 2 naming the folder (as root, through uid nobody: skipped where nobody cannot reach the CLI)',
    async () => {
      const ro = join(dir, 'read-only-tmp');
      mkdirSync(ro, { mode: 0o555 });
      chmodSync(ro, 0o555);
      const r = await runCli(RUN_TO_TMP, { env: { TMPDIR: ro }, uid: 65534, gid: 65534 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`cannot create a temporary folder in ${ro}: EACCES`);
    },
  );

  it.each([
    ['bandwidth=1MB/s,bandwidth=2GB/s', 'bandwidth'],
    ['periodic:50ms/250ms+periodic:10ms/1s', 'stall'],
  ])('a sink profile naming a key twice (%s) → exit 2', async (profile, key) => {
    const r = await runCli([...SIM, '--sink-profile', profile]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`--sink-profile: '${key}' is given more than once`);
  });

  it('nothing is left behind by a refused command', () => {
    expect(leftovers(dir)).toEqual([]);
    expect(existsSync(join(dir, 'missing-folder'))).toBe(false);
  });
});
