// Compressed-inode metadata (erofs-format.md §5; kernel erofs_fs.h): the 8-byte z_erofs_map_header,
// FULL lcluster indexes (z_erofs_lcluster_index, 8 B each) and COMPACT index packs (2 entries in 8 B or
// 16 entries in 32 B). Encoders and decoders side by side; the reader (src/read/zdata.ts) and the builder
// share the layout functions so offsets are computed in one place.
import { CorruptImageError } from '../errors.js';

/** sizeof(struct z_erofs_map_header). */
export const MAP_HEADER_SIZE = 8;
/**
 * Field offsets in z_erofs_map_header: h_fragmentoff (u32, or the whole u64 of a fragment inode) overlays
 * h_reserved1 and h_idata_size; h_advise, h_algorithmtype (HEAD1 low nibble, HEAD2 high), h_clusterbits.
 */
const OH = { fragmentOff: 0, reserved1: 0, idataSize: 2, advise: 4, algorithmType: 6, clusterBits: 7 } as const;
/** sizeof(struct z_erofs_lcluster_index): one FULL index. */
export const FULL_INDEX_SIZE = 8;
/** Field offsets in z_erofs_lcluster_index: di_advise, di_clusterofs, then di_u: di_blkaddr or di_delta[2]. */
const OI = { advise: 0, clusterofs: 2, blkaddr: 4, delta0: 4, delta1: 6 } as const;
/** FULL indexes start 8 bytes after the map header (Z_EROFS_FULL_INDEX_START). */
export const FULL_INDEX_GAP = 8;

// h_advise bits (Z_EROFS_ADVISE_*).
/** COMPACT: the middle run of indexes uses 2-byte entries (16-entry packs). */
export const ADVISE_COMPACTED_2B = 0x0001;
/** FULL: encoded extent records (48-bit layout, Linux 6.15); the same bit as COMPACTED_2B. */
export const ADVISE_EXTENTS = 0x0001;
/** HEAD1 pclusters may span several blocks (CBLKCNT in the first NONHEAD). */
export const ADVISE_BIG_PCLUSTER_1 = 0x0002;
/** HEAD2 and PLAIN pclusters may span several blocks. */
export const ADVISE_BIG_PCLUSTER_2 = 0x0004;
/** ztailpacking: the last pcluster is stored inline after the indexes; h_idata_size is its size. */
export const ADVISE_INLINE_PCLUSTER = 0x0008;
/** PLAIN pclusters are stored rotated by the extent's in-block offset. */
export const ADVISE_INTERLACED_PCLUSTER = 0x0010;
/** The tail extent lives in the packed inode at h_fragmentoff. */
export const ADVISE_FRAGMENT_PCLUSTER = 0x0020;
/** Bit of h_clusterbits: the whole file lives in the packed inode (Z_EROFS_FRAGMENT_INODE_BIT). */
export const FRAGMENT_INODE_BIT = 7;

// lcluster types (Z_EROFS_LCLUSTER_TYPE_*), di_advise bits 0..1.
export const LCLUSTER_TYPE_PLAIN = 0;
export const LCLUSTER_TYPE_HEAD1 = 1;
export const LCLUSTER_TYPE_NONHEAD = 2;
export const LCLUSTER_TYPE_HEAD2 = 3;
export const LI_LCLUSTER_TYPE_MASK = 3;
/** FULL HEAD only: the extent uses a prefix of its pcluster's decompressed data (dedupe). */
export const LI_PARTIAL_REF = 1 << 15;
/** In delta[0] of the first NONHEAD: the rest is the pcluster's compressed block count. */
export const LI_D0_CBLKCNT = 1 << 11;

/** Largest pcluster (compressed size) and extent (decompressed size) the kernel accepts. */
export const PCLUSTER_MAX_SIZE = 1024 * 1024;
export const PCLUSTER_MAX_DSIZE = 12 * 1024 * 1024;

// The algorithm ids (h_algorithmtype nibbles) are declared with the other kernel constants; the map's
// users keep importing them from here.
export { COMPRESSION_LZ4, COMPRESSION_LZMA, COMPRESSION_DEFLATE, COMPRESSION_ZSTD, COMPRESSION_MAX, ALL_COMPR_ALGS } from './constants.js';

