// Items whose data the writer makes itself: directories (their entry blocks, encoded once every
// child has its nid) and symlinks (the target, in a block or inline).
import { INODE_FLAT_INLINE, S_IFMT, fileTypeOfMode } from '../../format/constants.js';
import { encodeDirBlockLatin1 } from '../../format/dirent.js';
import { pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { dirEntryList } from '../plan/inode-forms.js';
import type { EmitContext, Placement } from './context.js';

/** A directory's entry blocks as the planner split them, the last one inline when placed so; then its inode. */
export function writeDir(ctx: EmitContext, p: Inode, pl: Placement): void {
  const { bs, out } = ctx;
  ctx.placeDirBlocks(p, pl);
  const { names, nodes } = dirEntryList(p);
  const nids = nodes.map((c) => c.nid);
  const types = nodes.map((c) => fileTypeOfMode(c.mode & S_IFMT));
  const blocks = ctx.plan.dirBlocks.get(p)!;
  const inline = pl.datalayout === INODE_FLAT_INLINE;
  const buf = new Uint8Array(bs);
  blocks.forEach((b, i) => {
    buf.fill(0);
    // The planner sized the block (splitDirBlocks); the encoder's count must agree.
    const used = encodeDirBlockLatin1(names, nids, types, b.start, b.end, buf, 0);
    if (used !== b.used) throw new Error(`${showPath(pathOf(p))}: directory block ${i} wrote ${used} bytes, planned ${b.used}`);
    if (inline && i === blocks.length - 1) pl.tail.set(buf.subarray(0, b.used));
    else out.write(buf, (pl.startBlk + i) * bs);
  });
  ctx.writeItem(p, pl);
}

/** A symlink's target: its block part to the reserved blocks, the rest into the inline tail (the caller writes the inode). */
export function writeSymlink(ctx: EmitContext, p: Inode, pl: Placement): void {
  const t = p.target!;
  const inlineTail = pl.tail.length;
  const blockPart = t.length - inlineTail;
  if (blockPart) ctx.out.write(t, pl.startBlk * ctx.bs, 0, blockPart);
  pl.tail.set(t.subarray(blockPart));
}
