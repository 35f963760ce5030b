// -E dedupe: extents that point into pclusters written before (mkfs.erofs 1.9.3 lib/dedupe.c and
// z_erofs_compress_dedupe in lib/compress.c, read for what they do). Every pcluster written is
// indexed by its first block of decompressed bytes; before each step of a file, the input from a
// little before the step (inside the previous extent) up to it is searched, byte by byte with a
// rolling hash, for the start of an indexed pcluster. A match becomes an extent of its own that reads
// that pcluster's output from its start: all of it, or a prefix (PARTIAL_REF); the previous extent,
// when the match starts inside it, is cut short there (and becomes PARTIAL_REF too).
//
// What the kernel accepts (fs/erofs/zmap.c, zdata.c): an extent always decodes its pcluster from
// the pcluster's first byte, so a shared extent can only be a prefix of another's output, never a
// middle part; an extent shorter than its pcluster's output must say so (Z_EROFS_LI_PARTIAL_REF:
// LZ4 otherwise decodes with the exact output size and fails); a pcluster of more than one block
// is found through the CBLKCNT of the NONHEAD lcluster after its head, so an extent on such a
// pcluster must reach that lcluster. Stored blocks are shared only whole and only when not
// INTERLACED (dedupe turns INTERLACED off).
//
// Decisions are made here, on the writer's thread, in write order, against what was written before:
// the same for any worker count. The workers' extents serve as they are wherever a step starts at
// the same offset (a step depends only on the bytes from its offset on, compressStep); after a
// match that does not end on one of them, the step is compressed here.
import { compressStep, MAX_EXTENT_INPUT, type Extent, type ZParams, type ZResult } from '../files/zfile.js';
import { decompress } from '../../compress/codec.js';

/**
 * Buckets of the hash table: at first 2^MIN_BUCKET_BITS, then at least BUCKETS_PER_ITEM per item,
 * up to 2^MAX_BUCKET_BITS, the size it always had before (mkfs.erofs has 65536 lists; more buckets,
 * shorter walks, and fewer offsets of a scan that find their bucket's bit set). The table of 2^20
 * buckets from the start held 4 MiB (its bitmap 128 KiB) for the bench corpus's ~40,000 pclusters.
 */
const MIN_BUCKET_BITS = 12;
const MAX_BUCKET_BITS = 20;
const BUCKETS_PER_ITEM = 8;
/** Rolling hash base (odd, so multiplication mod 2^32 is invertible in effect on the low bits). */
const B = 0x01000193;
/** A match past a step's input is worth one more block when it is at least this many blocks of input. */
const FORWARD_MIN_BLOCKS = 4;
/**
 * Decompressed pclusters kept after use, read back from the image (most recently used first). The
 * index holds no pcluster's bytes once it is written: a copy of every one (the whole input, less
 * what was deduplicated) made -E dedupe builds of the bench corpus peak at 605-690 MiB.
 */
const CACHE_BYTES = 8 << 20;

/** Reads a written pcluster back: `len` bytes at `pos` of the image. */
export type ReadImage = (buf: Uint8Array, pos: number) => number;

/** What decoding a pcluster read back needs besides its algorithm (the image's config records). */
export interface ReadBackParams {
  blockSize: number;
  dictSize: number;
  windowSize: number;
}

interface Item {
  /** The pcluster's decompressed bytes while its segment is being written (see seal); then read back. */
  data: Uint8Array | undefined;
  /** How many bytes the pcluster decompresses to. */
  len: number;
  /** The extent that owns the pcluster (its blkaddr, once placed, and block count). */
  ext: Extent;
  /** A stored block (PLAIN), not a stream. */
  raw: boolean;
  /** The stream's algorithm (compress hints mix them; a HEAD1 extent is read with its file's first). */
  algorithm: number;
}

export interface Match {
  /** Where in the input the match starts. */
  at: number;
  length: number;
  item: Item;
}

