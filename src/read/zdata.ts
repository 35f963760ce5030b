// Compressed inodes (datalayouts COMPRESSED_FULL and COMPRESSED_COMPACT, erofs-format.md §5): lcluster
// indexes → extents → bytes, streamed one extent at a time.
//
// The kernel maps an offset by loading its lcluster and walking delta[0] back to the head (zmap.c);
// erofs-utils also walks delta[1] forward to size an extent. We read the indexes once, front to back,
// and require every index to agree with that walk (each delta[0] lands at or after the current head,
// each delta[1] at or before the next head, CBLKCNT only in the first NONHEAD), so the forward reading
// and the kernel's reading give the same extents. Every extent is bounded (pcluster ≤ 1 MiB inside the
// image, extent ≤ 12 MiB) and decoded strictly: a stream must give exactly the extent's length unless
// the index says PARTIAL_REF (dedupe: the extent is a prefix of the pcluster's output).
//
// It sees the image through ImageReader (inode-info.ts): image.ts calls it, it never imports image.ts.
import type { ImageReader, InodeInfo } from './inode-info.js';
import {
  INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, INODE_FLAT_PLAIN, INODE_FLAT_INLINE,
  FEATURE_INCOMPAT_LZ4_0PADDING, FEATURE_INCOMPAT_BIG_PCLUSTER, FEATURE_INCOMPAT_COMPR_CFGS, FEATURE_INCOMPAT_ZTAILPACKING,
  FEATURE_INCOMPAT_FRAGMENTS,
} from '../format/constants.js';
import {
  MAP_HEADER_SIZE, FULL_INDEX_SIZE, ADVISE_EXTENTS, ADVISE_BIG_PCLUSTER_1, ADVISE_BIG_PCLUSTER_2, ADVISE_INLINE_PCLUSTER,
  ADVISE_INTERLACED_PCLUSTER, ADVISE_FRAGMENT_PCLUSTER, ADVISE_COMPACTED_2B, LCLUSTER_TYPE_PLAIN, LCLUSTER_TYPE_HEAD1,
  LCLUSTER_TYPE_NONHEAD, LI_D0_CBLKCNT, PCLUSTER_MAX_SIZE, PCLUSTER_MAX_DSIZE, COMPRESSION_LZ4, COMPRESSION_LZMA,
  COMPRESSION_DEFLATE, COMPRESSION_ZSTD, COMPRESSION_MAX, ALL_COMPR_ALGS, mapHeaderOffset, fullIndexStart, fullIndexesSize, lclusterCount,
  compactIndexStart, compactLayout, compactEntryPosition, compactLobits, decodeMapHeader, decodeFullIndex,
  decodeCompactPack, compactHeadBlockOffset, type CompactLayout, type CompactEntry,
} from '../format/zmap.js';
import { configRecordsAt } from '../format/superblock.js';
import { decodeCfgRecords, decodeLz4Cfgs, decodeDeflateCfgs, decodeLzmaCfgs, decodeZstdCfgs, type Lz4Cfgs, type DeflateCfgs,
  type LzmaCfgs, type ZstdCfgs } from '../format/compr-cfgs.js';
import { decompress, algorithmName } from '../compress/decoders.js';
import { CorruptImageError, UnsupportedFeatureError } from '../errors.js';

/** One extent of a compressed file: file bytes [la, la + llen) and where they come from. */
export interface ZExtent {
  la: number;
  llen: number;
  /**
   * 'plain': stored uncompressed in the pcluster (SHIFTED: byte j of the pcluster is file byte la + j;
   * INTERLACED: file byte la + j is at pcluster byte (la + j) % blockSize). 'compressed': a stream of
   * `algorithm`. 'fragment': bytes [fragmentOff, fragmentOff + llen) of the packed inode's data.
   */
  kind: 'plain' | 'compressed' | 'fragment';
  /** Z_EROFS_COMPRESSION_* for 'compressed', -1 otherwise. */
  algorithm: number;
  /** Byte address and size of the pcluster (0 for fragments). */
  pa: number;
  plen: number;
  /** ztailpacking: the pcluster sits in the metadata right after the indexes (h_idata_size bytes). */
  inline: boolean;
  interlaced: boolean;
  /** The extent uses only a prefix of what its pcluster decompresses to (dedupe). */
  partialRef: boolean;
  fragmentOff: number;
}

