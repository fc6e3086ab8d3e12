// Child process for the SIGBUS chaining tests of in-thread mode (run with --expose-gc). argv[2]:
//   'default'     an in-thread snapshot is live, the program has no SIGBUS handler of its own, and a
//                 store past the end of a file mapping raises a real SIGBUS: the process must die of it.
//   'own-handler' the program installed its own SIGBUS handler first: that handler must get the foreign
//                 SIGBUS while tracked writes still go to ours, and be the installed action again once
//                 the tracked memory is gone.
// Prints one JSON line (for 'default', before provoking).
import { createRequire } from 'node:module';
import { createUffdFaultSource, TrackedMemory } from '../../dist/index.js';

const how = process.argv[2];
// The same addon instance the package loaded (require caches it by path): its test-only exports.
TrackedMemory.allocate(4096).release();
const binding = createRequire(import.meta.url)('../../build/Release/bgsnap_uffd.node');
if (how === 'own-handler') binding.testSigbus('install');
let memory = TrackedMemory.allocate(8 * 4096, { hugePages: false });
memory.block(0).fill(9);
const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'in-thread' });
await source.start();
memory.block(0)[2 * 4096] = 10; // served by our handler in this thread
const faults = await source.waitForFaults(2e9);
const out = {
  installedDuring: binding.sigbusState().installed,
  pages: faults.map((f) => f.page),
  old: faults[0]?.contents?.[0],
  now: memory.block(0)[2 * 4096],
};
if (how === 'default') {
  console.log(JSON.stringify(out));
  binding.testSigbus('provoke'); // does not return
  console.log('survived');
  process.exit(0);
}
out.hitsBefore = binding.testSigbus('hits');
out.hitsAfter = binding.testSigbus('provoke');
await source.stop();
memory.release();
memory = undefined;
// The views' finalizers drop the last references to the mapping; then it is unmapped.
for (let i = 0; i < 5 && binding.sigbusState().entries > 0; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
}
out.after = binding.sigbusState();
out.ownHandlerBack = binding.testSigbus('is-installed') === 1;
console.log(JSON.stringify(out));
