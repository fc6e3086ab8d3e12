// Runs as an unprivileged user (the test spawns it with uid nobody): opens a fault source the only way
// left to it, checks one write fault end to end, and reads pages nobody wrote (read() maps them with
// MADV_POPULATE_READ first, a kernel-mode access that a user-mode-only userfaultfd must let through).
// argv[2]: the mode, 'copy-on-fault' (default) or 'in-thread' (its SIGBUS comes from a user-mode write,
// which a user-mode-only userfaultfd serves as well). Prints one JSON line.
import { createUffdFaultSource, probeUffd, TrackedMemory } from '../../dist/index.js';

const memory = TrackedMemory.allocate(16 * 4096, { hugePages: false });
memory.block(0).fill(7);
const untouched = TrackedMemory.allocate(8 * 4096, { hugePages: false });
const source = createUffdFaultSource({
  regions: [
    { name: 'r', memory },
    { name: 'untouched', memory: untouched },
  ],
  mode: process.argv[2] ?? 'copy-on-fault',
});
await source.start();
source.claim(1, 0, 8);
const zeros = source.read(1, 0, 8).every((b) => b === 0);
const populated = source.stats().populatedForRead;
source.release(1, 0, 8);
memory.block(0)[3 * 4096] = 8; // served by the fault thread (or this thread, in-thread): this thread may write
const faults = await source.waitForFaults(2e9);
await source.stop();
console.log(
  JSON.stringify({
    uid: process.getuid(),
    probe: probeUffd().available,
    method: source.details.method,
    userModeOnly: source.details.userModeOnly,
    pages: faults.map((f) => f.page),
    old: faults[0]?.contents?.[0],
    now: memory.block(0)[3 * 4096],
    zeros,
    populated,
  }),
);
