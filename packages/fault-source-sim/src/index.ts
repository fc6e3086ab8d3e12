/**
 * @bgsnap/fault-source-sim: A deterministic virtual-time simulator of memory being snapshotted under concurrent writers: a FaultSource backend, sinks and an oracle.
 * @packageDocumentation
 */
export {};