/** Byte offset of the map header of an inode whose inode + xattr body ends at `inodeEnd`. */
export function mapHeaderOffset(inodeEnd: number): number {
  return Math.ceil(inodeEnd / 8) * 8;
}

/** Byte offset of the first FULL index. */
export function fullIndexStart(inodeEnd: number): number {
  return mapHeaderOffset(inodeEnd) + MAP_HEADER_SIZE + FULL_INDEX_GAP;
}

/** Byte offset of the first COMPACT entry (the pack area starts right after the header). */
export function compactIndexStart(inodeEnd: number): number {
  return mapHeaderOffset(inodeEnd) + MAP_HEADER_SIZE;
}

/** Lclusters of a file of `size` bytes (lclusters are one block: mkfs writes h_clusterbits 0). */
export function lclusterCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

// ---- the metadata after a compressed inode -----------------------------------------------

/** The index form of a compressed inode (COMPRESSED_COMPACT or COMPRESSED_FULL): chosen once per file, before anything is sized. */
export type IndexForm = 'compact' | 'full';

/**
 * Where the parts of a compressed inode's metadata go, as offsets from the inode's start: map header,
 * indexes, the inline (ztailpacking) pcluster. The encoder writes at these offsets and the writer places
 * the item with `size`, so the two cannot disagree; the reader finds the indexes with the same functions
 * (fullIndexStart, compactIndexStart, compactLayout).
 */
export interface ZMetaLayout {
  form: IndexForm;
  /** Bytes of inode + xattr body (the metadata starts there). */
  inodeEnd: number;
  headerAt: number;
  indexAt: number;
  /** COMPACT only: the pack layout the entries are written in. */
  compact?: CompactLayout;
  lclusters: number;
  inlineAt: number;
  inlineLen: number;
  /** Bytes after inodeEnd: alignment padding, header, indexes and the inline pcluster. */
  size: number;
}

export function zMetaLayout(inodeEnd: number, lclusters: number, form: IndexForm, inlineLen: number): ZMetaLayout {
  const headerAt = mapHeaderOffset(inodeEnd);
  let indexAt: number;
  let indexEnd: number;
  let compact: CompactLayout | undefined;
  if (form === 'full') {
    indexAt = fullIndexStart(inodeEnd);
    indexEnd = indexAt + fullIndexesSize(lclusters);
  } else {
    // mkfs.erofs always writes COMPACTED_2B packs (see ADVISE_COMPACTED_2B in zMetaAdvise).
    compact = compactLayout(compactIndexStart(inodeEnd), lclusters, true);
    indexAt = compact.ebase;
    indexEnd = indexAt + compact.bytes;
  }
  return { form, inodeEnd, headerAt, indexAt, compact, lclusters, inlineAt: indexEnd, inlineLen, size: indexEnd + inlineLen - inodeEnd };
}

// ---- z_erofs_map_header ------------------------------------------------------------------

/**
 * A map header. `fragment-inode`: the whole file is in the packed inode at a 63-bit offset (h_clusterbits
 * bit 7 set; the other 63 bits of the header are the offset). `indexes`: lcluster indexes follow;
 * the first 4 bytes are u32 h_fragmentoff with ADVISE_FRAGMENT_PCLUSTER, else u16 h_reserved1 + u16
 * h_idata_size (used with ADVISE_INLINE_PCLUSTER); the field not stored is 0.
 */
export type MapHeader =
  | { kind: 'fragment-inode'; fragmentOff: bigint }
  | {
    kind: 'indexes';
    /** u32 h_fragmentoff (low 32 bits; FULL inodes take the high bits from the tail head's blkaddr). */
    fragmentOff: number;
    idataSize: number;
    advise: number;
    /** h_algorithmtype: [HEAD1 algorithm, HEAD2 algorithm]. */
    algorithmType: [number, number];
    /** h_clusterbits bits 0..3: lclusterbits - blkszbits (mkfs writes 0). */
    clusterBits: number;
  };

