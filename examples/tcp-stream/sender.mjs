// Snapshots live TrackedMemory, with writer threads writing all along, straight to a TCP receiver:
//   node sender.mjs --to 127.0.0.1:9000 [--size 16MiB] [--writers 2] [--reference ref.bin]
// --reference writes the memory as it was at the snapshot's start (writers paused), to compare with
// what the receiver restored.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { fillMemory, parseInteger, parseSize, snapshot, WRITER_CONTROL } from 'bgsnap';

let args;
try {
  const { values } = parseArgs({
    options: {
      to: { type: 'string', default: '127.0.0.1:9000' },
      size: { type: 'string', default: '16MiB' },
      writers: { type: 'string', default: '2' },
      reference: { type: 'string' },
    },
  });
  const to = /^(.+):(\d+)$/.exec(values.to);
  if (!to) throw new Error(`--to: expected host:port, got '${values.to}'`);
  args = {
    host: to[1],
    port: parseInteger('--to port', to[2], 1, 65535),
    size: parseSize('--size', values.size, 64 << 10, 1 << 30, 4096),
    writers: parseInteger('--writers', values.writers, 0, 16),
    reference: values.reference,
  };
} catch (error) {
  console.error(`sender: ${error.message}`);
  process.exit(2);
}

const memory = TrackedMemory.allocate(args.size);
const block = memory.block(0);
fillMemory(memory, 1); // varied contents: some zero pages, some repetitive, some random
const control = new Int32Array(new SharedArrayBuffer(64));
const writers = Array.from({ length: args.writers }, (_, i) =>
  new Worker(new URL('./writer.mjs', import.meta.url), {
    workerData: { handle: memory.handle, control, seed: i + 1, rate: 20_000 },
  }).on('error', (error) => {
    console.error(`sender: writer ${i} failed: ${error.message}`);
    process.exit(1);
  }),
);

// Pausing the writers around write-protection makes the image the memory at one instant; that
// instant is what --reference records.
let reference;
const quiesce = {
  async pause() {
    Atomics.store(control, WRITER_CONTROL.command, 1);
    while (Atomics.load(control, WRITER_CONTROL.parked) < args.writers)
      await Atomics.waitAsync(control, WRITER_CONTROL.parked, Atomics.load(control, WRITER_CONTROL.parked), 5)
        .value;
    if (args.reference) reference = Buffer.from(block); // a copy
  },
  resume() {
    Atomics.store(control, WRITER_CONTROL.command, 0);
    Atomics.notify(control, WRITER_CONTROL.command);
  },
};

const target = `${args.host}:${args.port}`;
try {
  const report = await snapshot({
    memory,
    to: { kind: 'tcp', host: args.host, port: args.port },
    quiesce,
    limiter: 'latency-target',
  });
  const ms = (report.durationNs / 1e6).toFixed(1);
  console.log(
    `sent ${report.pages.total} pages (${report.bytes.stream} stream bytes) to ${target} in ${ms} ms; ${report.pages.faulted} pages faulted`,
  );
  if (reference) {
    writeFileSync(args.reference, reference, { mode: 0o600 });
    let changed = 0;
    for (let at = 0; at < block.length; at += 4096)
      if (Buffer.compare(reference.subarray(at, at + 4096), block.subarray(at, at + 4096)) !== 0) changed++;
    console.log(`reference written to ${args.reference}; the writers have changed ${changed} pages since`);
  }
} catch (error) {
  // snapshot() has already stopped the save loop, released every page and resumed the writers.
  console.error(
    `sender: cannot send the snapshot to ${target}: ${error.message}${error.code ? ` (${error.code})` : ''}`,
  );
  process.exitCode = 1;
} finally {
  Atomics.store(control, WRITER_CONTROL.command, 2);
  Atomics.notify(control, WRITER_CONTROL.command);
  await Promise.all(writers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  memory.release();
}
