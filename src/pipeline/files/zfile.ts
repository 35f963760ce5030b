// Compressing one regular file into EROFS extents ("fixed-size output" pclusters, erofs-format.md §5-6)
// and laying out its lcluster indexes. The caller supplies the bytes sequentially and places pclusters.
import { PCLUSTER_MAX_DSIZE, LCLUSTER_TYPE_PLAIN, LCLUSTER_TYPE_HEAD1, LCLUSTER_TYPE_NONHEAD, LI_D0_CBLKCNT,
  ADVISE_COMPACTED_2B, ADVISE_BIG_PCLUSTER_1, ADVISE_BIG_PCLUSTER_2, ADVISE_INLINE_PCLUSTER, ADVISE_INTERLACED_PCLUSTER,
  ADVISE_FRAGMENT_PCLUSTER, encodeMapHeader,
  encodeFullIndexes, encodeCompactIndexes, fullIndexStart, fullIndexesSize, zMetaLayout, lclusterCount, type IndexForm, type ZMetaLayout,
  type LclusterIndex, type MapHeader } from '../../format/zmap.js';
import type { Codec } from '../../compress/codec.js';
import { takeSlab } from './slab-pool.js';
import { chunkTake, chunkRelease, type ChunkUse } from './held-chunks.js';
import { prefault } from '../../sys/prefault.js';

export interface ZParams {
  codec: Codec;
  blockSize: number;
  /** Largest pcluster in bytes (-C, or the file's compress hint). */
  pclusterSize: number;
  /** The pcluster size `codec` was made for when it is not pclusterSize (the image's largest, with compress hints). */
  codecPcluster?: number;
  /** Superblock BIG_PCLUSTER: CBLKCNT entries and BIG_PCLUSTER advise bits. */
  big: boolean;
  ztailpacking: boolean;
  /** --max-extent-bytes: the compressor is offered at most this much input per pcluster. */
  maxExtent?: number;
  /**
   * -E fragments, for the piece that ends the file: its final part goes to the packed inode
   * (mkfs.erofs __z_erofs_compress_one "may_packing": what is left once it is at most one pcluster,
   * or all of it when one pcluster's stream would hold the rest).
   */
  fragments?: boolean;
  /** -E all-fragments: every byte of the input goes to the packed inode, uncompressed here. */
  allFragments?: boolean;
  /**
   * Stored (PLAIN) pclusters are INTERLACED: file byte la + j at block byte (la + j) % bs. mkfs.erofs
   * sets it with fragments unless dedupe is on (a raw block shared between files must not depend on
   * where its extent starts in a block).
   */
  interlaced?: boolean;
  /**
   * -E dedupe: input not worth compressing is stored one block per step, and compression tried again
   * one block later (mkfs.erofs 1.9.3 write_uncompressed_block under dedupe), so that every extent
   * starts a step: an extent computed ahead at a position is what compressing there gives (extent-dedupe.ts).
   */
  rawBlockSteps?: boolean;
}

export interface Extent {
  /** Logical start and length in the file. */
  la: number;
  llen: number;
  /** Compressed (HEAD1) or stored (PLAIN). */
  compressed: boolean;
  /** Physical blocks; 0 for the inline tail. */
  blocks: number;
  blkaddr: number;
  /** The tail (or whole file) stored in the packed inode: a HEAD1 extent with no blocks. */
  fragment?: boolean;
  /**
   * -E dedupe: the extent reads the pcluster of `ref` (an extent written earlier) instead of one of
   * its own; its blkaddr is ref's once ref is placed.
   */
  ref?: Extent;
  /** Only a prefix of its pcluster's decompressed data is this extent's (Z_EROFS_LI_PARTIAL_REF). */
  partial?: boolean;
}

/**
 * The most compressed bytes one pcluster may hold: -C, but never more blocks than a CBLKCNT entry
 * counts (11 bits: 2047). At 512-byte blocks a full 1 MiB pcluster is 2048 blocks, which would be
 * written as a count of 0 (the kernel: "cannot found CBLKCNT"; found by the option matrix on a packed
 * inode at -b 512 -C 1048576).
 */
export function pclusterTarget(p: Pick<ZParams, 'pclusterSize' | 'blockSize'>): number {
  return Math.min(p.pclusterSize, (LI_D0_CBLKCNT - 1) * p.blockSize);
}

