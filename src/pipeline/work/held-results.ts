// Compressed payloads held by the worker that made them. The writer (main thread) decides where each
// pcluster goes; the bytes never cross to it: it sends the worker the image offsets ('hwrite' job)
// and the worker writes them itself. Moving every compressed byte to the main thread and writing it
// there was most of the main thread's system time in a compressed build (bench corpus, -zlz4: ~180 MB,
// ~150 ms of writes), and the transferred buffers counted as the main thread's external memory, which
// drives its major GCs.
import * as fs from 'node:fs';
import { UserError, errnoReason } from '../../errors.js';
import { imageOfTemp } from '../io/output.js';
import { giveSlabs } from '../files/slab-pool.js';
import { chunkRelease } from '../files/held-chunks.js';
import { outputFd } from './job-copy.js';
import type { JobOf, JobResult } from './job-types.js';

/** Per id: the buffers the result's payloads are views of; the first `slabs` of them are slab-pool buffers. */
const held = new Map<number, { bufs: ArrayBuffer[]; slabs: number }>();
let nextId = 1;

/** Keep a result's buffers until written; returns the id the writer names them by. */
export function holdBuffers(bufs: ArrayBuffer[], slabs: number): number {
  const id = nextId++;
  held.set(id, { bufs, slabs });
  return id;
}

/** Results held (tests). */
export function heldCount(): number {
  return held.size;
}

/** writev calls made and pieces given them, by this thread (tests). */
const written = { writes: 0, pieces: 0 };
export function heldWriteCounts(): { writes: number; pieces: number } {
  return { ...written };
}

/** Let go of held results: their slabs back to the pool for the next results. */
function release(ids: readonly number[]): void {
  for (const id of ids) {
    const h = held.get(id);
    if (!h) continue;
    held.delete(id);
    if (h.slabs) giveSlabs(h.slabs === h.bufs.length ? h.bufs : h.bufs.slice(0, h.slabs));
    // The rest may be held chunks (files/held-chunks.ts), counted once for this result.
    if (h.slabs < h.bufs.length) chunkRelease(h.slabs ? h.bufs.slice(h.slabs) : h.bufs);
  }
}

/** writev takes at most IOV_MAX (1024 on Linux) pieces per call. */
const IOV_MAX = 1024;

/**
 * Pieces of the next writev: buffer, offset, length (reused from job to job). A run that continues the
 * last piece in its buffer as on the image (consecutive pclusters of a result, assembled one after
 * the other in a held chunk) extends it: one view and one iovec per stretch, where there were one
 * per pcluster (bench corpus, -zlz4: ~90,000 views a build for ~44,000 blocks).
 */
const pieceBufs: ArrayBuffer[] = [];
const pieceAt: number[] = [];
const pieceLen: number[] = [];

/**
 * Write held runs into the image: runs that continue one another on the image (consecutive small
 * files' pclusters, each in its own buffer) go out in one writev. Then the ids in `free` are let go,
 * written or not (a file stored flat after all), whatever happens.
 */
export function heldWriteJob(job: JobOf<'hwrite'>): JobResult {
  let n = 0;
  try {
    const fd = outputFd(job.image);
    const r = job.runs;
    let at = 0;
    let len = 0;
    const flush = (): void => {
      if (!n) return;
      const pieces: Uint8Array[] = new Array(n);
      for (let k = 0; k < n; k++) pieces[k] = new Uint8Array(pieceBufs[k], pieceAt[k], pieceLen[k]);
      written.writes++;
      written.pieces += n;
      try {
        let done = fs.writevSync(fd, pieces, at);
        // A short write (a full disk reports itself on the next call): the rest piece by piece.
        if (done < len) {
          let skip = done;
          for (const p of pieces) {
            if (skip >= p.length) { skip -= p.length; continue; }
            for (let off = skip; off < p.length;) off += fs.writeSync(fd, p, off, p.length - off, at + done + (off - skip));
            done += p.length - skip;
            skip = 0;
          }
        }
      } catch (e) {
        throw new UserError(`${imageOfTemp(job.image)}: write failed: ${errnoReason(e)}`);
      }
      n = 0;
      len = 0;
    };
    // A file's runs come together: its entry looked up once per file, not once per pcluster.
    let lastId = -1;
    let h: { bufs: ArrayBuffer[]; slabs: number } | undefined;
    for (let i = 0; i < r.length; i += 5) {
      if (r[i] !== lastId) {
        h = held.get(r[i]);
        if (!h) throw new Error(`held result ${r[i]} is not held by this worker`);
        lastId = r[i];
      }
      const buf = h!.bufs[r[i + 1]];
      const off = r[i + 2];
      const plen = r[i + 3];
      const pos = r[i + 4];
      if (n && pos !== at + len) flush();
      if (n && pieceBufs[n - 1] === buf && pieceAt[n - 1] + pieceLen[n - 1] === off) {
        pieceLen[n - 1] += plen;
      } else {
        if (n === IOV_MAX) flush();
        if (!n) at = pos;
        pieceBufs[n] = buf;
        pieceAt[n] = off;
        pieceLen[n] = plen;
        n++;
      }
      len += plen;
    }
    flush();
  } finally {
    // No buffer stays referenced here past the job.
    pieceBufs.length = 0;
    n = 0;
    release(job.free);
  }
  return { kind: 'hwrite' };
}
