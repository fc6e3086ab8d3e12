import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs against the built package in a fresh process: vitest's setup file has already loaded zstd here.
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function node(code: string): string {
  return execFileSync(process.execPath, ['--input-type=commonjs', '-e', code], { encoding: 'utf8' }).trim();
}

describe('zstd loads on demand', () => {
  it('the package can be require()d: no top-level await', () => {
    expect(node(`console.log(typeof require(${JSON.stringify(dist)}).createSnapshotWriter)`)).toBe(
      'function',
    );
  });

  it('a compressing writer created before zstdReady() fails with ZstdNotReadyError; after it, works', () => {
    const code = `
      const sw = require(${JSON.stringify(dist)});
      const opts = { regions: [{ name: 'm', pageCount: 1, pageSize: 4096 }], sink: sw.discardSink(), compression: 'zstd' };
      try { sw.createSnapshotWriter(opts); console.log('created'); } catch (e) { console.log(e.code); }
      sw.zstdReady().then(() => { sw.createSnapshotWriter(opts); console.log('created'); });`;
    expect(node(code).split('\n')).toEqual(['ZSTD_NOT_READY', 'created']);
  });
});