/**
 * Input offered per pcluster: mkfs.erofs 1.9.3's whole compression queue (Z_EROFS_COMPR_QUEUE_SZ =
 * 2 x EROFS_CONFIG_COMPR_MAX_SZ = 8000 KiB), its largest offer, so that no extent of ours is cut
 * shorter than its; below the kernel's limit on decompressed extents (PCLUSTER_MAX_DSIZE).
 */
export const MAX_EXTENT_INPUT = Math.min(PCLUSTER_MAX_DSIZE, 2 * 4000 * 1024);

/**
 * The input window's room past the `look` bytes offered, as a fraction of them. 1 (a window of twice
 * the offer) kept 16,000 KiB per thread once a file of more than 8000 KiB was compressed, resident in
 * each worker's encoder memory to the end of the build, where the peak comes (with the big files);
 * 1/2 keeps 12,000 KiB, for one more move of up to 8000 KiB per 16 MiB segment (~0.2-1 ms; LZ4
 * compresses such a segment in ~60 ms).
 */
const WINDOW_SLACK = 0.5;

let sharedWindow: Uint8Array | undefined;

/**
 * How far into the thread's window (its buffer) reads have reached: pages past it are fresh, mapped
 * in one call before a read reaches them (sys/prefault.ts). A window grows with the longest input
 * seen (up to 12 MiB per thread), each new page faulted in as a read came to it.
 */
let faulted: { buf: ArrayBufferLike | undefined; end: number } = { buf: undefined, end: 0 };

/** Sequential reader of the file's bytes: fills buf[off, off+len) and returns how many it read (0 at EOF). */
export type ReadFn = (buf: Uint8Array, off: number, len: number) => number;

/** A ReadFn over bytes already in memory (a cached segment, the packed inode's data, tests). */
export function readFromBytes(bytes: Uint8Array): ReadFn {
  let pos = 0;
  return (buf, off, len) => {
    const n = Math.min(len, bytes.length - pos);
    buf.set(bytes.subarray(pos, pos + n), off);
    pos += n;
    return n;
  };
}

export interface ZResult {
  /** The extents as objects; empty when `cols` holds them. */
  extents: Extent[];
  /**
   * The extents as columns instead (packExtents' layout: 5 numbers each), as a held result arrives
   * from its worker (job-wire.ts): the writer places them (blkaddr written in place) and encodes
   * their indexes from these, with no object per pcluster; extentsOf makes the objects where a step
   * edits extents.
   */
  cols?: Float64Array;
  /** The inline (ztailpacking) tail pcluster bytes, when there is one (the last extent, blocks 0). */
  inline?: Uint8Array;
  /** The raw bytes of the inline extent, in case it has to leave the metadata block. */
  inlineRaw?: Uint8Array;
  /** The bytes of the fragment extent (the last one), for the packed inode. */
  fragment?: Uint8Array;
  /**
   * Pcluster payloads in extent order (undefined for the inline one), to be written by the caller.
   * They are views into one buffer where possible, so a result crosses threads as one transfer and
   * consecutive pclusters go out in one write.
   */
  payloads: (Uint8Array | undefined)[];
  totalBlocks: number;
  /** Digest of the bytes compressed, when the job was asked for one (a whole one-segment file). */
  digest?: Uint8Array;
  /**
   * Buffers from takeSlab (slab-pool.ts) that hold this result's payloads and inline bytes and
   * nothing else: the writer hands them back once the file is written, and no view of them is used after.
   */
  slabs?: ArrayBuffer[];
  /** -E dedupe: the segment's bytes, which the writer matches against earlier pclusters (extent-dedupe.ts). */
  raw?: Uint8Array;
  /**
   * Pclusters left in a cache entry's file, copied into the image in the kernel (see cacheGet): the
   * entry's open descriptor (the writer closes it), and per extent where its pcluster lies (-1: none;
   * then `payloads` says) and its length. `payloads` holds undefined for these extents.
   */
  stored?: StoredPayloads;
  /**
   * Pclusters left in the worker that compressed them, written into the image by that worker once
   * the writer has placed them (work/held-results.ts): `payloads` holds undefined for these extents.
   */
  held?: HeldPayloads;
  /**
   * The payloads are in this thread's held chunks (held-chunks.ts), counted for this result: it must
   * be held (work/held-results.ts), which lets them go, or they are let go with chunkRelease.
   */
  chunks?: ChunkUse;
}

/**
 * `fd` -1 with `entry`: the entry is named, not open (a head the stat index kept, see resultOfHead):
 * the job that copies its pclusters opens it and checks its identity. `fd` -1 with `image`: `at`
 * are offsets in the old image (cache/old-image.ts), which the copy job opens and checks likewise.
 */
