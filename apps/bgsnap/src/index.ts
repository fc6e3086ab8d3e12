/**
 * bgsnap: The bgsnap app: the save loop, the snapshot() library API and the bgsnap CLI.
 * @packageDocumentation
 */
export {};