/** The pclusters written so far, indexed by their first `window` (one block) decompressed bytes. */
export class ExtentIndex {
  private bits = MIN_BUCKET_BITS;
  private heads = new Int32Array(1 << MIN_BUCKET_BITS).fill(-1);
  /**
   * One bit per bucket, set when it has items: the scans test every input offset, and a 128 KiB
   * bitmap stays in cache where the table of heads does not (most offsets hit no item).
   */
  private used1 = new Int32Array((1 << MIN_BUCKET_BITS) >>> 5);
  private next = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private readonly items: Item[] = [];
  /** B^(window-1) mod 2^32. */
  private readonly bTop: number;
  /** B^-1 mod 2^32 (B is odd), to slide the window forward. */
  private readonly bInv: number;
  /** Items whose `data` is a view of the segment being written (dropped by seal). */
  private fresh: number[] = [];
  /** Items read back, by id (Map order: least recently used first), and their bytes. */
  private readonly cache = new Map<number, Uint8Array>();
  private cached = 0;
  /** Pclusters read back (tests, statistics). */
  loads = 0;

  /**
   * `window`: the block size, the bytes an item is indexed by. `read`/`rp`: how a written pcluster
   * is read back from the image (tests may leave them out and never seal).
   */
  constructor(private readonly window: number, private readonly read?: ReadImage, private readonly rp?: ReadBackParams) {
    let t = 1;
    for (let i = 0; i < window - 1; i++) t = Math.imul(t, B);
    this.bTop = t;
    let inv = B;
    for (let i = 0; i < 5; i++) inv = Math.imul(inv, (2 - Math.imul(B, inv)) | 0);
    this.bInv = inv;
  }

  /** sum buf[at + i] * B^i over the window, mod 2^32. */
  private hashAt(buf: Uint8Array, at: number): number {
    let h = 0;
    for (let i = at + this.window - 1; i >= at; i--) h = (Math.imul(h, B) + buf[i]) | 0;
    return h;
  }

  private bucket(h: number): number {
    return Math.imul(h, 0x9e3779b1) >>> (32 - this.bits);
  }

  /**
   * Twice the buckets, the items relinked oldest first so that each list keeps its order (newest
   * first: dropSince relies on it).
   */
  private growBuckets(): void {
    this.bits++;
    this.heads = new Int32Array(1 << this.bits).fill(-1);
    this.used1 = new Int32Array((1 << this.bits) >>> 5);
    for (let id = 0; id < this.items.length; id++) {
      const bk = this.bucket(this.hashes[id]);
      this.next[id] = this.heads[bk];
      this.heads[bk] = id;
      this.used1[bk >>> 5] |= 1 << (bk & 31);
    }
  }

  /** The item whose first window equals buf[at, at + window) (hash h), if any. */
  private find(buf: Uint8Array, at: number, h: number): number {
    for (let id = this.heads[this.bucket(h)]; id >= 0; id = this.next[id]) {
      if (this.hashes[id] !== h) continue;
      const d = this.dataOf(id);
      let i = 0;
      while (i < this.window && d[i] === buf[at + i]) i++;
      if (i === this.window) return id;
    }
    return -1;
  }