export interface StoredPayloads {
  fd: number; at: Float64Array | number[]; lens: Float64Array | number[]; entry?: { key: string; id: string };
  image?: { path: string; id: string };
}

/**
 * Payloads held by worker `worker` under `id`: per extent the index of the held buffer (-1: none;
 * then `payloads` says), the byte offset in it and the length (3 numbers each).
 */
export interface HeldPayloads { worker: number; id: number; pay: Float64Array }

/**
 * Compress `size` bytes: each step takes as much input as fits one pcluster; a pcluster is kept only
 * when it saves a whole block, otherwise the input it consumed is stored raw (mkfs.erofs __z_erofs_compress_one).
 * With ztailpacking the final piece goes inline when it is smaller than a block.
 */
export function compressExtents(read: ReadFn, size: number, p: ZParams, onBytes?: (chunk: Uint8Array) => void, chunked = false): ZResult {
  // Input offered to each pcluster: MAX_EXTENT_INPUT (or the rest of the segment) whatever the
  // pcluster size. mkfs.erofs 1.9.3 offers all it has queued (lib/compress.c: e->length = tail -
  // head; the queue is refilled to Z_EROFS_COMPR_QUEUE_SZ = 8000 KiB once head passes
  // EROFS_CONFIG_COMPR_MAX_SZ = 4000 KiB), between ~4000 and 8000 KiB by where its queue stands; we
  // offer its largest, a function of the position alone. Offering less (max(256 KiB, 64 x pcluster)
  // before) cut very repetitive input (preprocessed C++ headers at -zlzma -C4096, runs of zeros)
  // into more pclusters than mkfs.erofs's. The encoders stop once their output is full, so the offer
  // costs no work past what they consume; the window holds `look` bytes more WINDOW_SLACK, refilled
  // (the `look` bytes still ahead moved to its start) each time that much is consumed: O(1) per byte.
  const look = Math.min(MAX_EXTENT_INPUT, size);
  const span = look + Math.ceil(look * WINDOW_SLACK);
  // One window per thread, reused: files are compressed one at a time on a thread. A codec that
  // can read its input in place (the WebAssembly ones) provides it.
  let win: Uint8Array;
  if (p.codec.window) {
    win = p.codec.window(Math.max(span, 512 << 10), p.pclusterSize);
  } else {
    if (!sharedWindow || sharedWindow.length < span) sharedWindow = new Uint8Array(Math.max(span, 512 << 10));
    win = sharedWindow;
  }
  let winStart = 0; // file offset of win[0]
  let winLen = 0;
  const fill = (pos: number): void => {
    const keep = winStart + winLen - pos;
    win.copyWithin(0, pos - winStart, pos - winStart + keep);
    winStart = pos;
    winLen = keep;
    const want = Math.min(span, size - winStart);
    // At the input's end, room for one byte more when the window has it: a reader at its file's
    // planned end then asks for it, and sees in that one read that the file did not grow (without,
    // SourceReader.finish probed with a read of its own: one more system call per file).
    const extra = winStart + want === size && want < win.length ? 1 : 0;
    if (faulted.buf !== win.buffer) faulted = { buf: win.buffer, end: 0 };
    if (want > faulted.end) {
      prefault(win, Math.max(faulted.end, winLen), want);
      faulted.end = want;
    }
    while (winLen < want) {
      const n = read(win, winLen, want - winLen + extra);
      if (n === 0) break;
      onBytes?.(win.subarray(winLen, winLen + n));
      winLen += n;
    }
  };

  const z: ZResult = { extents: [], payloads: [], totalBlocks: 0 };
  scratch ??= new Uint8Array(ARENA_SLAB);
  const arena: Arena = { buf: scratch, used: 0, views: [], z };
  // A result to be held assembles its payloads in place in the held chunks: no copy at the end.
  if (chunked) arena.chunks = z.chunks = [];
  let pos = 0;
  if (p.allFragments && size > 0) {
    // The whole input, read as it comes (the window may be shorter than a segment).
    const all = new Uint8Array(size);
    for (let got = 0; got < size;) {
      const n = read(all, got, size - got);
      if (n === 0) throw new ShortReadError(got);
      onBytes?.(all.subarray(got, got + n));
      got += n;
    }
    z.fragment = all;
    z.extents.push({ la: 0, llen: size, compressed: true, blocks: 0, blkaddr: 0, fragment: true });
    z.payloads.push(undefined);
    return z;
  }
  try {
    while (pos < size) {
      const rem = size - pos;
      if (winStart + winLen - pos < Math.min(rem, look)) fill(pos);
      const avail = winStart + winLen - pos;
      if (avail < Math.min(rem, look)) throw new ShortReadError(pos + avail);
      pos += stepAt(z, win, pos - winStart, pos - winStart + Math.min(rem, look), pos, rem, p, arena);
    }
  } catch (e) {
    // The held chunks taken so far are nobody's now.
    if (z.chunks) chunkRelease(z.chunks);
    throw e;
  }
  sealArena(arena);
  return z;
}

