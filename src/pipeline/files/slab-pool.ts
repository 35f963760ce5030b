// Buffers for job results, recycled between the threads. A worker's result buffers are transferred
// to the main thread, which writes them to the image and hands them back (JobPool.recycle); the
// worker keeps them here for its next results. Without this, every written result stayed on the main
// thread as garbage until a major GC, which V8 starts late for memory it did not allocate itself:
// 60-90 MiB of dead pclusters were resident in a compressed build of the benchmark corpus.
//
// Buffers come in power-of-two sizes from 4 KiB, so a handed-back buffer fits later results of
// about its size; a result uses a prefix of its buffer (views say how much).

import { releaseBuffer } from '../../sys/release-buffer.js';

const MIN_BITS = 12;
const MAX_BITS = 26;
/**
 * Bytes kept per thread; buffers beyond it are freed (releaseBuffer). 4 MiB: 8 held up to 4 MiB
 * more per worker thread at the peak for no gain in time (results are 1 MiB slabs, see zfile.ts).
 */
const KEEP_BYTES = 4 << 20;

const free: ArrayBuffer[][] = Array.from({ length: MAX_BITS - MIN_BITS + 1 }, () => []);
let kept = 0;

function classOf(n: number): number {
  let c = 0;
  while (c < MAX_BITS - MIN_BITS && 2 ** (c + MIN_BITS) < n) c++;
  return c;
}

/**
 * A buffer of at least n bytes, from those handed back when one fits (its contents are stale: the
 * caller writes every byte it hands out). Beyond the largest class, a buffer of exactly n bytes.
 */
export function takeSlab(n: number): Uint8Array {
  if (n > 2 ** MAX_BITS) return new Uint8Array(n);
  const c = classOf(n);
  // Its own class, else one or two classes up (at most 4x the room asked for).
  for (let k = c; k <= Math.min(c + 2, free.length - 1); k++) {
    const b = free[k].pop();
    if (b) {
      kept -= b.byteLength;
      return new Uint8Array(b);
    }
  }
  return new Uint8Array(2 ** (c + MIN_BITS));
}

/** Take back buffers handed out by takeSlab (of any thread). */
export function giveSlabs(bufs: ArrayBuffer[]): void {
  for (const b of bufs) {
    const n = b.byteLength;
    // Kept: the pool's own sizes, up to KEEP_BYTES. The rest (beyond it, or of a size no later result
    // is given: one beyond the largest class) is freed now, not left as garbage for a GC that comes
    // late (release-buffer.ts); a detached buffer has length 0.
    if (kept + n > KEEP_BYTES || n < 2 ** MIN_BITS || n > 2 ** MAX_BITS || (n & (n - 1)) !== 0) {
      releaseBuffer(b);
      continue;
    }
    free[classOf(n)].push(b);
    kept += n;
  }
}

/** Bytes held for reuse (tests). */
export function keptBytes(): number {
  return kept;
}