/** Per-image state: compression configs and the packed inode, read once. */
interface ImageState {
  algs: number;
  lz4: Lz4Cfgs | null;
  deflate: DeflateCfgs | null;
  lzma: LzmaCfgs | null;
  zstd: ZstdCfgs | null;
  packed: PackedInode | null | undefined;
}

const states = new WeakMap<ImageReader, ImageState>();


/** Decoded packed-inode extents kept for fragment reads, per image. */
const PACKED_CACHE_BYTES = 16 << 20;
/** Index bytes read at a time. */
const INDEX_WINDOW = 64 << 10;

function stateOf(img: ImageReader): ImageState {
  let st = states.get(img);
  if (!st) {
    st = readConfigs(img);
    states.set(img, st);
  }
  return st;
}

/**
 * Compression configs (kernel z_erofs_parse_cfgs): without COMPR_CFGS only LZ4 exists, 1-block pclusters,
 * u1 = lz4_max_distance; with it u1 = available_compr_algs and one record per algorithm follows the sb.
 */
export function readCompressionConfigs(img: ImageReader): { algs: number; lz4: Lz4Cfgs | null; deflate: DeflateCfgs | null; lzma: LzmaCfgs | null; zstd: ZstdCfgs | null } {
  const { algs, lz4, deflate, lzma, zstd } = stateOf(img);
  return { algs, lz4, deflate, lzma, zstd };
}

function readConfigs(img: ImageReader): ImageState {
  const sb = img.sb;
  if (!(sb.featureIncompat & FEATURE_INCOMPAT_COMPR_CFGS)) {
    return { algs: 1 << COMPRESSION_LZ4, lz4: { maxDistance: sb.u1 || 65535, maxPclusterBlks: 1 }, deflate: null, lzma: null, zstd: null, packed: undefined };
  }
  const algs = sb.u1;
  if (algs & ~ALL_COMPR_ALGS) throw new UnsupportedFeatureError(`superblock: unknown compression algorithms 0x${(algs & ~ALL_COMPR_ALGS).toString(16)}`);
  const recs = decodeCfgRecords((off, len) => img.readAt(off, len, 'superblock'), configRecordsAt(sb.sbExtslots), algs);
  const lz4Rec = recs.get(COMPRESSION_LZ4);
  const dflRec = recs.get(COMPRESSION_DEFLATE);
  return {
    algs,
    lz4: lz4Rec ? decodeLz4Cfgs(lz4Rec, img.blockSize) : null,
    deflate: dflRec ? decodeDeflateCfgs(dflRec) : null,
    lzma: recs.has(COMPRESSION_LZMA) ? decodeLzmaCfgs(recs.get(COMPRESSION_LZMA)!) : null,
    zstd: recs.has(COMPRESSION_ZSTD) ? decodeZstdCfgs(recs.get(COMPRESSION_ZSTD)!) : null,
    packed: undefined,
  };
}

// ---- index sources: one normalised record per lcluster, read front to back ---------------

/** An lcluster as the kernel sees it after loading it (z_erofs_maprecorder after a load). */
interface Lcluster {
  type: number;
  /** Heads: where the extent starts in this lcluster. */
  clusterofs: number;
  /** Heads: first block of the pcluster. */
  pblk: number;
  partialRef: boolean;
  /** NONHEAD: lookback distance to the head (1 for a CBLKCNT). */
  d0: number;
  /** NONHEAD CBLKCNT: the pcluster's block count; -1 otherwise. */
  cblks: number;
  /** NONHEAD: where erofs-utils' delta[1] walk goes next (lcn + delta[1]); -1 if not checked here. */
  reach: number;
}

