// The young generation of the worker threads' V8 heaps. A worker allocates little JavaScript (its
// bytes are ArrayBuffers and WebAssembly memories, outside the heap), yet each had the main thread's
// young generation: two semi-spaces of up to 8 MiB (bin/erofs-forge.js), 16 MiB resident per worker
// at the peak of a build. Node's per-worker resourceLimits cannot lower it (V8's flag wins over
// them), but the flag itself is read when an isolate is made: set here before the workers start, it
// bounds theirs and leaves the main thread's as it was.
const v8 = process.getBuiltinModule('node:v8');

/**
 * Semi-space bound of the workers' young generation, in MiB. Bench corpus, 2 workers (load 12-16):
 * peak RSS -zlz4 273-280 -> 254-255 MiB, -zdeflate 269-271 -> 244-249 MiB, CPU the same (5.5-5.8 s
 * user either way for deflate).
 */
export const WORKER_SEMI_SPACE_MB = 1;

/** Bound the young generation of the isolates made from now on (the worker threads). */
export function boundWorkerYoungGeneration(): void {
  v8.setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
}