  /** Item `id`'s decompressed bytes: its view until sealed, then read back from the image (cached). */
  private dataOf(id: number): Uint8Array {
    const it = this.items[id];
    if (it.data) return it.data;
    let d = this.cache.get(id);
    if (d) {
      this.cache.delete(id);
      this.cache.set(id, d);
      return d;
    }
    d = this.readBack(it);
    this.loads++;
    this.cache.set(id, d);
    this.cached += d.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= CACHE_BYTES || k === id) break;
      this.cache.delete(k);
      this.cached -= v.length;
    }
    return d;
  }

  /** A written pcluster's decompressed bytes: a stored block as it is, a stream decoded (0PADDING: right-aligned). */
  private readBack(it: Item): Uint8Array {
    if (!this.read || !this.rp) throw new Error('extent index: a sealed pcluster with no image to read it back from');
    const bs = this.rp.blockSize;
    const pc = new Uint8Array(it.ext.blocks * bs);
    if (this.read(pc, it.ext.blkaddr * bs) !== pc.length) throw new Error(`extent index: short read of the pcluster at block ${it.ext.blkaddr}`);
    if (it.raw) return pc.subarray(0, it.len);
    let start = 0;
    while (start < pc.length && pc[start] === 0) start++;
    return decompress(it.algorithm, pc.subarray(start), {
      outLen: it.len, partial: false, maxLen: it.len, dictSize: this.rp.dictSize, windowSize: this.rp.windowSize,
    });
  }

  /**
   * The pclusters indexed since the last call are written (placed) before the next match: their
   * views of the segment's bytes are dropped (the segment's buffer may go), and they are read back
   * from the image when needed.
   */
  seal(): void {
    for (const id of this.fresh) if (id < this.items.length) this.items[id].data = undefined;
    this.fresh = [];
  }

  /** How many items there are: a file's are those added after its mark (see dropSince). */
  mark(): number {
    return this.items.length;
  }

  /**
   * Forget the items added since `mark` (a file stored flat after all: its pclusters are gone). Each
   * was put at the head of its bucket, so undoing them newest first restores the lists.
   */
  dropSince(mark: number): void {
    for (let id = this.items.length - 1; id >= mark; id--) {
      const bk = this.bucket(this.hashes[id]);
      this.heads[bk] = this.next[id];
      if (this.heads[bk] < 0) this.used1[bk >>> 5] &= ~(1 << (bk & 31));
    }
    for (let id = mark; id < this.items.length; id++) {
      const d = this.cache.get(id);
      if (d) {
        this.cache.delete(id);
        this.cached -= d.length;
      }
    }
    this.items.length = mark;
    this.fresh = this.fresh.filter((id) => id < mark);
  }

  /**
   * Index the pcluster of `ext`, whose decompressed bytes are `data`. Pclusters shorter than the
   * window are not indexed; of pclusters with the same first window only the first is (mkfs.erofs
   * z_erofs_dedupe_insert likewise).
   */
  insert(data: Uint8Array, ext: Extent, raw: boolean, algorithm: number): void {
    const w = this.window;
    if (data.length < w) return;
    const h = this.hashAt(data, 0);
    if (this.find(data, 0, h) >= 0) return;
    const id = this.items.length;
    if (id === this.next.length) {
      const grow = (a: Int32Array) => { const b = new Int32Array(2 * a.length); b.set(a); return b; };
      this.next = grow(this.next);
      this.hashes = grow(this.hashes);
    }
    if (id >= (1 << this.bits) / BUCKETS_PER_ITEM && this.bits < MAX_BUCKET_BITS) this.growBuckets();
    const bk = this.bucket(h);
    // `data` (a view of the segment's bytes, not a copy) serves until the pcluster is written (seal).
    this.items.push({ data, len: data.length, ext, raw, algorithm });
    this.fresh.push(id);
    this.hashes[id] = h;
    this.next[id] = this.heads[bk];
    this.heads[bk] = id;
    this.used1[bk >>> 5] |= 1 << (bk & 31);
  }

  /**
   * The match mkfs.erofs z_erofs_dedupe_match finds: scanning back from `head` (or the last window
   * before `end`) to `lo`, the first offset where an indexed pcluster's bytes start and agree for
   * longer than up to `head`, extended as far as both go. A stream of another algorithm is passed over.
   */
  match(buf: Uint8Array, lo: number, head: number, end: number, algorithm: number): Match | undefined {
    const w = this.window;
    let c = Math.min(head, end - w);
    if (c < lo) return undefined;
    const used1 = this.used1;
    const shift = 32 - this.bits;
    const bTop = this.bTop;
    let h = this.hashAt(buf, c);
    for (;;) {
      const bk = Math.imul(h, 0x9e3779b1) >>> shift;
      if ((used1[bk >>> 5] & (1 << (bk & 31))) !== 0) {
        for (let id = this.heads[bk]; id >= 0; id = this.next[id]) {
          if (this.hashes[id] !== h) continue;
          const it = this.items[id];
          const need = head - c;
          const max = Math.min(end - c, it.len);
          if (!(it.raw || it.algorithm === algorithm) || need >= max) continue;
          const d = this.dataOf(id);
          // It must agree up to and including buf[head] (reach past head). Checked from head down
          // before the window itself: inside a long run (zeros) every offset's window is the
          // pcluster's, and a match that ends with the run is then refused in one compare per
          // offset, not a window's (or the run's) length.
          let i = need;
          while (i >= w && d[i] === buf[c + i]) i--;
          if (i >= w) continue;
          let j = 0;
          while (j < w && d[j] === buf[c + j]) j++;
          if (j < w) continue;
          let n = Math.max(need + 1, w);
          while (n < max && d[n] === buf[c + n]) n++;
          return { at: c, length: n, item: it };
        }
      }
      if (c === lo) return undefined;
      c--;
      // Slide the window one byte back: add buf[c] at the bottom, drop buf[c + w] from the top.
      h = (buf[c] + Math.imul(B, (h - Math.imul(buf[c + w], bTop)) | 0)) | 0;
    }
  }

  /**
   * Scanning forward instead: the first offset in [from, to] where an indexed pcluster's bytes
   * start, with how far they agree (up to `end`).
   */
  matchForward(buf: Uint8Array, from: number, to: number, end: number, algorithm: number): Match | undefined {
    const w = this.window;
    const last = Math.min(to, end - w);
    if (from > last) return undefined;
    const used1 = this.used1;
    const shift = 32 - this.bits;
    const bTop = this.bTop;
    const bInv = this.bInv;
    let h = this.hashAt(buf, from);
    for (let c = from; ; c++) {
      const bk = Math.imul(h, 0x9e3779b1) >>> shift;
      const id = (used1[bk >>> 5] & (1 << (bk & 31))) === 0 ? -1 : this.find(buf, c, h);
      if (id >= 0) {
        const it = this.items[id];
        if (it.raw || it.algorithm === algorithm) {
          const max = Math.min(end - c, it.len);
          const d = this.dataOf(id);
          let n = w;
          while (n < max && d[n] === buf[c + n]) n++;
          return { at: c, length: n, item: it };
        }
      }
      if (c === last) return undefined;
      // Slide the window one byte on: drop buf[c] at the bottom, add buf[c + w] at the top.
      h = (Math.imul((h - buf[c]) | 0, bInv) + Math.imul(buf[c + w], bTop)) | 0;
    }
  }
}

