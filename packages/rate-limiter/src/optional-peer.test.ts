import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadOptionalPeer, MissingPeerDependencyError } from './optional-peer.js';

function notFound(id: string): Error {
  return Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- /x/conformance.js`), {
    code: 'MODULE_NOT_FOUND',
  });
}

describe('loadOptionalPeer', () => {
  it('returns the module when it resolves', () => {
    const fc = loadOptionalPeer<{ integer: unknown }>('fast-check', 'e', '^4.0.0');
    expect(typeof fc.integer).toBe('function');
  });

  it('a missing peer → MissingPeerDependencyError naming it, the entry and the install command', () => {
    const load = (id: string) => {
      throw notFound(id);
    };
    let err: unknown;
    try {
      loadOptionalPeer('fast-check', '@bgsnap/rate-limiter/conformance', '^4.0.0', load);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingPeerDependencyError);
    const e = err as MissingPeerDependencyError;
    expect(e.code).toBe('ERR_MISSING_PEER_DEPENDENCY');
    expect(e.dependency).toBe('fast-check');
    expect(e.message).toContain(
      '@bgsnap/rate-limiter/conformance needs the optional peer dependency fast-check',
    );
    expect(e.message).toContain('npm install --save-dev fast-check@^4.0.0');
  });

  it('a module missing inside the peer (not the peer itself) is rethrown as it was', () => {
    const inner = notFound('some-inner-dep');
    expect(() =>
      loadOptionalPeer('fast-check', 'e', '^4.0.0', () => {
        throw inner;
      }),
    ).toThrow(inner);
  });

  it('a real resolution failure is recognised (Node’s own error shape)', () => {
    const load = createRequire(import.meta.url);
    expect(() => loadOptionalPeer('@bgsnap/no-such-package', 'e', '^1.0.0', load)).toThrow(
      MissingPeerDependencyError,
    );
  });
});
