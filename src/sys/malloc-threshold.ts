// glibc's malloc serves a request of M_MMAP_THRESHOLD bytes or more with a mapping of its own, given
// back to the system by free(). The threshold starts at 128 KiB but moves up to the size of any such
// block freed (up to 32 MiB), after which blocks of that size come from the threads' arenas, which
// keep their memory once freed. The threads of a build pass large ArrayBuffers (pcluster slabs of
// 1 MiB, -E dedupe's 16 MiB segments) from one to another and free them on the receiving thread:
// the threshold rose on the first ones and the arenas grew with the rest, 50-150 MiB of peak RSS
// that no thread used any more. Setting the threshold fixes it where it starts.
//
// Below the threshold, freed blocks stay in their arena: glibc gives an arena's memory back only from
// its top, and the blocks freed in the middle (small ArrayBuffers of each thread, V8's compiler zones,
// the walk's buffers) stayed resident. malloc_trim gives back every free page of every arena; a build
// calls it every MALLOC_TRIM_MS while its pool runs (trimMallocEvery).
import { programFunction } from './libc.js';

/** mallopt's parameter number for the threshold (glibc malloc.h). */
const M_MMAP_THRESHOLD = -3;
const THRESHOLD = 128 << 10;

let done = false;
let trim: ((pad: number) => number) | undefined;

/**
 * Fix glibc's mmap threshold at its initial 128 KiB for the whole process (every thread). Elsewhere
 * (musl, whose mallopt does nothing; a platform without koffi) nothing changes.
 */
export function fixMmapThreshold(): void {
  if (done) return;
  done = true;
  if (process.platform !== 'linux') return;
  // Through libc.ts's koffi (its native module opened by path, as the rest of the build has it):
  // koffi's own entry copied every export of node:util, loading six more of Node's modules and
  // running koffi's wrappers again at each pool start. No FFI or no mallopt: the default behaviour,
  // more memory, same output.
  const mallopt = programFunction('int mallopt(int, int)');
  if (!mallopt) return;
  mallopt(M_MMAP_THRESHOLD, THRESHOLD);
  // musl has no malloc_trim: then no trimming.
  const t = programFunction('int malloc_trim(size_t)');
  if (t) trim = (pad) => t(pad) as number;
}

/**
 * Every free page of glibc's arenas given back to the system now (false where there is no
 * malloc_trim: not glibc, no koffi). Call fixMmapThreshold first.
 */
export function trimMalloc(): boolean {
  if (!trim) return false;
  trim(0);
  return true;
}

/**
 * How often a build trims (trimMallocEvery). Bench corpus, -zlz4, 2 workers (load ~16): peak RSS
 * 251-253 -> 213-214 MiB at 200 or 500 ms, 217-218 at 1-2 s. A call costs 1-5 ms of CPU, so the cost
 * follows the wall time: with the other changes of this stop (load 33-36), untrimmed 260-267 MiB,
 * every 500 ms 241-257, every 1000 ms 239-242 for half the calls.
 */
export const MALLOC_TRIM_MS = 1000;

/** Trim every `ms` until the returned function is called (the timer keeps no process alive). */
export function trimMallocEvery(ms = MALLOC_TRIM_MS): () => void {
  if (!trim) return () => {};
  const t = setInterval(trimMalloc, ms);
  t.unref();
  return () => clearInterval(t);
}
