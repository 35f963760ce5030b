// The dm-verity leaves of a finished image (build --verity), hashed by the build's workers and by
// this thread together: ranges wait in block order, the workers are kept two ranges ahead each, and
// this thread takes the next waiting range between its events (worker results, the tree above).
// The tree takes the digests in block order whoever hashed them (verity/tree.ts buildHashTreeFrom).
import { leafDigests, type LeafHasher, type LeafParams } from '../../verity/tree.js';
import { fdReader } from '../../verity/io.js';
import type { JobPool } from './pool.js';

/** Ranges sent ahead to each worker: one hashed while the next one's message travels. */
const AHEAD_PER_WORKER = 2;

interface Ask { lp: LeafParams; first: number; count: number; resolve: (d: Uint8Array) => void; reject: (e: unknown) => void }

/**
 * A LeafHasher over the image open at `fd` (written at `image`, which the workers open): ranges go
 * to `pool`, and with `here`, to this thread as well (a build whose workers leave it a core: an
 * uncompressed build copies on one worker).
 */
export function sharedLeaves(pool: JobPool, image: string, fd: number, what: string, here: boolean): LeafHasher {
  const waiting: Ask[] = [];
  let inPool = 0;
  let scheduled = false;
  const data = fdReader(fd);
  const hashHere = () => {
    scheduled = false;
    const a = waiting.shift();
    if (a) {
      try {
        a.resolve(leafDigests(data, a.lp, a.first, a.count, what));
      } catch (e) {
        a.reject(e);
      }
    }
    pump();
  };
  const pump = () => {
    while (waiting.length && inPool < Math.max(1, pool.started) * AHEAD_PER_WORKER) {
      const a = waiting.shift()!;
      inPool++;
      pool.run({ kind: 'vleaves', image, p: a.lp, first: a.first, count: a.count }).then(
        (r) => { inPool--; a.resolve((r as { digests: Uint8Array }).digests); pump(); },
        (e: unknown) => { inPool--; a.reject(e); pump(); },
      );
    }
    // One range at a time, so that the workers' results are let in between.
    if (here && waiting.length && !scheduled) {
      scheduled = true;
      setImmediate(hashHere);
    }
  };
  return (lp, first, count) => new Promise<Uint8Array>((resolve, reject) => {
    waiting.push({ lp, first, count, resolve, reject });
    pump();
  });
}
