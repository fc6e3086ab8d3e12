// Runs as an unprivileged user (the test spawns it with uid nobody): opens a fault source the only way
// left to it, and checks one write fault end to end. Prints one JSON line.
import { createUffdFaultSource, probeUffd, TrackedMemory } from '../../dist/index.js';

const memory = TrackedMemory.allocate(16 * 4096, { hugePages: false });
memory.block(0).fill(7);
const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'copy-on-fault' });
await source.start();
memory.block(0)[3 * 4096] = 8; // served by the fault thread: copy-on-fault lets this thread write
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
  }),
);