/** Encode `h` into out[at, at + 8) (a new array by default): every byte written, reserved ones 0. */
export function encodeMapHeader(h: MapHeader, out: Uint8Array = new Uint8Array(MAP_HEADER_SIZE), at = 0): Uint8Array {
  out.fill(0, at, at + MAP_HEADER_SIZE);
  if (h.kind === 'fragment-inode') {
    if (h.fragmentOff < 0n || h.fragmentOff >= 1n << 63n) throw new RangeError(`fragment offset ${h.fragmentOff} does not fit 63 bits`);
    new DataView(out.buffer, out.byteOffset + at, MAP_HEADER_SIZE).setBigUint64(OH.fragmentOff, h.fragmentOff | (1n << 63n), true);
    return out;
  }
  if (h.advise & ADVISE_FRAGMENT_PCLUSTER) {
    if (h.idataSize !== 0) throw new RangeError('map header: h_idata_size and h_fragmentoff share bytes 0..3');
    const u = h.fragmentOff >>> 0;
    put16(out, at + OH.fragmentOff, u & 0xffff);
    put16(out, at + OH.fragmentOff + 2, u >>> 16);
  } else {
    put16(out, at + OH.idataSize, h.idataSize);
  }
  put16(out, at + OH.advise, h.advise);
  const a1 = h.algorithmType[0];
  const a2 = h.algorithmType[1];
  if (a1 > 15 || a2 > 15 || h.clusterBits > 15) throw new RangeError('map header: algorithm or cluster bits out of range');
  out[at + OH.algorithmType] = a1 | (a2 << 4);
  out[at + OH.clusterBits] = h.clusterBits;
  return out;
}

/**
 * Decode the 8 header bytes at `off`: h_fragmentoff only with ADVISE_FRAGMENT_PCLUSTER, else h_idata_size
 * (h_reserved1 ignored). Reserved bits 4..6 of h_clusterbits are ignored, as the kernel does.
 */
export function decodeMapHeader(b: Uint8Array, off: number): MapHeader {
  const v = new DataView(b.buffer, b.byteOffset + off, MAP_HEADER_SIZE);
  const clusterbitsByte = v.getUint8(OH.clusterBits);
  if (clusterbitsByte >> FRAGMENT_INODE_BIT) {
    return { kind: 'fragment-inode', fragmentOff: v.getBigUint64(OH.fragmentOff, true) & ((1n << 63n) - 1n) };
  }
  const at = v.getUint8(OH.algorithmType);
  const advise = v.getUint16(OH.advise, true);
  const fragment = (advise & ADVISE_FRAGMENT_PCLUSTER) !== 0;
  return {
    kind: 'indexes',
    fragmentOff: fragment ? v.getUint32(OH.fragmentOff, true) : 0,
    idataSize: fragment ? 0 : v.getUint16(OH.idataSize, true),
    advise,
    algorithmType: [at & 15, at >> 4],
    clusterBits: clusterbitsByte & 15,
  };
}

// ---- FULL (legacy) indexes ---------------------------------------------------------------

/**
 * One lcluster index as FULL stores it. Heads (PLAIN/HEAD1/HEAD2) carry where the extent starts in this
 * lcluster and its first block; NONHEADs carry delta[0] (lclusters back to the head, or LI_D0_CBLKCNT |
 * block count in the first NONHEAD of a big pcluster) and delta[1] (lclusters forward to the next head).
 */
export type LclusterIndex =
  | { type: typeof LCLUSTER_TYPE_PLAIN | typeof LCLUSTER_TYPE_HEAD1 | typeof LCLUSTER_TYPE_HEAD2; clusterofs: number; blkaddr: number; partialRef: boolean }
  | { type: typeof LCLUSTER_TYPE_NONHEAD; delta0: number; delta1: number };

/** Little-endian fields written byte by byte: a DataView per index was an allocation per lcluster. */
function put16(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
}

export function encodeFullIndex(x: LclusterIndex, out: Uint8Array, off: number): void {
  if (x.type === LCLUSTER_TYPE_NONHEAD) {
    put16(out, off + OI.advise, LCLUSTER_TYPE_NONHEAD);
    put16(out, off + OI.clusterofs, 0);
    put16(out, off + OI.delta0, x.delta0);
    put16(out, off + OI.delta1, x.delta1);
  } else {
    put16(out, off + OI.advise, x.type | (x.partialRef ? LI_PARTIAL_REF : 0));
    put16(out, off + OI.clusterofs, x.clusterofs);
    const u = x.blkaddr >>> 0;
    put16(out, off + OI.blkaddr, u & 0xffff);
    put16(out, off + OI.blkaddr + 2, u >>> 16);
  }
}

