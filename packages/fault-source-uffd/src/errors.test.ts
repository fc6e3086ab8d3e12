import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  fromNativeError,
  UffdError,
  UffdPermissionError,
  UffdSyscallError,
  UffdUnsupportedError,
} from './errors.js';
import { loadNative } from './native.js';
import { probeUffd } from './support.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

const EPERM = 1;
const ENOENT = 2;
const EACCES = 13;
const EINVAL = 22;
const ENOSYS = 38;

const injected: string[] = [];
function inject(point: string, value: number) {
  loadNative().inject(point, value);
  injected.push(point);
}
afterEach(() => {
  for (const p of injected.splice(0)) loadNative().inject(p, 0);
});

function open(memory = TrackedMemory.allocate(8 * 4096)) {
  return createUffdFaultSource({ regions: [{ name: 'r', memory }] });
}

/**
 * Copies what the unprivileged child needs (this package's dist and addon, and @bgsnap/fault-source)
 * into a fresh world-readable folder. The checkout itself may sit in a folder `nobody` cannot
 * traverse (a mktemp clone is 0700), which would fail the child for reasons unrelated to userfaultfd.
 */
function unprivilegedCopy(): string {
  const pkg = fileURLToPath(new URL('..', import.meta.url));
  const root = mkdtempSync(join(tmpdir(), 'bgsnap-unpriv-'));
  const here = join(root, 'pkg');
  cpSync(join(pkg, 'dist'), join(here, 'dist'), { recursive: true });
  cpSync(join(pkg, 'build', 'Release'), join(here, 'build', 'Release'), { recursive: true });
  cpSync(join(pkg, 'package.json'), join(here, 'package.json'));
  mkdirSync(join(here, 'src', 'test-support'), { recursive: true });
  cpSync(
    join(pkg, 'src', 'test-support', 'unprivileged-child.mjs'),
    join(here, 'src', 'test-support', 'child.mjs'),
  );
  const dep = realpathSync(join(pkg, 'node_modules', '@bgsnap', 'fault-source'));
  const depCopy = join(here, 'node_modules', '@bgsnap', 'fault-source');
  cpSync(join(dep, 'dist'), join(depCopy, 'dist'), { recursive: true });
  cpSync(join(dep, 'package.json'), join(depCopy, 'package.json'));
  chmodSync(root, 0o755); // mkdtemp makes it 0700; everything copied inside keeps its 0755/0644 modes
  return join(here, 'src', 'test-support', 'child.mjs');
}

