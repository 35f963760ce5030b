// What a signal handler must clean up or report: the process-wide registries every writer of files
// (builds, tar spooling, verity outputs, seal) adds to and the CLI's handler reads.

/** Temp files of builds in progress, so a signal handler can remove them. */
export const liveTempFiles = new Set<string>();
/** Images this process has moved into place: a signal after that must not claim none was written. */
export const committedImages: string[] = [];
/** Undo steps of in-place changes in progress (seal's append), run by the signal handler. */
export const undoOnSignal = new Set<() => void>();
/**
 * Block devices being written (pipeline/io/output.ts adds them): a signal handler wipes their
 * superblock and says how far each got. Here, not beside the writer, so that the CLI's handler does
 * not load the writer (node:crypto and the output code: ~8 ms of every command's start-up).
 */
export const liveDevices = new Set<{ readonly target: string; abort(): string }>();