/**
 * A segment's extents with -E dedupe: the workers' extents `spec` (made with zp.rawBlockSteps, and
 * with the segment's bytes in spec.raw) rewritten as mkfs.erofs's loop would have them: before each
 * step, a match against `ix`; each new pcluster indexed as it is taken. `zp` is the segment's own
 * parameters (tail packing and fragments only in the last). Returns the new result and whether any
 * extent points at an earlier pcluster.
 */
export function dedupeSegment(ix: ExtentIndex, spec: ZResult, segStart: number, zp: ZParams): { z: ZResult; deduped: boolean } {
  const raw = spec.raw!;
  const len = raw.length;
  const bs = zp.blockSize;
  const algorithm = zp.codec.algorithm;
  const out: ZResult = { extents: [], payloads: [], totalBlocks: 0 };
  if (spec.slabs) out.slabs = spec.slabs;
  if (spec.digest) out.digest = spec.digest;
  let deduped = false;
  let head = 0;
  let k = 0;
  // Offsets up to here were scanned forward and matched nothing then: the backward scan skips them
  // (only the pclusters indexed since, the previous step's own, could start there).
  let scanned = -1;
  while (head < len) {
    for (;;) {
      const pivot = out.extents.length ? out.extents[out.extents.length - 1] : undefined;
      // The search may start inside the previous extent, leaving it at least one block.
      const back = !pivot || pivot.llen <= bs ? 0 : Math.min(head, pivot.llen - bs);
      const m = ix.match(raw, Math.max(head - back, scanned + 1), head, len, algorithm);
      if (!m) break;
      const delta = head - m.at;
      // A pcluster of several blocks is found through the CBLKCNT in the lcluster after the
      // extent's head: the extent must reach it (and so must the previous one, if cut short).
      if (m.item.ext.blocks > 1 && ((segStart + m.at) % bs) + m.length < 2 * bs) break;
      if (delta) {
        if (pivot!.blocks > 1 && (pivot!.la % bs) + pivot!.llen - delta < 2 * bs) break;
        pivot!.llen -= delta;
        pivot!.partial = true;
      }
      out.extents.push({
        la: segStart + m.at, llen: m.length, compressed: !m.item.raw, blocks: m.item.ext.blocks, blkaddr: 0,
        ref: m.item.ext, ...(m.length < m.item.len ? { partial: true } : {}),
      });
      out.payloads.push(undefined);
      deduped = true;
      head = m.at + m.length;
      if (head >= len) break;
    }
    if (head >= len) break;
    const from = out.extents.length;
    // The step at head: the worker's when it made one here, else compressed now.
    while (k < spec.extents.length && spec.extents[k].la - segStart < head) k++;
    const e = spec.extents[k];
    let step: ZResult;
    if (e && e.la - segStart === head) {
      step = { extents: [e], payloads: [spec.payloads[k]], totalBlocks: spec.payloads[k] ? e.blocks : 0 };
      if (e.fragment) step.fragment = spec.fragment;
      else if (!spec.payloads[k]) {
        step.inline = spec.inline;
        step.inlineRaw = spec.inlineRaw;
      }
    } else {
      step = { extents: [], payloads: [], totalBlocks: 0 };
      compressStep(step, raw.subarray(head, head + Math.min(len - head, MAX_EXTENT_INPUT)), segStart + head, len - head, zp);
    }
    // Beyond mkfs.erofs: an earlier pcluster whose bytes start inside this step's input, or just
    // past it, is reached by ending this step where they start (in two pieces when it lies past the
    // input the pcluster holds). Taken when that costs no more blocks than the step, or one more
    // block for a match of at least FORWARD_MIN_BLOCKS blocks of input.
    const first = step.extents[0];
    if (first.compressed && step.payloads[0] && step.extents.length === 1) {
      const end = head + first.llen;
      const m = ix.matchForward(raw, head + bs, end + bs - 1, len, algorithm);
      scanned = m ? m.at - 1 : Math.min(end + bs - 1, len - bs);
      if (m && m.at !== end && (m.at < end || m.length >= FORWARD_MIN_BLOCKS * bs)) {
        const alt = stepsUpTo(raw, head, m.at, segStart, zp);
        if (alt && alt.totalBlocks <= first.blocks + (m.at > end ? 1 : 0)) step = alt;
      }
    }
    for (let i = 0; i < step.extents.length; i++) {
      out.extents.push(step.extents[i]);
      out.payloads.push(step.payloads[i]);
      head += step.extents[i].llen;
    }
    out.totalBlocks += step.totalBlocks;
    if (step.inline) {
      out.inline = step.inline;
      out.inlineRaw = step.inlineRaw;
    }
    if (step.fragment) out.fragment = step.fragment;
    for (let i = from; i < out.extents.length; i++) {
      const x = out.extents[i];
      if (!out.payloads[i]) continue;
      ix.insert(raw.subarray(x.la - segStart, x.la - segStart + x.llen), x, !x.compressed, algorithm);
    }
  }
  return { z: out, deduped };
}

