// Block allocation shared by data and metadata, as mkfs.erofs does it: data blocks are taken from
// a cursor; metadata items (inode + xattrs + inline tail) are packed best-fit into partly used
// metadata blocks (the fullest block that still fits), and a new metadata block is taken from the
// same cursor when none fits.
import { ISLOT_SIZE } from '../../format/constants.js';
import type { Inode } from '../../source/tree.js';

/**
 * What the writer asks of a block allocator: data blocks, inode slots (nids set when known), the
 * items' bytes, and the rest written out. BufferBlocks (buffer-blocks.ts) places as mkfs.erofs 1.9.3
 * does from a directory tree; BlockAllocator here as it does for tar index images.
 */
export interface MetaAllocator {
  readonly bs: number;
  /** Next free block. */
  cursor: number;
  takeBlocks(n: number): number;
  alignData(unit: number): void;
  /** Place inode + xattrs (+ map) of `size` bytes and `inline` tail bytes; false: the tail fits nowhere with it. */
  placeInode(p: Inode, size: number, inline: number): boolean;
  /** Whether placeInode would take such an item while the file's data is held; places nothing. */
  fitsInline(size: number, inline: number): boolean;
  /** Give every placed item its address (a directory's blocks are taken). */
  mapPending(): void;
  /** Give addresses to placed items up to the last of `items` in placing order (their nids are needed). */
  mapThrough(items: Iterable<Inode>): void;
  holdData(live: boolean): void;
  writeInode(p: Inode, bytes: Uint8Array, direct: (buf: Uint8Array, pos: number) => void): void;
  closeAll(): void;
}

interface MetaBlock {
  blk: number;
  used: number;
  /** In-memory copy while recent; evicted blocks are written and later items go straight to the file. */
  buf?: Uint8Array;
}

/**
 * Blocks kept in memory (4 MiB at 4 KiB blocks): enough that the items of files still being copied by
 * workers (written when their copy returns) land in memory, not as one small write each; older partly
 * used blocks stay usable through direct writes.
 */
export const MAX_BUFFERED = 1024;
/** Blocks written out together when the buffer is full (see newBlock). */
export const EVICT_RUN = 256;

export class BlockAllocator implements MetaAllocator {
  /** Next free block. */
  cursor: number;
  /** buckets[k]: blocks with exactly k free 32-byte slots (LIFO, so the choice is deterministic). */
  private buckets: MetaBlock[][];
  private buffered: MetaBlock[] = [];
  private byBlk = new Map<number, MetaBlock>();
  /** The metadata block made last (a run-on item may continue from it while it is the image's last block). */
  private last?: MetaBlock;
  /** Buffers of evicted blocks (written out, so free), reused: a fresh 4 KiB buffer per block cost ~7 µs of the main thread each. */
  private spare: Uint8Array[] = [];

  /**
   * `grow(end)` is called before any block below byte `end` is handed out (the output checks that
   * the image still fits, and a device is zeroed ahead). `flush(blk, buf)` writes a block out and
   * must not keep `buf` (it is reused for a later block).
   */
  constructor(readonly bs: number, metaStart: number, private flush: (blk: number, buf: Uint8Array) => void,
    private grow: (end: number) => void = () => {}) {
    this.buckets = Array.from({ length: bs / ISLOT_SIZE + 1 }, () => []);
    this.cursor = Math.floor(metaStart / bs);
    // The superblock area below the first metadata block is the image's too.
    this.grow(Math.ceil(metaStart / bs) * bs);
    if (metaStart % bs) this.file(this.newBlock(metaStart % bs));
  }

  private freeSlots(b: MetaBlock): number {
    return (this.bs - align(b.used, ISLOT_SIZE)) / ISLOT_SIZE;
  }

  private newBlock(used: number): MetaBlock {
    this.grow((this.cursor + 1) * this.bs);
    const b: MetaBlock = { blk: this.cursor++, used, buf: this.spare.pop()?.fill(0) ?? new Uint8Array(this.bs) };
    this.last = b;
    this.byBlk.set(b.blk, b);
    this.buffered.push(b);
    // The oldest blocks go out EVICT_RUN at a time, in block order: those that follow one another
    // (runs of small inline files) then leave in one write (the output gathers them), not one each
    // between data writes.
    if (this.buffered.length > MAX_BUFFERED) {
      for (const old of this.buffered.splice(0, EVICT_RUN)) this.evict(old);
    }
    return b;
  }

  private evict(b: MetaBlock): void {
    if (!b.buf) return;
    // The output has taken the bytes (copied or written) by the time flush returns.
    this.flush(b.blk, b.buf);
    if (this.spare.length < EVICT_RUN) this.spare.push(b.buf);
    b.buf = undefined;
    this.byBlk.delete(b.blk);
  }

  /** Put a block in its free-space bucket, or retire it when no slot is left. */
  private file(b: MetaBlock): void {
    const k = this.freeSlots(b);
    if (k > 0) this.buckets[k].push(b);
  }

  /**
   * --dsunit: move the cursor up to the next multiple of `unit` blocks before a file's data (mkfs.erofs
   * 1.9.3 rounds the address of every DATA buffer block up so, lib/cache.c __erofs_mapbh). The blocks
   * skipped are not lost: they become empty metadata blocks later items are packed into, as mkfs.erofs
   * lends them to the buffer block before the gap.
   */
  alignData(unit: number): void {
    if (unit <= 1) return;
    const to = Math.ceil(this.cursor / unit) * unit;
    if (to === this.cursor) return;
    this.grow(to * this.bs);
    // Unbuffered: their items are written straight to the file (the gap reads as zeros until then).
    for (let blk = this.cursor; blk < to; blk++) this.file({ blk, used: 0 });
    this.cursor = to;
  }

