import { lstatSync, realpathSync, statSync } from 'node:fs';

/**
 * What an output path names: `missing` (nothing there yet), `regular` (a regular file), `directory`,
 * or `special` (a character or block device, FIFO or socket, after following symlinks, so
 * `/dev/stdout` → `/proc/self/fd/1` → a pipe is `special`).
 */
export type OutputTargetKind = 'missing' | 'regular' | 'special' | 'directory';

/**
 * Classifies an output path the way {@link fileSink} treats it, so a CLI can apply the same rule
 * (for example refuse to overwrite `regular` without a flag, but always write into `special`).
 * Follows symlinks; a dangling symlink is `missing`. Other stat errors (EACCES, ELOOP, ...) throw.
 */
export function describeOutputTarget(path: string): OutputTargetKind {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    throw error;
  }
  if (!st) return 'missing';
  if (st.isFile()) return 'regular';
  if (st.isDirectory()) return 'directory';
  return 'special';
}

/**
 * The file a symlink finally names, or `path` itself when it is no symlink or cannot be resolved:
 * where a temp-and-rename writer must rename to, so that a link stays a link.
 */
export function resolveLink(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path;
  }
}
