import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../errors.js';
import { restoreSnapshot } from '../reader/restore.js';
import { verifySnapshot } from '../reader/verify.js';
import { createSnapshotWriter, type SnapshotWriter } from '../writer.js';
import { discardSink } from './discard-sink.js';
import { fdSink } from './fd-sink.js';
import { fileSink } from './file-sink.js';
import type { Sink } from './sink.js';
import { tcpSink } from './tcp-sink.js';
import { writableSink } from './writable-sink.js';

const regions = [{ name: 'mem', pageSize: 4096, pageCount: 512 }];
const mem = new Uint8Array(4096 * 512);
randomFillSync(mem, 0, 4096 * 300);

/** Writes the whole region in 16-page runs, honouring backpressure. */
async function writeSnapshot(sink: Sink, batchBytes = 64 * 1024): Promise<SnapshotWriter> {
  const w = createSnapshotWriter({ regions, sink, batchBytes, highWaterMark: 4 * batchBytes });
  for (let p = 0; p < 512; p += 16) {
    w.writePages(0, p, mem.subarray(p * 4096, (p + 16) * 4096));
    if (w.needsDrain) await w.drain();
  }
  return w;
}

/** Writes until the writer fails; returns the error. */
async function writeUntilFailure(sink: Sink): Promise<unknown> {
  try {
    const w = await writeSnapshot(sink);
    await w.finish();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function expectRestores(bytes: Uint8Array): Promise<void> {
  const r = await restoreSnapshot(bytes, { expectRegions: regions });
  expect(Buffer.compare(r.regions[0]!.data, mem)).toBe(0);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bgsnap-sinks-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fileSink', () => {
  it('writes under a temporary name and renames into place only on finish', async () => {
    const path = join(dir, 'a.bgsnap');
    const sink = fileSink(path);
    const w = await writeSnapshot(sink);
    await w.flush();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(sink.tempPath)).toBe(true);
    await w.finish();
    expect(existsSync(sink.tempPath)).toBe(false);
    await expectRestores(await readFile(path));
  });

  it('creates the file 0600 whatever the umask, or with the mode asked for', async () => {
    const old = process.umask(0o077);
    try {
      process.umask(0o000);
      const open = join(dir, 'umask0.bgsnap');
      await (await writeSnapshot(fileSink(open))).finish();
      expect((await stat(open)).mode & 0o7777).toBe(0o600);
      process.umask(0o277);
      const group = join(dir, 'group.bgsnap');
      await (await writeSnapshot(fileSink(group, { mode: 0o640 }))).finish();
      expect((await stat(group)).mode & 0o7777).toBe(0o640);
    } finally {
      process.umask(old);
    }
  });

  it('leaves nothing behind on abort', async () => {
    const path = join(dir, 'aborted.bgsnap');
    const sink = fileSink(path);
    const w = await writeSnapshot(sink);
    await w.flush();
    await w.abort(new Error('cancelled'));
    expect(existsSync(path)).toBe(false);
    expect(existsSync(sink.tempPath)).toBe(false);
  });

  it('fails with a SinkError and leaves nothing when the rename fails', async () => {
    const sub = await mkdtemp(join(dir, 'vanishing-'));
    const path = join(sub, 'x.bgsnap');
    const w = await writeSnapshot(fileSink(path));
    await w.flush();
    await rm(sub, { recursive: true, force: true });
    const err = await w.finish().catch((e) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect(err.code).toBe('ENOENT');
    expect(existsSync(path)).toBe(false);
  });

  it('a write the file system refuses (EFBIG under a file-size limit, the ENOSPC path) leaves no file at all', async () => {
    // A child process with RLIMIT_FSIZE and SIGXFSZ ignored: write(2) fails mid-snapshot, as on a full disk.
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error('build the package first (this test runs the built dist/)');
    const sub = await mkdtemp(join(dir, 'fsize-'));
    const script = `
      import { readdirSync } from 'node:fs';
      import { createSnapshotWriter, fileSink } from ${JSON.stringify(dist)};
      const w = createSnapshotWriter({ regions: [{ name: 'm', pageSize: 4096, pageCount: 512 }],
        sink: fileSink(${JSON.stringify(join(sub, 'big.bgsnap'))}), batchBytes: 65536 });
      const page = new Uint8Array(4096);
      let error;
      try {
        for (let p = 0; p < 512; p++) { page.fill((p % 250) + 1); w.writePages(0, p, page); if (w.needsDrain) await w.drain(); }
        await w.finish();
      } catch (e) { error = e; }
      console.log(JSON.stringify({ name: error?.name, code: error?.code, files: readdirSync(${JSON.stringify(sub)}) }));`;
    const child = spawn(
      'sh',
      ['-c', 'trap "" XFSZ; ulimit -f 200; exec "$0" --input-type=module -e "$1"', process.execPath, script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    expect(JSON.parse(out)).toEqual({ name: 'SinkError', code: 'EFBIG', files: [] });
  });

  it('fails at once when the folder does not exist', async () => {
    const err = await writeUntilFailure(fileSink(join(dir, 'missing', 'x.bgsnap')));
    expect(err).toMatchObject({ name: 'SinkError', code: 'ENOENT', operation: 'open' });
  });

  it('validates its arguments', () => {
    expect(() => fileSink('')).toThrow(RangeError);
    expect(() => fileSink(join(dir, 'y'), { mode: 0o10000 })).toThrow(/options.mode/);
  });
});

describe('fdSink', () => {
  it('reports ENOSPC from /dev/full as a SinkError', async () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const err = await writeUntilFailure(fdSink(fd));
      expect(err).toBeInstanceOf(SinkError);
      expect((err as SinkError).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
  });

  it('streams through a pipe (FIFO) to a reader process', async () => {
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const out = join(dir, 'from-fifo.bgsnap');
    const cat = spawn('sh', ['-c', `cat "${fifo}" > "${out}"`]);
    const exited = new Promise((resolve) => cat.on('exit', resolve));
    const fd = openSync(fifo, 'w');
    try {
      await (await writeSnapshot(fdSink(fd))).finish();
    } finally {
      closeSync(fd);
    }
    expect(await exited).toBe(0);
    await expectRestores(await readFile(out));
  });

  it('reports EPIPE when the reading end goes away', async () => {
    const fifo = join(dir, 'fifo-epipe');
    spawnSync('mkfifo', [fifo]);
    const head = spawn('sh', ['-c', `head -c 1000 "${fifo}" > /dev/null`]);
    const exited = new Promise((resolve) => head.on('exit', resolve));
    const fd = openSync(fifo, 'w');
    try {
      const err = await writeUntilFailure(fdSink(fd));
      expect(err).toMatchObject({ name: 'SinkError', code: 'EPIPE' });
    } finally {
      closeSync(fd);
    }
    expect(await exited).toBe(0);
  });

  it('writes a snapshot to stdout of a child process (fd 1)', async () => {
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error('build the package first (tests of fd 1 run the built dist/)');
    const script = `
      import { createSnapshotWriter, fdSink } from ${JSON.stringify(dist)};
      const w = createSnapshotWriter({ regions: [{ name: 'c', pageSize: 4096, pageCount: 300 }], sink: fdSink(1), batchBytes: 65536 });
      const page = new Uint8Array(4096);
      for (let p = 0; p < 300; p++) { page.fill(p & 0xff); w.writePages(0, p, page); if (w.needsDrain) await w.drain(); }
      await w.finish();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const r = await restoreSnapshot(new Uint8Array(Buffer.concat(chunks)));
    const data = r.regions[0]!.data;
    for (let p = 0; p < 300; p++) expect(data[p * 4096 + 4095]).toBe(p & 0xff);
  });

  it('validates the fd', () => {
    expect(() => fdSink(-1)).toThrow(RangeError);
  });
});

describe('tcpSink', () => {
  let server: Server;
  let port: number;
  const received = new Map<number, Promise<{ bytes: Uint8Array; error?: string }>>();
  let next = 0;
  let onConnection: (socket: Socket) => void = () => undefined;

  beforeAll(async () => {
    server = createServer((socket) => onConnection(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const collect = (socket: Socket) => {
    const id = next++;
    received.set(
      id,
      new Promise((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve({ bytes: new Uint8Array(Buffer.concat(chunks)) }));
        socket.on('error', (e: NodeJS.ErrnoException) =>
          resolve({ bytes: Buffer.concat(chunks), error: e.code }),
        );
      }),
    );
  };

  it('streams a snapshot to a local server', async () => {
    onConnection = collect;
    const id = next;
    await (await writeSnapshot(tcpSink({ host: '127.0.0.1', port }))).finish();
    const got = await received.get(id)!;
    await expectRestores(got.bytes);
  });

  it('resets the connection on abort, so the receiver sees an error and no valid snapshot', async () => {
    // Reset only once the server reads: a RST that beats accept() surfaces as a clean EOF on Linux.
    let reading!: () => void;
    const serverReads = new Promise<void>((resolve) => {
      reading = resolve;
    });
    onConnection = (socket) => {
      collect(socket);
      socket.once('data', () => reading());
    };
    const id = next;
    const w = await writeSnapshot(tcpSink({ host: '127.0.0.1', port }));
    await w.flush();
    await serverReads;
    await w.abort();
    const got = await received.get(id)!;
    expect(got.error).toBe('ECONNRESET');
    expect((await verifySnapshot(got.bytes)).ok).toBe(false);
  });

  it('fails with a SinkError when the server resets the connection', async () => {
    onConnection = (socket) => socket.once('data', () => socket.resetAndDestroy());
    const err = await writeUntilFailure(tcpSink({ host: '127.0.0.1', port }));
    expect(err).toBeInstanceOf(SinkError);
    expect(['ECONNRESET', 'EPIPE']).toContain((err as SinkError).code);
  });

  it('validates the port', () => {
    expect(() => tcpSink({ host: '127.0.0.1', port: 0 })).toThrow(/options.port/);
  });

  it('fails with ECONNREFUSED when nobody listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await writeUntilFailure(tcpSink({ host: '127.0.0.1', port: deadPort }));
    expect(err).toMatchObject({ name: 'SinkError', code: 'ECONNREFUSED' });
  });
});

describe('writableSink', () => {
  it('streams into any Writable and reports its backpressure as blocked time', async () => {
    const pt = new PassThrough({ highWaterMark: 16 * 1024 });
    const chunks: Buffer[] = [];
    // A slow consumer: the write callbacks lag, and the writer must see it.
    pt.on('data', (c: Buffer) => {
      chunks.push(c);
      pt.pause();
      setTimeout(() => pt.resume(), 1);
    });
    const w = await writeSnapshot(writableSink(pt));
    const s = await w.finish();
    expect(s.sinkBlockedNs).toBeGreaterThan(0);
    await expectRestores(new Uint8Array(Buffer.concat(chunks)));
  });

  it('maps a stream error (ENOSPC) to a SinkError and destroys the stream', async () => {
    let written = 0;
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (written > 100_000) cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
        else cb();
      },
    });
    const err = await writeUntilFailure(writableSink(stream));
    expect(err).toMatchObject({ name: 'SinkError', code: 'ENOSPC' });
    await new Promise((r) => setTimeout(r, 5));
    expect(stream.destroyed).toBe(true);
  });

  it('fails when the stream is destroyed under it', async () => {
    const stream = new Writable({
      write(_chunk, _enc, cb) {
        setTimeout(cb, 1);
      },
    });
    setTimeout(() => stream.destroy(), 5);
    const err = await writeUntilFailure(writableSink(stream));
    expect(err).toBeInstanceOf(SinkError);
  });

  it('keeps a stream open with end: false', async () => {
    const pt = new PassThrough();
    pt.resume();
    await (await writeSnapshot(writableSink(pt, { end: false }))).finish();
    expect(pt.writableEnded).toBe(false);
  });
});

describe('discardSink', () => {
  it('counts and drops the bytes', async () => {
    const sink = discardSink();
    const s = await (await writeSnapshot(sink)).finish();
    expect(sink.bytesWritten).toBe(s.streamBytes);
  });
});
