// emit(plan): writes the planned image in one walk of the plan's steps, top to bottom:
//   1. each item in visit order: its blocks and metadata slot taken (context.ts reserve), its data
//      written: flat files copied by the workers (flat.ts), compressed ones placed as their
//      segments come (compressed.ts), chunked and tar-indexed ones mapped (chunk-files.ts),
//      directories and symlinks encoded here (dirs.ts); then its inode (context.ts writeItem);
//   2. the packed inode of the fragments (packed.ts);
//   3. the last copies sent, the cache index saved (--cache), the copies awaited, the chunk blob placed after every block;
//   4. the image's length fixed, and the superblock area written and sealed (superblock.ts).
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import type { Inode } from '../../source/tree.js';
import type { Plan } from '../plan/plan.js';
import { DirDone, type Step } from '../plan/visit-order.js';
import { ImageOutput } from '../io/output.js';
import type { BuildOptions } from '../options.js';
import type { JobPool } from '../work/pool.js';
import type { FileJobQueue } from '../work/file-jobs.js';
import { systemClock } from '../../sys/clock.js';
import { EmitContext } from './context.js';
import { finishCopies, flushCopies } from './flat.js';
import { writeFlat } from './flat-from-image.js';
import { writeCompressed } from './compressed.js';
import { finishChunked, writeChunked, writeIndexed } from './chunk-files.js';
import { writeDir, writeSymlink } from './dirs.js';
import { writePacked } from './packed.js';
import { writeSuperBlockArea } from './superblock.js';

export interface BuildStats {
  blocks: number;
  imageBytes: number;
  inodes: number;
  rootNid: number;
  /** Regular-file bytes read from the source. */
  dataBytes: number;
  /** Regular files stored compressed. */
  compressedFiles: number;
  /** --cache: segments found (of which through the stat index, without reading the source), missing, and found damaged (rebuilt). */
  cache?: { hit: number; indexed: number; absent: number; damaged: number };
}

/**
 * Writes the planned image; `pool` runs the file jobs (the caller owns and closes it); `jobs`: the
 * file jobs if they were started during the scan. `consume`: the plan and its tree are used once (the
 * caller scanned the tree for this build): each step and each written directory's entries are let go
 * as the writer passes them, so that inodes written are freed as the build goes on instead of all
 * staying until the end (1,000,000-file tree: see README, Benchmark).
 */
export async function emit(plan: Plan, o: BuildOptions, out: ImageOutput, pool: JobPool, jobs?: FileJobQueue, consume = false): Promise<BuildStats> {
  // --chunksize: the chunk blob is a temp file beside the image until its place is known (in the
  // temp directory when the image goes to a block device, which has no "beside").
  const blob = o.chunks ? new ImageOutput(out.isDevice ? path.join(os.tmpdir(), 'erofs-forge-chunks') : out.target) : undefined;
  blob?.create();
  let ctx: EmitContext | undefined;
  try {
    ctx = new EmitContext(plan, o, out, pool, blob, jobs);
    return await emitWith(ctx, consume);
  } finally {
    ctx?.jobs.release();
    blob?.abort();
    // -E fragments: the spool of the packed inode's bytes, read by the workers before emit returns.
    ctx?.fragments?.remove();
  }
}

async function emitWith(ctx: EmitContext, consume: boolean): Promise<BuildStats> {
  const { plan, o, out, alloc, bs } = ctx;
  const clock = o.progressClock ?? systemClock;
  // A timer too: a large file written by a worker must not freeze the line until it is done.
  const stopTicker = o.progress ? clock.every(250, () => ctx.report()) : undefined;
  let packedNid = 0;
  try {
    await writeItems(ctx, consume);
    packedNid = await writePacked(ctx);
    // --cache: every copy sent first, then the stat index written while the workers copy (a
    // rebuild's last copies and its index, each tens of milliseconds, overlap).
    if (o.cacheDir) {
      await flushCopies(ctx);
      await ctx.stored.flush();
      await ctx.jobs.saveIndex();
    }
    await finishCopies(ctx);
    finishChunked(ctx);
    ctx.report(true);
  } finally {
    stopTicker?.();
  }
  alloc.closeAll();

  const blocks = alloc.cursor;
  const rootNid = plan.root.nid;
  if (rootNid > 0xffff) throw new UserError('root inode beyond nid 65535 (too many shared xattrs or prefixes)');
  out.truncate(blocks * bs);
  writeSuperBlockArea(plan, o, out, { blocks, rootNid, packedNid, deduped: ctx.anyDeduped });

  return {
    blocks, imageBytes: blocks * bs, inodes: plan.inodeCount, rootNid, dataBytes: ctx.dataBytes,
    compressedFiles: ctx.compressedFiles, cache: o.cacheDir ? { ...ctx.jobs.cacheStats } : undefined,
  };
}

/**
 * Step 1: every item of the plan in visit order; a directory twice (reserved, then written once its
 * entries have nids). `consume`: see emit.
 */
async function writeItems(ctx: EmitContext, consume: boolean): Promise<void> {
  const { plan, o } = ctx;
  const all = plan.steps;
  let steps = 0;
  for (let i = 0; i < all.length; i++) {
    const step = all[i];
    // The step array holds every inode: the one entry left pointing at an inode once its directory
    // is written (a file's batch or jobs keep it while they need it).
    if (consume) (all as (Step | undefined)[])[i] = undefined;
    const done = step instanceof DirDone;
    if (done) {
      const p = step.p;
      writeDir(ctx, p, ctx.placements.get(p)!);
      ctx.placements.delete(p);
      // --cache: its flat files' inline tails have their addresses now.
      if (ctx.o.cacheDir !== undefined) ctx.jobs.dirWritten(p);
      if (consume) {
        // Its entries have their nids in the image now; a subdirectory still to come keeps its parent
        // (for '..' and paths) through its own parent field.
        p.entries = undefined;
        plan.dirBlocks.delete(p);
      }
    } else {
      // Most items complete at once: awaited only when they wait for something (an async call per
      // item was ~0.7 KB of promises per file, 1,000,000 files).
      const wait = placeAndWrite(ctx, step);
      if (wait) await wait;
      ctx.files++;
    }
    if (o.progress && (steps & 63) === 0) ctx.report();
    // Yield to the event loop often: worker results (macrotasks) must get in to keep the workers fed,
    // and signals and other events now and then.
    if (++steps % 128 === 0) await new Promise<void>((r) => setImmediate(r));
  }
}

/** One item's first visit, by what it holds; a promise only when the item must be waited for. */
function placeAndWrite(ctx: EmitContext, p: Inode): Promise<void> | undefined {
  if (p.kind === 'dir') {
    ctx.reserve(p);
    return undefined;
  }
  const f = ctx.jobs.take(p);
  if (p.kind === 'reg') ctx.dataBytes += p.size;
  if (f) {
    return writeCompressed(ctx, p, f);
  } else if (ctx.o.tarIndex && p.kind === 'reg' && p.size > 0) {
    writeIndexed(ctx, p);
  } else if (p.kind === 'reg' && p.size > 0) {
    if (ctx.chunkStore) writeChunked(ctx, p);
    else return writeFlat(ctx, p, ctx.reserve(p));
  } else {
    const pl = ctx.reserve(p);
    if (p.kind === 'lnk') writeSymlink(ctx, p, pl);
    ctx.writeItem(p, pl);
  }
}
