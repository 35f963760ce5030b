// --cache: a flat file unchanged since a build placed it in the old image (flat-index.ts: same stat
// identity) comes from that image (old-image.ts), not from the source: its blocks are copied in the kernel with the cached pclusters' runs
// (stored-copies.ts: neighbours that lie side by side in both images go in one copy), its inline tail
// is read on this thread through a window of the old image. No source file is opened, and no worker
// message carries its tail back (a rebuild's small files were ~10,700 opens, fstats, reads and closes
// in the workers, and their tails a message per 128 files).
import type { Inode } from '../../source/tree.js';
import type { StoredPayloads } from '../files/zfile.js';
import type { FlatInImage } from '../work/file-jobs.js';
import type { EmitContext, Placement } from './context.js';
import { queueFlat } from './flat.js';

/**
 * Write flat file `p` placed at `pl`: from the old image when it holds the file's bytes, else queued
 * for a copy from the source (flat.ts), its place then noted for the next build. A promise only when
 * the writer must wait (a batch sent with too many in flight).
 */
export function writeFlat(ctx: EmitContext, p: Inode, pl: Placement): Promise<void> | undefined {
  const cached = ctx.o.cacheDir !== undefined;
  const src = cached ? ctx.jobs.flatInImage(p) : undefined;
  if (src && fromImage(ctx, p, pl, src)) return ctx.stored.full ? ctx.stored.flushIfFull() : undefined;
  return queueFlat(ctx, p, pl, false, cached);
}

let fromOldImage = 0;
/** Flat files this thread wrote from the old image (tests). */
export function flatsFromImage(): number {
  return fromOldImage;
}

/** The runs of one old image, as the pclusters copied from it have them (StoredCopies.add). */
const runsOf = new WeakMap<FlatInImage['image'], StoredPayloads>();

function fromImage(ctx: EmitContext, p: Inode, pl: Placement, src: FlatInImage): boolean {
  const { at } = src;
  const part = p.size - pl.tailLen;
  // Content offset x lies at blockAt + x in the old image below its block part, at tailAt + (x - part)
  // above it: the two images may split a file differently (an inline tail that found no room).
  const oldAt = (x: number) => (x < at.part ? at.blockAt + x : at.tailAt + x - at.part);
  let tail: Uint8Array | undefined;
  if (pl.tailLen) {
    if (part >= at.part || p.size <= at.part) {
      tail = src.reader.bytes(oldAt(part), pl.tailLen);
    } else {
      // Split across the old image's blocks and tail: two reads, one buffer.
      const head = src.reader.bytes(oldAt(part), at.part - part)?.slice();
      const rest = head && src.reader.bytes(at.tailAt, p.size - at.part);
      if (rest) {
        tail = new Uint8Array(pl.tailLen);
        tail.set(head!);
        tail.set(rest, head!.length);
      }
    }
    // Not readable after all: copied from the source, as without an old image.
    if (!tail) return false;
  }
  if (part) {
    let st = runsOf.get(src.image);
    if (!st) runsOf.set(src.image, (st = { fd: -1, at: [], lens: [], image: src.image }));
    const pos = pl.startBlk * ctx.bs;
    const first = Math.min(part, at.part);
    if (first) ctx.stored.add(st, at.blockAt, first, pos);
    if (part > first) ctx.stored.add(st, at.tailAt, part - first, pos + first);
  }
  if (tail) pl.tail = tail;
  // The tail is a view of the reader's window: the inode is written (its bytes copied) before the next read.
  ctx.writeItem(p, pl);
  ctx.compressedDone += p.size;
  fromOldImage++;
  ctx.jobs.placedFlat(p, pl.startBlk * ctx.bs, part, ctx.inodeEndOf(p));
  return true;
}
