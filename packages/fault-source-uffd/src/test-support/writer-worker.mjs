// A writer thread for tests: attaches tracked memory by handle and writes where it is told. Plain JS
// loading the built package, because worker threads do not see vitest's TypeScript transform.
import { parentPort } from 'node:worker_threads';
import { TrackedMemory } from '../../dist/index.js';

const attached = new Map();

parentPort.on('message', (m) => {
  try {
    if (m.type === 'attach') {
      attached.set(m.key, TrackedMemory.attach(m.handle));
      parentPort.postMessage({ type: 'ok', seq: m.seq });
    } else if (m.type === 'detach') {
      attached.get(m.key)?.release();
      attached.delete(m.key);
      parentPort.postMessage({ type: 'ok', seq: m.seq });
    } else if (m.type === 'write') {
      // Increment the first byte and write the page index into the last bytes: always a change.
      const mem = attached.get(m.key);
      if (!mem) {
        // The check is over and its memory released (a write the suite did not await): nothing to write.
        parentPort.postMessage({ type: 'ok', seq: m.seq });
        return;
      }
      const ps = mem.pageSize;
      const block = mem.block(Math.floor((m.page * ps) / mem.blockSize));
      const off = (m.page * ps) % mem.blockSize;
      block[off] = (block[off] + 1) & 0xff;
      block[off + ps - 1] = m.page & 0xff;
      parentPort.postMessage({ type: 'ok', seq: m.seq });
    }
  } catch (e) {
    parentPort.postMessage({ type: 'error', seq: m.seq, message: String(e?.stack ?? e) });
  }
});
