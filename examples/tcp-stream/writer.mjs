// A writer thread for the sender: random single-byte stores into the tracked memory at a fixed rate,
// with the pause/stop handshake of bgsnap's own demo workload (runPacedWrites, WRITER_CONTROL).
import { workerData } from 'node:worker_threads';
import { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { runPacedWrites, xorshift32 } from 'bgsnap';

const { handle, control, seed, rate } = workerData;
const bytes = TrackedMemory.attach(handle).block(0);
const next = xorshift32(seed);
runPacedWrites(control, rate, () => {
  const r = next();
  bytes[r % bytes.length] = r >>> 24;
});
