// Where inodes, their xattrs and inline tails go, by the rules of mkfs.erofs 1.9.3's buffer manager
// (lib/cache.c and lib/inode.c, read for facts). Data blocks get their address when taken, at the
// end of the image. A metadata item goes into a buffer block: one that already has an address
// ("mapped") or one that does not yet ("unmapped": made since the last directory was written). An
// unmapped block gets its address only when a directory is written (its entries need the nids), so it
// may still grow into the next block: an item may run on from it across a block boundary, and only
// the inline tail must stay within one block (the kernel reads inline data from one block; an inode
// and its xattrs may straddle two). The choice, for an item of `size` bytes and `inline` tail bytes:
//   - a mapped block (items under a block only): the fullest one the item fits in, first come first
//     served among equally full ones, the last mapped block aside;
//   - the last mapped block: the item may run on from it while it ends the image;
//   - an unmapped block: the fullest one the item fits in, else the fullest one it can run on from;
// the candidate that leaves its final block the fullest wins (ties: that order); no candidate: a new
// unmapped block. An inline tail that fits nowhere is refused (the caller stores it in a block).
import { ISLOT_SIZE } from '../../format/constants.js';
import type { Inode } from '../../source/tree.js';
import { align, EVICT_RUN, MAX_BUFFERED, type MetaAllocator } from './meta-alloc.js';

/** One buffer block: one or more image blocks, filled from the start. */
interface Bb {
  /** First image block; -1 until mapped. */
  blk: number;
  /** Bytes used from the start of the block's first image block. */
  used: number;
  nblocks: number;
  /** Bytes while in memory (always while unmapped); written out when evicted. */
  buf?: Uint8Array;
  /** Unmapped: the items placed in it, whose nids are set when it is mapped. */
  items?: { p: Inode; off: number }[];
  /** Order of making (the order unmapped blocks are mapped in). */
  seq: number;
  /** The free-space bucket it is filed in (used % block size), and whether among the mapped. */
  bucket: number;
  inMapped: boolean;
  /** Its neighbours in its bucket's list (filing order). */
  prev: Bb | undefined;
  next: Bb | undefined;
}

// Mapped image blocks are kept in memory up to meta-alloc.ts's MAX_BUFFERED (older ones are written
// out EVICT_RUN at a time; later items go straight to the file).
export class BufferBlocks implements MetaAllocator {
  /** Next free block (the tail of the image). */
  cursor: number;
  private readonly mask: number;
  /**
   * Buckets by used % bs, per [unmapped, mapped]: lists in filing order (mkfs files a block at its
   * bucket's tail), linked through the blocks themselves. A Set per bucket cost a delete and an add
   * per item placed, and its table grew and was rebuilt as blocks came and went.
   */
  private readonly heads: (Bb | undefined)[][];
  private readonly tails: (Bb | undefined)[][];
  private readonly bits: Uint32Array[];
  /** Unmapped blocks in the order they were made (the order they are mapped in). */
  private unmapped: Bb[] = [];
  /** Unmapped items by inode, for writes before the address is known. */
  private readonly pending = new Map<Inode, { bb: Bb; off: number }>();
  /** The metadata block mapped last (it may grow while it ends the image). */
  private lastMapped: Bb | undefined;
  /** A file's data blocks were taken and its inode is not placed yet (mkfs keeps the data buffer block last meanwhile). */
  private dataLive = false;
  private readonly byBlk = new Map<number, Bb>();
  private buffered: Bb[] = [];
  private bufferedBlocks = 0;
  private spare: Uint8Array[] = [];
  private made = 0;

  /**
   * `metaStart`: end of the superblock area (superblock, compression records, shared xattrs), one
   * mapped block from block 0. `flush(blk, buf)` writes blocks out and must not keep `buf`;
   * `grow(end)` is called before any block below byte `end` is handed out.
   */
  constructor(readonly bs: number, metaStart: number, private readonly flush: (blk: number, buf: Uint8Array) => void,
    private readonly grow: (end: number) => void = () => {}, private readonly dsunit = 1) {
    this.mask = bs - 1;
    this.heads = [new Array<Bb | undefined>(bs).fill(undefined), new Array<Bb | undefined>(bs).fill(undefined)];
    this.tails = [new Array<Bb | undefined>(bs).fill(undefined), new Array<Bb | undefined>(bs).fill(undefined)];
    this.bits = [new Uint32Array(bs / 32), new Uint32Array(bs / 32)];
    const nblocks = Math.ceil(metaStart / bs);
    this.cursor = nblocks;
    this.grow(nblocks * bs);
    const sb: Bb = { blk: 0, used: metaStart, nblocks, buf: undefined, items: undefined, seq: 0, bucket: -1, inMapped: true, prev: undefined, next: undefined };
    // The superblock area is written by its own writer: only the rest of its last block is buffered here.
    this.file(sb);
    this.lastMapped = sb;
  }