/**
 * One step at file offset `pos`: the extent(s) for the input `src` (at least min(rem, input offered)
 * bytes of it) pushed to z; returns the input they take. What a step yields is a function of the
 * bytes from `pos` on and of `rem` alone (never of buffer history), so a step may be computed by any
 * thread, ahead of time or again.
 */
export function compressStep(z: ZResult, w: Uint8Array, pos: number, rem: number, p: ZParams, arena?: Arena): number {
  return stepAt(z, w, 0, w.length, pos, rem, p, arena);
}

/** The packed inode's share of the input: its `n` bytes from win[at] (the slab's copy, see arenaFragment). */
function toFragment(z: ZResult, win: Uint8Array, at: number, end: number, n: number, pos: number, arena?: Arena): number {
  z.fragment = arenaFragment(arena, win.subarray(at, Math.min(end, at + n)));
  z.extents.push({ la: pos, llen: n, compressed: true, blocks: 0, blkaddr: 0, fragment: true });
  z.payloads.push(undefined);
  return n;
}

/**
 * compressStep on the input win[at, end), read where it lies: compressExtents' steps made a view of
 * the window per step, the codec a view of its input again and two result objects, ~8 objects per
 * pcluster for the workers' young generation (bench corpus, -zlz4: ~90,000 pclusters). A codec with
 * compressAt reads the window in place and returns one reused result.
 */
function stepAt(z: ZResult, win: Uint8Array, at: number, end: number, pos: number, rem: number, p: ZParams, arena?: Arena): number {
  const bs = p.blockSize;
  // Fragments: what is left once it fits one pcluster goes to the packed inode, uncompressed.
  if (p.fragments && rem <= p.pclusterSize) return toFragment(z, win, at, end, rem, pos, arena);
  // Exactly min(rem, look) bytes: what the compressor sees never depends on buffer history.
  // mkfs.erofs --max-extent-bytes caps the input offered (lib/compress.c: e->length = min(len, max)).
  const len = Math.max(0, Math.min(end - at, rem, MAX_EXTENT_INPUT, p.maxExtent ?? Infinity));
  const codec = p.codec;
  let r = codec.compressAt ? codec.compressAt(win, at, len, pclusterTarget(p), p.rawBlockSteps)
    : codec.compress(win.subarray(at, at + len), len, pclusterTarget(p), p.rawBlockSteps);
  // ...and so does all of the rest when one pcluster's stream would hold it (mkfs.erofs keeps a
  // pcluster only when it saves a block; a stream that does not is stored raw, as without fragments).
  if (p.fragments && r.consumed === rem && r.data.length < p.pclusterSize && Math.ceil(r.data.length / bs) * bs < r.consumed) {
    return toFragment(z, win, at, at + len, rem, pos, arena);
  }
  if (p.ztailpacking && r.consumed === rem && r.data.length > bs && r.data.length % bs !== 0
    && Math.ceil(r.data.length / bs) * bs < rem) r = trimTrailing(p, win.subarray(at, at + len), rem, r, bs);
  // Inline tail: compressed when that is smaller, else raw -- but never raw in an INTERLACED inode
  // (the packed inode of -E ztailpacking,fragments): a PLAIN pcluster there is read rotated by the
  // extent's offset in its block, from a whole block (erofs-utils z_erofs_decompress reads past the
  // idata, the kernel's z_erofs_transform_plain before it), so an inline raw tail of fewer bytes reads
  // wrong. It is stored as an interlaced block instead. (mkfs.erofs 1.9.3 inlines it: the kernel
  // reads wrong bytes from its image, which fsck.erofs 1.9.3 passes.)
  const useZ = r.consumed === rem && r.data.length < Math.min(rem, bs);
  if (p.ztailpacking && (r.consumed === rem && r.data.length < bs || rem < bs) && (useZ || !p.interlaced)) {
    const raw = win.subarray(at, Math.min(at + len, at + rem));
    z.inline = Uint8Array.from(useZ ? r.data : raw);
    z.inlineRaw = Uint8Array.from(raw);
    z.extents.push({ la: pos, llen: rem, compressed: useZ, blocks: 0, blkaddr: 0 });
    z.payloads.push(undefined);
    return rem;
  }
  return takePcluster(z, r, win, at, at + len, pos, rem, bs, arena, p.interlaced, p.rawBlockSteps);
}

