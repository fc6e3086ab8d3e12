import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreError } from '../errors.js';
import { FLAG_ZERO } from '../format.js';
import { Crafter } from '../testing/craft.js';
import { restoreSnapshotToFile } from './restore.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bgsnap-restore-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Largest file in the folder, bytes (apparent size: what a sparse truncate would show). */
async function largestFile(): Promise<number> {
  let max = 0;
  for (const name of await readdir(dir)) max = Math.max(max, (await stat(join(dir, name))).size);
  return max;
}

/** A source that yields `head`, then waits for `release()` before yielding `tail` (if any). */
function pausedSource(head: Uint8Array, tail?: Uint8Array) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reachedGate!: () => void;
  const atGate = new Promise<void>((resolve) => {
    reachedGate = resolve;
  });
  async function* source() {
    yield head;
    reachedGate();
    await gate;
    if (tail) yield tail;
  }
  return { source: source(), release, atGate };
}

// One region of 2^40 pages of 4096 bytes: 2^52 bytes (4 PiB) declared by a 60-odd-byte header.
const huge = [{ name: 'm', pageSize: 4096, pageCount: 2 ** 40 }];

describe('restoreSnapshotToFile resource use', () => {
  it('does not size the image from the unverified header', async () => {
    const header = new Crafter(huge).bytes();
    const { source, release, atGate } = pausedSource(header);
    const done = restoreSnapshotToFile(source, join(dir, 'huge.raw'), { maxImageBytes: 2 ** 52 }).catch(
      (e: unknown) => e,
    );
    await atGate;
    await new Promise((r) => setTimeout(r, 50));
    // The header has been read; nothing verified names a page yet, so the image is still empty.
    expect(await largestFile()).toBe(0);
    release();
    expect(await done).toMatchObject({ code: 'TRUNCATED' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses an image larger than maxImageBytes with a typed error, leaving nothing', async () => {
    const bytes = new Crafter([{ name: 'm', pageSize: 4096, pageCount: 1024 }])
      .record({ flags: FLAG_ZERO, region: 0, count: 256, first: 0 })
      .bytes();
    const error = await restoreSnapshotToFile(bytes, join(dir, 'big.raw'), {
      maxImageBytes: 4096 * 1024 - 1,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreError);
    expect(error).toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('an image of zero pages reaches its full size only after the trailer verified', async () => {
    const c = new Crafter([{ name: 'm', pageSize: 4096, pageCount: 512 }]);
    c.record({ flags: FLAG_ZERO, region: 0, count: 256, first: 256 });
    c.record({ flags: FLAG_ZERO, region: 0, count: 256, first: 0 });
    c.trailer({ regionCount: 1, recordCount: 2, pageCount: 512, zeroPageCount: 512, payloadBytes: 0 });
    const bytes = c.bytes();
    const path = join(dir, 'zeros.raw');
    const image = await restoreSnapshotToFile(bytes, path);
    expect(image.bytes).toBe(512 * 4096);
    const data = await readFile(path);
    expect(data.length).toBe(512 * 4096);
    expect(data.every((b) => b === 0)).toBe(true);
    await rm(path);
  });

  it('an AbortSignal stops a restore waiting on its source, removes the temporary image and rejects at once', async () => {
    const c = new Crafter([{ name: 'm', pageSize: 4096, pageCount: 4 }]);
    c.record({ flags: 0, region: 0, count: 2, first: 0, payload: new Uint8Array(8192).fill(7) });
    const { source, release, atGate } = pausedSource(c.bytes());
    const controller = new AbortController();
    const done = restoreSnapshotToFile(source, join(dir, 'aborted.raw'), { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await atGate;
    await new Promise((r) => setTimeout(r, 50));
    expect((await readdir(dir)).length).toBe(1); // the temporary image, holding the first record
    const started = Date.now();
    controller.abort(new Error('SIGINT'));
    const error = await done;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(RestoreError);
    expect(error).toMatchObject({ code: 'ABORTED' });
    expect((error as Error).cause).toMatchObject({ message: 'SIGINT' });
    expect(await readdir(dir)).toEqual([]);
    release();
  });

  it('rejects at once for a signal already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      restoreSnapshotToFile(new Uint8Array(10), join(dir, 'x.raw'), { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('never replaces a device, FIFO or folder with an image (BAD_TARGET), and keeps a symlink a link', async () => {
    const c = new Crafter([{ name: 'm', pageSize: 4096, pageCount: 1 }]);
    c.record({ flags: FLAG_ZERO, region: 0, count: 1, first: 0 });
    c.trailer({ regionCount: 1, recordCount: 1, pageCount: 1, zeroPageCount: 1, payloadBytes: 0 });
    const bytes = c.bytes();
    const fifo = join(dir, 'image.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const target of [fifo, dir]) {
      await expect(restoreSnapshotToFile(bytes, target)).rejects.toMatchObject({ code: 'BAD_TARGET' });
    }
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    const real = join(dir, 'real.raw');
    await writeFile(real, 'old');
    const link = join(dir, 'link.raw');
    await symlink(real, link);
    await restoreSnapshotToFile(bytes, link);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect((await stat(real)).size).toBe(4096);
    await rm(fifo);
    await rm(link);
    await rm(real);
  });

  it('validates maxImageBytes', async () => {
    await expect(
      restoreSnapshotToFile(new Uint8Array(0), join(dir, 'y.raw'), { maxImageBytes: -1 }),
    ).rejects.toThrow(/maxImageBytes/);
  });
});

/** Mounts a 256 KiB tmpfs for the free-space check; needs root and CAP_SYS_ADMIN, else undefined. */
function smallFileSystem(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const mnt = execFileSync('mktemp', ['-d']).toString().trim();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
    return mnt;
  } catch {
    execFileSync('rmdir', [mnt]);
    return undefined;
  }
}

describe('restoreSnapshotToFile free space', () => {
  const mnt = smallFileSystem();
  afterAll(() => {
    if (mnt) execFileSync('sh', ['-c', `umount "${mnt}" && rmdir "${mnt}"`]);
  });

  it.skipIf(!mnt)(
    'checks free space before writing data, with a typed error (needs root to mount a small tmpfs)',
    async () => {
      const c = new Crafter([{ name: 'm', pageSize: 4096, pageCount: 128 }]);
      c.record({ flags: 0, region: 0, count: 128, first: 0, payload: new Uint8Array(128 * 4096).fill(1) });
      c.trailer({
        regionCount: 1,
        recordCount: 1,
        pageCount: 128,
        zeroPageCount: 0,
        payloadBytes: 128 * 4096,
      });
      const error = await restoreSnapshotToFile(c.bytes(), join(mnt!, 'image.raw')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RestoreError);
      expect(error).toMatchObject({ code: 'NO_SPACE' });
      expect((error as Error).message).toMatch(/bytes free, fewer than the 524288 bytes/);
      expect(await readdir(mnt!)).toEqual([]);
    },
  );
});
