// Compressed regular files: pclusters to consecutive blocks as the workers' results come, then the
// inode with its map header, indexes and any inline tail. A file that compression does not pay for
// is stored flat (or chunked) instead: decided before any block is taken for a file of one segment,
// taken back after the fact for a larger one.
import { INODE_COMPRESSED_COMPACT, INODE_COMPRESSED_FULL } from '../../format/constants.js';
import { encodeMapHeader, mapHeaderOffset, MAP_HEADER_SIZE, type IndexForm } from '../../format/zmap.js';
import { UserError } from '../../errors.js';
import { pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { extentsOf, packExtents, pclusterTarget, uninlineTail, worthCompressing, zMetaBytes, zMetaLayoutOf, type ZParams, type ZResult } from '../files/zfile.js';
import type { FileJobs } from '../work/file-jobs.js';
import type { EmitContext, Placement } from './context.js';
import { copyFlat } from './flat.js';
import { writeFlat } from './flat-from-image.js';
import { writeChunked } from './chunk-files.js';
import { dedupeKeys, placePayloads, wouldDedupe } from './payloads.js';
import { dedupeSegment } from './extent-dedupe.js';
import { SEGMENT_SIZE } from '../work/job-types.js';
import { closeEntryFd } from '../cache/entry-fds.js';

/** Zeros written over the pclusters of a file taken back (see takeBack). */
const ZERO_BLOCKS = new Uint8Array(1 << 20);

/** What writing a file's segments left behind for its inode. */
interface Written {
  /** The last segment's extents (and the file's totals); earlier segments' are packed in `packed`. */
  z: ZResult;
  packed: Float64Array[];
  /** The first block the file's pclusters took. */
  startBlk: number;
  /** Dedupe keys this file added (removed again if the file is taken back). */
  added: string[];
  deduped: boolean;
  /** -E dedupe: the extent index's mark before this file (its pclusters are forgotten if it is taken back). */
  indexMark: number;
  form: IndexForm;
  /** The file's bytes in the packed inode: where they start, how many. */
  fragmentOff?: number;
  fragmentLen: number;
  /** The inode with its inline tail, as mkfs.erofs tries to place it before dropping the tail to a block. */
  refusedInline?: { size: number; inline: number };
  /** The last segment's buffers, back to the workers once the inode is written (its inline bytes may be views of them). */
  lastSlabs?: ArrayBuffer[];
}

/**
 * Compress a regular file (see the head of this file). `packedZp`: the packed inode's parameters (its
 * own pcluster size, no fragments; identical pclusters in it are stored once like anyone's, as
 * mkfs.erofs 1.9.3 runs its extent dedupe on the packed inode too).
 */
export async function writeCompressed(ctx: EmitContext, p: Inode, f: FileJobs, packedZp?: ZParams): Promise<void> {
  const zp = packedZp ?? ctx.zparamsOf(p);
  const w = await writeSegments(ctx, p, f, zp);
  if (w === 'flat') return;
  const fp = fingerprint(ctx, p, f);
  if (fp) await fp;
  if (!worthCompressing(w.z, p.size, ctx.bs)) {
    await takeBack(ctx, p, w);
    return;
  }
  if (w.deduped) ctx.anyDeduped = true;
  if (w.form === 'compact' && w.deduped) throw new Error(`${showPath(pathOf(p))}: deduped pclusters under COMPACT indexes`);
  if (w.fragmentOff !== undefined && w.fragmentLen === p.size) writeFragmentInode(ctx, p, w.fragmentOff);
  else writeCompressedInode(ctx, p, zp, w);
  if (w.lastSlabs) ctx.pool.recycle(w.lastSlabs);
}

/**
 * The fingerprint is needed for the inode (and to check a flat re-read), not before. Undefined when
 * the file has none to wait for: no promise made per file (most builds have no fingerprints).
 */
function fingerprint(ctx: EmitContext, p: Inode, f: FileJobs): Promise<void> | undefined {
  return f.hash?.then((h) => { ctx.setFingerprint(p, h, false); });
}

/**
 * Write the file's pclusters segment by segment as the results come (memory does not grow with the
 * file). Returns 'flat' when a file of one segment was found not worth compressing and queued flat.
 */
async function writeSegments(ctx: EmitContext, p: Inode, f: FileJobs, zp: ZParams): Promise<Written | 'flat'> {
  const { bs, o } = ctx;
  const size = p.size;
  const inodeEnd = ctx.inodeEndOf(p);
  const count = f.stream ? f.stream.count : 1;
  // z holds the segment at hand; the extents of those written are packed away (5 numbers each, not
  // an object and a view: a 10 GiB file has 2.6 million extents).
  const z: ZResult = { extents: [], payloads: [], totalBlocks: 0 };
  // mkfs.erofs maps a compressed file's DATA buffer block (so aligns it) before its first pcluster.
  ctx.alloc.alignData(o.dataAlignBlocks ?? 1);
  const w: Written = { z, packed: [], startBlk: ctx.alloc.cursor, added: [], deduped: false, indexMark: ctx.extentIndex?.mark() ?? 0, form: 'full', fragmentLen: 0 };
  for (let i = 0; i < count; i++) {
    let part = await (f.stream ? f.stream.get(i) : f.segs![0]);
    // -E dedupe: extents into earlier pclusters, decided here in write order (not for the packed
    // inode: its bytes are fragments, deduplicated already, as mkfs.erofs has it).
    if (ctx.extentIndex && zp === ctx.zparamsOf(p) && !zp.allFragments) {
      const last = i === count - 1;
      const segZp: ZParams = { ...zp, ztailpacking: zp.ztailpacking && last && !zp.fragments, fragments: !!zp.fragments && last };
      // Read here into the writer's encoder window (segment-bytes.ts), reused for the next segment
      // once this one's pclusters are written (the index reads them back from the image from then
      // on). Its steps compressed here (dedupeSegment) ask for at most pclusterTarget(segZp) bytes.
      const raw = ctx.segmentBytes.read(p, i * SEGMENT_SIZE, Math.min(SEGMENT_SIZE, size - i * SEGMENT_SIZE), { codec: segZp.codec, outCap: pclusterTarget(segZp) });
      part.raw = raw;
      extentsOf(part);
      const r = dedupeSegment(ctx.extentIndex, part, i * SEGMENT_SIZE, segZp);
      part = r.z;
      if (r.deduped) w.deduped = true;
      // The index views these bytes no longer: nothing is matched until the next segment, by when
      // this one's pclusters are written (read back from the image from then on), and the window
      // may be encoded over meanwhile (uninlineTail below).
      ctx.extentIndex.seal();
    }
    z.extents = part.extents;
    z.cols = part.cols;
    z.payloads = part.payloads;
    z.stored = part.stored;
    z.held = part.held;
    z.totalBlocks += part.totalBlocks;
    if (part.fragment) {
      // A whole file over several segments (all-fragments) is appended piece by piece, contiguously.
      const at = count > 1 ? ctx.fragments!.append(part.fragment) : ctx.fragments!.add(part.fragment, part.fragment.length === size);
      w.fragmentOff ??= at;
      w.fragmentLen += part.fragment.length;
      z.fragment = part.fragment;
    }
    let keys = dedupeKeys(ctx, z, zp);
    if (i === count - 1) {
      z.inline = part.inline;
      z.inlineRaw = part.inlineRaw;
      // COMPACT indexes derive block addresses from order: a file with a pcluster stored elsewhere
      // (deduped) needs FULL ones. This is the one decision of the form, made at the last segment
      // before the metadata is sized; segments before it may point back at earlier copies, which
      // only FULL indexes can express.
      w.form = !o.compression!.legacyIndexes && !w.deduped && !wouldDedupe(ctx, keys) ? 'compact' : 'full';
      // INTERLACED images (-E fragments) keep the whole item within one block: a raw inline tail
      // after indexes that run on is read by the kernel from a rotated position (z_erofs_transform_plain
      // rotates by the output's offset in its block), and our reader refuses it. (A raw tail is now
      // never inline in an INTERLACED inode, wherever it lies: compressStep in zfile.ts. The rule
      // stays for compressed tails, whose bytes it has decided so far.)
      if (z.inline && zp.interlaced && inodeEnd + zMetaLayoutOf(z, size, zp, inodeEnd, w.form).size > bs) {
        uninlineTail(z, zp);
        keys = dedupeKeys(ctx, z, zp);
      }
      if (count === 1 && !worthCompressing(z, size, bs)) {
        // Stored flat: copied (and re-hashed) by a worker like any flat file, or from the old image.
        if (part.slabs) ctx.pool.recycle(part.slabs);
        if (part.held) await ctx.held.done(part.held);
        if (part.stored) closeEntryFd(part.stored.fd);
        z.stored = undefined;
        ctx.extentIndex?.dropSince(w.indexMark);
        const fp = fingerprint(ctx, p, f);
        if (fp) await fp;
        if (ctx.chunkStore) writeChunked(ctx, p);
        else await writeFlat(ctx, p, ctx.reserve(p));
        return 'flat';
      }
      // The inline tail (ztailpacking) goes wherever mkfs.erofs 1.9.3's buffer manager would take it
      // with the inode, which may run on across a block boundary before it (buffer-blocks.ts): the
      // tail alone must stay within one block. Refused there, it becomes a block after the file's
      // pclusters (mkfs.erofs z_erofs_drop_inline_pcluster), placed under the form already chosen.
      // Deciding by the whole item's size instead (inode + indexes + tail <= one block) refused
      // tails mkfs.erofs inlines, a block each.
      if (z.inline && !zp.interlaced) {
        const l = zMetaLayoutOf(z, size, zp, inodeEnd, w.form);
        const item = inodeEnd + l.size - l.inlineLen;
        if (!ctx.alloc.fitsInline(item, l.inlineLen)) {
          w.refusedInline = { size: item, inline: l.inlineLen };
          uninlineTail(z, zp);
          keys = dedupeKeys(ctx, z, zp);
        }
      }
    }
    // Segments before the last may point back at earlier copies (the form, chosen at the last, is then FULL).
    try {
      if (placePayloads(ctx, z, keys, i < count - 1 || w.form !== 'compact', w.added)) w.deduped = true;
    } finally {
      // Its runs queued: the copy job closes the entry (or the build's end, if it never goes out).
      if (part.stored) ctx.stored.done(part.stored);
      z.stored = undefined;
    }
    z.held = undefined;
    if (part.held) {
      const wait = ctx.held.done(part.held);
      if (wait) await wait;
    }
    if (part.stored) await ctx.stored.flushIfFull();
    ctx.compressedDone += i < count - 1 ? Math.floor(size / count) : size - Math.floor(size / count) * (count - 1);
    ctx.report();
    // Written: the views go, their buffers back to the workers; the last segment's once the inode
    // is written (its inline bytes may be views of them, a cache entry's).
    z.payloads = [];
    if (part.slabs) {
      if (i < count - 1) ctx.pool.recycle(part.slabs);
      else w.lastSlabs = part.slabs;
    }
    if (count > 1) {
      w.packed.push(z.cols ?? packExtents(z.extents));
      z.extents = [];
      z.cols = undefined;
    }
  }
  // --cache: where the pclusters went, for a later build to copy them from this image (old-image.ts).
  if (count === 1 && !w.deduped && o.cacheDir) ctx.jobs?.placed(f, z, bs);
  return w;
}

/**
 * A file of several segments that compression did not pay for after all: its blocks are taken back
 * (nothing else was allocated meanwhile) and it is copied flat over them, or chunked with the
 * taken-back blocks zeroed (later files may leave holes over them).
 */
async function takeBack(ctx: EmitContext, p: Inode, w: Written): Promise<void> {
  const { alloc, out, bs } = ctx;
  // Pclusters still queued for copying must land before their blocks are written over.
  await ctx.stored.drain();
  await ctx.held.drain();
  const endBlk = alloc.cursor;
  alloc.cursor = w.startBlk;
  for (const k of w.added) ctx.dedupe!.delete(k);
  ctx.extentIndex?.dropSince(w.indexMark);
  if (ctx.chunkStore) {
    zeroBlocks(ctx, w.startBlk * bs, endBlk * bs);
    if (w.lastSlabs) ctx.pool.recycle(w.lastSlabs);
    writeChunked(ctx, p);
    return;
  }
  const pl = ctx.reserve(p);
  // The copy writes every byte of the file's blocks (no holes over old pclusters); zeros after it.
  zeroBlocks(ctx, pl.startBlk * bs + (p.size - pl.tailLen), endBlk * bs);
  if (w.lastSlabs) ctx.pool.recycle(w.lastSlabs);
  await copyFlat(ctx, p, pl, true);
}

/** Zeros over taken-back blocks, out at once: the blocks go back to the allocator, and workers write there next. */
function zeroBlocks(ctx: EmitContext, from: number, to: number): void {
  for (let at = from; at < to;) {
    const n = Math.min(ZERO_BLOCKS.length, to - at);
    ctx.out.write(ZERO_BLOCKS, at, 0, n);
    at += n;
  }
  ctx.out.flush();
}

/**
 * All of the file is a fragment: the map header alone, its 8 bytes the offset with bit 63 set
 * (Z_EROFS_FRAGMENT_INODE_BIT), in a FULL inode with no blocks (mkfs.erofs erofs_commit_compressed_file).
 */
function writeFragmentInode(ctx: EmitContext, p: Inode, fragmentOff: number): void {
  const inodeEnd = ctx.inodeEndOf(p);
  const headerAt = mapHeaderOffset(inodeEnd);
  const meta = new Uint8Array(headerAt + MAP_HEADER_SIZE - inodeEnd);
  encodeMapHeader({ kind: 'fragment-inode', fragmentOff: BigInt(fragmentOff) }, meta, headerAt - inodeEnd);
  ctx.placeItem(p, inodeEnd + meta.length, 0);
  ctx.compressedFiles++;
  ctx.writeItem(p, { datalayout: INODE_COMPRESSED_FULL, startBlk: 0, tail: meta, tailLen: meta.length });
}

/** The inode with its map: header, COMPACT or FULL indexes, and the inline tail (ztailpacking). */
function writeCompressedInode(ctx: EmitContext, p: Inode, zp: ZParams, w: Written): void {
  const inodeEnd = ctx.inodeEndOf(p);
  // h_fragmentoff is 32 bits; FULL indexes would carry the high bits in the tail head (not written here).
  if (w.fragmentOff !== undefined && w.fragmentOff + w.fragmentLen > 0xffffffff) {
    throw new UserError(`${showPath(pathOf(p))}: packed inode over 4 GiB (fragment offsets beyond 32 bits are not implemented by erofs-forge)`);
  }
  const layout = zMetaLayoutOf(w.z, p.size, zp, inodeEnd, w.form);
  const meta = zMetaBytes(w.z, p.size, zp, layout, w.packed.length ? concatColumns(w.packed) : undefined, w.fragmentOff);
  const refused = w.refusedInline;
  if (refused) {
    // mkfs.erofs tries with the tail first: the empty block its buffer manager makes then stays
    // (later items may fill it). The file's data buffer, grown by the tail's block, is held meanwhile.
    ctx.alloc.holdData(true);
    if (ctx.alloc.placeInode(p, refused.size, refused.inline)) throw new Error(`${showPath(pathOf(p))}: an inline tail refused before fits after all`);
  }
  ctx.placeItem(p, inodeEnd + layout.size - layout.inlineLen, layout.inlineLen, !!refused || layout.inlineLen > 0);
  const pl: Placement = { datalayout: w.form === 'compact' ? INODE_COMPRESSED_COMPACT : INODE_COMPRESSED_FULL, startBlk: w.z.totalBlocks, tail: meta, tailLen: meta.length };
  ctx.compressedFiles++;
  ctx.writeItem(p, pl);
}

function concatColumns(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}