  // ---- buckets ----

  private file(bb: Bb): void {
    this.unfile(bb);
    const k = bb.used & this.mask;
    const m = bb.blk >= 0 ? 1 : 0;
    const tail = this.tails[m][k];
    bb.prev = tail;
    bb.next = undefined;
    if (tail) tail.next = bb;
    else this.heads[m][k] = bb;
    this.tails[m][k] = bb;
    this.bits[m][k >> 5] |= 1 << (k & 31);
    bb.bucket = k;
    bb.inMapped = m === 1;
  }

  private unfile(bb: Bb): void {
    if (bb.bucket < 0) return;
    const m = bb.inMapped ? 1 : 0;
    const k = bb.bucket;
    if (bb.prev) bb.prev.next = bb.next;
    else this.heads[m][k] = bb.next;
    if (bb.next) bb.next.prev = bb.prev;
    else this.tails[m][k] = bb.prev;
    bb.prev = bb.next = undefined;
    if (!this.heads[m][k]) this.bits[m][k >> 5] &= ~(1 << (k & 31));
    bb.bucket = -1;
  }

  /** Highest bucket in [lo, hi] holding a block, or -1. */
  private highest(m: number, hi: number, lo: number): number {
    if (hi < lo) return -1;
    const bits = this.bits[m];
    let mask = 0xffffffff >>> (31 - (hi & 31));
    for (let w = hi >> 5; w >= lo >> 5; w--) {
      const x = bits[w] & mask;
      mask = 0xffffffff;
      if (x) {
        const nr = (w << 5) + 31 - Math.clz32(x);
        return nr >= lo ? nr : -1;
      }
    }
    return -1;
  }

  // ---- placing ----

  /**
   * Where the item would end in its final block (1..bs), or -1 when it cannot go into `bb`: its
   * inline tail would cross a block boundary, or it would grow a mapped block that does not end the
   * image.
   */
  private tryAttach(bb: Bb, size: number, inline: number): number {
    const at = align(bb.used, ISLOT_SIZE);
    const r = ((at + size - 1) & this.mask) + 1;
    // The kernel reads inline data within one block.
    if (r + inline > this.bs) return -1;
    if (at + size + inline > bb.nblocks * this.bs && bb.blk >= 0
      && !(bb === this.lastMapped && !this.dataLive && bb.blk + bb.nblocks === this.cursor)) return -1;
    return r;
  }

  /** Candidates of one group in mkfs's order: buckets from `used0` down to `low`, then (wrapping) from the top down to used0 + one slot. */
  private search(m: number, used0: number, low: number, wrap: boolean, size: number, inline: number): Bb | undefined {
    // Two ranges searched one after the other, not a list of them: this runs twice per inode.
    const bb = this.searchRange(m, used0 & this.mask, low, size, inline);
    return bb || !wrap ? bb : this.searchRange(m, this.mask, (used0 & this.mask) + ISLOT_SIZE, size, inline);
  }

  private searchRange(m: number, hi0: number, lo: number, size: number, inline: number): Bb | undefined {
    for (let k = this.highest(m, hi0, lo); k >= 0; k = this.highest(m, k - 1, lo)) {
      let bb = this.heads[m][k];
      // mkfs tries the last mapped block on its own, not from its bucket.
      if (m === 1 && bb === this.lastMapped && !this.dataLive) bb = bb!.next;
      if (bb && this.tryAttach(bb, size, inline) >= 0) return bb;
    }
    return undefined;
  }

  /**
   * Place an item of `size` bytes (inode, xattrs, map) with `inline` tail bytes after it. Returns
   * false (nothing placed) when the tail fits in no block with the item. Sets p.nid now, or when its
   * block is mapped (mapPending).
   */
  placeInode(p: Inode, size: number, inline: number): boolean {
    let best = this.choose(size, inline);
    if (!best) {
      const bb: Bb = { blk: -1, used: 0, nblocks: 0, buf: undefined, items: [], seq: ++this.made, bucket: -1, inMapped: false, prev: undefined, next: undefined };
      // mkfs keeps the new block even when the item is refused: it is mapped later, empty.
      this.unmapped.push(bb);
      if (this.tryAttach(bb, size, inline) < 0) return false;
      best = bb;
    }
    this.attach(best, p, size + inline);
    this.dataLive = false;
    return true;
  }

