/**
 * @bgsnap/fault-source-uffd: The native Linux userfaultfd write-protect FaultSource: tracked memory, plain and copy-on-fault modes.
 * @packageDocumentation
 */
export {};
