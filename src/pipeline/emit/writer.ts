// emit(plan): walks the plan's steps once, allocating blocks and writing data and metadata.
// Regular files are copied or compressed by worker threads; their tails go inline after the inode.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ISLOT_SIZE, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, NULL_ADDR,
  INODE_COMPRESSED_COMPACT, INODE_COMPRESSED_FULL, INODE_CHUNK_BASED,
} from '../../format/constants.js';
import { chunkMapLayout, encodeChunkMap } from '../../format/chunk.js';
import { ChunkStore, type ChunkedFile } from '../files/chunked.js';
import { indexedChunks, TAR_DEVICE_ID } from '../files/tar-index.js';
import { encodeDeviceSlot, DEVT_SLOT_SIZE } from '../../format/device.js';
import { encodeInode, inodeSize, encodeRdev, flatDataLayout } from '../../format/inode.js';
import { encodeDirBlock } from '../../format/dirent.js';
import { encodeXattrIbody, xattrIcount } from '../../format/xattr-ibody.js';
import type { IndexForm } from '../../format/zmap.js';
import { encodeSuperBlock, SUPER_BLOCK_AT, configRecordsAt, sealSuperBlock } from '../../format/superblock.js';
import { UserError } from '../../errors.js';
import { pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { dirEntriesWithNids, relPathOf, mtimeOf, xattrSizeOf, DirDone, type Plan } from '../plan/plan.js';
import { BlockAllocator } from '../plan/meta-alloc.js';
import { ImageOutput } from '../io/output.js';
import { maxPclusterSize, type BuildOptions } from '../options.js';
import { fingerprintValue, digestAlgorithm } from '../../fingerprint/compute.js';
import { JobPool } from '../work/pool.js';
import { FileJobQueue, type FileJobs } from '../work/file-jobs.js';
import type { CopyItem } from '../work/jobs.js';
import { packExtents, uninlineTail, worthCompressing, zMetaBytes, zMetaLayoutOf, type ZParams, type ZResult } from '../files/zfile.js';
import { makeCodec } from '../../compress/codec.js';
import { FragmentStore } from '../files/fragments.js';
import { encodeMapHeader, mapHeaderOffset, MAP_HEADER_SIZE } from '../../format/zmap.js';
import { FEATURE_INCOMPAT_FRAGMENTS } from '../../format/constants.js';
import { newInode } from '../../source/tree.js';
import { SEGMENT_SIZE } from '../work/jobs.js';
import { compressExtents } from '../files/zfile.js';
import { SegmentStream } from '../work/file-jobs.js';
import { createHash } from 'node:crypto';
import { systemClock } from '../../sys/clock.js';

function concatColumns(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/** Zeros written over the pclusters of a file taken back (see writeCompressed). */
const ZERO_BLOCKS = new Uint8Array(1 << 20);

/** A batch of flat files sent to a worker closes at this many bytes or files. */
const COPY_BATCH_BYTES = 1 << 20;
const COPY_BATCH_FILES = 64;

const NO_BYTES = new Uint8Array(0);

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

/** Where an inode's data went. */
interface Placement {
  datalayout: number;
  startBlk: number;
  /** Bytes after the inode and xattrs: the inline tail or the compressed file's map. */
  tail: Uint8Array;
  tailLen: number;
}

/** Writes the planned image; `pool` runs the file jobs (the caller owns and closes it). */
export async function emit(plan: Plan, o: BuildOptions, out: ImageOutput, pool: JobPool): Promise<BuildStats> {
  // --chunksize: the chunk blob is a temp file beside the image until its place is known (in the
  // temp directory when the image goes to a block device, which has no "beside").
  const blob = o.chunks ? new ImageOutput(out.isDevice ? path.join(os.tmpdir(), 'erofs-forge-chunks') : out.target) : undefined;
  blob?.create();
  try {
    return await emitWith(plan, o, out, pool, blob);
  } finally {
    blob?.abort();
  }
}

async function emitWith(plan: Plan, o: BuildOptions, out: ImageOutput, pool: JobPool, blob?: ImageOutput): Promise<BuildStats> {
  const bs = plan.blockSize;
  const alloc = new BlockAllocator(bs, plan.metaStart, (blk, buf) => out.write(buf, blk * bs), (end) => out.reserve(end));
  /** Placements of directories, written once their children have nids. */
  const placements = new Map<Inode, Placement>();
  let dataBytes = 0;
  const direct = (buf: Uint8Array, pos: number) => out.write(buf, pos);
  // Codecs are made for the image's largest pcluster (-C, or a compress hint's): their windows and
  // dictionaries are then the ones the config records announce.
  const codecPcluster = o.compression && maxPclusterSize(o.compression);
  const zparams: ZParams | undefined = o.compression && {
    codec: makeCodec(o.compression.codec, codecPcluster!), blockSize: bs, pclusterSize: o.compression.pclusterSize,
    ...(codecPcluster !== o.compression.pclusterSize ? { codecPcluster } : {}),
    big: plan.bigPcluster, ztailpacking: o.compression.ztailpacking, maxExtent: o.compression.maxExtentBytes,
    ...(o.compression.fragments ? {
      fragments: true, allFragments: o.compression.fragments.all,
      // mkfs.erofs: INTERLACED with fragments unless dedupe is on (prepare_compressed_file).
      interlaced: !o.compression.dedupe,
    } : {}),
  };
  const fragments = o.compression?.fragments ? new FragmentStore(o.compression.fragments.dedupe) : undefined;
  /** --compress-hints: parameters by (pcluster size, algorithm index), codecs by algorithm index. */
  const hintedParams = new Map<string, ZParams>();
  const hintedCodecs = new Map<number, ReturnType<typeof makeCodec>>();
  const zparamsOf = (p: Inode): ZParams => {
    const c = plan.zChoice?.get(p);
    if (!c) return zparams!;
    const k = `${c.pclusterSize}:${c.algorithm}`;
    let zp = hintedParams.get(k);
    if (!zp) {
      let codec = c.algorithm === 0 ? zparams!.codec : hintedCodecs.get(c.algorithm);
      if (!codec) hintedCodecs.set(c.algorithm, (codec = makeCodec(o.compression!.alternatives![c.algorithm - 1], codecPcluster!)));
      zp = { ...zparams!, codec, pclusterSize: c.pclusterSize, codecPcluster: codecPcluster! };
      hintedParams.set(k, zp);
    }
    return zp;
  };
  // -E dedupe; and with fragments mkfs.erofs 1.9.3 also stores identical pclusters once (lib/dedupe_ext.c).
  const dedupe = o.compression?.dedupe || o.compression?.fragments ? new Map<string, number>() : undefined;
  const jobs = new FileJobQueue(plan, o, pool, zparams);
  const chunkStore = blob && new ChunkStore(bs, o.chunks!, blob);
  /** Chunk-based files placed, written once the blob has its place (their maps hold image blocks). */
  const chunkedItems: { p: Inode; file: ChunkedFile }[] = [];
  // Flat regular files are copied by workers in batches; their inodes are written when the copy
  // returns the tails. Batches bound the round trips: one per ~1 MiB or 64 files, not one per file.
  const copies: Promise<void>[] = [];
  const MAX_COPIES = 4 * o.workers + 8;
  let batch: { p: Inode; pl: Placement; dense: boolean }[] = [];
  let batchBytes = 0;
  // Files of one directory come together: its path is made once for all of them, not once each.
  let lastDir: Inode | undefined;
  let lastDirPrefix = '';
  const filePath = (p: Inode): string => {
    if (!p.parent) return pathOf(p);
    if (p.parent !== lastDir) {
      lastDir = p.parent;
      const d = pathOf(lastDir);
      // An unnamed root (an archive's) adds nothing to its children's paths (as in pathOf).
      lastDirPrefix = !lastDir.parent && !lastDir.name ? '' : `${d}/`;
    }
    return lastDirPrefix + p.name;
  };
  const flushCopies = async (): Promise<void> => {
    if (!batch.length) return;
    const items = batch;
    batch = [];
    batchBytes = 0;
    const algo = items[0].p.ibody?.fingerprint ? digestAlgorithm(o.fingerprint!) : undefined;
    const files: CopyItem[] = items.map(({ p, pl, dense }) => ({
      // A file read from its path needs only the path and the scanned mtime (see dataOf).
      src: p.data, path: filePath(p), mtimeSec: p.data ? undefined : p.mtimeSec, mtimeNsec: p.data ? undefined : p.mtimeNsec,
      size: p.size, dataStart: pl.startBlk * bs, blockPart: p.size - pl.tailLen, dense: dense || undefined,
    }));
    const pr = pool.run({ kind: 'copy', image: out.tempPath, files, algo }).then((r) => {
      const res = r as { tails: Uint8Array; digests?: Uint8Array };
      let at = 0;
      items.forEach(({ p, pl }, i) => {
        pl.tail = res.tails.subarray(at, at + pl.tailLen);
        at += pl.tailLen;
        if (res.digests) {
          const value = fingerprintValue(o.fingerprint!, res.digests.subarray(32 * i, 32 * i + 32), () => relPathOf(p), p.size);
          // A file compressed first and stored flat after all is read twice: both reads must agree.
          const fpx = p.ibody!.fingerprint!;
          const before = fpx.value;
          if (o.fingerprint!.scheme !== 'uuid' && before.some((b) => b !== 0) && !value.equals(before)) {
            throw new UserError(`${showPath(pathOf(p))}: file changed during build (its bytes differ between two reads)`);
          }
          fpx.value = value;
        }
        writeItem(p, pl);
      });
    });
    // Observed when awaited below; never an unhandled rejection meanwhile.
    pr.catch(() => {});
    copies.push(pr);
    if (copies.length >= MAX_COPIES) await copies.shift();
  };
  /** `dense`: the file's blocks held other bytes (see writeCompressed): zero runs are written, not left as holes. */
  const copyFlat = async (p: Inode, pl: Placement, dense = false): Promise<void> => {
    batch.push({ p, pl, dense });
    batchBytes += p.size;
    if (batchBytes >= COPY_BATCH_BYTES || batch.length >= COPY_BATCH_FILES) await flushCopies();
  };
  let compressedFiles = 0;

  /**
   * Bytes of an inode and its xattr body: the sizes their encoders write (encodeInode; the planner
   * measured the body with encodeXattrIbody). Every placement and inline decision uses this.
   */
  const inodeEndOf = (p: Inode): number => inodeSize(p.extended) + xattrSizeOf(p);

  /** Inline the tail after inode + xattrs when the whole item fits one block (mkfs.erofs rule). */
  const wantsInline = (p: Inode, tailLen: number): boolean =>
    tailLen > 0 && (p.kind !== 'reg' || o.inlineData) && inodeEndOf(p) + tailLen <= bs;

  /** Reserve data blocks and the metadata slot for an inode; returns its placement skeleton. */
  /** Index images: directories whose blocks are taken when they are written (see reserve). */
  const lateBlocks = new Map<Inode, number>();
  const reserve = (p: Inode): Placement => {
    const inline = wantsInline(p, flatDataLayout(p.size, bs, true).tail);
    const { blocks: fullBlocks, tail: len } = flatDataLayout(p.size, bs, inline);
    // Index images place items as mkfs.erofs does: a directory's blocks once it is written (after its
    // entries' inodes, see writeDir), items running on from the last block (meta-alloc.ts).
    const late = !!o.tarIndex && p.kind === 'dir' && fullBlocks > 0;
    const startBlk = fullBlocks && !late ? alloc.takeBlocks(fullBlocks) : inline ? NULL_ADDR : 0;
    if (late) lateBlocks.set(p, fullBlocks);
    p.nid = (o.tarIndex ? alloc.placeRunOn(inodeEndOf(p), len) : alloc.placeItem(inodeEndOf(p) + len)) / ISLOT_SIZE;
    // A copied file's tail arrives as a view of its batch's result; others are filled in here.
    const pl: Placement = { datalayout: inline ? INODE_FLAT_INLINE : INODE_FLAT_PLAIN, startBlk, tailLen: len, tail: p.kind === 'reg' ? NO_BYTES : new Uint8Array(len) };
    if (p.kind === 'dir') placements.set(p, pl);
    return pl;
  };

  let itemBuf = new Uint8Array(bs);
  /** Write the inode, its xattrs and inline tail, each by its encoder at the offsets the item was placed with. */
  const writeItem = (p: Inode, pl: Placement): void => {
    const xsize = xattrSizeOf(p);
    const inodeEnd = inodeEndOf(p);
    const len = inodeEnd + pl.tail.length;
    // One scratch buffer for every item: writeMeta copies the bytes before the next item is made.
    if (itemBuf.length < len) itemBuf = new Uint8Array(len);
    const item = itemBuf.subarray(0, len);
    item.fill(0);
    const u = p.kind === 'chr' || p.kind === 'blk' ? encodeRdev(p.rdevMajor, p.rdevMinor)
      : p.kind === 'fifo' || p.kind === 'sock' ? 0 : pl.startBlk;
    const t = mtimeOf(p, plan);
    const isize = encodeInode({
      extended: p.extended, datalayout: pl.datalayout, xattrIcount: xattrIcount(xsize), mode: p.mode,
      nlink: p.links, size: BigInt(p.size), u, ino: p.ino, uid: p.uid, gid: p.gid,
      mtimeSec: t.sec, mtimeNsec: t.nsec, mtimeDelta: 0,
    }, item, 0);
    const wrote = p.ibody ? encodeXattrIbody(p.ibody, item, isize) : 0;
    if (isize + wrote !== inodeEnd) throw new Error(`${showPath(pathOf(p))}: inode + xattrs wrote ${isize + wrote} bytes, placed as ${inodeEnd}`);
    item.set(pl.tail, inodeEnd);
    alloc.writeMeta(p.nid * ISLOT_SIZE, item, direct);
  };

  /** Dedupe keys of z's payloads (undefined for the inline one, and all of them without dedupe). */
  const dedupeKeys = (z: ZResult, zp: ZParams): (string | undefined)[] =>
    z.payloads.map((b, k) => {
      if (!dedupe || !b) return undefined;
      const key = createHash('sha256').update(b).digest('base64');
      // An INTERLACED stored block reads differently at another offset in its lcluster; a stream
      // is read by its file's algorithm (compress hints mix them).
      const e = z.extents[k];
      return !e.compressed ? (zp.interlaced ? `${key}@${e.la % bs}` : key) : zp.codec.algorithm ? `${key}#${zp.codec.algorithm}` : key;
    });

  /** Whether placing payloads with these keys would point any of them at a copy already written (or earlier in the list). */
  const wouldDedupe = (keys: readonly (string | undefined)[]): boolean => {
    const seen = new Set<string>();
    for (const k of keys) {
      if (k === undefined) continue;
      if (dedupe!.has(k) || seen.has(k)) return true;
      seen.add(k);
    }
    return false;
  };

  /**
   * Write the payloads of z's extents to consecutive blocks, or, when `pointBack` (the file's indexes
   * can address any block: FULL), point deduped ones at the copy already written. `keys` are
   * dedupeKeys(z, zp). Returns whether any was deduped; `added` collects new dedupe keys.
   */
  const placePayloads = (z: ZResult, keys: readonly (string | undefined)[], pointBack: boolean, added: string[]): boolean => {
    let deduped = false;
    // Consecutive pclusters that sit side by side in one buffer go out in one write.
    let run: { buf: Uint8Array; start: number; end: number; pos: number } | undefined;
    const flushRun = () => { if (run) out.write(run.buf, run.pos, run.start, run.end); run = undefined; };
    for (let k = 0; k < z.extents.length; k++) {
      const e = z.extents[k];
      const payload = z.payloads[k];
      if (!payload) continue;
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
    return deduped;
  };

  /**
   * Compress a regular file: pclusters go to consecutive blocks, then the inode with its map header,
   * indexes and any inline tail. Falls back to the flat layout when compression does not pay.
   *
   * A file of one segment is decided before any block is taken. A larger one is written segment by
   * segment as the results come (memory does not grow with the file); should compression not pay
   * after all, its blocks are taken back and the file is copied flat over them.
   */
  const writeCompressed = async (p: Inode, f: FileJobs, packedZp?: ZParams): Promise<void> => {
    // The packed inode has its own pcluster size and no fragments; identical pclusters in it are
    // stored once like anyone's (mkfs.erofs 1.9.3 runs its extent dedupe on the packed inode too).
    const zp = packedZp ?? zparamsOf(p);
    const size = p.size;
    const inodeEnd = inodeEndOf(p);
    // The fingerprint is needed for the inode (and to check a flat re-read), not before.
    const fingerprint = async () => {
      if (f.hash) p.ibody!.fingerprint!.value = fingerprintValue(o.fingerprint!, await f.hash, () => relPathOf(p), p.size);
    };
    const count = f.stream ? f.stream.count : 1;
    const startBlk = alloc.cursor;
    // z holds the segment at hand; the extents of those written are packed away (5 numbers each, not
    // an object and a view: a 10 GiB file has 2.6 million extents).
    const z: ZResult = { extents: [], payloads: [], totalBlocks: 0 };
    const written: Float64Array[] = [];
    let lastSlabs: ArrayBuffer[] | undefined;
    const added: string[] = [];
    let deduped = false;
    // Chosen once, at the last segment, before the metadata is sized (see below); segments before it
    // may point back at earlier copies, which only FULL indexes can express.
    let form: IndexForm | undefined;
    // The file's bytes in the packed inode: where they start, how many.
    let fragmentOff: number | undefined;
    let fragmentLen = 0;
    for (let i = 0; i < count; i++) {
      const part = await (f.stream ? f.stream.get(i) : f.segs![0]);
      z.extents = part.extents;
      z.payloads = part.payloads;
      z.totalBlocks += part.totalBlocks;
      if (part.fragment) {
        // A whole file over several segments (all-fragments) is appended piece by piece, contiguously.
        const at = count > 1 ? fragments!.append(part.fragment) : fragments!.add(part.fragment, part.fragment.length === size);
        fragmentOff ??= at;
        fragmentLen += part.fragment.length;
        z.fragment = part.fragment;
      }
      let keys = dedupeKeys(z, zp);
      if (i === count - 1) {
        z.inline = part.inline;
        z.inlineRaw = part.inlineRaw;
        // COMPACT indexes derive block addresses from order: a file with a pcluster stored elsewhere
        // (deduped) needs FULL ones. This is the one decision of the form; the size below is its layout's.
        form = !o.compression!.legacyIndexes && !deduped && !wouldDedupe(keys) ? 'compact' : 'full';
        // The inline tail must share one block with the inode (ztailpacking); otherwise it becomes a
        // block. Pclusters made from it are placed under the form already chosen.
        if (z.inline && inodeEnd + zMetaLayoutOf(z, size, zp, inodeEnd, form).size > bs) {
          uninlineTail(z, zp);
          keys = dedupeKeys(z, zp);
        }
        if (count === 1 && !worthCompressing(z, size, bs)) {
          // Stored flat: copied (and re-hashed) by a worker like any flat file.
          if (part.slabs) pool.recycle(part.slabs);
          await fingerprint();
          if (chunkStore) writeChunked(p);
          else await copyFlat(p, reserve(p));
          return;
        }
      }
      if (placePayloads(z, keys, form !== 'compact', added)) deduped = true;
      compressedDone += i < count - 1 ? Math.floor(size / count) : size - Math.floor(size / count) * (count - 1);
      report();
      // Written: the views go, their buffers back to the workers; the last segment's once the inode
      // is written (its inline bytes may be views of them, a cache entry's).
      z.payloads = [];
      if (part.slabs) {
        if (i < count - 1) pool.recycle(part.slabs);
        else lastSlabs = part.slabs;
      }
      if (count > 1) {
        written.push(packExtents(z.extents));
        z.extents = [];
      }
    }
    await fingerprint();
    if (!worthCompressing(z, size, bs)) {
      // Take the blocks back (nothing else was allocated meanwhile) and copy the file flat over them.
      const endBlk = alloc.cursor;
      alloc.cursor = startBlk;
      for (const k of added) dedupe!.delete(k);
      if (chunkStore) {
        // Stored chunked: the taken-back blocks are zeroed (later files may leave holes over them).
        for (let at = startBlk * bs; at < endBlk * bs;) {
          const n = Math.min(ZERO_BLOCKS.length, endBlk * bs - at);
          out.write(ZERO_BLOCKS, at, 0, n);
          at += n;
        }
        if (lastSlabs) pool.recycle(lastSlabs);
        writeChunked(p);
        return;
      }
      const pl = reserve(p);
      // The copy writes every byte of the file's blocks (no holes over old pclusters); zeros after it.
      const dataEnd = pl.startBlk * bs + (size - pl.tailLen);
      for (let at = dataEnd; at < endBlk * bs;) {
        const n = Math.min(ZERO_BLOCKS.length, endBlk * bs - at);
        out.write(ZERO_BLOCKS, at, 0, n);
        at += n;
      }
      if (lastSlabs) pool.recycle(lastSlabs);
      await copyFlat(p, pl, true);
      return;
    }
    if (form === 'compact' && deduped) throw new Error(`${showPath(pathOf(p))}: deduped pclusters under COMPACT indexes`);
    if (fragmentOff !== undefined && fragmentLen === size) {
      // All of the file is a fragment: the map header alone, its 8 bytes the offset with bit 63 set
      // (Z_EROFS_FRAGMENT_INODE_BIT), in a FULL inode with no blocks (mkfs.erofs erofs_commit_compressed_file).
      const headerAt = mapHeaderOffset(inodeEnd);
      const meta = new Uint8Array(headerAt + MAP_HEADER_SIZE - inodeEnd);
      meta.set(encodeMapHeader({ kind: 'fragment-inode', fragmentOff: BigInt(fragmentOff) }), headerAt - inodeEnd);
      p.nid = alloc.placeItem(inodeEnd + meta.length) / ISLOT_SIZE;
      compressedFiles++;
      writeItem(p, { datalayout: INODE_COMPRESSED_FULL, startBlk: 0, tail: meta, tailLen: meta.length });
      if (lastSlabs) pool.recycle(lastSlabs);
      return;
    }
    // h_fragmentoff is 32 bits; FULL indexes would carry the high bits in the tail head (not written here).
    if (fragmentOff !== undefined && fragmentOff + fragmentLen > 0xffffffff) {
      throw new UserError(`${showPath(pathOf(p))}: packed inode over 4 GiB (fragment offsets beyond 32 bits are not implemented by erofs-forge)`);
    }
    const layout = zMetaLayoutOf(z, size, zp, inodeEnd, form!);
    const meta = zMetaBytes(z, size, zp, layout, count > 1 ? concatColumns(written) : undefined, fragmentOff);
    p.nid = alloc.placeItem(inodeEnd + layout.size) / ISLOT_SIZE;
    const pl: Placement = { datalayout: form === 'compact' ? INODE_COMPRESSED_COMPACT : INODE_COMPRESSED_FULL, startBlk: z.totalBlocks, tail: meta, tailLen: meta.length };
    compressedFiles++;
    writeItem(p, pl);
    if (lastSlabs) pool.recycle(lastSlabs);
  };

  /**
   * An uncompressed regular file under --chunksize: chunked into the blob now (in visit order, the
   * blob's order), its slot placed now with the size of its map's layout; written at the end.
   */
  const writeChunked = (p: Inode): void => {
    const fpx = p.ibody?.fingerprint;
    const file = chunkStore!.chunkFile(p, filePath(p), fpx ? digestAlgorithm(o.fingerprint!) : undefined);
    if (fpx && file.digest) {
      const value = fingerprintValue(o.fingerprint!, file.digest, () => relPathOf(p), p.size);
      // A file compressed first and stored chunked after all is read twice: both reads must agree.
      if (o.fingerprint!.scheme !== 'uuid' && fpx.value.some((b) => b !== 0) && !value.equals(fpx.value)) {
        throw new UserError(`${showPath(pathOf(p))}: file changed during build (its bytes differ between two reads)`);
      }
      fpx.value = value;
    }
    const layout = chunkMapLayout(inodeEndOf(p), file.blobBlocks.length, file.format);
    p.nid = alloc.placeItem(layout.itemSize) / ISLOT_SIZE;
    chunkedItems.push({ p, file });
  };

  /** Place the blob after every other block and write the chunk-based inodes with their maps. */
  const finishChunked = (): void => {
    if (!chunkStore) return;
    const base = alloc.takeBlocks(chunkStore.blocks);
    if (base + chunkStore.blocks > NULL_ADDR) throw new UserError('image over 2^32 blocks: 48-bit chunk addresses are not implemented by erofs-forge');
    const buf = new Uint8Array(1 << 20);
    for (let at = 0; at < chunkStore.blocks * bs;) {
      const n = Math.min(buf.length, chunkStore.blocks * bs - at);
      const view = buf.subarray(0, n);
      view.fill(0);
      blob!.read(view, at);
      out.write(view, base * bs + at);
      out.flush();
      at += n;
    }
    for (const { p, file } of chunkedItems) {
      const inodeEnd = inodeEndOf(p);
      const layout = chunkMapLayout(inodeEnd, file.blobBlocks.length, file.format);
      const tail = new Uint8Array(layout.at - inodeEnd + layout.bytes);
      const blocks = file.blobBlocks.map((b) => (b === NULL_ADDR ? b : base + b));
      encodeChunkMap(blocks, file.format, tail, layout.at - inodeEnd);
      writeItem(p, { datalayout: INODE_CHUNK_BASED, startBlk: file.format, tail, tailLen: tail.length });
    }
  };

  /** --tar=i / headerball: a regular file whose data stays in the archive, written now with its map. */
  const writeIndexed = (p: Inode): void => {
    const ti = o.tarIndex!;
    const offset = ti.offsets.get(p);
    if (offset === undefined || (ti.mode === 'tar' && offset % bs)) throw new Error(`${showPath(pathOf(p))}: no block-aligned archive offset for an indexed file`);
    const { format, blocks } = indexedChunks(p.size, offset, ti.mode, plan.blkszbits);
    if (blocks.some((b) => b !== NULL_ADDR && b >= NULL_ADDR)) throw new UserError('archive over 2 TiB: 48-bit chunk addresses are not implemented by erofs-forge');
    const inodeEnd = inodeEndOf(p);
    const layout = chunkMapLayout(inodeEnd, blocks.length, format);
    p.nid = alloc.placeRunOn(layout.itemSize, 0) / ISLOT_SIZE;
    const tail = new Uint8Array(layout.at - inodeEnd + layout.bytes);
    encodeChunkMap(blocks, format, tail, layout.at - inodeEnd, TAR_DEVICE_ID);
    writeItem(p, { datalayout: INODE_CHUNK_BASED, startBlk: format, tail, tailLen: tail.length });
  };

  const writeSymlink = (p: Inode, pl: Placement): void => {
    const t = p.target!;
    const inlineTail = pl.tail.length;
    const blockPart = t.length - inlineTail;
    if (blockPart) out.write(t, pl.startBlk * bs, 0, blockPart);
    pl.tail.set(t.subarray(blockPart));
  };

  const writeDir = (p: Inode, pl: Placement): void => {
    const late = lateBlocks.get(p);
    if (late !== undefined) pl.startBlk = alloc.takeBlocks(late);
    const entries = dirEntriesWithNids(p);
    const blocks = plan.dirBlocks.get(p)!;
    const inline = pl.datalayout === INODE_FLAT_INLINE;
    const buf = new Uint8Array(bs);
    blocks.forEach((b, i) => {
      buf.fill(0);
      // The planner sized the block (splitDirBlocks); the encoder's count must agree.
      const used = encodeDirBlock(entries, b.start, b.end, buf, 0);
      if (used !== b.used) throw new Error(`${showPath(pathOf(p))}: directory block ${i} wrote ${used} bytes, planned ${b.used}`);
      if (inline && i === blocks.length - 1) pl.tail.set(buf.subarray(0, b.used));
      else out.write(buf, (pl.startBlk + i) * bs);
    });
    writeItem(p, pl);
  };

  /**
   * -E fragments: the packed inode, made after every file (mkfs.erofs erofs_flush_packed_inode): a
   * regular file of the fragments, compressed with the packed pcluster size like any file (flat
   * when that does not pay), mode 0644, owned by root, at the build time. Returns its nid, or 0.
   */
  const writePacked = async (): Promise<number> => {
    if (!fragments || fragments.length === 0) return 0;
    const data = fragments.data();
    const c = o.compression!;
    const psize = c.fragments!.packedPclusterSize;
    const pz: ZParams = { ...zparams!, pclusterSize: psize, codecPcluster: codecPcluster!, fragments: false, allFragments: false };
    const node = newInode({
      kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: Number(plan.epoch), mtimeNsec: plan.fixedNsec, size: data.length,
      rdevMajor: 0, rdevMinor: 0, xattrs: [], data: { type: 'buffer', bytes: data }, links: 1,
    }, '(packed inode)', undefined);
    node.ino = plan.inodeCount + 1;
    node.extended = o.inodeVersion === 'extended';
    const nSegs = Math.ceil(data.length / SEGMENT_SIZE);
    // Compressed here, segment by segment as a file's would be: the workers are done by now.
    const seg = (i: number): Promise<ZResult> => {
      const start = i * SEGMENT_SIZE;
      const bytes = data.subarray(start, Math.min(data.length, start + SEGMENT_SIZE));
      let pos = 0;
      const z = compressExtents((b, off, n) => {
        const k = Math.min(n, bytes.length - pos);
        b.set(bytes.subarray(pos, pos + k), off);
        pos += k;
        return k;
      }, bytes.length, { ...pz, ztailpacking: pz.ztailpacking && start + bytes.length === data.length });
      for (const e of z.extents) e.la += start;
      return Promise.resolve(z);
    };
    const f: FileJobs = nSegs === 1 ? { segs: [seg(0)] } : { stream: new SegmentStream(nSegs, seg, 1, () => {}) };
    await writeCompressed(node, f, pz);
    return node.nid;
  };

  let steps = 0;
  const totalBytes = plan.steps.reduce((a, st) => a + (!(st instanceof DirDone) && st.kind === 'reg' ? st.size : 0), 0);
  let files = 0;
  let lastReport = 0;
  // Bytes done: compressed files count each segment as it is written, flat files each chunk the
  // workers copy (a file compressed and then stored flat counts twice: capped at the total).
  let compressedDone = 0;
  const clock = o.progressClock ?? systemClock;
  const report = (force = false) => {
    const now = clock.now();
    if (!o.progress || (!force && now - lastReport < 100)) return;
    lastReport = now;
    const bytes = Math.min(totalBytes, compressedDone + pool.copiedBytes());
    o.progress({ phase: 'write', files, totalFiles: plan.inodeCount, bytes, totalBytes });
  };
  // A timer too: a large file written by a worker must not freeze the line until it is done.
  const stopTicker = o.progress ? clock.every(250, () => report()) : undefined;
  let packedNid = 0;
  try {
    for (const step of plan.steps) {
      const done = step instanceof DirDone;
      const p = done ? step.p : step;
      if (done) {
        writeDir(p, placements.get(p)!);
        placements.delete(p);
      } else if (p.kind === 'dir') {
        reserve(p);
      } else {
        const f = jobs.take(p);
        if (p.kind === 'reg') dataBytes += p.size;
        if (f) {
          await writeCompressed(p, f);
        } else if (o.tarIndex && p.kind === 'reg' && p.size > 0) {
          writeIndexed(p);
        } else if (p.kind === 'reg' && p.size > 0) {
          if (chunkStore) writeChunked(p);
          else await copyFlat(p, reserve(p));
        } else {
          const pl = reserve(p);
          if (p.kind === 'lnk') writeSymlink(p, pl);
          writeItem(p, pl);
        }
      }
      // Let signals and other events in now and then.
      if (!done) files++;
      if (o.progress && (steps & 63) === 0) report();
      // Yield to the event loop often: worker results (macrotasks) must get in to keep the workers fed.
      if (++steps % 128 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    packedNid = await writePacked();
    await flushCopies();
    await Promise.all(copies);
    await jobs.saveIndex();
    finishChunked();
    report(true);
  } finally {
    stopTicker?.();
  }
  alloc.closeAll();

  const blocks = alloc.cursor;
  const rootNid = plan.root.nid;
  if (rootNid > 0xffff) throw new UserError('root inode beyond nid 65535 (too many shared xattrs or prefixes)');
  out.truncate(blocks * bs);

  // Block-0 area: superblock, shared xattrs, long-prefix table; then the checksum over [1024, +len).
  const sbBytes = encodeSuperBlock({
    checksum: 0, featureCompat: plan.featureCompat, blkszbits: plan.blkszbits, sbExtslots: 0, rootNid,
    inos: BigInt(plan.inodeCount), epoch: plan.epoch, fixedNsec: plan.fixedNsec, blocks,
    metaBlkaddr: 0, xattrBlkaddr: 0, uuid: o.uuid, volumeName: padLabel(o.label),
    featureIncompat: plan.featureIncompat | (packedNid ? FEATURE_INCOMPAT_FRAGMENTS : 0), u1: plan.u1,
    extraDevices: plan.devtAt ? 1 : 0, devtSlotoff: plan.devtAt / DEVT_SLOT_SIZE, dirblkbits: 0,
    xattrPrefixCount: plan.prefixes.length, xattrPrefixStart: plan.prefixes.length ? plan.prefixTableStart / 4 : 0,
    packedNid: BigInt(packedNid), xattrFilterReserved: 0, ishareXattrPrefixId: Math.max(0, plan.ishareId), buildTime: 0, rootNid8b: 0n,
  });
  out.write(sbBytes, SUPER_BLOCK_AT);
  if (plan.configRecords.length) out.write(plan.configRecords, configRecordsAt(0));
  if (plan.devtAt) {
    // The tar, appended by the caller, starts right after the metadata (the image's last block).
    const slot = new Uint8Array(DEVT_SLOT_SIZE);
    encodeDeviceSlot({ tag: new Uint8Array(64), blocks: Math.ceil(o.tarIndex!.archiveBytes / bs), uniaddr: blocks }, slot, 0);
    out.write(slot, plan.devtAt);
  }
  if (plan.sharedArea.length) out.write(plan.sharedArea, plan.sharedAreaStart);
  if (plan.prefixTable.length) out.write(plan.prefixTable, plan.prefixTableStart);
  // The checksum last, over everything it covers.
  sealSuperBlock(out, bs);

  return { blocks, imageBytes: blocks * bs, inodes: plan.inodeCount, rootNid, dataBytes, compressedFiles, cache: o.cacheDir ? { ...jobs.cacheStats } : undefined };
}

function padLabel(label: Buffer): Uint8Array {
  const b = new Uint8Array(16);
  b.set(label.subarray(0, 16));
  return b;
}
