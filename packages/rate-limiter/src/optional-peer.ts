/**
 * Loads an optional peer dependency by name, synchronously, so an entry point that needs it can fail
 * at import with a message naming the missing package and the command that installs it, instead of
 * Node's bare "Cannot find package". Synchronous (not `await import()`) so the entry point stays
 * loadable with `require()`.
 */
import { createRequire } from 'node:module';

/** Thrown when an entry point of this package is loaded without an optional peer dependency it needs. */
export class MissingPeerDependencyError extends Error {
  /** Stable error code for programmatic checks. */
  readonly code = 'ERR_MISSING_PEER_DEPENDENCY';
  /** The package that is missing, for example `fast-check`. */
  readonly dependency: string;

  /**
   * @param dependency - The missing package.
   * @param entry - The entry point that needs it, for example `@bgsnap/rate-limiter/conformance`.
   * @param range - The version range to install.
   * @param cause - The resolution error.
   */
  constructor(dependency: string, entry: string, range: string, cause?: unknown) {
    super(
      `${entry} needs the optional peer dependency ${dependency}, which is not installed; ` +
        `install it next to @bgsnap/rate-limiter: npm install --save-dev ${dependency}@${range}`,
      { cause },
    );
    this.name = 'MissingPeerDependencyError';
    this.dependency = dependency;
  }
}

/** How {@link loadOptionalPeer} resolves a package: Node's `require` by default; tests pass their own. */
export type PeerRequire = (id: string) => unknown;

/**
 * Returns `require(dependency)`, or throws {@link MissingPeerDependencyError} when the package itself
 * cannot be found. Any other failure (the package is there but broken) is rethrown unchanged.
 */
export function loadOptionalPeer<T>(
  dependency: string,
  entry: string,
  range: string,
  load: PeerRequire = createRequire(import.meta.url),
): T {
  try {
    return load(dependency) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing =
      (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND') &&
      err.message.includes(`'${dependency}'`);
    if (missing) throw new MissingPeerDependencyError(dependency, entry, range, e);
    throw e;
  }
}
