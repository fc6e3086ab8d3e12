/**
 * What the loader says when the addon is missing: the cause that scripts/build-native.mjs recorded in
 * build/bgsnap-build-error.txt (the missing tool, or the compiler's error lines), and a remedy that
 * works in a consumer's project as well as in the bgsnap repository.
 */
import { readFileSync } from 'node:fs';

/** Separates the cause from the raw build output in the error file; the same text as the script's. */
const OUTPUT_MARKER = '--- build output (tail) ---';
/** At most this many lines of the recorded cause are quoted. */
const MAX_CAUSE_LINES = 14;

/** How to build the addon: in a consumer's project, or in the bgsnap repository. */
export const BUILD_HINT =
  'build it with `npm rebuild @bgsnap/fault-source-uffd` (needs Linux x64, python3, make, a C++ compiler and ' +
  'Node headers; an npm that blocks dependency install scripts needs ' +
  '`npm install-scripts approve @bgsnap/fault-source-uffd` first; in the bgsnap repository: ' +
  '`pnpm --filter @bgsnap/fault-source-uffd build`)';

/**
 * The cause recorded by the last failed build: the lines between the timestamp and the raw output,
 * without the script's own remedy line (the error carries {@link BUILD_HINT}). Undefined when there is
 * no file or it records no cause.
 */
export function recordedBuildFailure(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const lines = text.trim().split('\n');
  const end = lines.indexOf(OUTPUT_MARKER);
  const cause = lines
    .slice(1, end === -1 ? undefined : end)
    .filter((l) => !l.startsWith('remedy: '))
    .slice(0, MAX_CAUSE_LINES);
  return cause.length > 0 ? cause.join('\n') : undefined;
}

/** The error file's text, or undefined when it does not exist or cannot be read. */
export function readBuildFailureFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