/** Decode a FULL index. Other di_advise bits are ignored, as the kernel does; di_clusterofs of a NONHEAD too. */
export function decodeFullIndex(b: Uint8Array, off: number): LclusterIndex {
  const v = new DataView(b.buffer, b.byteOffset + off, FULL_INDEX_SIZE);
  const advise = v.getUint16(OI.advise, true);
  const type = advise & LI_LCLUSTER_TYPE_MASK;
  if (type === LCLUSTER_TYPE_NONHEAD) return { type, delta0: v.getUint16(OI.delta0, true), delta1: v.getUint16(OI.delta1, true) };
  return {
    type: type as 0 | 1 | 3,
    clusterofs: v.getUint16(OI.clusterofs, true),
    blkaddr: v.getUint32(OI.blkaddr, true),
    partialRef: (advise & LI_PARTIAL_REF) !== 0,
  };
}

/**
 * Encode an inode's FULL indexes. NONHEADs repeat their head's clusterofs in di_clusterofs, as mkfs.erofs
 * writes them (readers ignore the field), so the bytes match mkfs.
 */
export function encodeFullIndexes(xs: LclusterSeq, out: Uint8Array = new Uint8Array(fullIndexesSize(xs.length)), at = 0): Uint8Array {
  let headClusterofs = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs.at(i)!;
    encodeFullIndex(x, out, at + i * FULL_INDEX_SIZE);
    if (x.type === LCLUSTER_TYPE_NONHEAD) put16(out, at + i * FULL_INDEX_SIZE + OI.clusterofs, headClusterofs);
    else headClusterofs = x.clusterofs;
  }
  return out;
}

/** Bytes of `n` FULL indexes (the gap before them is fullIndexStart's). */
export function fullIndexesSize(n: number): number {
  return n * FULL_INDEX_SIZE;
}

/**
 * Indexes in lcluster order: an array, or a source that makes each as asked (once, in order; an
 * entry it returns may be reused by the next at(): use it before asking for the next).
 */
export interface LclusterSeq {
  readonly length: number;
  at(lcn: number): LclusterIndex | undefined;
}

// ---- COMPACT indexes ---------------------------------------------------------------------

/**
 * Where the COMPACT entries of an inode live: `initial4B` 4-byte entries up to the next 32-byte boundary,
 * then `count2B` 2-byte entries (a multiple of 16), then the rest as 4-byte entries; entries go in packs
 * (2 per 8 bytes, 16 per 32 bytes) whose last 4 bytes hold a base blkaddr. `totalidx` = lcluster count.
 */
export interface CompactLayout {
  ebase: number;
  /** ADVISE_COMPACTED_2B: a middle run of 2-byte entries is allowed. */
  compacted2B: boolean;
  totalidx: number;
  initial4B: number;
  count2B: number;
  /** Byte length of all packs (the last 4B pack is whole even when it holds one real entry). */
  bytes: number;
}

export function compactLayout(ebase: number, totalidx: number, compacted2B: boolean): CompactLayout {
  const initial4B = ((32 - (ebase % 32)) / 4) & 7;
  const count2B = compacted2B && initial4B < totalidx ? Math.floor((totalidx - initial4B) / 16) * 16 : 0;
  // Entries before the 2B run: at most initial4B (all of them when there are fewer).
  const head4B = Math.min(initial4B, totalidx);
  const tail4B = totalidx - head4B - count2B;
  const bytes = Math.ceil(head4B / 2) * 8 + count2B * 2 + Math.ceil(tail4B / 2) * 8;
  return { ebase, compacted2B, totalidx, initial4B, count2B, bytes };
}

/** Where lcluster `lcn`'s entry is: its pack's byte offset, entries per pack, and its index in the pack. */
export function compactEntryPosition(l: CompactLayout, lcn: number): { packOff: number; vcnt: 2 | 16; i: number } {
  let pos = l.ebase;
  let rel = lcn;
  let unit = 4;
  if (rel >= l.initial4B) {
    pos += l.initial4B * 4;
    rel -= l.initial4B;
    if (rel < l.count2B) {
      unit = 2;
    } else {
      pos += l.count2B * 2;
      rel -= l.count2B;
    }
  }
  pos += rel * unit;
  const vcnt = unit === 4 ? 2 : 16;
  const packBytes = vcnt * unit;
  // Packs are aligned to their own size relative to the image (ebase is 8-aligned; the 2B run starts 32-aligned).
  const packOff = pos - (pos % packBytes);
  return { packOff, vcnt, i: (pos - packOff) / unit };
}