describe('errors name the cause and the remedy', () => {
  it('EPERM/EACCES on every way of opening → UffdPermissionError mentioning the sysctl and /dev/userfaultfd', () => {
    inject('open:/dev/userfaultfd', EACCES);
    inject('userfaultfd', EPERM);
    inject('userfaultfd:user-mode', EPERM);
    const e = (() => {
      try {
        open();
      } catch (err) {
        return err;
      }
    })() as UffdPermissionError;
    expect(e).toBeInstanceOf(UffdPermissionError);
    expect(e).toBeInstanceOf(UffdError);
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.errno).toBe('EPERM');
    expect(e.syscall).toBe('userfaultfd');
    expect(e.message).toMatch(/open\(\/dev\/userfaultfd\): EACCES.*userfaultfd\(2\): EPERM/);
    expect(e.message).toMatch(/vm\.unprivileged_userfaultfd=\d.*\/dev\/userfaultfd mode \d+/);
    expect(e.remedy).toMatch(/vm\.unprivileged_userfaultfd=1/);
    expect(e.remedy).toMatch(/\/dev\/userfaultfd/);
  });

  it('falls back to UFFD_USER_MODE_ONLY when only that is allowed, and says so', async () => {
    inject('open:/dev/userfaultfd', EACCES);
    inject('userfaultfd', EPERM);
    const source = open();
    expect(source.details.method).toBe('userfaultfd(2, UFFD_USER_MODE_ONLY)');
    expect(source.details.userModeOnly).toBe(true);
    await source.start();
    await source.stop();
  });

  it('falls back to the syscall when /dev/userfaultfd is missing (Linux < 6.1)', () => {
    inject('open:/dev/userfaultfd', ENOENT);
    expect(open().details.method).toBe('userfaultfd(2)');
  });

  it('ENOSYS → UffdUnsupportedError naming CONFIG_USERFAULTFD and seccomp', () => {
    inject('open:/dev/userfaultfd', ENOENT);
    inject('userfaultfd', ENOSYS);
    expect(() => open()).toThrow(UffdUnsupportedError);
    expect(() => open()).toThrow(/CONFIG_USERFAULTFD.*seccomp/);
  });

  it('EINVAL from UFFDIO_API → UffdUnsupportedError naming the kernel version', () => {
    inject('UFFDIO_API', EINVAL);
    expect(() => open()).toThrow(UffdUnsupportedError);
    expect(() => open()).toThrow(/Linux >= 5\.7/);
  });

  it('a kernel without write-protect faults → UffdUnsupportedError naming the feature', () => {
    inject('features', 1); // hide UFFD_FEATURE_PAGEFAULT_FLAG_WP
    try {
      open();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UffdUnsupportedError);
      expect((e as UffdUnsupportedError).feature).toBe('UFFD_FEATURE_PAGEFAULT_FLAG_WP');
    }
    expect(probeUffd().available).toBe(false);
  });

  it('without WP_UNPOPULATED it pre-faults (Linux < 6.4) and reports protectsUnpopulated false', async () => {
    inject('features', 1 << 13);
    const source = open();
    expect(source.capabilities.protectsUnpopulated).toBe(false);
    await source.start();
    expect(source.stats().prefaultedPages).toBe(8);
    await source.stop();
  });

  it('in-thread mode on a kernel without UFFD_FEATURE_SIGBUS → UffdUnsupportedError naming it and the way out', () => {
    inject('features', 0x80);
    try {
      createUffdFaultSource({
        regions: [{ name: 'r', memory: TrackedMemory.allocate(4096) }],
        mode: 'in-thread',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UffdUnsupportedError);
      expect((e as UffdUnsupportedError).feature).toBe('UFFD_FEATURE_SIGBUS');
      expect((e as UffdUnsupportedError).remedy).toMatch(/copy-on-fault/);
    }
    open().stop(); // the other modes do not need it
  });

  it('EINVAL from UFFDIO_REGISTER → UffdUnsupportedError', () => {
    inject('UFFDIO_REGISTER', EINVAL);
    expect(() => open()).toThrow(UffdUnsupportedError);
  });

  it('memory tracked twice → UffdSyscallError ALREADY_TRACKED; free again after stop()', async () => {
    const memory = TrackedMemory.allocate(8 * 4096);
    const first = open(memory);
    try {
      open(memory);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UffdSyscallError);
      expect((e as UffdSyscallError).code).toBe('ALREADY_TRACKED');
    }
    await first.stop();
    await open(memory).stop();
  });

  it('options are validated with RangeError/TypeError naming the option', () => {
    const memory = TrackedMemory.allocate(8 * 4096);
    const regions = [{ name: 'r', memory }];
    expect(() => createUffdFaultSource({ regions: [] })).toThrow(/options\.regions/);
    expect(() => createUffdFaultSource({ regions, mode: 'fast' as never })).toThrow(/options\.mode/);
    expect(() => createUffdFaultSource({ regions, protectChunkBytes: 1000 })).toThrow(
      /options\.protectChunkBytes/,
    );
    expect(() => createUffdFaultSource({ regions, protectChunkBytes: 4096 * 1.5 })).toThrow(RangeError);
    expect(() => createUffdFaultSource({ regions, copyBufferPages: 0 })).toThrow(/options\.copyBufferPages/);
    expect(() =>
      createUffdFaultSource({ regions: [...regions, { name: 'r', memory: TrackedMemory.allocate(4096) }] }),
    ).toThrow(/name/);
    expect(() => createUffdFaultSource({ regions: [...regions, { name: 's', memory }] })).toThrow(
      /listed twice/,
    );
  });

  it('errors that do not come from the addon pass through unchanged', () => {
    const e = new TypeError('x');
    expect(fromNativeError(e)).toBe(e);
  });

  it('probeUffd reports the kernel features on this machine', () => {
    const p = probeUffd();
    expect(p.available).toBe(true);
    if (p.available) expect(p.features & 1).toBe(1);
  });

  it.runIf(process.getuid?.() === 0).each(['copy-on-fault', 'in-thread'])(
    'a real unprivileged process (uid nobody, vm.unprivileged_userfaultfd=0) falls back to UFFD_USER_MODE_ONLY (%s)',
    (mode) => {
      const child = unprivilegedCopy();
      onTestFinished(() => rmSync(join(child, '..', '..', '..', '..'), { recursive: true, force: true }));
      const r = spawnSync(process.execPath, [child, mode], {
        uid: 65534,
        gid: 65534,
        cwd: '/tmp',
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({
        uid: 65534,
        probe: true,
        pages: [3],
        old: 7,
        now: 8,
        zeros: true,
        populated: 8,
      });
      // Which way worked depends on the machine's settings; without root it is never the privileged syscall
      // unless the sysctl allows it.
      const sysctl = readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim();
      if (sysctl === '0' && (statSync('/dev/userfaultfd', { throwIfNoEntry: false })?.mode ?? 0) % 8 === 0) {
        expect(out.method).toBe('userfaultfd(2, UFFD_USER_MODE_ONLY)');
        expect(out.userModeOnly).toBe(true);
      }
    },
  );

  it('a missing addon → UffdUnavailableError saying how to build it (in a child process)', () => {
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `import(${JSON.stringify(entry)}).then((m) => { try { m.TrackedMemory.allocate(4096); } catch (e) { console.log(e.name, e.code, e.message); } })`;
    const r = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, BGSNAP_UFFD_ADDON: '/nonexistent/bgsnap_uffd.node' },
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(
      /^UffdUnavailableError ADDON_UNAVAILABLE .*not built.*pnpm --filter @bgsnap\/fault-source-uffd build/s,
    );
  });
});
