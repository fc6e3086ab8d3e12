// Most tests build writers that compress; zstd loads on demand (see zstd.ts), so load it once first.
// zstd-ready.test.ts checks, in a fresh process, what happens without this.
import { zstdReady } from './zstd.js';

await zstdReady();
