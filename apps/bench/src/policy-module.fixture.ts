import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a user's policy module into `dir`, as `bgsnap run --limiter ./my-policy.mjs` takes it: a
 * factory whose policy is named `mine(<pages>)` and scans `pages` (default 8) pages a step. For tests.
 */
export function writePolicyModule(dir: string, file = 'my-policy.mjs'): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    `export default (o) => ({ name: 'mine(' + (o.pages ?? 8) + ')', start() {}, onFault() {}, onScan() {}, onSinkWrite() {},
  decide: () => ({ scanPages: Number(o.pages ?? 8), waitNs: 0 }) });\n`,
  );
  return path;
}
