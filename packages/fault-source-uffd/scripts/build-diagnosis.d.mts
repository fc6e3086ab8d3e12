// Types of build-diagnosis.mjs for the TypeScript tests that import it.
export declare const REMEDY: string;
export declare const OUTPUT_MARKER: string;
export declare function which(command: string, pathList: string | undefined): string | undefined;
export declare function missingBuildTools(env: NodeJS.ProcessEnv, options?: { nodeDir?: string }): string[];
export declare function buildErrorLines(output: string, max?: number): string[];