/**
 * Steps covering exactly raw[head, c) (c - head >= one block), none shorter than a block (an
 * extent must reach the next lcluster, or it would have no head index of its own); undefined when
 * that takes more than a few steps.
 */
function stepsUpTo(raw: Uint8Array, head: number, c: number, segStart: number, zp: ZParams): ZResult | undefined {
  const bs = zp.blockSize;
  const zq: ZParams = { ...zp, ztailpacking: false, fragments: false };
  const t: ZResult = { extents: [], payloads: [], totalBlocks: 0 };
  let pos = head;
  for (let n = 0; pos < c && n < 4; n++) {
    const rem = c - pos;
    const n0 = t.extents.length;
    const b0 = t.totalBlocks;
    let x = compressStep(t, raw.subarray(pos, pos + Math.min(rem, MAX_EXTENT_INPUT)), segStart + pos, rem, zq);
    const left = rem - x;
    if (left > 0 && left < bs) {
      // What would be left is shorter than a block: end this piece a block before c instead.
      t.extents.length = n0;
      t.payloads.length = n0;
      t.totalBlocks = b0;
      if (rem - bs < bs) return undefined;
      x = compressStep(t, raw.subarray(pos, pos + rem - bs), segStart + pos, rem - bs, zq);
    }
    pos += x;
  }
  return pos === c ? t : undefined;
}
