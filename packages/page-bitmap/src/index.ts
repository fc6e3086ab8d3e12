/**
 * @bgsnap/page-bitmap: Page-state bitmaps for snapshot save loops: plain and SharedArrayBuffer-backed atomic variants, sparse for huge page counts.
 * @packageDocumentation
 */
export {};
