/**
 * @bgsnap/stream-writer: The bgsnap snapshot stream format: a writer with backpressure and sinks, and a validating reader that restores and verifies.
 * @packageDocumentation
 */
export {};
