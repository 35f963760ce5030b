// Sequential reads of one regular file's bytes from its source (a path, a byte range of an archive
// or spool file, or memory), with the errors a user should see: unreadable, grew, shrank, changed.
import * as fs from 'node:fs';
import { UserError, errnoReason } from '../../errors.js';
import { type DataSource } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { kernelCopy, seekDataHole, type KernelCopyPath } from '../../sys/libc.js';

/**
 * A file whose ctime is less than this before now may still be written within the same timestamp
 * tick, keeping its stat with other bytes ("racily clean" in git): the stat index does not record it
 * (cache/cache-index.ts), and a reader does not read it twice (pinForReread).
 */
export const RACY_MARGIN_NS = 1_000_000_000n;

/** Errors of a kernel copy that are the output's, not the source's. */
const OUTPUT_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS']);

/**
 * Whether a path source's file was written since the scan: its mtime, or its ctime when known, which
 * also catches a write whose mtime was put back (no one can set ctime).
 */
function changedSinceScan(src: { mtimeNs?: bigint; ctimeNs?: bigint }, st: fs.BigIntStats): boolean {
  return st.mtimeNs !== src.mtimeNs || (src.ctimeNs !== undefined && st.ctimeNs !== src.ctimeNs);
}

export class SourceReader {
  private fd = -1;
  private pos = 0;
  /** The read that reached the planned end asked for one byte more and got none: the file did not grow. */
  private probed = false;
  private readonly base: number;
  private readonly name: Buffer;
  private readonly src: DataSource;
  /** The ctime pinned by pinForReread (beside the source's own), checked by finish(). */
  private pinnedCtimeNs?: bigint;

