#!/usr/bin/env node
// The real-client benchmark lives in the bench harness now: `bgsnap-bench --real-client`
// (apps/bench; its README says what it measures). This script keeps the old command line working by
// translating its option names and running the built bgsnap-bench.
// Usage: node bench/real-client.mjs [--size 1GiB] [--requests n] [--clients n] [--pipeline n]
//          [--value-bytes n] [--modes list] [--limiters list] [--inside f] [--no-redis] [other bgsnap-bench options]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../apps/bench/dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('real-client: build the bench first: pnpm --filter @bgsnap/bench... build');
  process.exit(2);
}
const RENAMED = {
  '--size': '--native-size',
  '--requests': '--client-requests',
  '--clients': '--client-connections',
  '--pipeline': '--client-pipeline',
  '--limiters': '--client-limiters',
  '--inside': '--client-inside',
};
const args = process.argv.slice(2).flatMap((a) => {
  if (a === '--no-redis') return ['--redis', 'none'];
  const [name, ...value] = a.split('=');
  const to = RENAMED[name];
  return to ? [value.length ? `${to}=${value.join('=')}` : to] : [a];
});
const argv = ['--real-client', '--no-plots', ...args];
console.error(`node ${cli} ${argv.join(' ')}`);
const r = spawnSync(process.execPath, [cli, ...argv], { stdio: 'inherit' });
process.exit(r.status ?? 1);
