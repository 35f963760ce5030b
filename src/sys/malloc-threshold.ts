// glibc's malloc serves a request of M_MMAP_THRESHOLD bytes or more with a mapping of its own, given
// back to the system by free(). The threshold starts at 128 KiB but moves up to the size of any such
// block freed (up to 32 MiB), after which blocks of that size come from the threads' arenas, which
// keep their memory once freed. The threads of a build pass large ArrayBuffers (pcluster slabs of
// 1 MiB, -E dedupe's 16 MiB segments) from one to another and free them on the receiving thread:
// the threshold rose on the first ones and the arenas grew with the rest, 50-150 MiB of peak RSS
// that no thread used any more. Setting the threshold fixes it where it starts.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** mallopt's parameter number for the threshold (glibc malloc.h). */
const M_MMAP_THRESHOLD = -3;
const THRESHOLD = 128 << 10;

let done = false;

/**
 * Fix glibc's mmap threshold at its initial 128 KiB for the whole process (every thread). Elsewhere
 * (musl, whose mallopt does nothing; a platform without koffi) nothing changes.
 */
export function fixMmapThreshold(): void {
  if (done) return;
  done = true;
  if (process.platform !== 'linux') return;
  try {
    const koffi = require('koffi') as typeof import('koffi');
    const mallopt = koffi.load(null).func('int mallopt(int, int)') as unknown as (param: number, value: number) => number;
    mallopt(M_MMAP_THRESHOLD, THRESHOLD);
  } catch {
    // No FFI or no mallopt: the default behaviour, more memory, same output.
  }
}
