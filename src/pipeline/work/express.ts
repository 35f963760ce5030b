// A worker's express lane (JobPool.runOn): jobs the main thread needs done soon by this very worker
// (writing the pclusters it holds, which frees them: held-results.ts). They run before the next job
// of the main queue, and also from inside a long job at points where that is safe (runExpress).
let poll: (() => void) | undefined;

/** The worker's entry sets how its lane is polled; elsewhere (a job run on the main thread) there is none. */
export function setExpressPoll(fn: () => void): void {
  poll = fn;
}

/**
 * Run the express jobs waiting now. A long job calls this between its steps (a compression job, as
 * it reads more of its segment): a 16 MiB segment took ~0.1-0.5 s, and the buffers the writer had
 * placed meanwhile stayed held that long.
 */
export function runExpress(): void {
  poll?.();
}
