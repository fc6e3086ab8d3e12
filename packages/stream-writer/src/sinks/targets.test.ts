import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError, SinkStalledError } from '../errors.js';
import { verifySnapshot } from '../reader/verify.js';
import { createSnapshotWriter } from '../writer.js';
import { fdSink } from './fd-sink.js';
import { fileSink } from './file-sink.js';
import { describeOutputTarget } from './output-target.js';
import type { Sink } from './sink.js';
import { tcpSink } from './tcp-sink.js';

const isRoot = process.getuid?.() === 0;
const PAGE = 4096;

/** A region of `pages` pages of incompressible data, written in 64-page runs honouring backpressure. */
async function snapshot(sink: Sink, pages = 256): Promise<void> {
  const mem = new Uint8Array(PAGE * pages);
  randomFillSync(mem.subarray(0, 1 << 20));
  for (let o = 1 << 20; o < mem.length; o += 1 << 20) mem.copyWithin(o, 0, Math.min(1 << 20, mem.length - o));
  const w = createSnapshotWriter({
    regions: [{ name: 'mem', pageSize: PAGE, pageCount: pages }],
    sink,
    batchBytes: 256 * 1024,
    highWaterMark: 1 << 20,
  });
  for (let p = 0; p < pages; p += 64) {
    w.writePages(0, p, mem.subarray(p * PAGE, Math.min(pages, p + 64) * PAGE));
    if (w.needsDrain) await w.drain();
  }
  await w.finish();
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bgsnap-targets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('describeOutputTarget', () => {
  it('tells missing, regular, folder and special (through symlinks) apart', async () => {
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    const fifo = join(dir, 'kind.fifo');
    execFileSync('mkfifo', [fifo]);
    const link = join(dir, 'link-to-fifo');
    await symlink(fifo, link);
    expect(describeOutputTarget(join(dir, 'nothing'))).toBe('missing');
    expect(describeOutputTarget(file)).toBe('regular');
    expect(describeOutputTarget(dir)).toBe('directory');
    expect(describeOutputTarget(fifo)).toBe('special');
    expect(describeOutputTarget(link)).toBe('special');
    expect(describeOutputTarget('/dev/null')).toBe('special');
  });
});

describe('fileSink on targets that are not regular files', () => {
  it('writes into a FIFO directly: the FIFO stays a FIFO and no temporary file appears', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const received = readFile(fifo);
    const sink = fileSink(fifo);
    expect(sink.target).toBe('special');
    expect(sink.tempPath).toBe(fifo);
    await snapshot(sink);
    const bytes = await received;
    expect((await verifySnapshot(new Uint8Array(bytes))).ok).toBe(true);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('writes into /dev/null without replacing it', async () => {
    const before = statSync('/dev/null');
    // Never write to a /dev/null something else already replaced: that would only replace it again.
    expect(before.isCharacterDevice()).toBe(true);
    await snapshot(fileSink('/dev/null'));
    const after = statSync('/dev/null');
    expect(after.isCharacterDevice()).toBe(true);
    expect(after.ino).toBe(before.ino);
    expect(after.rdev).toBe(before.rdev);
  });

  it.skipIf(!isRoot)(
    'writes into a character device made with mknod (root only: mknod needs CAP_MKNOD)',
    async () => {
      const dev = join(dir, 'null-dev');
      execFileSync('mknod', [dev, 'c', '1', '3']);
      const before = statSync(dev);
      await snapshot(fileSink(dev));
      const after = statSync(dev);
      expect(after.isCharacterDevice()).toBe(true);
      expect(after.ino).toBe(before.ino);
      expect((await readdir(dir)).filter((n) => n.startsWith('.null-dev'))).toEqual([]);
    },
  );

  it('replaces the file a symlink names, never the symlink itself', async () => {
    const real = join(dir, 'real.snap');
    writeFileSync(real, 'old');
    const link = join(dir, 'link.snap');
    await symlink(real, link);
    await snapshot(fileSink(link));
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect((await verifySnapshot(real)).ok).toBe(true);
  });

  it('fails at the first write for a folder, leaving it alone', async () => {
    const sink = fileSink(dir);
    await expect(sink.write(new Uint8Array(1))).rejects.toMatchObject({ code: 'EISDIR' });
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('never deletes a file it did not create: an existing file under its temporary name survives', async () => {
    const path = join(dir, 'victim.snap');
    const sink = fileSink(path);
    writeFileSync(sink.tempPath, 'not yours');
    const error = await sink.write(new Uint8Array(8)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkError);
    expect((error as SinkError).code).toBe('EEXIST');
    await sink.abort();
    expect(await readFile(sink.tempPath, 'utf8')).toBe('not yours');
  });
});

describe('stall deadline', () => {
  let server: Server;
  let port: number;
  const held: Socket[] = [];
  beforeAll(async () => {
    // Accepts and never reads: the kernel buffers fill and the sender's writes stop completing.
    server = createServer({ pauseOnConnect: true }, (s) => {
      held.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails a TCP write the peer never takes with SinkStalledError naming the peer and deadline', async () => {
    const sink = tcpSink({ host: '127.0.0.1', port, stallTimeoutMs: 300 });
    const error = await snapshot(sink, 16384).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkStalledError);
    expect(error).toMatchObject({ code: 'SINK_STALLED', peer: `tcp 127.0.0.1:${port}`, timeoutMs: 300 });
    expect((error as Error).message).toContain(`tcp 127.0.0.1:${port}`);
  }, 20_000);

  it('abort() settles within a second while a TCP write is stuck (deadline disabled)', async () => {
    const sink = tcpSink({ host: '127.0.0.1', port, stallTimeoutMs: 0 });
    const mem = new Uint8Array(PAGE * 16384);
    const w = createSnapshotWriter({
      regions: [{ name: 'mem', pageSize: PAGE, pageCount: 16384 }],
      sink,
      batchBytes: 256 * 1024,
      highWaterMark: 1 << 20,
    });
    const stuck = (async () => {
      for (let p = 0; p < 16384; p += 64) {
        mem.fill(p & 255, p * PAGE, (p + 64) * PAGE);
        w.writePages(0, p, mem.subarray(p * PAGE, (p + 64) * PAGE));
        if (w.needsDrain) await w.drain();
      }
    })().catch(() => undefined);
    // Wait until the writer is blocked on the peer: a drain that does not resolve.
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (w.needsDrain) break;
    }
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await w.abort(new Error('user pressed ^C'));
    await stuck;
    expect(Date.now() - started).toBeLessThan(1000);
  }, 20_000);

  it('fails a blocking pipe write nobody drains (fdSink) with SinkStalledError', async () => {
    const fifo = join(dir, 'stall.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    try {
      const sink = fdSink(writer, { stallTimeoutMs: 200 });
      const error = await sink.write(new Uint8Array(1 << 20)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SinkStalledError);
      expect(error).toMatchObject({ peer: `fd ${writer}`, timeoutMs: 200 });
      await expect(sink.write(new Uint8Array(1))).rejects.toBe(error);
    } finally {
      // Closing the read end ends the blocked write (EPIPE) and frees its thread.
      closeSync(reader);
      setTimeout(() => closeSync(writer), 100);
    }
  });

  it('fails a FIFO nobody opens for reading with SinkStalledError, without holding a thread', async () => {
    const fifo = join(dir, 'nobody.fifo');
    execFileSync('mkfifo', [fifo]);
    const sink = fileSink(fifo, { stallTimeoutMs: 200 });
    const error = await sink.write(new Uint8Array(16)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkStalledError);
    expect(error).toMatchObject({ peer: fifo, operation: 'open' });
    await sink.abort();
    // A reader that comes later finds no writer: the sink gave the FIFO up.
    const late = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    closeSync(late);
  });

  it('validates stallTimeoutMs', () => {
    expect(() => fdSink(1, { stallTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => tcpSink({ host: '127.0.0.1', port: 1, stallTimeoutMs: 1.5 })).toThrow(RangeError);
  });
});
