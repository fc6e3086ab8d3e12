import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describeOutputTarget, type OutputTargetKind, resolveLink } from '@bgsnap/stream-writer';
import { BadInputError, SnapshotAbortedError } from '../errors.js';
import { type Interrupt, interruptSignal } from './interrupt.js';
import { EXIT } from './shared.js';

/** The checked output of a command: where it goes and what was there when it was checked. */
export interface CheckedOutput {
  /** Absolute path. */
  readonly path: string;
  /** What `path` named when checked. */
  readonly kind: Exclude<OutputTargetKind, 'directory'>;
  /** Device and inode of the regular file that `--force` allows replacing. */
  readonly replaces?: { dev: number; ino: number } | undefined;
}

/**
 * The one output rule of every command (`run --out`, `sim --out`, `restore --out`):
 * - a missing path is created (its folder must exist and accept new files);
 * - an existing regular file is replaced only with `--force`;
 * - a special file (device, FIFO, socket) is written into, never replaced — or refused where the
 *   command needs to seek (`allowSpecial: false`, restore);
 * - a folder, or a path ending in `/`, is refused.
 * Throws {@link BadInputError} (exit 2) naming the path and the flag.
 */
export function checkOutputTarget(
  option: string,
  path: string,
  { force, allowSpecial }: { force: boolean; allowSpecial: boolean },
): CheckedOutput {
  if (path.length === 0) throw new BadInputError(option, 'the path is empty');
  const full = resolve(path);
  if (/\/$/.test(path)) {
    throw new BadInputError(option, `${path} ends in '/': give a file name, not a folder`);
  }
  const kind = describeOutputTarget(full);
  if (kind === 'directory') throw new BadInputError(option, `${full} is a folder`);
  if (kind === 'special') {
    if (!allowSpecial) {
      throw new BadInputError(
        option,
        `${full} is not a regular file (a device, FIFO or socket); this command writes at offsets and needs a regular file`,
      );
    }
    return { path: full, kind };
  }
  const dir = dirname(full);
  if (describeOutputTarget(dir) !== 'directory') {
    throw new BadInputError(option, `folder ${dir} does not exist`);
  }
  if (kind === 'regular') {
    if (!force) throw new BadInputError(option, `${full} exists (pass --force to replace it)`);
    // A symlink stays a link: the file it names is replaced (as stream-writer's sinks do).
    const real = resolveLink(full);
    const st = lstatSync(real);
    probeFolder(option, dirname(real));
    return { path: real, kind, replaces: { dev: st.dev, ino: st.ino } };
  }
  probeFolder(option, dir);
  return { path: full, kind };
}

