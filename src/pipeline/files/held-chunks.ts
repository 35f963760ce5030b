// Memory for the payloads of results that stay on the thread that made them (held results,
// work/held-results.ts): pclusters are assembled in place in 1 MiB chunks, each counted by the results
// that have payloads in it, and reused once none is held any more. A held result's bytes never cross
// threads, so they need no buffer of their own: the exact-size copy of each result's payloads
// (zfile.ts sealArena, a slab per result) and the fresh pages those slabs cost were ~7% of a worker's
// samples in a -zlz4 build of the bench corpus.
import { releaseBuffer } from '../../sys/release-buffer.js';
import { prefault } from '../../sys/prefault.js';

/** A chunk's size: a pcluster (at most 1 MiB) always fits an empty one. */
export const CHUNK_BYTES = 1 << 20;

/**
 * Emptied chunks kept for reuse; beyond them, freed at once (release-buffer.ts). Each chunk freed is
 * a fresh mapping later, 256 page faults as its pclusters are written: with 4 kept, the corpus -zlz4
 * build (2 workers) mapped 72 chunks for a peak of ~30 in use, and the chunks' faults were half of
 * the workers' (~17,600 of ~36,000). 8: ~7,000 fewer faults, peak RSS the same (197-199 MiB); 16
 * saved ~3,000 more for +6-8 MiB of peak.
 */
export const KEEP_CHUNKS = 8;

interface Chunk {
  bytes: Uint8Array;
  used: number;
  /** Results taking payloads from it (counted from their first take), until let go. */
  refs: number;
}

/** Chunks in use, by their buffer. */
const live = new Map<ArrayBuffer, Chunk>();
const spare: Chunk[] = [];
let current: Chunk | undefined;

/**
 * The chunks one result takes payloads from, in order of first use; each is counted once for it
 * (chunkRelease with this list lets them go).
 */
export type ChunkUse = ArrayBuffer[];

/** `n` bytes (n <= CHUNK_BYTES, contents stale) for a payload of the result whose chunks are `use`. */
export function chunkTake(n: number, use: ChunkUse): Uint8Array {
  if (n > CHUNK_BYTES) throw new RangeError(`a payload of ${n} bytes exceeds a chunk`);
  if (!current || current.used + n > CHUNK_BYTES) {
    const old = current;
    current = spare.pop() ?? freshChunk();
    current.used = 0;
    current.refs = 0;
    live.set(current.bytes.buffer as ArrayBuffer, current);
    if (old && old.refs === 0) recycle(old);
  }
  const c = current;
  const buf = c.bytes.buffer as ArrayBuffer;
  if (use[use.length - 1] !== buf) {
    use.push(buf);
    c.refs++;
  }
  const v = c.bytes.subarray(c.used, c.used + n);
  c.used += n;
  return v;
}

/** Let go of a result's chunks (`bufs`: its ChunkUse; other buffers are ignored). */
export function chunkRelease(bufs: readonly ArrayBuffer[]): void {
  for (const b of bufs) {
    const c = live.get(b);
    if (!c) continue;
    if (--c.refs === 0 && c !== current) recycle(c);
  }
}

/** A new chunk, its pages mapped in one call: every byte of it is about to be written (sys/prefault.ts). */
function freshChunk(): Chunk {
  const bytes = new Uint8Array(CHUNK_BYTES);
  prefault(bytes);
  return { bytes, used: 0, refs: 0 };
}

function recycle(c: Chunk): void {
  live.delete(c.bytes.buffer as ArrayBuffer);
  if (spare.length < KEEP_CHUNKS) spare.push(c);
  else releaseBuffer(c.bytes.buffer);
}

/** Chunks in use and kept, and the results counted in those in use (tests). */
export function chunkCounts(): { live: number; spare: number; refs: number } {
  let refs = 0;
  for (const c of live.values()) refs += c.refs;
  return { live: live.size, spare: spare.length, refs };
}
