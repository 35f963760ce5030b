// Block allocation shared by data and metadata, as mkfs.erofs does it: data blocks are taken from
// a cursor; metadata items (inode + xattrs + inline tail) are packed best-fit into partly used
// metadata blocks (the fullest block that still fits), and a new metadata block is taken from the
// same cursor when none fits.
import { ISLOT_SIZE } from '../format/constants.js';

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
const MAX_BUFFERED = 1024;

export class BlockAllocator {
  /** Next free block. */
  cursor: number;
  /** buckets[k]: blocks with exactly k free 32-byte slots (LIFO, so the choice is deterministic). */
  private buckets: MetaBlock[][];
  private buffered: MetaBlock[] = [];
  private byBlk = new Map<number, MetaBlock>();
  /** The metadata block made last (a run-on item may continue from it while it is the image's last block). */
  private last?: MetaBlock;

  /**
   * `grow(end)` is called before any block below byte `end` is handed out (the output checks that
   * the image still fits, and a device is zeroed ahead).
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
    const b: MetaBlock = { blk: this.cursor++, used, buf: new Uint8Array(this.bs) };
    this.last = b;
    this.byBlk.set(b.blk, b);
    this.buffered.push(b);
    if (this.buffered.length > MAX_BUFFERED) this.evict(this.buffered.shift()!);
    return b;
  }

  private evict(b: MetaBlock): void {
    if (!b.buf) return;
    this.flush(b.blk, b.buf);
    b.buf = undefined;
    this.byBlk.delete(b.blk);
  }

  /** Put a block in its free-space bucket, or retire it when no slot is left. */
  private file(b: MetaBlock): void {
    const k = this.freeSlots(b);
    if (k > 0) this.buckets[k].push(b);
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
   * Place an item that holds no inline data (mkfs.erofs lib/cache.c erofs_bfind_for_attach, read for
   * facts): such an item may run on from the last metadata block, while that block is the image's
   * last, into new blocks; that is chosen over the fullest block the item fits in when it leaves
   * more of its final block used. Used for tar index images, whose 72-byte-and-up items in 512-byte
   * blocks do this often. Returns the absolute byte offset.
   */
  placeRunOn(size: number): number {
    const L = this.last;
    if (size > this.bs || !L || L.blk !== this.cursor - 1 || !L.buf) return this.placeItem(size);
    const at = align(L.used, ISLOT_SIZE);
    const end = at + size;
    if (end <= this.bs) return this.placeItem(size);
    const need = Math.ceil(size / ISLOT_SIZE);
    let best = -1;
    for (let k = need; k < this.buckets.length; k++) {
      const b = this.buckets[k].at(-1);
      if (b) { best = align(b.used, ISLOT_SIZE) + size; break; }
    }
    const runOnUsed = ((end - 1) % this.bs) + 1;
    if (runOnUsed <= best) return this.placeItem(size);
    const bucket = this.buckets[this.freeSlots(L)];
    const i = bucket.indexOf(L);
    if (i >= 0) bucket.splice(i, 1);
    L.used = this.bs;
    const start = L.blk * this.bs + at;
    for (let left = end - this.bs; left > 0; left -= this.bs) {
      const b = this.newBlock(Math.min(left, this.bs));
      this.file(b);
    }
    return start;
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
