#!/usr/bin/env node
// The package's `bench` script (root `pnpm bench` runs it after the packages' benches): the app-level
// targets, measured side by side in one run and printed with ratios, via the built bgsnap-bench.
//   node bench/run.mjs            targets only (a few minutes)
//   node bench/run.mjs --full     the whole policy × profile matrix on both backends, then the targets
// Any other arguments are passed to `bgsnap-bench`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const args = process.argv.slice(2);
const full = args.includes('--full');
const rest = args.filter((a) => a !== '--full');
const argv = [...(full ? ['--matrix'] : []), '--targets', ...rest];
process.stderr.write(`node ${cli} ${argv.join(' ')}\n`);
const r = spawnSync(process.execPath, [cli, ...argv], { stdio: 'inherit' });
process.exit(r.status ?? 1);
