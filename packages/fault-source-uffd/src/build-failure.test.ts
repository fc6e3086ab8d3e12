import { describe, expect, it } from 'vitest';
import { buildErrorLines, OUTPUT_MARKER } from '../scripts/build-diagnosis.mjs';
import { recordedBuildFailure } from './build-failure.js';

// What node-gyp 11 prints when a source file does not compile (trimmed paths, same shape).
const COMPILE_FAILURE = `gyp info spawn make
make: Entering directory '/p/build'
  CXX(target) Release/obj.target/bgsnap_uffd/native/addon.o
../native/addon.cc:12:10: fatal error: linux/userfaultfd.h: No such file or directory
   12 | #include <linux/userfaultfd.h>
      |          ^~~~~~~~~~~~~~~~~~~~~
compilation terminated.
make: *** [bgsnap_uffd.target.mk:120: Release/obj.target/bgsnap_uffd/native/addon.o] Error 1
make: Leaving directory '/p/build'
gyp ERR! build error
gyp ERR! stack Error: \`make\` failed with exit code: 2
gyp ERR! stack at ChildProcess.<anonymous> (/n/lib/build.js:219:23)
gyp ERR! System Linux 6.1.0
gyp ERR! command "/usr/bin/node" "/n/bin/node-gyp.js" "rebuild"
gyp ERR! cwd /p
gyp ERR! node -v v20.20.2
gyp ERR! node-gyp -v v11.4.2
gyp ERR! not ok`;

// What it prints when it cannot find Python (the stack message is the only informative line).
const NO_PYTHON = `gyp info find Python using Python version 3 found
gyp ERR! find Python Python is not set from command line or npm configuration
gyp ERR! configure error
gyp ERR! stack Error: Could not find any Python installation to use
gyp ERR! stack at PythonFinder.fail (/n/lib/find-python.js:306:11)
gyp ERR! System Linux 6.1.0
gyp ERR! not ok`;

describe('buildErrorLines', () => {
  it("keeps the compiler's error line and drops make's and gyp's boilerplate", () => {
    expect(buildErrorLines(COMPILE_FAILURE)).toEqual([
      '../native/addon.cc:12:10: fatal error: linux/userfaultfd.h: No such file or directory',
    ]);
  });

  it("without compiler output, gives node-gyp's own error message", () => {
    expect(buildErrorLines(NO_PYTHON)).toEqual(['Error: Could not find any Python installation to use']);
  });

  it('caps the number of lines', () => {
    const many = Array.from({ length: 50 }, (_, i) => `a.cc:${i}:1: error: bad ${i}`).join('\n');
    expect(buildErrorLines(many, 5)).toHaveLength(5);
  });
});

describe('recordedBuildFailure', () => {
  it('quotes the cause, not the remedy line nor the raw output after the marker', () => {
    const file = [
      '2026-01-01T00:00:00.000Z',
      'missing build tools:',
      'python3: not found on PATH',
      'remedy: install what is missing, then run `npm rebuild @bgsnap/fault-source-uffd`',
      OUTPUT_MARKER,
      'gyp ERR! not ok',
    ].join('\n');
    expect(recordedBuildFailure(file)).toBe('missing build tools:\npython3: not found on PATH');
  });

  it('no file → undefined', () => {
    expect(recordedBuildFailure(undefined)).toBeUndefined();
  });
});