  /** Take `n` consecutive data blocks; returns the first. */
  takeBlocks(n: number): number {
    const first = this.cursor;
    this.grow((first + n) * this.bs);
    this.cursor += n;
    return first;
  }

  /**
   * Place a metadata item of `size` bytes at a 32-byte slot. Items up to one block never cross a
   * block boundary (so an inline tail never does, erofs-format.md §2); larger items start a fresh
   * run of blocks. Returns the absolute byte offset.
   */
  placeItem(size: number): number {
    if (size <= this.bs) {
      const need = Math.ceil(size / ISLOT_SIZE);
      for (let k = need; k < this.buckets.length; k++) {
        const b = this.buckets[k].pop();
        if (!b) continue;
        const at = align(b.used, ISLOT_SIZE);
        b.used = at + size;
        this.file(b);
        return b.blk * this.bs + at;
      }
      const b = this.newBlock(size);
      this.file(b);
      return b.blk * this.bs;
    }
    const first = this.takeBlocks(Math.ceil(size / this.bs));
    const rest = size % this.bs;
    if (rest) {
      // The last block's free part stays usable for later items.
      this.cursor--;
      this.file(this.newBlock(rest));
    }
    return first * this.bs;
  }

  /**
   * Place an item of `size` bytes of inode and xattrs (and chunk map) followed by `tail` inline bytes,
   * by mkfs.erofs's rule (lib/cache.c erofs_bfind_for_attach and __erofs_battach, read for facts):
   * the fullest block the whole item fits in, or the last metadata block, while it is the image's
   * last, with the item running on into new blocks: only the inline tail must not cross a block
   * boundary. The one that leaves more of the item's final block used wins; the last block only
   * when strictly better. Used for tar index images (512-byte blocks, where this is frequent); other
   * builds keep placeItem. Returns the absolute byte offset.
   */
  placeRunOn(size: number, tail: number): number {
    const total = size + tail;
    // Items of a block or more never reuse a block (mkfs.erofs skips the mapped ones for them).
    if (total >= this.bs) return this.placeItem(total);
    const L = this.last && this.last.blk === this.cursor - 1 ? this.last : undefined;
    let best: MetaBlock | undefined;
    for (let k = Math.ceil(total / ISLOT_SIZE); k < this.buckets.length && !best; k++) {
      const bucket = this.buckets[k];
      for (let i = bucket.length - 1; i >= 0; i--) {
        if (bucket[i] !== L) { best = bucket[i]; break; }
      }
    }
    const bestUsed = best ? align(best.used, ISLOT_SIZE) + total : -1;
    let lastUsed = -1;
    let at = 0;
    if (L) {
      at = align(L.used, ISLOT_SIZE);
      const r = ((at + size - 1) % this.bs) + 1;
      if (r + tail <= this.bs) lastUsed = r + tail;
    }
    const unfile = (b: MetaBlock): void => {
      const bucket = this.buckets[this.freeSlots(b)];
      const i = bucket.lastIndexOf(b);
      if (i >= 0) bucket.splice(i, 1);
    };
    if (L && lastUsed > bestUsed) {
      unfile(L);
      const start = L.blk * this.bs + at;
      if (at + total <= this.bs) {
        L.used = at + total;
        this.file(L);
        return start;
      }
      L.used = this.bs;
      for (let left = at + size - this.bs; left > 0; left -= this.bs) {
        // Whole blocks of the item, then its final block with the tail after it.
        this.file(this.newBlock(left > this.bs ? this.bs : left + tail));
      }
      return start;
    }
    if (best) {
      unfile(best);
      const off = align(best.used, ISLOT_SIZE);
      best.used = off + total;
      this.file(best);
      return best.blk * this.bs + off;
    }
    const b = this.newBlock(total);
    this.file(b);
    return b.blk * this.bs;
  }

  /** Index images: every item runs on by placeRunOn's rule; addresses are known at once. */
  placeInode(p: Inode, size: number, inline: number): boolean {
    if (inline && size + inline > this.bs) return false;
    p.nid = this.placeRunOn(size, inline) / ISLOT_SIZE;
    return true;
  }

  fitsInline(size: number, inline: number): boolean {
    return !inline || size + inline <= this.bs;
  }

  mapPending(): void {}

  mapThrough(): void {}

  holdData(): void {}

  writeInode(p: Inode, bytes: Uint8Array, direct: (buf: Uint8Array, pos: number) => void): void {
    this.writeMeta(p.nid * ISLOT_SIZE, bytes, direct);
  }

  /** Write item bytes at an absolute offset: into a buffered block, or straight to the file. */
  writeMeta(offset: number, bytes: Uint8Array, direct: (buf: Uint8Array, pos: number) => void): void {
    let pos = offset;
    let i = 0;
    while (i < bytes.length) {
      const blk = Math.floor(pos / this.bs);
      const inBlk = pos % this.bs;
      const n = Math.min(this.bs - inBlk, bytes.length - i);
      const buf = this.byBlk.get(blk)?.buf;
      if (buf) buf.set(bytes.subarray(i, i + n), inBlk);
      else direct(bytes.subarray(i, i + n), pos);
      pos += n;
      i += n;
    }
  }

  closeAll(): void {
    for (const b of this.buffered) this.evict(b);
    this.buffered = [];
  }
}

export function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