interface IndexSource {
  get(lcn: number): Lcluster;
  /** Byte offset just after the index unit holding `lcn` (the kernel's nextpackoff): ztailpacking data. */
  nextPackOff(lcn: number): number;
}

/** Positioned reads of an inode's index area through a small window; the area was bounds-checked once. */
class IndexWindow {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  constructor(private img: ImageReader, private start: number, private end: number, private where: string) {}
  /** Bytes [off, off + len) as (buffer, offset in buffer). */
  at(off: number, len: number): [Uint8Array, number] {
    if (off < this.start || off + len > this.end) throw new CorruptImageError('index read outside the index area', this.where);
    if (off < this.off || off + len > this.off + this.buf.length) {
      this.off = off;
      this.buf = this.img.readAt(off, Math.min(INDEX_WINDOW, this.end - off), this.where);
    }
    return [this.buf, off - this.off];
  }
}

class FullIndexes implements IndexSource {
  private w: IndexWindow;
  constructor(img: ImageReader, private start: number, n: number, private big: boolean, private where: string) {
    this.w = new IndexWindow(img, start, start + fullIndexesSize(n), where);
  }
  get(lcn: number): Lcluster {
    const [b, o] = this.w.at(this.start + lcn * FULL_INDEX_SIZE, FULL_INDEX_SIZE);
    const x = decodeFullIndex(b, o);
    if (x.type !== LCLUSTER_TYPE_NONHEAD) {
      return { type: x.type, clusterofs: x.clusterofs, pblk: x.blkaddr, partialRef: x.partialRef, d0: 0, cblks: -1, reach: -1 };
    }
    // delta[1] 0 was written by pre-1.0 mkfs; erofs-utils treats it as 1.
    const reach = lcn + (x.delta1 || 1);
    if (x.delta0 & LI_D0_CBLKCNT) {
      if (!this.big) throw new CorruptImageError('CBLKCNT in an inode without big pclusters', this.where, `lcn ${lcn}`);
      return { type: x.type, clusterofs: 0, pblk: 0, partialRef: false, d0: 1, cblks: x.delta0 & ~LI_D0_CBLKCNT, reach };
    }
    return { type: x.type, clusterofs: 0, pblk: 0, partialRef: false, d0: x.delta0, cblks: -1, reach };
  }
  nextPackOff(lcn: number): number {
    return this.start + (lcn + 1) * FULL_INDEX_SIZE;
  }
}

class CompactIndexes implements IndexSource {
  private w: IndexWindow;
  private packOff = -1;
  private entries: CompactEntry[] = [];
  private base = 0;
  private lobits: number;
  constructor(img: ImageReader, private l: CompactLayout, lclusterbits: number, private big: boolean, private where: string) {
    this.w = new IndexWindow(img, l.ebase, l.ebase + l.bytes, where);
    this.lobits = compactLobits(lclusterbits);
  }
  get(lcn: number): Lcluster {
    const { packOff, vcnt, i } = compactEntryPosition(this.l, lcn);
    if (packOff !== this.packOff) {
      const [b, o] = this.w.at(packOff, vcnt === 2 ? 8 : 32);
      ({ entries: this.entries, base: this.base } = decodeCompactPack(b, o, vcnt, this.lobits));
      this.packOff = packOff;
    }
    const e = this.entries[i];
    if (e.type !== LCLUSTER_TYPE_NONHEAD) {
      const pblk = this.base + compactHeadBlockOffset(this.entries, i, this.big, this.where);
      return { type: e.type, clusterofs: e.lo, pblk, partialRef: false, d0: 0, cblks: -1, reach: -1 };
    }
    if (e.lo & LI_D0_CBLKCNT) {
      if (!this.big) throw new CorruptImageError('CBLKCNT in an inode without big pclusters', this.where, `lcn ${lcn}`);
      return { type: e.type, clusterofs: 0, pblk: 0, partialRef: false, d0: 1, cblks: e.lo & ~LI_D0_CBLKCNT, reach: -1 };
    }
    if (i + 1 !== vcnt) return { type: e.type, clusterofs: 0, pblk: 0, partialRef: false, d0: e.lo, cblks: -1, reach: -1 };
    // The last entry of a pack stores delta[1]; delta[0] follows from the entry before it.
    const prev = this.entries[i - 1];
    const prevD0 = prev.type !== LCLUSTER_TYPE_NONHEAD ? 0 : prev.lo & LI_D0_CBLKCNT ? 1 : prev.lo;
    return { type: e.type, clusterofs: 0, pblk: 0, partialRef: false, d0: prevD0 + 1, cblks: -1, reach: lcn + Math.max(e.lo, 1) };
  }
  nextPackOff(lcn: number): number {
    const { packOff, vcnt } = compactEntryPosition(this.l, lcn);
    return packOff + (vcnt === 2 ? 8 : 32);
  }
}

