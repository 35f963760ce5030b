// Block allocation shared by data and metadata, as mkfs.erofs does it: data blocks are taken from
// a cursor; metadata items (inode + xattrs + inline tail) are packed into "open" metadata blocks,
// first fit in block order, and a new metadata block is taken from the same cursor when none fits.
import { ISLOT_SIZE } from '../format/constants.js';

interface OpenBlock {
  blk: number;
  used: number;
  buf: Uint8Array;
}

/** How many partly filled metadata blocks stay open for first-fit packing. */
const MAX_OPEN = 32;

export class BlockAllocator {
  /** Next free block. */
  cursor: number;
  private open: OpenBlock[] = [];
  private openByBlk = new Map<number, OpenBlock>();

  constructor(readonly bs: number, metaStart: number, private flush: (blk: number, buf: Uint8Array) => void) {
    const first = Math.floor(metaStart / bs);
    this.cursor = first;
    if (metaStart % bs) this.openBlock(metaStart % bs);
  }

  private openBlock(used: number): OpenBlock {
    const b: OpenBlock = { blk: this.cursor++, used, buf: new Uint8Array(this.bs) };
    this.open.push(b);
    this.openByBlk.set(b.blk, b);
    if (this.open.length > MAX_OPEN) this.close(this.open[0]);
    return b;
  }

  private close(b: OpenBlock): void {
    this.flush(b.blk, b.buf);
    this.open.splice(this.open.indexOf(b), 1);
    this.openByBlk.delete(b.blk);
  }

  /** Take `n` consecutive data blocks; returns the first. */
  takeBlocks(n: number): number {
    const first = this.cursor;
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
      for (const b of this.open) {
        const at = align(b.used, ISLOT_SIZE);
        if (at + size <= this.bs) {
          b.used = at + size;
          return b.blk * this.bs + at;
        }
      }
      const b = this.openBlock(size);
      return b.blk * this.bs;
    }
    const nblocks = Math.ceil(size / this.bs);
    const first = this.takeBlocks(nblocks);
    const rest = size % this.bs;
    if (rest) {
      // The last block's free part stays usable for later items.
      this.cursor--;
      const b = this.openBlock(rest);
      void b;
    }
    return first * this.bs;
  }

  /** Write item bytes at an absolute offset: into an open block's buffer, or straight to the file. */
  writeMeta(offset: number, bytes: Uint8Array, direct: (buf: Uint8Array, pos: number) => void): void {
    let pos = offset;
    let i = 0;
    while (i < bytes.length) {
      const blk = Math.floor(pos / this.bs);
      const inBlk = pos % this.bs;
      const n = Math.min(this.bs - inBlk, bytes.length - i);
      const ob = this.openByBlk.get(blk);
      if (ob) ob.buf.set(bytes.subarray(i, i + n), inBlk);
      else direct(bytes.subarray(i, i + n), pos);
      pos += n;
      i += n;
    }
  }

  closeAll(): void {
    while (this.open.length) this.close(this.open[0]);
  }
}

export function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