/** Creates and removes a file in `dir`: catches read-only mounts and folders we may not write. */
function probeFolder(option: string, dir: string): void {
  const probe = join(dir, `.bgsnap-probe-${process.pid}-${Date.now()}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (error) {
    throw new BadInputError(option, `cannot write in ${dir}: ${codeOf(error)}`);
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** Creates a private temporary folder under `parent`, or throws exit-2 input naming the folder. */
export function makeTempFolder(parent: string, prefix: string, option = 'TMPDIR'): string {
  try {
    return mkdtempSync(join(parent, prefix));
  } catch (error) {
    throw new BadInputError(option, `cannot create a temporary folder in ${parent}: ${codeOf(error)}`);
  }
}

/**
 * Where a command writes before its output is final. The data goes to `path` inside a private staging
 * folder (next to the output, so the final rename is atomic; in TMPDIR for special files and for
 * temporary outputs); {@link commit} moves it into place only over what was checked; {@link discard}
 * removes the staging folder synchronously, so a signal handler can call it right before exiting.
 */
export interface StagedOutput {
  /** Path to write the complete output to. */
  readonly path: string;
  /** Final path. */
  readonly target: string;
  /** Moves the staged file into place (see {@link commitStaged}). */
  commit(): Promise<void>;
  /** Removes everything staged. Synchronous and idempotent; does nothing after {@link keep}. */
  discard(): void;
  /** Keeps a temporary output (`--keep`): later {@link discard} calls leave it. */
  keep(): void;
}

/**
 * Installs the signal handlers first, then stages the output (so no signal can find the staging
 * folder unhandled), and registers its removal for a forced exit.
 */
export function stageWithInterrupt(
  checked: CheckedOutput | undefined,
  name: string,
  options: { immediate?: boolean } = {},
): { interrupt: Interrupt; staged: StagedOutput } {
  const interrupt = interruptSignal(options);
  let staged: StagedOutput;
  try {
    staged = stageOutput(checked, name);
  } catch (error) {
    interrupt.dispose();
    throw error;
  }
  interrupt.onForcedExit(() => staged.discard());
  return { interrupt, staged };
}

/**
 * Stages the output of a checked target. Without one, the output is a file in a new temporary
 * folder of TMPDIR: {@link StagedOutput.commit} then does nothing and {@link StagedOutput.discard}
 * removes it.
 */
export function stageOutput(checked: CheckedOutput | undefined, name: string): StagedOutput {
  if (!checked) {
    const folder = makeTempFolder(tmpdir(), 'bgsnap-');
    const path = join(folder, name);
    let kept = false;
    return {
      path,
      target: path,
      async commit() {},
      discard() {
        if (!kept) rmSync(folder, { recursive: true, force: true });
      },
      keep() {
        kept = true;
      },
    };
  }
  const parent = checked.kind === 'special' ? tmpdir() : dirname(checked.path);
  const folder = makeTempFolder(
    parent,
    `.${basename(checked.path)}.bgsnap-`,
    checked.kind === 'special' ? 'TMPDIR' : '--out',
  );
  const path = join(folder, name);
  let discarded = false;
  return {
    path,
    target: checked.path,
    async commit() {
      await commitStaged(path, checked);
    },
    discard() {
      if (discarded) return;
      discarded = true;
      rmSync(folder, { recursive: true, force: true });
    },
    keep() {
      throw new Error('only a temporary output can be kept');
    },
  };
}

/**
 * Puts a complete file in place. A regular target that was missing when checked is linked in (link
 * fails with EEXIST if a file appeared meanwhile: it is never replaced); one that `--force` allowed
 * replacing is renamed over only while it is still the same file (device and inode). The window
 * between that check and the rename is two system calls, with no await between them. A special
 * target is opened without O_CREAT/O_TRUNC and the bytes are copied into it.
 */
export async function commitStaged(staged: string, checked: CheckedOutput): Promise<void> {
  if (checked.kind === 'special') {
    const fd = openSync(checked.path, constants.O_WRONLY | constants.O_NOCTTY);
    if (fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new Error(`${checked.path} changed while the snapshot ran: it is no longer a special file`);
    }
    await pipeline(createReadStream(staged), createWriteStream('', { fd }));
    return;
  }
  const now = lstatOrUndefined(checked.path);
  if (checked.replaces && now && now.dev === checked.replaces.dev && now.ino === checked.replaces.ino) {
    renameSync(staged, checked.path);
    return;
  }
  if (now) {
    throw new BadInputError(
      '--out',
      `${checked.path} appeared or changed while the command ran; it was left as it is (nothing was written)`,
    );
  }
  try {
    linkSync(staged, checked.path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BadInputError(
        '--out',
        `${checked.path} appeared while the command ran; it was left as it is (nothing was written)`,
      );
    }
    throw error;
  }
  unlinkSync(staged);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The commit point of `run` and `sim`, after verification: a signal that came before it wins (throws
 * {@link SnapshotAbortedError}: nothing new under the final name); a verified output is put in place
 * (a temporary one kept with `keepTemporary`); an unverified one is not.
 */
export async function commitVerified(
  staged: StagedOutput,
  interrupt: Interrupt,
  { verified, keepTemporary }: { verified: boolean; keepTemporary: boolean },
): Promise<void> {
  if (!interrupt.beginCommit()) throw new SnapshotAbortedError(interrupt.signal.reason);
  if (verified) await staged.commit();
  if (verified && keepTemporary) staged.keep();
  interrupt.endCommit(verified ? EXIT.ok : EXIT.failed);
}
