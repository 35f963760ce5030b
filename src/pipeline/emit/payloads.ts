// Placing a compressed file's pclusters: consecutive blocks, or (-E dedupe, and with fragments) a
// pointer back at an identical pcluster written before.
import { createHash } from 'node:crypto';
import type { ZParams, ZResult } from '../files/zfile.js';
import type { EmitContext } from './context.js';

/** No keys (every one undefined): an image without dedupe, where an array per segment was made for nothing. */
const NO_KEYS: readonly (string | undefined)[] = Object.freeze([]);

/** Dedupe keys of z's payloads (undefined for the inline one, and all of them without dedupe). */
export function dedupeKeys(ctx: EmitContext, z: ZResult, zp: ZParams): readonly (string | undefined)[] {
  if (!ctx.dedupe) return NO_KEYS;
  return z.payloads.map((b, k) => {
    if (!ctx.dedupe || !b) return undefined;
    const key = createHash('sha256').update(b).digest('base64');
    // An INTERLACED stored block reads differently at another offset in its lcluster; a stream
    // is read by its file's algorithm (compress hints mix them).
    const e = z.extents[k];
    return !e.compressed ? (zp.interlaced ? `${key}@${e.la % ctx.bs}` : key) : zp.codec.algorithm ? `${key}#${zp.codec.algorithm}` : key;
  });
}

/** Whether placing payloads with these keys would point any of them at a copy already written (or earlier in the list). */
export function wouldDedupe(ctx: EmitContext, keys: readonly (string | undefined)[]): boolean {
  const seen = new Set<string>();
  for (const k of keys) {
    if (k === undefined) continue;
    if (ctx.dedupe!.has(k) || seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}

/**
 * Write the payloads of z's extents to consecutive blocks, or, when `pointBack` (the file's indexes
 * can address any block: FULL), point deduped ones at the copy already written. `keys` are
 * dedupeKeys(z, zp). Returns whether any was deduped; `added` collects new dedupe keys.
 */
export function placePayloads(ctx: EmitContext, z: ZResult, keys: readonly (string | undefined)[], pointBack: boolean, added: string[]): boolean {
  if (z.cols) {
    placeHeldColumns(ctx, z, z.cols);
    return false;
  }
  const { out, bs, alloc, dedupe } = ctx;
  let deduped = false;
  // Consecutive pclusters that sit side by side in one buffer go out in one write.
  let run: { buf: Uint8Array; start: number; end: number; pos: number } | undefined;
  const flushRun = () => { if (run) out.write(run.buf, run.pos, run.start, run.end); run = undefined; };
  // Pclusters left in a cache entry's file (z.stored): consecutive ones copied in one kernel call.
  const st = z.stored;
  let srun: { at: number; end: number; pos: number } | undefined;
  const flushStored = () => { if (srun) ctx.stored.add(st!, srun.at, srun.end - srun.at, srun.pos); srun = undefined; };
  // Pclusters a worker holds (z.held): it writes them where they are placed here.
  const h = z.held;
  const nHeld = h ? h.pay.length / 3 : 0;
  for (let k = 0; k < z.extents.length; k++) {
    const e = z.extents[k];
    const payload = z.payloads[k];
    if (!payload && k < nHeld && h!.pay[3 * k] >= 0) {
      // Never deduped: results are held only where there are no dedupe keys (FileJobQueue's `hold`).
      if (h!.pay[3 * k + 2] !== e.blocks * bs) throw new Error(`held pcluster of ${h!.pay[3 * k + 2]} bytes for ${e.blocks} blocks`);
      e.blkaddr = alloc.takeBlocks(e.blocks);
      ctx.held.add(h!, k, e.blkaddr * bs);
      continue;
    }
    if (!payload && st && k < st.at.length && st.at[k] >= 0) {
      // Never deduped: stored results come only where there are no dedupe keys (FileJobQueue.flush).
      // A pcluster fills its blocks exactly (as the in-memory path writes them): an entry header that
      // says otherwise would write past them.
      if (st.lens[k] !== e.blocks * bs) throw new Error(`cache entry pcluster of ${st.lens[k]} bytes for ${e.blocks} blocks`);
      e.blkaddr = alloc.takeBlocks(e.blocks);
      const at = st.at[k];
      const pos = e.blkaddr * bs;
      if (srun && srun.end === at && srun.pos + (srun.end - srun.at) === pos) srun.end += st.lens[k];
      else {
        flushStored();
        srun = { at, end: at + st.lens[k], pos };
      }
      continue;
    }
    if (!payload) {
      // -E dedupe: an extent on a pcluster written before (placed by now: it came first).
      if (e.ref) e.blkaddr = e.ref.blkaddr;
      continue;
    }
    const key = keys[k];
    const seen = key !== undefined ? dedupe!.get(key) : undefined;
    if (seen !== undefined && pointBack) {
      e.blkaddr = seen;
      deduped = true;
      continue;
    }
    e.blkaddr = alloc.takeBlocks(e.blocks);
    if (key !== undefined && seen === undefined) {
      dedupe!.set(key, e.blkaddr);
      added.push(key);
    }
    if (run && run.buf.buffer === payload.buffer && run.end === payload.byteOffset && run.pos + (run.end - run.start) === e.blkaddr * bs) {
      run.end += payload.length;
    } else {
      flushRun();
      run = { buf: new Uint8Array(payload.buffer), start: payload.byteOffset, end: payload.byteOffset + payload.length, pos: e.blkaddr * bs };
    }
  }
  flushRun();
  flushStored();
  return deduped;
}

/**
 * A held result's extents as columns (ZResult.cols): each pcluster to the next blocks, queued for its
 * worker to write, its blkaddr written into the columns. Never deduped (held results come only
 * where there are no dedupe keys) nor stored in a cache entry.
 */
function placeHeldColumns(ctx: EmitContext, z: ZResult, cols: Float64Array): void {
  const { bs, alloc } = ctx;
  const h = z.held;
  if (!h || z.stored) throw new Error('extents as columns for a result not held by a worker');
  const n = cols.length / 5;
  for (let k = 0; k < n; k++) {
    // No payload: the inline tail (no blocks).
    if (h.pay[3 * k] < 0) continue;
    const blocks = cols[5 * k + 3];
    if (h.pay[3 * k + 2] !== blocks * bs) throw new Error(`held pcluster of ${h.pay[3 * k + 2]} bytes for ${blocks} blocks`);
    const blk = alloc.takeBlocks(blocks);
    cols[5 * k + 4] = blk;
    ctx.held.add(h, k, blk * bs);
  }
}
