/** Version of this package, written into the default writer id. */
export const VERSION = '0.1.0';