  /**
   * Reads `size` bytes of the file from byte `start` (segments of big files are read separately).
   * `fileSize` is the planned size of the whole file; `file.path` (latin1) names it in messages.
   */
  constructor(file: { data: DataSource; path: string }, readonly size: number, private readonly start = 0,
    private readonly fileSize = size) {
    const src = file.data;
    this.src = src;
    this.base = (src.type === 'range' ? src.offset : 0) + start;
    this.name = src.type === 'path' ? src.path : Buffer.from(file.path, 'latin1');
    if (src.type === 'buffer') {
      if (src.bytes.length !== fileSize) throw new UserError(`${showPath(file.path)}: size changed during build`);
      return;
    }
    try {
      // O_NOFOLLOW: a file swapped for a symlink mid-build is refused; O_NONBLOCK: never hang on a FIFO swapped in.
      this.fd = src.type === 'path'
        ? fs.openSync(src.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
        : fs.openSync(src.path, 'r');
    } catch (e) {
      throw new UserError(`${showPath(this.name)}: cannot open: ${errnoReason(e, { ENOENT: 'file disappeared during build' })}`);
    }
    // Changes since the scan are caught by finish(): the mtime/ctime it checks cover the open as well.
  }

  /**
   * A file written since the scan (same size or not) is refused: the hash and the compressed data of
   * one file are read by different jobs, and both must see the same bytes.
   */
  private checkUnchanged(): void {
    const src = this.src;
    if (src.type !== 'path' || src.mtimeNs === undefined) return;
    const st = fs.fstatSync(this.fd, { bigint: true });
    if (changedSinceScan(src, st) || (this.pinnedCtimeNs !== undefined && st.ctimeNs !== this.pinnedCtimeNs)) {
      throw new UserError(`${showPath(this.name)}: file changed during build (modified after it was scanned)`);
    }
  }

  /** Read up to `len` bytes of the file into buf[off..]; 0 at the planned end. */
  read(buf: Uint8Array, off: number, len: number): number {
    const want = Math.min(len, this.size - this.pos);
    if (want <= 0) return 0;
    const src = this.src;
    let got: number;
    // At the file's planned end, ask for one byte more (when it fits): one read instead of a separate probe.
    const atEnd = src.type === 'path' && want === this.size - this.pos && this.start + this.size === this.fileSize && want < len;
    if (src.type === 'buffer') {
      buf.set(src.bytes.subarray(this.start + this.pos, this.start + this.pos + want), off);
      got = want;
    } else {
      try {
        got = fs.readSync(this.fd, buf, off, atEnd ? want + 1 : want, this.base + this.pos);
      } catch (e) {
        throw new UserError(`${showPath(this.name)}: read failed: ${(e as Error).message}`);
      }
      if (got === 0) throw new UserError(`${showPath(this.name)}: file shrank during build (expected ${this.fileSize} bytes)`);
      if (got > want) throw new UserError(`${showPath(this.name)}: file grew during build (expected ${this.fileSize} bytes)`);
      // A short read at the end may still have more behind it: then finish() probes.
      if (atEnd && got === want) this.probed = true;
    }
    this.pos += got;
    return got;
  }

  /**
   * Copy the next `len` bytes of the file to `outPos` of `outFd` in the kernel (see kernelCopy):
   * the bytes never enter JavaScript. Returns false, having copied nothing, when the kernel cannot
   * copy between these files (or the source is in memory): the caller then reads them. The end of the
   * file is left to read() and finish(), which see a file that grew.
   */
  copyTo(outFd: number, outPos: number, len: number, from?: KernelCopyPath): boolean {
    if (this.src.type === 'buffer' || from === 'none') return false;
    if (len > this.size - this.pos) throw new Error('copyTo past the planned size');
    let got: number;
    try {
      got = kernelCopy(this.fd, this.base + this.pos, outFd, outPos, len, from);
    } catch (e) {
      // The image's side (no space, too big): the caller names the image.
      if (OUTPUT_ERRORS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      throw new UserError(`${showPath(this.name)}: read failed: ${errnoReason(e)}`);
    }
    if (got < 0) return false;
    if (got < len) throw new UserError(`${showPath(this.name)}: file shrank during build (expected ${this.fileSize} bytes)`);
    this.pos += got;
    return true;
  }

  /** Bytes of the file read (or copied, or skipped) so far. */
  get position(): number {
    return this.pos;
  }

  /**
   * Where the data at or after the position ends: the next hole (as the file system reports it, a
   * path source only), or `size` when not known. When the position is in a hole, returns the position
   * and `dataAt` says where data comes next.
   */
  holeAt(): number {
    if (this.src.type !== 'path') return this.size;
    const h = seekDataHole(this.fd, this.base + this.pos, true);
    return h < 0 ? this.size : Math.min(this.size, h - this.base);
  }

  /** The next data at or after the position (`size`: none before the planned end; the position: not known). */
  dataAt(): number {
    if (this.src.type !== 'path') return this.pos;
    const d = seekDataHole(this.fd, this.base + this.pos, false);
    if (d === -2) return this.pos;
    return d === -1 ? this.size : Math.min(this.size, d - this.base);
  }

  /**
   * Pass over `n` bytes of a hole without reading them (their image blocks stay holes: zeros). A file
   * cut short meanwhile is caught by finish() (its mtime and ctime moved).
   */
  skip(n: number): void {
    if (n > this.size - this.pos) throw new Error('skip past the planned size');
    this.pos += n;
  }

  /**
   * Make the bytes safe to read twice (rewind): the file's ctime as it is now is pinned, so a write
   * between the two reads is refused by finish() (ctime cannot be set by users). False, nothing
   * pinned, when that cannot be trusted: not a path source with its scanned mtime, already changed
   * since the scan, or changed less than RACY_MARGIN_NS before `nowNs` (a write in the same timestamp tick
   * could keep the ctime: the stat index's rule, cache-index.ts).
   */
  pinForReread(nowNs: bigint): boolean {
    const src = this.src;
    if (src.type !== 'path' || src.mtimeNs === undefined || this.pos !== 0) return false;
    const st = fs.fstatSync(this.fd, { bigint: true });
    if (changedSinceScan(src, st) || st.ctimeNs > nowNs - RACY_MARGIN_NS) return false;
    this.pinnedCtimeNs = st.ctimeNs;
    return true;
  }

  /** Back to the first byte, to read the same bytes again (after pinForReread). */
  rewind(): void {
    if (this.pinnedCtimeNs === undefined) throw new Error('rewind without pinForReread');
    this.pos = 0;
    this.probed = false;
  }

  /** After the planned size was read: a path source must have nothing more (it did not grow). */
  finish(): void {
    if (this.pos !== this.size) throw new UserError(`${showPath(this.name)}: file shrank during build (expected ${this.fileSize} bytes)`);
    if (this.src.type === 'path' && this.start + this.size === this.fileSize && !this.probed) {
      const probe = Buffer.alloc(1);
      if (fs.readSync(this.fd, probe, 0, 1, this.base + this.pos) !== 0) throw new UserError(`${showPath(this.name)}: file grew during build (expected ${this.fileSize} bytes)`);
    }
    this.checkUnchanged();
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
