// When the main thread's heap may grow as V8 likes, and when not.
//
// --heap-growing-percent=50 (the next full GC when the heap has grown 50% past what was live, where
// V8's own factor goes up to 4x) keeps a 1,000,000-file build's per-file garbage from piling up (peak
// 484-597 -> 461-487 MiB), but any V8 flag that is not V8's default when code is compiled makes Node
// reject its built-in code cache: every one of Node's modules loaded afterwards, by this thread or
// by a worker bootstrapping, is compiled from source. A worker thread took 55 ms of CPU to start with
// the flag, 25-28 ms without (median of 3, node 24.22, /tmp experiment in the stop note). The
// semi-space bounds do not change that hash. So the flag is no longer on the command line (the
// launcher's #! line): it is set here once the walk has seen a tree big enough for it to pay, when
// the workers have started (a walk of 64 directories starts them: pool.warm) and the main thread has
// loaded what it loads.

import { turbofanBackOn } from '../sys/turbofan.js';

const v8 = process.getBuiltinModule('node:v8');

/** Entries scanned past which a build's heap grows by 50% at a time (see above). */
export const BIG_TREE_ENTRIES = 100_000;

/**
 * A build the launcher runs without TurboFan (src/sys/turbofan.ts: an uncompressed, a --cache or a
 * compressed build whose codec is WebAssembly) gets it back past BIG_TREE_ENTRIES: on trees of tens
 * of thousands of files the per-entry code is never hot for long, past that it is the other way
 * round. A 1,000,000-file uncompressed build, 2 workers (2 rounds, quiet): without TurboFan
 * 8.93-9.16 s (user 11.0 s), with it from the start 6.39-6.71 s (user 6.9-7.2 s).
 */
let set = false;

/** Called as the walk goes with the entries scanned so far. */
export function heapForTreeOf(entries: number): void {
  if (set || entries < BIG_TREE_ENTRIES) return;
  set = true;
  turbofanBackOn();
  // A value given on the command line is the user's.
  if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) return;
  v8.setFlagsFromString('--heap-growing-percent=50');
}
