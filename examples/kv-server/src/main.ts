#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { KvServer } from './kv-server.js';
import { parseSize } from './size.js';

const usage = `usage: bgsnap-kv-server [--port 6380] [--host 127.0.0.1] [--size 1GiB] [--slot-bytes 4096]
                        [--dir .] [--mode plain|copy-on-fault|...] [--limiter <spec>]`;

try {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '6380' },
      host: { type: 'string', default: '127.0.0.1' },
      size: { type: 'string', default: '1GiB' },
      'slot-bytes': { type: 'string', default: '4096' },
      dir: { type: 'string', default: '.' },
      mode: { type: 'string', default: 'plain' },
      limiter: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`--port must be 0-65535; got '${values.port}'`);
  const server = new KvServer({
    sizeBytes: parseSize(values.size, '--size'),
    slotBytes: parseSize(values['slot-bytes'], '--slot-bytes'),
    dir: values.dir,
    mode: values.mode,
    limiter: values.limiter,
  });
  const bound = await server.listen(port, values.host);
  // One line a driver can wait for.
  console.log(
    `kv-server listening on ${values.host}:${bound} (${server.store.capacity} slots of ${server.store.slotBytes} bytes)`,
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (e) {
  console.error(`bgsnap-kv-server: ${(e as Error).message}\n${usage}`);
  process.exit(2);
}
