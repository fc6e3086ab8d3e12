import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeUffd } from '@bgsnap/fault-source-uffd';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tcp-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the receiver on a free port; resolves once it listens. */
async function startReceiver(...args: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [join(here, 'receiver.mjs'), '--port', '0', ...args],
    {
      cwd: dir,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`receiver exited: ${stderr}`)));
  });
  return { port, done: exited.then((code) => ({ code, stdout, stderr })) };
}

const send = (...args: string[]) =>
  spawnSync(process.execPath, [join(here, 'sender.mjs'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
  });

/** A port nothing listens on: one the system just handed out and we closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// The sender allocates TrackedMemory: its runs need userfaultfd; the receiver does not.
const native = probeUffd().available;

describe('tcp-stream', () => {
  it.skipIf(!native)(
    'streams a snapshot of memory under live writers; the receiver restores exactly the memory at the start',
    async () => {
      const receiver = await startReceiver('--out', 'image.bin');
      const sender = send(
        '--to',
        `127.0.0.1:${receiver.port}`,
        '--size',
        '16MiB',
        '--writers',
        '2',
        '--reference',
        'ref.bin',
      );
      expect(sender.stderr).toBe('');
      expect(sender.status).toBe(0);
      expect(sender.stdout).toMatch(/^sent 4096 pages .* to 127\.0\.0\.1:\d+ in/);
      // The writers really wrote while the snapshot ran, and after it.
      const changed = Number(/have changed (\d+) pages since/.exec(sender.stdout)?.[1]);
      expect(changed).toBeGreaterThan(0);

      const { code, stdout } = await receiver.done;
      expect(code).toBe(0);
      expect(stdout).toMatch(
        /^valid: 4096 pages \(\d+ zero\) from 127\.0\.0\.1:\d+, image image\.bin \(16777216 bytes\)$/m,
      );
      const image = readFileSync(join(dir, 'image.bin'));
      const reference = readFileSync(join(dir, 'ref.bin'));
      expect(image.length).toBe(16 << 20);
      expect(image.equals(reference)).toBe(true);
    },
  );

  it.skipIf(!native)('verifies without writing an image when --out is not given', async () => {
    const receiver = await startReceiver();
    const sender = send('--to', `127.0.0.1:${receiver.port}`, '--size', '1MiB', '--writers', '1');
    expect(sender.status, sender.stderr).toBe(0);
    const { code, stdout } = await receiver.done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^valid: 256 pages /m);
  });

  it.skipIf(!native)('fails with a clear error, exit 1, when no receiver listens', async () => {
    const port = await closedPort();
    const sender = send('--to', `127.0.0.1:${port}`, '--size', '1MiB');
    expect(sender.status).toBe(1);
    expect(sender.stdout).toBe('');
    expect(sender.stderr).toMatch(
      new RegExp(`^sender: cannot send the snapshot to 127\\.0\\.0\\.1:${port}: .*\\(ECONNREFUSED\\)$`, 'm'),
    );
  });

  it('reports an invalid stream, exit 1, and writes no image', async () => {
    const receiver = await startReceiver('--out', 'garbage.bin');
    const socket = connect(receiver.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.end(Buffer.from('BGSNAP\r\n but not really a snapshot'));
    const { code, stdout } = await receiver.done;
    expect(code).toBe(1);
    expect(stdout).toMatch(/^invalid: .*no image written\)$/m);
    expect(existsSync(join(dir, 'garbage.bin'))).toBe(false);
  });

  it('rejects bad options with exit 2', () => {
    const sender = send('--to', 'nowhere');
    expect(sender.status).toBe(2);
    expect(sender.stderr).toContain('--to');
  });
});
