// The state every emit step shares, in one object: the plan and options, the output and block
// allocator, the compression parameters, the stores of dedupe keys, fragments and chunks, and the
// counters the build reports. The steps (flat.ts, compressed.ts, chunk-files.ts, dirs.ts, packed.ts)
// are functions of this context; emit.ts runs them in the plan's order.
import { StoredCopies } from './stored-copies.js';
import { HeldWrites } from './held-writes.js';
import { ExtentIndex } from './extent-dedupe.js';
import { ISLOT_SIZE, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, NULL_ADDR } from '../../format/constants.js';
import { encodeInode, inodeSize, encodeRdev, flatDataLayout, type InodeInput } from '../../format/inode.js';
import { encodeXattrIbody, xattrIcount } from '../../format/xattr-ibody.js';
import { UserError } from '../../errors.js';
import { FilePaths, pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import type { Plan } from '../plan/plan.js';
import { relPathOf, DirDone } from '../plan/visit-order.js';
import { mtimeOf } from '../plan/times.js';
import { xattrSizeOf } from '../plan/xattrs.js';
import { BlockAllocator, type MetaAllocator } from '../plan/meta-alloc.js';
import { BufferBlocks } from '../plan/buffer-blocks.js';
import type { ImageOutput } from '../io/output.js';
import { maxPclusterSize, type BuildOptions } from '../options.js';
import { fingerprintValue } from '../../fingerprint/compute.js';
import type { JobPool } from '../work/pool.js';
import { FileJobQueue } from '../work/file-jobs.js';
import type { ZParams } from '../files/zfile.js';
import { makeCodec } from '../../compress/codec.js';
import { lzmaDefaultDictSize } from '../../compress/lzma-encoder.js';
import { zstdDefaultWindowLog } from '../../compress/zstd.js';
import { FragmentStore } from '../files/fragments.js';
import { SegmentBytes } from '../files/segment-bytes.js';
import { ChunkStore, type ChunkedFile } from '../files/chunked.js';
import { systemClock } from '../../sys/clock.js';
import { compressionSuper } from '../plan/features.js';

/** Where an inode's data went. */
export interface Placement {
  datalayout: number;
  startBlk: number;
  /** Bytes after the inode and xattrs: the inline tail or the compressed file's map. */
  tail: Uint8Array;
  tailLen: number;
}

/**
 * A flat file waiting in the copy batch; `dense`: its blocks held other bytes (zero runs are written,
 * not left as holes); `record`: --cache notes where it went (FileJobQueue.placedFlat).
 */
export interface BatchedCopy {
  p: Inode;
  pl: Placement;
  dense: boolean;
  record?: boolean;
}

const NO_BYTES = new Uint8Array(0);

/**
 * The image's compression parameters (-C, -z, -E), undefined for an uncompressed image. They depend
 * on the options alone (BIG_PCLUSTER as compressionSuper decides it), so file jobs can start before
 * the plan.
 */
export function imageZParams(o: BuildOptions): ZParams | undefined {
  if (!o.compression) return undefined;
  const codecPcluster = maxPclusterSize(o.compression);
  return {
    codec: makeCodec(o.compression.codec, codecPcluster), blockSize: o.blockSize, pclusterSize: o.compression.pclusterSize,
    ...(codecPcluster !== o.compression.pclusterSize ? { codecPcluster } : {}),
    big: compressionSuper(o).big, ztailpacking: o.compression.ztailpacking, maxExtent: o.compression.maxExtentBytes,
    ...(o.compression.fragments ? {
      fragments: true, allFragments: o.compression.fragments.all,
      // mkfs.erofs: INTERLACED with fragments unless dedupe is on (prepare_compressed_file).
      interlaced: !o.compression.dedupe,
    } : {}),
    ...(o.compression.dedupe ? { rawBlockSteps: true } : {}),
  };
}

export class EmitContext {
  readonly bs: number;
  readonly alloc: MetaAllocator;
  /** Codecs are made for the image's largest pcluster (-C, or a compress hint's): their windows and dictionaries are then the ones the config records announce. */
  readonly codecPcluster: number | undefined;
  /** The compression parameters of -C (undefined when the image is not compressed). */
  readonly zparams: ZParams | undefined;
  /** -E fragments: the packed inode's bytes, gathered as files are written. */
  readonly fragments: FragmentStore | undefined;
  /** -E dedupe; and with fragments mkfs.erofs 1.9.3 also stores identical pclusters once (lib/dedupe_ext.c): payload key -> block. */
  readonly dedupe: Map<string, number> | undefined;
  /** -E dedupe: the pclusters written, for extents that point into them (extent-dedupe.ts). */
  readonly extentIndex: ExtentIndex | undefined;
  /** -E dedupe: the segment being written, read by the writer into one buffer (files/segment-bytes.ts). */
  readonly segmentBytes = new SegmentBytes();
  readonly jobs: FileJobQueue;
  /** --chunksize: the blob the chunks go to until its place is known. */
  readonly chunkStore: ChunkStore | undefined;
  /** Chunk-based files placed, written once the blob has its place (their maps hold image blocks). */
  readonly chunkedItems: { p: Inode; file: ChunkedFile }[] = [];
  /** Placements of directories, written once their children have nids. */
  readonly placements = new Map<Inode, Placement>();
  /** Index images: directories whose blocks are taken when they are written (see reserve). */
  readonly lateBlocks = new Map<Inode, number>();

  // Flat regular files are copied by workers in batches; their inodes are written when the copy
  // returns the tails (flat.ts).
  batch: BatchedCopy[] = [];
  batchBytes = 0;
  readonly copies: Promise<void>[] = [];
  readonly maxCopies: number;
  /** --cache: pclusters copied from entry files by the workers (stored-copies.ts). */
  readonly stored: StoredCopies;
  /** Pclusters the workers hold and write themselves once placed (held-writes.ts). */
  readonly held: HeldWrites;

  /** --compress-hints: parameters by (pcluster size, algorithm index), codecs by algorithm index. */
  private readonly hintedParams = new Map<string, ZParams>();
  private readonly hintedCodecs = new Map<number, ReturnType<typeof makeCodec>>();

  // What the build reports.
  /** Regular-file bytes read from the source. */
  dataBytes = 0;
  compressedFiles = 0;
  /** Some extent points at a pcluster written for another (superblock DEDUPE, as mkfs.erofs sets it). */
  anyDeduped = false;
  /** Items written (not counting directories' second visits). */
  files = 0;
  /** Bytes done by compressed files, segment by segment (flat files count in the pool's copiedBytes). */
  compressedDone = 0;
  private readonly totalBytes: number;
  private lastReport = 0;

  // Files of one directory come together: its path is made once for all of them, not once each.
  private readonly paths = new FilePaths();

  private itemBuf: Uint8Array;

  constructor(
    readonly plan: Plan,
    readonly o: BuildOptions,
    readonly out: ImageOutput,
    readonly pool: JobPool,
    /** --chunksize: the temp file of the chunk blob. */
    readonly blob: ImageOutput | undefined,
    /** The file jobs, if started before the plan (see FileJobQueue.found). */
    jobs?: FileJobQueue,
  ) {
    const bs = (this.bs = plan.blockSize);
    // Index images keep their own placement rules (meta-alloc.ts); trees are placed as mkfs.erofs places them.
    this.alloc = o.tarIndex
      ? new BlockAllocator(bs, plan.metaStart, (blk, buf) => out.write(buf, blk * bs), (end) => out.reserve(end))
      : new BufferBlocks(bs, plan.metaStart, (blk, buf) => out.write(buf, blk * bs), (end) => out.reserve(end), o.dataAlignBlocks ?? 1);
    this.codecPcluster = o.compression && maxPclusterSize(o.compression);
    // The queue may have been started before the plan (while the scan ran): its parameters are the image's.
    // Not from index layouts: a build of a given tree does not start over (build.ts).
    this.jobs = jobs ?? new FileJobQueue(o, pool, imageZParams(o), false);
    this.zparams = this.jobs.zp;
    this.jobs.planned(plan);
    this.fragments = o.compression?.fragments ? new FragmentStore(o.compression.fragments.dedupe) : undefined;
    this.dedupe = o.compression?.dedupe || o.compression?.fragments ? new Map<string, number>() : undefined;
    // Written pclusters are read back from the image when a match needs their bytes (extent-dedupe.ts).
    this.extentIndex = o.compression?.dedupe
      ? new ExtentIndex(bs, (buf, pos) => out.read(buf, pos), {
        blockSize: bs, dictSize: lzmaDefaultDictSize(this.codecPcluster!), windowSize: 2 ** zstdDefaultWindowLog(this.codecPcluster!),
      })
      : undefined;
    this.chunkStore = blob && new ChunkStore(bs, o.chunks!, blob, o.dataAlignBlocks ?? 1);
    // Batches bound the round trips: one per ~1 MiB or 64 files, and this many in flight.
    this.maxCopies = 4 * pool.size + 8;
    this.stored = new StoredCopies(pool, out, this.copies, this.maxCopies, o.cacheDir);
    this.held = new HeldWrites(pool, out);
    this.totalBytes = plan.steps.reduce((a, st) => a + (!(st instanceof DirDone) && st.kind === 'reg' ? st.size : 0), 0);
    this.itemBuf = new Uint8Array(bs);
  }

  /** The compression parameters of a file: -C's, or its compress hint's. */
  zparamsOf(p: Inode): ZParams {
    const c = this.plan.zChoice?.get(p);
    if (!c) return this.zparams!;
    const k = `${c.pclusterSize}:${c.algorithm}`;
    let zp = this.hintedParams.get(k);
    if (!zp) {
      let codec = c.algorithm === 0 ? this.zparams!.codec : this.hintedCodecs.get(c.algorithm);
      if (!codec) this.hintedCodecs.set(c.algorithm, (codec = makeCodec(this.o.compression!.alternatives![c.algorithm - 1], this.codecPcluster!)));
      zp = { ...this.zparams!, codec, pclusterSize: c.pclusterSize, codecPcluster: this.codecPcluster! };
      this.hintedParams.set(k, zp);
    }
    return zp;
  }

  /** A file's path in the source, for the workers that read it. */
  filePath(p: Inode): string {
    return this.paths.of(p);
  }

  /**
   * Bytes of an inode and its xattr body: the sizes their encoders write (encodeInode; the planner
   * measured the body with encodeXattrIbody). Every placement and inline decision uses this.
   */
  inodeEndOf(p: Inode): number {
    return inodeSize(p.extended) + xattrSizeOf(p);
  }

  /**
   * Reserve data blocks and the metadata slot for an inode, in mkfs.erofs 1.9.3's order: the full
   * blocks, then the inode with its tail inline wherever the allocator finds room for both (the tail
   * must not cross a block boundary; the inode may, see buffer-blocks.ts); else the tail goes to a
   * block of its own: right after the full blocks, or, for a file of a tail only, taken after its inode
   * is placed. A directory's blocks are taken when it is written (placeDirBlocks). The root's slot gets
   * its address at once (mkfs fixes the root nid first).
   */
  reserve(p: Inode): Placement {
    if (this.o.tarIndex) return this.reserveIndexImage(p);
    const { bs, alloc, o } = this;
    const isDir = p.kind === 'dir';
    const full = Math.floor(p.size / bs);
    const tail = p.size % bs;
    let startBlk = 0;
    if (full && !isDir) {
      alloc.alignData(o.dataAlignBlocks ?? 1);
      startBlk = alloc.takeBlocks(full);
    }
    const inodeEnd = this.inodeEndOf(p);
    const inline = tail > 0 && (p.kind !== 'reg' || o.inlineData) && alloc.placeInode(p, inodeEnd, tail);
    if (!inline) {
      // The tail block follows the full blocks (mkfs grows their buffer block by one).
      if (tail && full && !isDir) alloc.takeBlocks(1);
      alloc.placeInode(p, inodeEnd, 0);
      if (tail && !full && !isDir) {
        alloc.alignData(o.dataAlignBlocks ?? 1);
        startBlk = alloc.takeBlocks(1);
        alloc.holdData(false);
      }
    } else if (!full) {
      startBlk = NULL_ADDR;
    }
    if (isDir) this.lateBlocks.set(p, full + (tail && !inline ? 1 : 0));
    if (p === this.plan.root) alloc.mapThrough([p]);
    const len = inline ? tail : 0;
    // A copied file's tail arrives as a view of its batch's result; others are filled in here.
    const pl: Placement = { datalayout: inline ? INODE_FLAT_INLINE : INODE_FLAT_PLAIN, startBlk, tailLen: len, tail: p.kind === 'reg' ? NO_BYTES : new Uint8Array(len) };
    if (isDir) this.placements.set(p, pl);
    return pl;
  }

  /**
   * A directory being written: its entries get their nids (mkfs maps the blocks up to each entry's),
   * and its blocks are taken (every slot placed so far is mapped before them).
   */
  placeDirBlocks(p: Inode, pl: Placement): void {
    const late = this.lateBlocks.get(p);
    this.lateBlocks.delete(p);
    if (!late) {
      this.alloc.mapThrough([p, p.parent ?? p, ...p.entries!.inodes]);
      return;
    }
    this.alloc.mapPending();
    pl.startBlk = this.alloc.takeBlocks(late);
    this.alloc.holdData(false);
  }

  /**
   * Place an item that is not a flat file's (compressed, chunk-based): `inline` tail bytes after `size`;
   * it must fit. `holdData`: the file's data buffer is still held (see writeCompressedInode).
   */
  placeItem(p: Inode, size: number, inline: number, holdData = inline > 0): void {
    // mkfs lets a compressed file's data buffer go before placing its inode unless a tail is inline.
    this.alloc.holdData(holdData);
    if (!this.alloc.placeInode(p, size, inline)) throw new Error(`${showPath(pathOf(p))}: ${inline} inline bytes after ${size} fit no block`);
  }

  /** Inline the tail after inode + xattrs when the whole item fits one block (mkfs.erofs rule for index images). */
  private wantsInline(p: Inode, tailLen: number): boolean {
    return tailLen > 0 && (p.kind !== 'reg' || this.o.inlineData) && this.inodeEndOf(p) + tailLen <= this.bs;
  }

  /** Index images: data blocks and the metadata slot as mkfs.erofs --tar=i places them. */
  private reserveIndexImage(p: Inode): Placement {
    const { bs, o } = this;
    const alloc = this.alloc as BlockAllocator;
    const inline = this.wantsInline(p, flatDataLayout(p.size, bs, true).tail);
    const { blocks: fullBlocks, tail: len } = flatDataLayout(p.size, bs, inline);
    // Index images place items as mkfs.erofs does: a directory's blocks once it is written (after its
    // entries' inodes, see writeDir), items running on from the last block (meta-alloc.ts).
    const late = p.kind === 'dir' && fullBlocks > 0;
    // mkfs.erofs aligns DATA buffer blocks only: directories' blocks (DIRA) stay packed.
    if (fullBlocks && p.kind !== 'dir') alloc.alignData(o.dataAlignBlocks ?? 1);
    const startBlk = fullBlocks && !late ? alloc.takeBlocks(fullBlocks) : inline ? NULL_ADDR : 0;
    if (late) this.lateBlocks.set(p, fullBlocks);
    p.nid = alloc.placeRunOn(this.inodeEndOf(p), len) / ISLOT_SIZE;
    const pl: Placement = { datalayout: inline ? INODE_FLAT_INLINE : INODE_FLAT_PLAIN, startBlk, tailLen: len, tail: p.kind === 'reg' ? NO_BYTES : new Uint8Array(len) };
    if (p.kind === 'dir') this.placements.set(p, pl);
    return pl;
  }

  /** Write the inode, its xattrs and inline tail, each by its encoder at the offsets the item was placed with. */
  writeItem(p: Inode, pl: Placement): void {
    const xsize = xattrSizeOf(p);
    const inodeEnd = this.inodeEndOf(p);
    const len = inodeEnd + pl.tail.length;
    // One scratch buffer for every item: writeMeta copies the bytes before the next item is made.
    if (this.itemBuf.length < len) this.itemBuf = new Uint8Array(len);
    const item = this.itemBuf.subarray(0, len);
    item.fill(0);
    const f = this.fields;
    f.extended = p.extended;
    f.datalayout = pl.datalayout;
    f.xattrIcount = xattrIcount(xsize);
    f.mode = p.mode;
    f.nlink = p.links;
    f.size = p.size;
    f.u = p.kind === 'chr' || p.kind === 'blk' ? encodeRdev(p.rdevMajor, p.rdevMinor)
      : p.kind === 'fifo' || p.kind === 'sock' ? 0 : pl.startBlk;
    f.ino = p.ino;
    f.uid = p.uid;
    f.gid = p.gid;
    // A compact inode takes the superblock's time (the planner made it compact only where they agree).
    if (p.extended) {
      const t = mtimeOf(p, this.plan);
      f.mtimeSec = t.sec;
      f.mtimeNsec = t.nsec;
    } else {
      f.mtimeSec = 0;
      f.mtimeNsec = 0;
    }
    const isize = encodeInode(f, item, 0);
    const wrote = p.ibody ? encodeXattrIbody(p.ibody, item, isize) : 0;
    if (isize + wrote !== inodeEnd) throw new Error(`${showPath(pathOf(p))}: inode + xattrs wrote ${isize + wrote} bytes, placed as ${inodeEnd}`);
    if (pl.tail.length) item.set(pl.tail, inodeEnd);
    this.alloc.writeInode(p, item, this.writeOut);
  }

  /** The inode fields of the item being written (writeItem fills them in: no object per inode). */
  private readonly fields: InodeInput = {
    extended: false, datalayout: 0, xattrIcount: 0, mode: 0, nlink: 0, size: 0, u: 0, ino: 0, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, mtimeDelta: 0,
  };

  /** Metadata bytes written straight to the image (writeInode, where their block is not buffered). */
  private readonly writeOut = (buf: Uint8Array, pos: number): void => this.out.write(buf, pos);

  /**
   * Set a file's fingerprint from the digest of a read of its bytes. `reread`: a file compressed
   * first and stored flat or chunked after all is read twice, and both reads must agree.
   */
  setFingerprint(p: Inode, digest: Uint8Array, reread = true): void {
    const o = this.o;
    const value = fingerprintValue(o.fingerprint!, digest, () => relPathOf(p), p.size);
    const fpx = p.ibody!.fingerprint!;
    if (reread && o.fingerprint!.scheme !== 'uuid' && fpx.value.some((b) => b !== 0) && !value.equals(fpx.value)) {
      throw new UserError(`${showPath(pathOf(p))}: file changed during build (its bytes differ between two reads)`);
    }
    fpx.value = value;
  }

  /** --progress: the write phase's files and bytes, at most every 100 ms unless forced. */
  report(force = false): void {
    const { o } = this;
    // No clock read without --progress (this is asked once per compressed file).
    if (!o.progress) return;
    const now = (o.progressClock ?? systemClock).now();
    if (!force && now - this.lastReport < 100) return;
    this.lastReport = now;
    // A file compressed and then stored flat counts twice: capped at the total.
    const bytes = Math.min(this.totalBytes, this.compressedDone + this.pool.copiedBytes());
    o.progress({ phase: 'write', files: this.files, totalFiles: this.plan.inodeCount, bytes, totalBytes: this.totalBytes });
  }
}
