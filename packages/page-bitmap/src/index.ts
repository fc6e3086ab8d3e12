/**
 * @bgsnap/page-bitmap: page-state bitmaps for snapshot save loops. {@link PageBitmap} is sparse and
 * single-threaded, for 1 to 2^32 pages; {@link AtomicPageBitmap} is dense, in a SharedArrayBuffer,
 * for worker threads that claim pages concurrently.
 * @packageDocumentation
 */
export { AtomicPageBitmap } from './atomic-page-bitmap.js';
export { PageBitmapFormatError } from './errors.js';
export { FORMAT_MAGIC, FORMAT_VERSION } from './format.js';
export { PageBitmap } from './page-bitmap.js';
export type { ReadonlyPageBitmap, Run, RunCallback } from './types.js';
export { MAX_PAGE_COUNT } from './validate.js';
