/**
 * @bgsnap/fault-source/testing: The FaultSource contract: how a save loop receives write faults on protected memory, plus a conformance suite for backends.
 * @packageDocumentation
 */
export {};
