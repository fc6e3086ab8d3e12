import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand, parseInfo, parseReply, RespError, type RespValue } from './resp.js';

/** Encodes a reply the way a server would, for round trips through the parser. */
function encodeReply(v: RespValue): Buffer {
  if (v === null) return Buffer.from('$-1\r\n');
  if (typeof v === 'number') return Buffer.from(`:${v}\r\n`);
  if (typeof v === 'string') return Buffer.from(`+${v}\r\n`);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
  return Buffer.concat([Buffer.from(`*${v.length}\r\n`), ...v.map(encodeReply)]);
}

const reply: fc.Arbitrary<RespValue> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.integer(),
    fc.stringMatching(/^[ -~]{0,20}$/),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value as fc.Arbitrary<RespValue>;

describe('RESP', () => {
  it('encodes a command as an array of bulk strings, binary-safe', () => {
    expect(encodeCommand(['SET', 'k', Buffer.from([0, 13, 10])]).toString('latin1')).toBe(
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\x00\r\n\r\n',
    );
  });

  it('property: every reply parses back to itself, and every strict prefix is incomplete', () => {
    fc.assert(
      fc.property(reply, (v) => {
        const wire = encodeReply(v);
        const whole = parseReply(wire);
        expect(whole?.end).toBe(wire.length);
        expect(whole?.value).toEqual(v);
        for (let n = 0; n < wire.length; n++) expect(parseReply(wire.subarray(0, n))).toBeUndefined();
      }),
    );
  });

  it('turns error replies into RespError and rejects an unknown type byte', () => {
    const r = parseReply(Buffer.from('-ERR unknown command\r\n'));
    expect(r?.value).toBeInstanceOf(RespError);
    expect((r?.value as RespError | undefined)?.message).toBe('ERR unknown command');
    expect(() => parseReply(Buffer.from('?x\r\n'))).toThrow(/unexpected reply type/);
  });

  it('reads INFO sections into key/value pairs', () => {
    const info = parseInfo(Buffer.from('# Stats\r\nlatest_fork_usec:1234\r\nrdb_last_cow_size:4096\r\n\r\n'));
    expect(info.get('latest_fork_usec')).toBe('1234');
    expect(info.get('rdb_last_cow_size')).toBe('4096');
    expect(info.has('# Stats')).toBe(false);
  });
});