/** lobits of a compact entry: lclusterbits, but at least 12 so LI_D0_CBLKCNT (bit 11) fits. */
export function compactLobits(lclusterbits: number): number {
  return Math.max(lclusterbits, 12);
}

export interface CompactEntry {
  type: number;
  /** clusterofs (heads), delta[0] or LI_D0_CBLKCNT|blocks (NONHEAD), delta[1] in the last NONHEAD of a pack. */
  lo: number;
}

/** A compact pack: 2 entries in 8 bytes or 16 in 32, then the u32 base blkaddr in its last bytes. */
const COMPACT_PACK_BYTES = { 2: 8, 16: 32 } as const;
const COMPACT_BASE_SIZE = 4;

/** Decode one pack (vcnt entries, then a u32 base blkaddr in its last 4 bytes). */
export function decodeCompactPack(b: Uint8Array, off: number, vcnt: 2 | 16, lobits: number): { entries: CompactEntry[]; base: number } {
  const packBytes = COMPACT_PACK_BYTES[vcnt];
  const baseOff = off + packBytes - COMPACT_BASE_SIZE;
  const encodebits = ((packBytes - COMPACT_BASE_SIZE) * 8) / vcnt;
  const entries: CompactEntry[] = [];
  for (let i = 0; i < vcnt; i++) {
    const bit = encodebits * i;
    const byte = off + (bit >> 3);
    // Entries are at most 16 bits at any bit offset: three bytes always cover one.
    const word = b[byte] | (b[byte + 1] << 8) | (b[byte + 2] << 16);
    const v = word >>> (bit & 7);
    entries.push({ type: (v >>> lobits) & 3, lo: v & ((1 << lobits) - 1) });
  }
  const base = (b[baseOff] | (b[baseOff + 1] << 8) | (b[baseOff + 2] << 16) | (b[baseOff + 3] << 24)) >>> 0;
  return { entries, base };
}

/** One pack's entries while it is encoded: types and values (reused: a pack at a time, on one thread). */
const packTypes = new Int32Array(16);
const packLos = new Int32Array(16);

function encodeCompactPack(vcnt: 2 | 16, base: number, lobits: number, out: Uint8Array, off: number): void {
  const packBytes = COMPACT_PACK_BYTES[vcnt];
  const encodebits = ((packBytes - COMPACT_BASE_SIZE) * 8) / vcnt;
  for (let i = 0; i < vcnt; i++) {
    const lo = packLos[i];
    if (lo >= 1 << lobits) throw new RangeError(`compact entry value ${lo} does not fit ${lobits} bits`);
    const v = (packTypes[i] << lobits) | lo;
    const bit = encodebits * i;
    const byte = off + (bit >> 3);
    const sh = bit & 7;
    out[byte] |= (v << sh) & 0xff;
    out[byte + 1] |= (v >>> (8 - sh)) & 0xff;
    if (sh + lobits + 2 > 16) out[byte + 2] |= (v >>> (16 - sh)) & 0xff;
  }
  // The u32 base blkaddr, little-endian, in the pack's last 4 bytes.
  const at = off + packBytes - COMPACT_BASE_SIZE;
  const u = base >>> 0;
  out[at] = u & 0xff;
  out[at + 1] = (u >>> 8) & 0xff;
  out[at + 2] = (u >>> 16) & 0xff;
  out[at + 3] = u >>> 24;
}

export interface CompactEncodeParams {
  /** Where the entries go (compactLayout: ebase fixes the 4B/2B split); its totalidx must be the index count. */
  layout: CompactLayout;
  /** Superblock BIG_PCLUSTER (then every head of more than one lcluster has a CBLKCNT). */
  bigPcluster: boolean;
  lclusterbits: number;
  /** Block of the first pcluster; pclusters of the inode follow each other in index order. */
  startBlkaddr: number;
}