/**
 * The file's last pcluster, when its stream ends part-way into a block: compress again into the whole
 * blocks below it and leave the rest of the input to the inline tail, when the new stream plus that
 * rest (raw, at worst) is smaller than the old stream's blocks (mkfs.erofs tryrecompress_trailing).
 * Without this the last block of a ztailpacked file holds a few hundred bytes of stream.
 */
function trimTrailing(p: ZParams, src: Uint8Array, rem: number, r: { consumed: number; data: Uint8Array }, bs: number): { consumed: number; data: Uint8Array } {
  const before = Math.ceil(r.data.length / bs) * bs;
  const kept = { consumed: r.consumed, data: r.data.slice() }; // compress() reuses its output buffer
  const t = p.codec.compress(src, rem, Math.floor(r.data.length / bs) * bs);
  return t.consumed > 0 && t.data.length + (rem - t.consumed) < before ? t : kept;
}

const ARENA_SLAB = 1 << 20;

/**
 * Payloads are assembled in one scratch slab per thread, reused, and handed out as exact-size copies
 * of at most 1 MiB (sealArena): one allocation per job's output, where a fresh slab per job and a
 * trimmed copy of it made two, and left 1 MiB holes in the malloc arenas of the workers.
 */
let scratch: Uint8Array | undefined;

export interface Arena {
  buf: Uint8Array;
  used: number;
  /** Indexes of z.payloads that are views of `buf`. */
  views: number[];
  z: ZResult;
  /** Payloads taken from the held chunks instead (z.chunks): `buf` is not used. */
  chunks?: ChunkUse;
  /** z.fragment's place in `buf` (made a view of the sealed slab with the payloads). */
  frag?: { at: number; len: number };
}

/**
 * The fragment's bytes (-E fragments), in the slab with the payloads when they fit: they cross to the
 * writer in a buffer it sends back to the workers (slab-pool.ts), where a copy of their own was an
 * ArrayBuffer per file for the main thread's GC (the corpus: 71 MB of fragments in 17,000 of them).
 */
function arenaFragment(a: Arena | undefined, bytes: Uint8Array): Uint8Array {
  if (!a || a.chunks || bytes.length > a.buf.length) return Uint8Array.from(bytes);
  if (a.used + bytes.length > a.buf.length) sealArena(a);
  a.buf.set(bytes, a.used);
  a.frag = { at: a.used, len: bytes.length };
  a.used += bytes.length;
  return a.buf.subarray(a.frag.at, a.frag.at + bytes.length);
}

/**
 * Room for the payload about to be pushed as z.payloads[z.payloads.length]; its contents are stale
 * (the caller writes every byte: zeroing all of it first cost a memset of every payload byte).
 */
function arenaTake(a: Arena | undefined, n: number, z: ZResult): Uint8Array {
  if (!a) return new Uint8Array(n);
  if (a.chunks) return chunkTake(n, a.chunks);
  // Pclusters are at most 1 MiB, so an emptied slab always holds one.
  if (a.used + n > a.buf.length) sealArena(a);
  const v = a.buf.subarray(a.used, a.used + n);
  a.used += n;
  a.views.push(z.payloads.length);
  return v;
}

/** Move the slab's payloads to one buffer of their own (recycled, see slab-pool.ts); the slab is free again. */
function sealArena(a: Arena): void {
  if (!a.used) return;
  const exact = takeSlab(a.used);
  exact.set(a.buf.subarray(0, a.used));
  (a.z.slabs ??= []).push(exact.buffer as ArrayBuffer);
  for (const i of a.views) {
    const v = a.z.payloads[i]!;
    a.z.payloads[i] = exact.subarray(v.byteOffset, v.byteOffset + v.length);
  }
  if (a.frag) a.z.fragment = exact.subarray(a.frag.at, a.frag.at + a.frag.len);
  a.frag = undefined;
  a.used = 0;
  a.views = [];
}

