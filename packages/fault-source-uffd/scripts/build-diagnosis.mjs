// What stands between this machine and a built addon, in words a consumer can act on: the build tools
// node-gyp needs that are not on PATH (checked before node-gyp runs, because its own report of a
// missing python3 or g++ is buried under boilerplate), and the compiler's own error lines from a
// failed build's output.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The command a consumer runs after fixing the cause; works in any project that installed the package. */
export const REMEDY =
  'install what is missing, then run `npm rebuild @bgsnap/fault-source-uffd` ' +
  '(an npm that blocks dependency install scripts needs `npm install-scripts approve @bgsnap/fault-source-uffd` first)';

/** The separator between the cause and the raw build output in build/bgsnap-build-error.txt. */
export const OUTPUT_MARKER = '--- build output (tail) ---';

/**
 * The path of `command` on `pathList` (an absolute or relative path is checked as is), or undefined.
 * @param {string} command
 * @param {string | undefined} pathList
 */
export function which(command, pathList) {
  const isExecutable = (file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  for (const dir of (pathList ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/**
 * The build tools node-gyp will need that cannot be found, each as a line naming the tool and why it
 * is needed. An override the user set (PYTHON, npm_config_python, CXX) is checked instead of the
 * defaults, so a wrong override is reported as such.
 * @param {NodeJS.ProcessEnv} env
 * @param {{ nodeDir?: string }} [options] where Node's headers were looked for, when they were not found
 * @returns {string[]}
 */
export function missingBuildTools(env, options = {}) {
  const path = env.PATH;
  const missing = [];
  const firstWord = (s) => s.trim().split(/\s+/)[0];
  const pythonOverride = env.npm_config_python || env.PYTHON;
  if (pythonOverride) {
    if (!which(firstWord(pythonOverride), path))
      missing.push(
        `python3: the Python set in ${env.npm_config_python ? 'npm_config_python' : 'PYTHON'} (${pythonOverride}) was not found (node-gyp runs gyp with it)`,
      );
  } else if (!which('python3', path) && !which('python', path)) {
    missing.push('python3: not found on PATH (node-gyp runs gyp with it; e.g. apt-get install python3)');
  }
  if (!which('make', path)) missing.push('make: not found on PATH (e.g. apt-get install make)');
  if (env.CXX) {
    if (!which(firstWord(env.CXX), path)) missing.push(`C++ compiler: CXX=${env.CXX} was not found`);
  } else if (!['g++', 'c++', 'clang++'].some((c) => which(c, path))) {
    missing.push('C++ compiler: none of g++, c++, clang++ is on PATH (e.g. apt-get install g++)');
  }
  if (options.nodeDir !== undefined && !existsSync(join(options.nodeDir, 'include', 'node', 'node_api.h')))
    missing.push(
      `Node headers: ${join(options.nodeDir, 'include', 'node')} has no node_api.h and node-gyp could not fetch them`,
    );
  return missing;
}

const BOILERPLATE =
  /^(gyp (info|ERR!|WARN|http)|npm (ERR!|error|warn)|make(\[\d+\])?: (\*\*\*|Leaving|Entering))/;

/**
 * The lines of a failed node-gyp run that say what actually went wrong: the compiler's and linker's
 * `error:` lines (with the `file:line:` they point at), else the non-boilerplate `gyp ERR!` lines
 * (`stack Error: ...`, `not ok`-style summaries are dropped), at most `max` of them.
 * @param {string} output
 * @param {number} [max]
 * @returns {string[]}
 */
export function buildErrorLines(output, max = 12) {
  const lines = output.split('\n').map((l) => l.trimEnd());
  const compiler = lines.filter(
    (l) =>
      !BOILERPLATE.test(l) &&
      (/\b(fatal )?error:/i.test(l) ||
        /undefined reference to|cannot find -l|No such file or directory|: not found$/.test(l)),
  );
  if (compiler.length > 0) return compiler.slice(0, max);
  // No compiler output: node-gyp itself failed (no python, no headers, a gyp syntax error). Its cause
  // is the message of the error in its stack trace (`gyp ERR! stack Error: Could not find any Python`);
  // the rest of its report (the stack frames, the environment dump, `not ok`) is boilerplate.
  const gyp = lines
    .filter((l) => /^gyp ERR! stack \w*Error\b/.test(l))
    .map((l) => l.replace(/^gyp ERR! stack /, ''));
  return gyp.slice(0, max);
}