  /**
   * Whether placeInode would take an item of `size` bytes with `inline` tail bytes while the file's
   * data buffer is held (as it is for an inline tail): nothing is placed or made. A compressed file
   * asks before its last pclusters are written, so that a tail refused here becomes one of them.
   */
  fitsInline(size: number, inline: number): boolean {
    // An empty block takes it unless its tail would cross the boundary after the item's last part.
    if (((size - 1) & this.mask) + 1 + inline <= this.bs) return true;
    const live = this.dataLive;
    this.dataLive = true;
    try {
      return this.choose(size, inline) !== undefined;
    } finally {
      this.dataLive = live;
    }
  }

  /** The block placeInode puts the item in, among those that exist (undefined: a new one). */
  private choose(size: number, inline: number): Bb | undefined {
    const { bs } = this;
    const total = size + inline;
    const used0 = Math.floor((bs - (total & this.mask)) / ISLOT_SIZE) * ISLOT_SIZE;
    const spread = this.dsunit > 1;
    this.best = undefined;
    this.bestUsed = 0;
    // Items of a block or more skip the mapped blocks, the last one too (unless --dsunit lends blocks).
    if (total < bs || spread) {
      this.consider(this.search(1, used0, spread ? 0 : 1, spread, size, inline), size, inline);
      if (!this.dataLive) this.consider(this.lastMapped, size, inline);
    }
    this.consider(this.search(0, used0, 0, true, size, inline), size, inline);
    const best = this.best;
    this.best = undefined;
    return best;
  }

  /** choose's candidate so far, and where the item would end in its final block. */
  private best: Bb | undefined;
  private bestUsed = 0;

  /** Take `bb` as choose's candidate if the item fits it and ends fuller there than in the one so far. */
  private consider(bb: Bb | undefined, size: number, inline: number): void {
    if (!bb) return;
    const r = this.tryAttach(bb, size, inline);
    if (r >= 0 && r + inline > this.bestUsed) {
      this.best = bb;
      this.bestUsed = r + inline;
    }
  }

  private attach(bb: Bb, p: Inode, total: number): void {
    const off = align(bb.used, ISLOT_SIZE);
    bb.used = off + total;
    const nblocks = Math.max(bb.nblocks, Math.ceil(bb.used / this.bs));
    if (nblocks > bb.nblocks) this.extend(bb, nblocks);
    this.file(bb);
    if (bb.blk >= 0) {
      p.nid = (bb.blk * this.bs + off) / ISLOT_SIZE;
    } else {
      bb.items!.push({ p, off });
      this.pending.set(p, { bb, off });
    }
  }

  /** Grow a block to `nblocks` image blocks (a mapped one ends the image, see tryAttach). */
  private extend(bb: Bb, nblocks: number): void {
    const old = bb.nblocks;
    bb.nblocks = nblocks;
    if (bb.blk < 0) {
      this.ensureBuf(bb);
      return;
    }
    this.cursor = Math.max(this.cursor, bb.blk + nblocks);
    this.grow(this.cursor * this.bs);
    if (bb.buf) {
      this.ensureBuf(bb);
      for (let i = old; i < nblocks; i++) this.byBlk.set(bb.blk + i, bb);
      this.bufferedBlocks += nblocks - old;
    }
  }

  private ensureBuf(bb: Bb): void {
    const need = bb.nblocks * this.bs;
    if (bb.buf && bb.buf.length >= need) return;
    const buf = need === this.bs ? this.spare.pop()?.fill(0) ?? new Uint8Array(need) : new Uint8Array(need);
    if (bb.buf) buf.set(bb.buf);
    bb.buf = buf;
  }

  /** Give every unmapped block its address, in the order they were made (mkfs maps them all before a directory's blocks). */
  mapPending(): void {
    this.mapUpTo(Infinity);
  }

  /**
   * Give addresses to the unmapped blocks up to the last one holding any of `items` (mkfs looks up
   * the nids of a directory's entries, which maps the blocks up to each): blocks made after it, which
   * hold none of them (an empty one left by a refused inline tail), stay unmapped.
   */
  mapThrough(items: Iterable<Inode>): void {
    let last = 0;
    for (const p of items) last = Math.max(last, this.pending.get(p)?.bb.seq ?? 0);
    this.mapUpTo(last);
  }