// ---- the extent map ----------------------------------------------------------------------

interface OpenHead {
  lcn: number;
  la: number;
  type: number;
  pblk: number;
  partialRef: boolean;
  /** From the CBLKCNT in lcluster lcn + 1; -1 if none. */
  cblks: number;
  /** lcluster lcn + 1 is a NONHEAD without CBLKCNT. */
  plainFirstNonhead: boolean;
  /** Furthest delta[1] target seen inside the extent. */
  maxReach: number;
}

/** The extents of a compressed inode in file order, each checked; stops at the first error. */
export function* compressedExtents(img: ImageReader, ino: InodeInfo): Generator<ZExtent> {
  const where = `nid ${ino.nid}`;
  if (ino.datalayout !== INODE_COMPRESSED_FULL && ino.datalayout !== INODE_COMPRESSED_COMPACT) {
    throw new RangeError(`${where}: not a compressed inode`);
  }
  const st = stateOf(img);
  const size = ino.size;
  if (size === 0) return;
  const sb = img.sb;
  const bs = img.blockSize;
  const inodeEnd = ino.iloc + ino.isize + ino.xattrSize;
  const hoff = mapHeaderOffset(inodeEnd);
  const header = decodeMapHeader(img.readAt(hoff, MAP_HEADER_SIZE, where), 0);
  if (header.kind === 'fragment-inode') {
    if (header.fragmentOff > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptImageError('fragment offset too large', where);
    yield fragmentExtent(0, size, Number(header.fragmentOff));
    return;
  }
  const full = ino.datalayout === INODE_COMPRESSED_FULL;
  const { advise, algorithmType } = header;
  // Kernels before 6.15 ignore the map header of FULL inodes when the image has none of big pcluster,
  // ztailpacking and fragments (z_erofs_fill_inode); erofs-utils reads it. Both agree only if it says nothing.
  if (full && !(sb.featureIncompat & (FEATURE_INCOMPAT_BIG_PCLUSTER | FEATURE_INCOMPAT_ZTAILPACKING | FEATURE_INCOMPAT_FRAGMENTS))
    && (advise !== 0 || algorithmType[0] !== 0 || algorithmType[1] !== 0 || header.clusterBits !== 0)) {
    throw new CorruptImageError('map header of a FULL inode is not zero in an image without big pclusters, ztailpacking or fragments', where);
  }
  if (full && (advise & ADVISE_EXTENTS)) {
    throw new UnsupportedFeatureError(`${where}: encoded extents (48-bit layout) are not supported by this reader`);
  }
  for (const a of algorithmType) {
    if (a >= COMPRESSION_MAX) throw new UnsupportedFeatureError(`${where}: unknown compression algorithm ${a}`);
  }
  if (header.clusterBits !== 0) {
    throw new UnsupportedFeatureError(`${where}: lclusters larger than a block are not supported (h_clusterbits ${header.clusterBits})`);
  }
  const big1 = (advise & ADVISE_BIG_PCLUSTER_1) !== 0;
  const big2 = (advise & ADVISE_BIG_PCLUSTER_2) !== 0;
  // zmap.c z_erofs_fill_inode_lazy.
  if ((big1 || big2) && !(sb.featureIncompat & FEATURE_INCOMPAT_BIG_PCLUSTER)) {
    throw new CorruptImageError('big pclusters without the superblock feature', where);
  }
  if (!full && big1 !== big2) throw new CorruptImageError('compact indexes with different HEAD1/HEAD2 big-pcluster bits', where);
  const fragment = (advise & ADVISE_FRAGMENT_PCLUSTER) !== 0;
  const idataSize = !fragment && (advise & ADVISE_INLINE_PCLUSTER) ? header.idataSize : 0;
  if (idataSize && !(sb.featureIncompat & FEATURE_INCOMPAT_ZTAILPACKING)) throw new CorruptImageError('inline pcluster without the ztailpacking feature', where);
  if (fragment && !(sb.featureIncompat & FEATURE_INCOMPAT_FRAGMENTS)) throw new CorruptImageError('fragment without the fragments feature', where);

  const n = lclusterCount(size, bs);
  let src: IndexSource;
  if (full) {
    const start = fullIndexStart(inodeEnd);
    if (start + fullIndexesSize(n) > img.length) throw new CorruptImageError('lcluster indexes beyond the end of the image', where, `${n} indexes`);
    src = new FullIndexes(img, start, n, big1 || big2, where);
  } else {
    const l = compactLayout(compactIndexStart(inodeEnd), n, (advise & ADVISE_COMPACTED_2B) !== 0);
    if (l.ebase + l.bytes > img.length) throw new CorruptImageError('lcluster indexes beyond the end of the image', where, `${n} indexes`);
    src = new CompactIndexes(img, l, sb.blkszbits, big1, where);
  }

  const resolve = (h: OpenHead, end: number): ZExtent => {
    const llen = end - h.la;
    const tail = end === size;
    let pa: number;
    let plen: number;
    let inline = false;
    if (tail && fragment) {
      // FULL inodes keep bits 32..63 of the offset in the tail head's blkaddr (zmap.c FINDTAIL).
      const off = header.fragmentOff + (full ? h.pblk * 2 ** 32 : 0);
      if (!Number.isSafeInteger(off)) throw new CorruptImageError('fragment offset too large', where);
      return fragmentExtent(h.la, llen, off);
    }
    if (llen > PCLUSTER_MAX_DSIZE) throw new CorruptImageError('extent longer than 12 MiB', where, `at ${h.la}, ${llen} bytes`);
    if (tail && idataSize) {
      // The inline pcluster follows the index unit of the last lcluster (kernel: nextpackoff at FINDTAIL).
      pa = src.nextPackOff(n - 1);
      plen = idataSize;
      inline = true;
      if ((pa % bs) + plen > bs) throw new CorruptImageError('inline pcluster crosses a block boundary', where, `${plen} bytes at ${pa}`);
    } else {
      const bigHead = h.type === LCLUSTER_TYPE_HEAD1 ? big1 : big2;
      let cblks = 1;
      if (bigHead && h.lcn + 1 < n) {
        if (h.cblks >= 0) cblks = h.cblks;
        else if (h.plainFirstNonhead) throw new CorruptImageError('big pcluster without CBLKCNT', where, `lcn ${h.lcn + 1}`);
      }
      if (cblks === 0) throw new CorruptImageError('pcluster of zero blocks', where, `lcn ${h.lcn}`);
      plen = cblks * bs;
      if (plen > PCLUSTER_MAX_SIZE) throw new CorruptImageError('pcluster larger than 1 MiB', where, `${cblks} blocks`);
      pa = h.pblk * bs;
    }
    if (pa + plen > img.length) throw new CorruptImageError('pcluster beyond the end of the image', where, `bytes ${pa}..${pa + plen}`);
    if (h.type === LCLUSTER_TYPE_PLAIN) {
      // zmap.c: an uncompressed extent cannot be longer than its pcluster.
      if (llen > plen) throw new CorruptImageError('uncompressed extent longer than its pcluster', where, `at ${h.la}`);
      const interlaced = (advise & ADVISE_INTERLACED_PCLUSTER) !== 0;
      // erofs-utils decompress.c: interlaced pclusters are exactly one block.
      if (interlaced && plen !== bs) throw new CorruptImageError('interlaced pcluster is not one block', where, `at ${h.la}`);
      return { la: h.la, llen, kind: 'plain', algorithm: -1, pa, plen, inline, interlaced, partialRef: h.partialRef, fragmentOff: 0 };
    }
    const algorithm = algorithmType[h.type === LCLUSTER_TYPE_HEAD1 ? 0 : 1];
    // zmap.c z_erofs_map_sanity_check.
    if (!(st.algs & (1 << algorithm))) throw new CorruptImageError('algorithm not in available_compr_algs', where, algorithmName(algorithm));
    if (algorithm === COMPRESSION_LZ4 && !inline && st.lz4 && plen > st.lz4.maxPclusterBlks * bs) {
      throw new CorruptImageError('LZ4 pcluster larger than the config record allows', where, `${plen / bs} > ${st.lz4.maxPclusterBlks} blocks`);
    }
    return { la: h.la, llen, kind: 'compressed', algorithm, pa, plen, inline, interlaced: false, partialRef: h.partialRef, fragmentOff: 0 };
  };

  let cur: OpenHead | null = null;
  for (let lcn = 0; lcn < n; lcn++) {
    const x = src.get(lcn);
    if (x.type !== LCLUSTER_TYPE_NONHEAD) {
      // zmap.c: clusterofs must lie inside the lcluster; lcluster 0 cannot start mid-way.
      if (x.clusterofs >= bs) throw new CorruptImageError('clusterofs beyond the lcluster', where, `lcn ${lcn}: ${x.clusterofs}`);
      if (lcn === 0 && x.clusterofs !== 0) throw new CorruptImageError('logical cluster 0 does not start an extent', where);
      const la = lcn * bs + x.clusterofs;
      if (la > size) throw new CorruptImageError('extent head beyond EOF', where, `lcn ${lcn}`);
      if (cur) {
        if (cur.maxReach > lcn) throw new CorruptImageError('delta[1] skips the next head', where, `extent at ${cur.la}`);
        yield resolve(cur, la);
      }
      // A head exactly at EOF is the sentinel ending the last extent (mkfs: PLAIN, blkaddr 0).
      cur = la === size ? null : { lcn, la, type: x.type, pblk: x.pblk, partialRef: x.partialRef, cblks: -1, plainFirstNonhead: false, maxReach: 0 };
    } else {
      if (!cur) throw new CorruptImageError('NONHEAD lcluster without a head', where, `lcn ${lcn}`);
      // Kernel lookback: delta[0] must land on this extent's head or one of its NONHEADs.
      if (x.d0 < 1 || lcn - x.d0 < cur.lcn) throw new CorruptImageError('bogus lookback distance', where, `lcn ${lcn}: delta[0] ${x.d0}`);
      if (x.cblks >= 0) {
        if (lcn !== cur.lcn + 1) throw new CorruptImageError('CBLKCNT outside the first NONHEAD', where, `lcn ${lcn}`);
        cur.cblks = x.cblks;
      } else if (lcn === cur.lcn + 1) {
        cur.plainFirstNonhead = true;
      }
      if (x.reach > cur.maxReach) cur.maxReach = x.reach;
    }
  }
  if (cur) yield resolve(cur, size);
}

function fragmentExtent(la: number, llen: number, fragmentOff: number): ZExtent {
  return { la, llen, kind: 'fragment', algorithm: -1, pa: 0, plen: 0, inline: false, interlaced: false, partialRef: false, fragmentOff };
}

// ---- decoding ----------------------------------------------------------------------------

/**
 * The bytes of a non-fragment extent: exactly e.llen of them. With `transient`, they may be a view
 * into memory the next decode on this thread reuses (see DecodeParams.transient).
 */
export function decodeExtent(img: ImageReader, e: ZExtent, where: string, transient = false): Uint8Array {
  const bs = img.blockSize;
  // A compressed stream is copied into the decoder at once; a plain extent is copied by a transient
  // caller before it reads again: neither keeps the bytes past the next read.
  const raw = img.readView && (transient || e.kind === 'compressed') ? img.readView(e.pa, e.plen, where) : img.readAt(e.pa, e.plen, where);
  if (e.kind === 'plain') {
    if (!e.interlaced) return raw.subarray(0, e.llen);
    const out = new Uint8Array(e.llen);
    const rot = e.la % bs;
    const right = Math.min(bs - rot, e.llen);
    out.set(raw.subarray(rot, rot + right), 0);
    out.set(raw.subarray(0, e.llen - right), right);
    return out;
  }
  if (e.kind !== 'compressed') throw new RangeError('decodeExtent: fragment extents are read from the packed inode');
  const name = algorithmName(e.algorithm);
  if (e.algorithm === COMPRESSION_LZ4 && !(img.sb.featureIncompat & FEATURE_INCOMPAT_LZ4_0PADDING)) {
    throw new UnsupportedFeatureError(`${where}: LZ4 data without 0PADDING (pre-5.3 images) is not supported`);
  }
  // 0PADDING: the stream is right-aligned; the kernel looks for its first byte in the first block only.
  const scan = Math.min(e.plen, bs - (e.pa % bs));
  let margin = 0;
  while (margin < scan && raw[margin] === 0) margin++;
  if (margin === scan) throw new CorruptImageError('no compressed data in the first block of a pcluster', where, `at ${e.la}`);
  const stream = raw.subarray(margin);
  try {
    const st = stateOf(img);
    return decompress(e.algorithm, stream, {
      outLen: e.llen, partial: e.partialRef, maxLen: PCLUSTER_MAX_DSIZE,
      dictSize: st.lzma?.dictSize ?? 0, windowSize: st.zstd?.windowSize ?? 0, transient,
    });
  } catch (err) {
    if (err instanceof CorruptImageError || err instanceof UnsupportedFeatureError) throw err;
    throw new CorruptImageError('corrupt compressed data', where, `${name} extent at ${e.la}, ${e.llen} bytes: ${(err as Error).message}`);
  }
}

/**
 * The data of a compressed inode, one chunk per extent (fragments: per packed-inode extent). With
 * `transient`, a chunk may be overwritten once the caller asks for the next one (no buffer per extent).
 */
export function* readCompressedInode(img: ImageReader, ino: InodeInfo, transient = false): Generator<Uint8Array> {
  const where = `nid ${ino.nid}`;
  let pos = 0;
  for (const e of compressedExtents(img, ino)) {
    if (e.la !== pos) throw new Error(`${where}: internal error: extent at ${e.la}, expected ${pos}`);
    if (e.kind === 'fragment') {
      yield* packedInode(img, ino, where).range(e.fragmentOff, e.llen, where);
    } else {
      yield decodeExtent(img, e, where, transient);
    }
    pos += e.llen;
  }
}

// ---- the packed inode (fragments) --------------------------------------------------------

function packedInode(img: ImageReader, user: InodeInfo, where: string): PackedInode {
  const st = stateOf(img);
  if (st.packed === undefined) {
    const nid = img.sb.packedNid;
    st.packed = nid === 0n ? null : new PackedInode(img, nid);
  }
  if (!st.packed) throw new CorruptImageError('fragment but the image has no packed inode', where);
  // erofs-utils data.c: "fragment should not exist in the packed inode".
  if (user.nid === st.packed.ino.nid) throw new CorruptImageError('fragment in the packed inode itself', where);
  return st.packed;
}

/**
 * The packed inode holds the fragments (file tails or whole files) back to back; it is itself a
 * compressed (or flat) file. Reads decode the packed extents they touch, keeping recently decoded
 * extents up to PACKED_CACHE_BYTES.
 */
class PackedInode {
  readonly ino: InodeInfo;
  private extents: ZExtent[] | null = null;
  private cache = new Map<number, Uint8Array>();
  private cached = 0;
  private where: string;

  constructor(private img: ImageReader, nid: bigint) {
    if (nid > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptImageError('packed nid out of range', 'superblock');
    this.ino = img.inode(Number(nid));
    this.where = `packed inode nid ${this.ino.nid}`;
    if (this.ino.kind !== 'reg') throw new CorruptImageError('packed inode is not a regular file', this.where);
  }

  private extentList(): ZExtent[] {
    if (!this.extents) {
      const list: ZExtent[] = [];
      for (const e of compressedExtents(this.img, this.ino)) {
        if (e.kind === 'fragment') throw new CorruptImageError('fragment in the packed inode itself', this.where);
        list.push(e);
      }
      this.extents = list;
    }
    return this.extents;
  }

  /** Bytes [off, off + len) of the packed inode's data, in chunks. */
  *range(off: number, len: number, where: string): Generator<Uint8Array> {
    if (off + len > this.ino.size) {
      throw new CorruptImageError('fragment beyond the end of the packed inode', where, `bytes ${off}..${off + len} of ${this.ino.size}`);
    }
    const { datalayout } = this.ino;
    if (datalayout === INODE_FLAT_PLAIN || datalayout === INODE_FLAT_INLINE) {
      yield* this.flatRange(off, len);
      return;
    }
    if (datalayout !== INODE_COMPRESSED_FULL && datalayout !== INODE_COMPRESSED_COMPACT) {
      throw new UnsupportedFeatureError(`${this.where}: packed inode layout ${datalayout} is not supported`);
    }
    const list = this.extentList();
    // First extent with la + llen > off.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].la + list[mid].llen <= off) lo = mid + 1;
      else hi = mid;
    }
    let pos = off;
    const end = off + len;
    for (let k = lo; pos < end; k++) {
      const e = list[k];
      const bytes = this.decoded(e);
      yield bytes.subarray(pos - e.la, Math.min(end, e.la + e.llen) - e.la);
      pos = Math.min(end, e.la + e.llen);
    }
  }

  private decoded(e: ZExtent): Uint8Array {
    const hit = this.cache.get(e.la);
    if (hit) {
      this.cache.delete(e.la);
      this.cache.set(e.la, hit);
      return hit;
    }
    const bytes = decodeExtent(this.img, e, this.where);
    if (bytes.length <= PACKED_CACHE_BYTES / 4) {
      this.cache.set(e.la, bytes);
      this.cached += bytes.length;
      for (const [k, v] of this.cache) {
        if (this.cached <= PACKED_CACHE_BYTES) break;
        this.cache.delete(k);
        this.cached -= v.length;
      }
    }
    return bytes;
  }

  private *flatRange(off: number, len: number): Generator<Uint8Array> {
    const bs = this.img.blockSize;
    const i = this.ino;
    const blockBytes = i.datalayout === INODE_FLAT_INLINE ? Math.floor(i.size / bs) * bs : i.size;
    let pos = off;
    const end = off + len;
    while (pos < end && pos < blockBytes) {
      const n = Math.min(end, blockBytes, pos + (1 << 20)) - pos;
      yield this.img.readAt(i.u * bs + pos, n, this.where);
      pos += n;
    }
    if (pos < end) yield this.img.readAt(i.iloc + i.isize + i.xattrSize + (pos - blockBytes), end - pos, this.where);
  }
}
