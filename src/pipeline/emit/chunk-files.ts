// Regular files stored as chunk maps: --chunksize files, whose chunks go to a blob placed after every
// other block, and --tar=i / headerball files, whose data stays in the archive (the extra device).
import { NULL_ADDR, INODE_CHUNK_BASED } from '../../format/constants.js';
import { chunkMapLayout, encodeChunkMap } from '../../format/chunk.js';
import { indexedChunks, TAR_DEVICE_ID } from '../files/tar-index.js';
import { digestAlgorithm } from '../../fingerprint/compute.js';
import { UserError } from '../../errors.js';
import { pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import type { EmitContext } from './context.js';

/**
 * An uncompressed regular file under --chunksize: chunked into the blob now (in visit order, the
 * blob's order), its slot placed now with the size of its map's layout; written at the end.
 */
export function writeChunked(ctx: EmitContext, p: Inode): void {
  const { o } = ctx;
  const fpx = p.ibody?.fingerprint;
  const file = ctx.chunkStore!.chunkFile(p, ctx.filePath(p), fpx ? digestAlgorithm(o.fingerprint!) : undefined);
  if (fpx && file.digest) ctx.setFingerprint(p, file.digest);
  const layout = chunkMapLayout(ctx.inodeEndOf(p), file.blobBlocks.length, file.format);
  ctx.placeItem(p, layout.itemSize, 0);
  ctx.chunkedItems.push({ p, file });
}

/** Place the blob after every other block and write the chunk-based inodes with their maps. */
export function finishChunked(ctx: EmitContext): void {
  const { chunkStore, bs, out } = ctx;
  if (!chunkStore) return;
  ctx.alloc.alignData(ctx.o.dataAlignBlocks ?? 1);
  const base = ctx.alloc.takeBlocks(chunkStore.blocks);
  if (base + chunkStore.blocks > NULL_ADDR) throw new UserError('image over 2^32 blocks: 48-bit chunk addresses are not implemented by erofs-forge');
  const buf = new Uint8Array(1 << 20);
  for (let at = 0; at < chunkStore.blocks * bs;) {
    const n = Math.min(buf.length, chunkStore.blocks * bs - at);
    const view = buf.subarray(0, n);
    view.fill(0);
    ctx.blob!.read(view, at);
    out.write(view, base * bs + at);
    out.flush();
    at += n;
  }
  for (const { p, file } of ctx.chunkedItems) {
    const inodeEnd = ctx.inodeEndOf(p);
    const layout = chunkMapLayout(inodeEnd, file.blobBlocks.length, file.format);
    const tail = new Uint8Array(layout.at - inodeEnd + layout.bytes);
    const blocks = file.blobBlocks.map((b) => (b === NULL_ADDR ? b : base + b));
    encodeChunkMap(blocks, file.format, tail, layout.at - inodeEnd);
    ctx.writeItem(p, { datalayout: INODE_CHUNK_BASED, startBlk: file.format, tail, tailLen: tail.length });
  }
}

/** --tar=i / headerball: a regular file whose data stays in the archive, written now with its map. */
export function writeIndexed(ctx: EmitContext, p: Inode): void {
  const ti = ctx.o.tarIndex!;
  const offset = ti.offsets.get(p);
  if (offset === undefined || (ti.mode === 'tar' && offset % ctx.bs)) throw new Error(`${showPath(pathOf(p))}: no block-aligned archive offset for an indexed file`);
  const { format, blocks } = indexedChunks(p.size, offset, ti.mode, ctx.plan.blkszbits);
  if (blocks.some((b) => b !== NULL_ADDR && b >= NULL_ADDR)) throw new UserError('archive over 2 TiB: 48-bit chunk addresses are not implemented by erofs-forge');
  const inodeEnd = ctx.inodeEndOf(p);
  const layout = chunkMapLayout(inodeEnd, blocks.length, format);
  ctx.alloc.placeInode(p, layout.itemSize, 0);
  const tail = new Uint8Array(layout.at - inodeEnd + layout.bytes);
  encodeChunkMap(blocks, format, tail, layout.at - inodeEnd, TAR_DEVICE_ID);
  ctx.writeItem(p, { datalayout: INODE_CHUNK_BASED, startBlk: format, tail, tailLen: tail.length });
}
