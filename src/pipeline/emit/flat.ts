// Flat regular files: copied by the workers in batches, straight from the source into the image; a
// file's inode is written when its batch returns the tail (and the digest, for a fingerprint).
import type { Inode } from '../../source/tree.js';
import { digestAlgorithm } from '../../fingerprint/compute.js';
import type { CopyItem } from '../work/job-types.js';
import type { EmitContext, Placement } from './context.js';

/**
 * A batch of flat files sent to a worker closes at this many bytes or files. Each message wakes a
 * worker (on a loaded machine the main thread then loses its time slice); the bytes are copied in the
 * kernel (no buffer holds them), the tails (under a block each) come back.
 */
const COPY_BATCH_BYTES = 4 << 20;
const COPY_BATCH_FILES = 128;

/** Queue a flat file for copying. `dense`: the file's blocks held other bytes (a compressed file taken back, see takeBack in compressed.ts): zero runs are written, not left as holes. */
export async function copyFlat(ctx: EmitContext, p: Inode, pl: Placement, dense = false): Promise<void> {
  await queueFlat(ctx, p, pl, dense);
}

/**
 * copyFlat without a promise of its own: one only when the batch is sent (the writer's loop calls this
 * per file). `record`: --cache notes where the file went, for a later build (flat-from-image.ts).
 */
export function queueFlat(ctx: EmitContext, p: Inode, pl: Placement, dense = false, record = false): Promise<void> | undefined {
  ctx.batch.push(record ? { p, pl, dense, record } : { p, pl, dense });
  ctx.batchBytes += p.size;
  return ctx.batchBytes >= COPY_BATCH_BYTES || ctx.batch.length >= COPY_BATCH_FILES ? flushCopies(ctx) : undefined;
}

/** Send the batch to a worker; waits only when too many batches are in flight. */
export async function flushCopies(ctx: EmitContext): Promise<void> {
  if (!ctx.batch.length) return;
  const { o, bs } = ctx;
  const items = ctx.batch;
  ctx.batch = [];
  ctx.batchBytes = 0;
  const algo = items[0].p.ibody?.fingerprint ? digestAlgorithm(o.fingerprint!) : undefined;
  // (A file stored as a hole starts at NULL_ADDR: its range lies past anything gathered.)
  for (const { p, pl } of items) if (p.size > pl.tailLen) ctx.out.handOver(pl.startBlk * bs, pl.startBlk * bs + p.size - pl.tailLen);
  const files: CopyItem[] = items.map(({ p, pl, dense }) => ({
    // A file read from its path needs only the path and the scanned mtime (see dataOf).
    src: p.data, path: ctx.filePath(p), mtimeSec: p.data ? undefined : p.mtimeSec, mtimeNsec: p.data ? undefined : p.mtimeNsec,
    size: p.size, dataStart: pl.startBlk * bs, blockPart: p.size - pl.tailLen, dense: dense || undefined,
  }));
  const pr = ctx.pool.run({ kind: 'copy', image: ctx.out.tempPath, files, algo }).then((r) => {
    const res = r as { tails: Uint8Array; digests?: Uint8Array };
    let at = 0;
    items.forEach(({ p, pl, record }, i) => {
      pl.tail = res.tails.subarray(at, at + pl.tailLen);
      at += pl.tailLen;
      if (res.digests) ctx.setFingerprint(p, res.digests.subarray(32 * i, 32 * i + 32));
      ctx.writeItem(p, pl);
      if (record) ctx.jobs.placedFlat(p, pl.startBlk * bs, p.size - pl.tailLen, ctx.inodeEndOf(p));
    });
  });
  // Observed when awaited (finishCopies); never an unhandled rejection meanwhile.
  pr.then(() => settled.add(pr), () => settled.add(pr));
  ctx.copies.push(pr);
  while (ctx.copies.length >= ctx.maxCopies) {
    const oldest = ctx.copies[0];
    if (settled.has(oldest)) {
      ctx.copies.shift();
      await oldest;
      continue;
    }
    // Too many in flight: rather than wait idle for a worker, copy a batch still queued for one here,
    // then let the workers' results in (they are sent more from there) before looking again.
    if (ctx.pool.runQueuedCopy()) {
      await nextTurn();
      continue;
    }
    await ctx.copies.shift();
  }
}

/** Copy batches whose results were handled (their inodes written). */
const settled = new WeakSet<Promise<void>>();

const nextTurn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** Send the last batch and wait for every copy: all flat files' inodes are then written. */
export async function finishCopies(ctx: EmitContext): Promise<void> {
  await flushCopies(ctx);
  await ctx.stored.flush();
  ctx.held.sendAll();
  // The writer has nothing else to do: it copies the batches no worker has taken yet, beside them.
  while (ctx.pool.runQueuedCopy()) await nextTurn();
  await Promise.all(ctx.copies);
  await ctx.held.drain();
}
