import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeUffd } from '@bgsnap/fault-source-uffd';
import { restoreSnapshot, verifySnapshot } from '@bgsnap/stream-writer';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvServer } from './kv-server.js';
import { RespError, RespParser, type RespValue, resp } from './resp.js';
import { RespClient } from './resp-client.js';

describe('RespParser', () => {
  const arg = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 20 }));
  it('parses any pipelined commands back, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(arg, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (commands, cuts) => {
          const bytes = Buffer.concat(commands.map((c) => resp.command(c)));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const parser = new RespParser(true);
          const out: RespValue[] = [];
          let from = 0;
          for (const to of [...points, bytes.length]) {
            parser.push(bytes.subarray(from, to));
            from = to;
            for (let v = parser.next(); v !== undefined; v = parser.next()) out.push(v);
          }
          expect(out).toEqual(commands.map((c) => c.map((a) => Buffer.from(a))));
        },
      ),
    );
  });

  it('reads every reply type, and inline commands on the server side', () => {
    const replies = new RespParser();
    replies.push(Buffer.from('+OK\r\n-ERR no\r\n:42\r\n$-1\r\n*2\r\n$1\r\na\r\n*-1\r\n$3\r\nab'));
    const out = [replies.next(), replies.next(), replies.next(), replies.next(), replies.next()];
    expect(out[0]).toBe('OK');
    expect(out[1]).toBeInstanceOf(RespError);
    expect(out.slice(2)).toEqual([42, null, [Buffer.from('a'), null]]);
    expect(replies.next()).toBeUndefined(); // the bulk string is incomplete
    replies.push(Buffer.from('c\r\n'));
    expect(replies.next()).toEqual(Buffer.from('abc'));
    const commands = new RespParser(true);
    commands.push(Buffer.from('PING  hi\r\n\r\n*1\r\n$4\r\nPING\r\n'));
    expect([commands.next(), commands.next()]).toEqual([
      [Buffer.from('PING'), Buffer.from('hi')],
      [Buffer.from('PING')],
    ]);
    const bad = new RespParser();
    bad.push(Buffer.from('?\r\n'));
    expect(() => bad.next()).toThrow(/Protocol error/);
  });
});

const native = probeUffd().available;
const SIZE = 16 * 2 ** 20;
const SLOT = 4096;
const KEYS = SIZE / SLOT;
const key = (i: number) => `key:${String(i).padStart(12, '0')}`;

describe.skipIf(!native)('KvServer (needs userfaultfd)', () => {
  let dir: string;
  let server: KvServer;
  let client: RespClient;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bgsnap-kv-test-'));
    server = new KvServer({ sizeBytes: SIZE, dir });
    client = await RespClient.connect(await server.listen(0));
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers what redis-benchmark and redis-cli send', async () => {
    expect(await client.send('PING')).toBe('PONG');
    expect(await client.send('CONFIG', 'GET', 'save')).toEqual([Buffer.from('save'), Buffer.from('')]);
    expect(await client.send('CONFIG', 'GET', 'appendonly')).toEqual([
      Buffer.from('appendonly'),
      Buffer.from('no'),
    ]);
    expect(await client.send('SET', 'a', 'hello')).toBe('OK');
    expect(await client.send('GET', 'a')).toEqual(Buffer.from('hello'));
    expect(await client.send('GET', 'missing')).toBeNull();
    expect(await client.send('DBSIZE')).toBe(1);
    expect(await client.send('DEL', 'a', 'missing')).toBe(1);
    await expect(client.send('SET', 'big', Buffer.alloc(SLOT + 1))).rejects.toThrow(/exceeds the slot size/);
    await expect(client.send('NOPE')).rejects.toThrow(/unknown command 'NOPE'/);
    await expect(client.send('SET', 'a')).rejects.toThrow(/wrong number of arguments for 'SET'/);
    await expect(client.send('BGSAVE', 'MODE', 'bogus')).rejects.toThrow(/mode/);
    expect((await client.info()).get('rdb_bgsave_in_progress')).toBe('0');
  });

  it('refuses a new key once every slot is taken, and takes it again after FLUSHALL', async () => {
    const value = Buffer.alloc(SLOT, 1);
    await Promise.all(Array.from({ length: KEYS }, (_, i) => client.send('SET', key(i), value)));
    await expect(client.send('SET', 'one-more', 'x')).rejects.toThrow(/^OOM/);
    expect(await client.send('FLUSHALL')).toBe('OK');
    expect(await client.send('SET', 'one-more', 'x')).toBe('OK');
  });

  // The image must be memory when BGSAVE replied, although the same connection keeps writing.
  it.each(['plain', 'copy-on-fault'])(
    'BGSAVE in %s mode saves the values as they were, while SETs go on',
    async (mode) => {
      await client.send('FLUSHALL');
      const before = (i: number) => Buffer.alloc(SLOT, (i * 7 + 1) & 0xff);
      const after = (i: number) => Buffer.alloc(SLOT, (i * 7 + 2) & 0xff);
      const pending: Promise<RespValue>[] = [];
      for (let i = 0; i < KEYS; i++) pending.push(client.send('SET', key(i), before(i)));
      const saving = client.send('BGSAVE', 'MODE', mode);
      for (let round = 0; round < 4; round++)
        for (let i = round; i < KEYS; i += 4) pending.push(client.send('SET', key(i), after(i)));
      await Promise.all(pending);
      expect(await saving).toBe('Background saving started');
      while ((await client.info()).get('rdb_bgsave_in_progress') === '1')
        await new Promise((r) => setTimeout(r, 20));

      const info = await client.info();
      expect(info.get('rdb_last_bgsave_status')).toBe('ok');
      expect(Number(info.get('bgsnap_last_save_end_ms'))).toBeGreaterThan(
        Number(info.get('bgsnap_last_save_start_ms')),
      );
      const file = join(dir, 'dump.bgsnap');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await verifySnapshot(file)).ok).toBe(true);
      const image = (await restoreSnapshot(file)).regions[0]!.data;
      const wrong: string[] = [];
      for (let i = 0; i < KEYS; i++) {
        const slot = server.store.slotOf(key(i))!;
        if (!Buffer.from(image.subarray(slot * SLOT, (slot + 1) * SLOT)).equals(before(i)))
          wrong.push(key(i));
        const now = (await client.send('GET', key(i))) as Buffer;
        if (!now.equals(after(i))) wrong.push(`${key(i)} now`);
      }
      expect(wrong).toEqual([]);
      // The SETs after the reply hit write-protected pages: the test did write during the save.
      expect(Number(info.get('bgsnap_last_faulted_pages'))).toBeGreaterThan(0);
    },
  );
});