/**
 * Convert FULL-style indexes to COMPACT packs, the way mkfs.erofs converts its legacy indexes, so the
 * bytes match mkfs: heads store clusterofs, NONHEADs delta[0] (or the CBLKCNT word), the last NONHEAD of
 * a pack stores min(delta[1], 2047); each pack's base is the block the running pcluster counter had when
 * the pack started, moved past a pending one-block pcluster at the pack's first head (big pclusters only).
 * A head's blkaddr field is not stored: readers derive it from the base, so pclusters must be laid out
 * in index order (one block per head, or CBLKCNT blocks). Written into out[at, at + layout.bytes),
 * zeroed first (packs OR their entries in), or into a new array.
 */
export function encodeCompactIndexes(xs: LclusterSeq, p: CompactEncodeParams, out?: Uint8Array, at = 0): Uint8Array {
  const l = p.layout;
  if (p.lclusterbits > 14 || (l.compacted2B && p.lclusterbits > 12)) throw new RangeError(`compact indexes need lclusterbits <= 14 (2B: <= 12), got ${p.lclusterbits}`);
  if (l.totalidx !== xs.length) throw new RangeError(`compact layout for ${l.totalidx} indexes, given ${xs.length}`);
  if (out) out.fill(0, at, at + l.bytes);
  else out = new Uint8Array(l.bytes);
  const lobits = compactLobits(p.lclusterbits);
  // The running block counter; without big pclusters it starts one early and every head bumps it.
  let blk = p.bigPcluster ? p.startBlkaddr : p.startBlkaddr - 1;
  let pendingHead = !p.bigPcluster;
  let lcn = 0;
  let outOff = at;
  while (lcn < xs.length) {
    const vcnt = compactEntryPosition(l, lcn).vcnt;
    let base = blk;
    let baseMovable = p.bigPcluster;
    for (let i = 0; i < vcnt; i++) {
      // A short final 4B pack is padded with a PLAIN entry of clusterofs 0, as mkfs does.
      const x: LclusterIndex = lcn + i < xs.length ? xs.at(lcn + i)! : { type: LCLUSTER_TYPE_PLAIN, clusterofs: 0, blkaddr: 0, partialRef: false };
      packTypes[i] = x.type;
      if (x.type === LCLUSTER_TYPE_NONHEAD) {
        if (x.delta0 & LI_D0_CBLKCNT) {
          blk += x.delta0 & ~LI_D0_CBLKCNT;
          pendingHead = false;
          packLos[i] = x.delta0;
        } else if (i === vcnt - 1) {
          packLos[i] = Math.min(x.delta1, LI_D0_CBLKCNT - 1);
        } else {
          packLos[i] = x.delta0;
        }
      } else {
        if (pendingHead) {
          blk++;
          if (baseMovable) base = blk;
        }
        pendingHead = true;
        baseMovable = false;
        packLos[i] = x.clusterofs;
      }
    }
    encodeCompactPack(vcnt, base, lobits, out, outOff);
    outOff += vcnt === 2 ? 8 : 32;
    lcn += vcnt;
  }
  if (outOff - at !== l.bytes) throw new Error(`compact layout mismatch: wrote ${outOff - at} of ${l.bytes} bytes`);
  return out;
}

/**
 * Blocks between a pack's base and head `i` of the pack (the kernel's backward walk in
 * z_erofs_load_compact_lcluster): big pclusters add each earlier CBLKCNT and skip its head, bare heads add 1;
 * without big pclusters every earlier head adds 1, plus 1 for the head itself.
 */
export function compactHeadBlockOffset(entries: readonly CompactEntry[], i: number, big: boolean, where: string): number {
  let nblk = big ? 0 : 1;
  let k = i;
  while (k > 0) {
    k--;
    const e = entries[k];
    if (!big) {
      if (e.type === LCLUSTER_TYPE_NONHEAD) k -= e.lo;
      if (k >= 0) nblk++;
    } else if (e.type === LCLUSTER_TYPE_NONHEAD) {
      if (e.lo & LI_D0_CBLKCNT) {
        k--;
        nblk += e.lo & ~LI_D0_CBLKCNT;
      } else {
        // A big-pcluster NONHEAD right after its head must be a CBLKCNT.
        if (e.lo <= 1) throw new CorruptImageError('plain delta[0] <= 1 in a big-pcluster compact pack', where);
        k -= e.lo - 2;
      }
    } else {
      nblk++;
    }
  }
  return nblk;
}