/**
 * Append the pcluster(s) for the input at `pos` and return the input they take. The compressed stream
 * is kept when its blocks hold fewer bytes than it consumed (it saves a block). Otherwise the input
 * the compressor consumed is stored raw at once, one PLAIN block per extent: max(1, floor(consumed /
 * bs)) blocks (mkfs.erofs 1.9.3 write_uncompressed_extents), and the next pcluster starts after them.
 * Storing one block and compressing again one block later re-encoded the same incompressible input
 * once per block (a 300 KB random file: ~290 compressions of up to 300 KB each).
 */
function takePcluster(z: ZResult, r: { consumed: number; data: Uint8Array }, win: Uint8Array, at: number, end: number, pos: number, rem: number, bs: number, arena?: Arena, interlaced = false, oneRawBlock = false): number {
  const blocks = Math.ceil(r.data.length / bs);
  if (r.consumed > 0 && blocks * bs < r.consumed) {
    // 0PADDING: the stream ends at the pcluster's last byte, zeros before it.
    const payload = arenaTake(arena, blocks * bs, z);
    payload.fill(0, 0, payload.length - r.data.length);
    payload.set(r.data, payload.length - r.data.length);
    z.extents.push({ la: pos, llen: r.consumed, compressed: true, blocks, blkaddr: 0 });
    z.payloads.push(payload);
    z.totalBlocks += blocks;
    return r.consumed;
  }
  const rawBlocks = oneRawBlock ? 1 : Math.max(1, Math.floor(Math.min(r.consumed, rem) / bs));
  let taken = 0;
  for (let i = 0; i < rawBlocks && taken < rem; i++) {
    const llen = Math.min(bs, rem - taken);
    const payload = arenaTake(arena, bs, z);
    // A block the input does not fill ends in zeros (a full one is written whole below).
    if (llen < bs) payload.fill(0);
    // INTERLACED: the block is rotated so file byte la + j sits at (la + j) % bs.
    const rot = interlaced ? (pos + taken) % bs : 0;
    const right = Math.min(bs - rot, llen);
    const from = at + taken;
    payload.set(win.subarray(from, Math.min(end, from + right)), rot);
    payload.set(win.subarray(Math.min(end, from + right), Math.min(end, from + llen)), 0);
    z.extents.push({ la: pos + taken, llen, compressed: false, blocks: 1, blkaddr: 0 });
    z.payloads.push(payload);
    z.totalBlocks += 1;
    taken += llen;
  }
  return taken;
}

export class ShortReadError extends Error {
  constructor(readonly at: number) {
    super(`file shrank during build (ended at ${at})`);
  }
}

/** Drop the inline tail: re-encode it as a normal one-block pcluster (or raw blocks). */
export function uninlineTail(z: ZResult, p: ZParams): void {
  extentsOf(z);
  const bs = p.blockSize;
  const tailBytes = z.inlineRaw!;
  z.inlineRaw = undefined;
  const last = z.extents.pop()!;
  z.payloads.pop();
  z.inline = undefined;
  let pos = last.la;
  const end = last.la + last.llen;
  while (pos < end) {
    const src = tailBytes.subarray(pos - last.la);
    const r = p.codec.compress(src, src.length, pclusterTarget(p), p.rawBlockSteps);
    pos += takePcluster(z, r, src, 0, src.length, pos, end - pos, bs, undefined, p.interlaced, p.rawBlockSteps);
  }
}

/**
 * The metadata size mkfs.erofs weighs a compressed file against (its legacymetasize, even when it then
 * writes COMPACT indexes): the FULL layout's own size, without alignment padding or inline data.
 */
export function legacyMetaSize(size: number, bs: number): number {
  // zMetaLayout(0, lclusters, 'full', 0).size, without its object: asked twice per file.
  return fullIndexStart(0) + fullIndexesSize(lclusterCount(size, bs));
}

/** mkfs.erofs keeps a file compressed only when that saves space (erofs_commit_compressed_file). */
export function worthCompressing(z: ZResult, size: number, bs: number): boolean {
  // A file with a fragment stays compressed (erofs_commit_compressed_file skips the check).
  if (z.fragment) return true;
  return z.totalBlocks * bs + (z.inline?.length ?? 0) + legacyMetaSize(size, bs) < size;
}

/**
 * Whether compressing `size` bytes could pass worthCompressing at all: without ztailpacking every
 * pcluster takes a whole block, so a file that one block plus its indexes do not undercut is stored
 * flat whatever its bytes (such files need no compression job).
 */
export function mayBeWorthCompressing(size: number, p: { blockSize: number; ztailpacking: boolean; fragments?: boolean }): boolean {
  return p.ztailpacking || !!p.fragments || p.blockSize + legacyMetaSize(size, p.blockSize) < size;
}

