// A key-value store whose state lives in TrackedMemory, written by worker threads, saved in the
// background every few hundred ms with bgsnap's snapshot(), and loaded back at start-up.
//   node main.mjs --file state.bgsnap [--size 16MiB] [--writers 2] [--every-ms 250] [--snapshots 3] [--digests]
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { loadSnapshot, parseInteger, parseSize, snapshot } from 'bgsnap';
import { openStore } from './store.mjs';
import { PAUSE, RUN, STOP } from './writer.mjs';

/** The command line, checked: a bad value is named and nothing is started (exit 2). */
function readArgs() {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', default: 'state.bgsnap' },
      size: { type: 'string', default: '16MiB' },
      writers: { type: 'string', default: '2' },
      'every-ms': { type: 'string', default: '250' },
      snapshots: { type: 'string', default: '3' },
      digests: { type: 'boolean', default: false }, // sha256 of memory at each snapshot's start and after loading
    },
  });
  return {
    file: values.file,
    size: parseSize('--size', values.size, 64 << 10, 1 << 30, 4096),
    writers: parseInteger('--writers', values.writers, 1, 64),
    every: parseInteger('--every-ms', values['every-ms'], 1, 3_600_000),
    snapshots: parseInteger('--snapshots', values.snapshots, 0, 1_000_000),
    digests: values.digests,
  };
}
let args;
try {
  args = readArgs();
} catch (error) {
  console.error(`persist-state: ${error.message}`);
  process.exit(2);
}

const memory = TrackedMemory.allocate(args.size); // all zeros, as loadSnapshot() expects
const store = openStore(memory);
const digest = () =>
  args.digests ? ` sha256=${createHash('sha256').update(memory.block(0)).digest('hex')}` : '';
const opsList = (writers) => `ops=[${Array.from({ length: writers }, (_, w) => store.opsOf(w)).join(',')}]`;

if (existsSync(args.file)) {
  try {
    // Before any writer starts. Succeeds only once the whole file, trailer and CRC chain, checked out.
    await loadSnapshot({ from: args.file, memory });
    if (!store.header().initialized) throw new Error('it is a snapshot, but not of a persist-state store');
  } catch (error) {
    console.error(`persist-state: cannot load ${args.file}: ${error.message}`);
    console.error('persist-state: not starting, the file is left as it is; move it away to start empty');
    memory.release();
    process.exit(1);
  }
  const entries = [...store.entries()];
  const [key, value] = entries[0] ?? [];
  console.log(`loaded ${args.file}: ${entries.length} keys ${opsList(store.header().writers)}${digest()}`);
  if (key) console.log(`  e.g. ${key} = ${value}`);
} else {
  store.format(args.writers);
  const { writers, slotsPerWriter } = store.header();
  console.log(`new store in ${args.file}: ${writers} writers, ${slotsPerWriter} slots each`);
}
const { writers } = store.header();

// control[0]: the command to the writers; control[1]: how many of them are paused.
const control = new Int32Array(new SharedArrayBuffer(8));
const controller = new AbortController();
const live = new Set();
let writerError;
const exited = [];
for (let writer = 0; args.snapshots > 0 && writer < writers; writer++) {
  const thread = new Worker(new URL('./writer.mjs', import.meta.url), {
    workerData: { handle: memory.handle, control, writer },
  });
  live.add(thread);
  exited.push(new Promise((resolve) => thread.once('exit', () => resolve(live.delete(thread)))));
  thread.once('error', (error) => {
    writerError ??= new Error(`writer ${writer} failed: ${error.message}`);
    controller.abort(writerError);
  });
  await new Promise((resolve) => thread.once('message', resolve).once('exit', resolve));
}

// Writers pause only while the memory is write-protected (well under a millisecond per GiB), so the
// image is the store at one instant. With --digests that instant is recorded, for checking.
let atStart = '';
const quiesce = {
  async pause() {
    Atomics.store(control, 0, PAUSE);
    Atomics.notify(control, 0);
    while (Atomics.load(control, 1) < live.size)
      await Atomics.waitAsync(control, 1, Atomics.load(control, 1), 5).value;
    atStart = `${opsList(writers)}${digest()}`;
  },
  resume() {
    Atomics.store(control, 0, RUN);
    Atomics.notify(control, 0);
  },
};

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort());
try {
  for (let n = 1; n <= args.snapshots; n++) {
    await sleep(args.every, undefined, { signal: controller.signal });
    // Written under a temporary name and renamed over the file only when complete: a crash or an
    // abort mid-snapshot leaves the previous snapshot in place.
    const report = await snapshot({
      memory,
      to: args.file,
      quiesce,
      limiter: 'latency-target',
      signal: controller.signal,
    });
    const ms = (report.durationNs / 1e6).toFixed(1);
    console.log(
      `snapshot ${n} saved to ${args.file} in ${ms} ms (${report.pages.faulted} pages faulted): ${atStart}`,
    );
  }
} catch (error) {
  const failure = writerError ?? (controller.signal.aborted ? undefined : error);
  console.error(`persist-state: ${failure ? failure.message : 'interrupted'}`);
  console.error(`persist-state: ${args.file} holds the last complete snapshot, if any`);
  process.exitCode = failure ? 1 : 130;
} finally {
  Atomics.store(control, 0, STOP);
  Atomics.notify(control, 0);
  await Promise.all(exited);
  memory.release();
}