  private mapUpTo(seq: number): void {
    const list = this.unmapped;
    let n = 0;
    while (n < list.length && list[n].seq <= seq) n++;
    if (!n) return;
    this.unmapped = list.slice(n);
    for (const bb of list.slice(0, n)) {
      bb.blk = this.cursor;
      this.cursor += bb.nblocks;
      this.grow(this.cursor * this.bs);
      this.file(bb);
      this.lastMapped = bb;
      for (const { p, off } of bb.items!) {
        p.nid = (bb.blk * this.bs + off) / ISLOT_SIZE;
        this.pending.delete(p);
      }
      bb.items = undefined;
      if (bb.nblocks) {
        this.ensureBuf(bb);
        for (let i = 0; i < bb.nblocks; i++) this.byBlk.set(bb.blk + i, bb);
        this.buffered.push(bb);
        this.bufferedBlocks += bb.nblocks;
      }
    }
    this.dataLive = false;
    // The oldest blocks go out in runs, in block order (runs of small items leave in one write).
    if (this.bufferedBlocks > MAX_BUFFERED) {
      let i = 0;
      let n = 0;
      while (i < this.buffered.length && n < EVICT_RUN) n += this.buffered[i++].nblocks;
      for (const bb of this.buffered.splice(0, i)) this.evict(bb);
    }
  }

  private evict(bb: Bb): void {
    if (!bb.buf) return;
    this.flush(bb.blk, bb.buf.subarray(0, bb.nblocks * this.bs));
    if (bb.buf.length === this.bs && this.spare.length < EVICT_RUN) this.spare.push(bb.buf);
    bb.buf = undefined;
    for (let i = 0; i < bb.nblocks; i++) this.byBlk.delete(bb.blk + i);
    this.bufferedBlocks -= bb.nblocks;
  }

  // ---- data ----

  /** Take `n` consecutive data blocks at the end of the image; returns the first. */
  takeBlocks(n: number): number {
    const first = this.cursor;
    this.grow((first + n) * this.bs);
    this.cursor += n;
    this.dataLive = true;
    return first;
  }

  /**
   * Whether a file's data buffer is held while its inode is placed: mkfs holds it for an inline tail
   * (even of no blocks) and lets it go at once for a compressed file with none.
   */
  holdData(live: boolean): void {
    this.dataLive = live;
  }

  /**
   * --dsunit: the data that follows starts at a multiple of `unit` blocks (mkfs rounds the address
   * of a data buffer block up so). The blocks skipped go to the last mapped block while it ends the
   * image (later items may fill them), else stay zeros.
   */
  alignData(unit: number): void {
    if (unit <= 1) return;
    const to = Math.ceil(this.cursor / unit) * unit;
    if (to === this.cursor) return;
    const pb = this.lastMapped;
    if (pb && !this.dataLive && pb.blk + pb.nblocks === this.cursor) {
      this.extend(pb, to - pb.blk);
    } else {
      // mkfs leaves these blocks zeros; here they become one empty mapped block later items may
      // fill (run on within it), which keeps images with --dsunit smaller than mkfs.erofs's.
      const gap: Bb = { blk: this.cursor, used: 0, nblocks: to - this.cursor, buf: undefined, items: undefined, seq: ++this.made, bucket: -1, inMapped: true, prev: undefined, next: undefined };
      this.file(gap);
    }
    this.cursor = to;
    this.grow(to * this.bs);
  }

  // ---- writing ----

  /** Write an item's bytes where it was placed: into its block's buffer, or straight to the file. */
  writeInode(p: Inode, bytes: Uint8Array, direct: (buf: Uint8Array, pos: number) => void): void {
    const slot = this.pending.get(p);
    if (slot) {
      slot.bb.buf!.set(bytes, slot.off);
      return;
    }
    let pos = p.nid * ISLOT_SIZE;
    let i = 0;
    while (i < bytes.length) {
      const blk = Math.floor(pos / this.bs);
      const inBlk = pos & this.mask;
      const n = Math.min(this.bs - inBlk, bytes.length - i);
      const bb = this.byBlk.get(blk);
      if (bb?.buf) bb.buf.set(bytes.subarray(i, i + n), (blk - bb.blk) * this.bs + inBlk);
      else direct(bytes.subarray(i, i + n), pos);
      pos += n;
      i += n;
    }
  }

  closeAll(): void {
    this.mapPending();
    for (const bb of this.buffered) this.evict(bb);
    this.buffered = [];
  }
}