/**
 * The extents of `z` as objects: those of a result that came as columns (z.cols) are made now, once,
 * and replace them (with a payload slot each: none, as a held result's payloads stay in its worker).
 */
export function extentsOf(z: ZResult): Extent[] {
  const c = z.cols;
  if (!c) return z.extents;
  const n = c.length / 5;
  const xs: Extent[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = 5 * i;
    const kind = c[x + 2];
    xs[i] = { la: c[x], llen: c[x + 1], compressed: kind !== 0, blocks: c[x + 3], blkaddr: c[x + 4] };
    if (kind === 2) xs[i].fragment = true;
    else if (kind === 3) xs[i].partial = true;
  }
  z.extents = xs;
  z.payloads = new Array<undefined>(n).fill(undefined);
  z.cols = undefined;
  return xs;
}

/** How many extents `z` has, in either form. */
export function extentCount(z: ZResult): number {
  return z.cols ? z.cols.length / 5 : z.extents.length;
}

/** Extents as numbers, 5 each: la, llen, kind (0 stored, 1 compressed, 2 fragment, 3 compressed PARTIAL_REF), blocks, blkaddr (a long file's are kept so). */
export function packExtents(xs: readonly Extent[]): Float64Array {
  const a = new Float64Array(5 * xs.length);
  for (let i = 0; i < xs.length; i++) {
    const e = xs[i];
    a[5 * i] = e.la;
    a[5 * i + 1] = e.llen;
    a[5 * i + 2] = e.fragment ? 2 : e.compressed ? (e.partial ? 3 : 1) : 0;
    a[5 * i + 3] = e.blocks;
    a[5 * i + 4] = e.blkaddr;
  }
  return a;
}

/**
 * One entry per lcluster, made as the encoders ask for them in order (never all at once: a 10 GiB
 * file has 2.6 million): heads, NONHEADs (CBLKCNT first in big mode) and the EOF sentinel. When two
 * extents start in one lcluster, the later one is its head. An entry is valid until the next at()
 * (LclusterSeq): the two objects returned are filled anew each time, where an object per lcluster
 * was the writer's largest allocation of a -zlz4 build (~13 of ~160 MiB sampled on the main thread,
 * bench corpus: ~100,000 lclusters).
 */
export function lclusterIndexes(cols: Float64Array, size: number, p: ZParams): LclusterCursor {
  return new LclusterCursor(cols, size, p.blockSize, p.big);
}

/**
 * lclusterIndexes' source: one object per file, its state in fields (closures over a file's columns
 * were six functions and a result object per file on the writer's thread).
 */
export class LclusterCursor {
  readonly length: number;
  private readonly m: number;
  /** A file not ending on a block boundary whose last extent began earlier gets a PLAIN head at EOF. */
  private readonly sentinel: boolean;
  private k = 0;
  private last = -1;
  private readonly headEntry: LclusterIndex & { type: 0 | 1 | 3 } = { type: LCLUSTER_TYPE_PLAIN, clusterofs: 0, blkaddr: 0, partialRef: false };
  private readonly nonhead: LclusterIndex & { type: 2 } = { type: LCLUSTER_TYPE_NONHEAD, delta0: 0, delta1: 0 };

  constructor(private readonly cols: Float64Array, private readonly size: number, private readonly bs: number, private readonly big: boolean) {
    this.length = lclusterCount(size, bs);
    this.m = cols.length / 5;
    this.sentinel = size % bs !== 0 && this.head(this.m - 1) < this.length - 1;
  }

  private head(k: number): number {
    return Math.floor(this.cols[5 * k] / this.bs);
  }

  private headOf(type: 0 | 1, clusterofs: number, blkaddr: number, partialRef: boolean): LclusterIndex {
    const h = this.headEntry;
    h.type = type;
    h.clusterofs = clusterofs;
    h.blkaddr = blkaddr;
    h.partialRef = partialRef;
    return h;
  }

  at(lcn: number): LclusterIndex {
    const { cols, bs, m, length: n } = this;
    if (lcn <= this.last || lcn >= n) throw new RangeError(`lcluster ${lcn} asked out of order (after ${this.last}, of ${n})`);
    this.last = lcn;
    if (this.sentinel && lcn === n - 1) return this.headOf(LCLUSTER_TYPE_PLAIN, this.size % bs, 0, false);
    let k = this.k;
    while (k + 1 < m && this.head(k + 1) <= lcn) k++;
    this.k = k;
    const h = this.head(k);
    if (h === lcn) {
      // PARTIAL_REF: the decoder must stop at the extent's end, short of the pcluster's output (dedupe).
      return this.headOf(cols[5 * k + 2] !== 0 ? LCLUSTER_TYPE_HEAD1 : LCLUSTER_TYPE_PLAIN, cols[5 * k] % bs, cols[5 * k + 4], cols[5 * k + 2] === 3);
    }
    const next = k + 1 < m ? this.head(k + 1) : this.sentinel ? n - 1 : n;
    const first = lcn === h + 1 && this.big;
    // delta[0] with the CBLKCNT bit set reads as a block count: a longer lookback (an extent over
    // 2048 lclusters, e.g. 1 MiB of zeros at 512-byte blocks) is written as 2047, and the kernel
    // looks back again from the NONHEAD it lands on (as mkfs.erofs does; found by the matrix).
    const back = Math.min(lcn - h, LI_D0_CBLKCNT - 1);
    // A fragment extent has no blocks: its CBLKCNT is 0 (as mkfs.erofs writes it; the kernel never
    // reads it, the tail extent being mapped to the packed inode).
    const cblks = cols[5 * k + 2] === 2 ? 0 : Math.max(cols[5 * k + 3], 1);
    const x = this.nonhead;
    x.delta0 = first ? LI_D0_CBLKCNT | cblks : back;
    x.delta1 = next - lcn;
    return x;
  }
}

/** The layout of a compressed file's metadata in `form`, for an inode + xattr body of `inodeEnd` bytes. */
export function zMetaLayoutOf(z: ZResult, size: number, p: ZParams, inodeEnd: number, form: IndexForm): ZMetaLayout {
  return zMetaLayout(inodeEnd, lclusterCount(size, p.blockSize), form, z.inline?.length ?? 0);
}

/**
 * Bytes after inode + xattrs, written where `l` (zMetaLayoutOf) puts them: map header, indexes and
 * any inline pcluster. The item is placed with l.size; any disagreement is a bug and throws.
 */
export function zMetaBytes(z: ZResult, size: number, p: ZParams, l: ZMetaLayout, cols = z.cols ?? packExtents(z.extents), fragmentOff?: number): Uint8Array {
  const inlineLen = z.inline?.length ?? 0;
  if (inlineLen !== l.inlineLen) throw new Error(`compressed metadata laid out for ${l.inlineLen} inline bytes, given ${inlineLen}`);
  const xs = lclusterIndexes(cols, size, p);
  if (xs.length !== l.lclusters) throw new Error(`compressed metadata laid out for ${l.lclusters} lclusters, given ${xs.length}`);
  const advise = (l.compact?.compacted2B ? ADVISE_COMPACTED_2B : 0) | (p.big ? ADVISE_BIG_PCLUSTER_1 | ADVISE_BIG_PCLUSTER_2 : 0)
    | (z.inline ? ADVISE_INLINE_PCLUSTER : 0) | (p.interlaced ? ADVISE_INTERLACED_PCLUSTER : 0)
    | (fragmentOff !== undefined ? ADVISE_FRAGMENT_PCLUSTER : 0);
  const header: MapHeader = {
    kind: 'indexes', fragmentOff: fragmentOff ?? 0, idataSize: inlineLen, advise,
    algorithmType: [p.codec.algorithm, 0], clusterBits: 0,
  };
  let firstBlk = 0;
  for (let k = 0; k < cols.length; k += 5) {
    if (cols[k + 3] > 0) {
      firstBlk = cols[k + 4];
      break;
    }
  }
  // Each part encoded in place (the gaps before the header and the indexes stay zero).
  const idxLen = l.compact ? l.compact.bytes : fullIndexesSize(xs.length);
  if (l.indexAt + idxLen !== l.inlineAt) throw new Error(`compressed indexes: ${idxLen} bytes where ${l.inlineAt - l.indexAt} were laid out`);
  const out = new Uint8Array(l.size);
  encodeMapHeader(header, out, l.headerAt - l.inodeEnd);
  if (l.compact) encodeCompactIndexes(xs, { layout: l.compact, bigPcluster: p.big, lclusterbits: Math.log2(p.blockSize), startBlkaddr: firstBlk }, out, l.indexAt - l.inodeEnd);
  else encodeFullIndexes(xs, out, l.indexAt - l.inodeEnd);
  if (z.inline) out.set(z.inline, l.inlineAt - l.inodeEnd);
  return out;
}
