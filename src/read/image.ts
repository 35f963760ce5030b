// The strict image reader: positioned reads of an image file (never the whole image in memory),
// every offset and length checked against the image before use; failures are CorruptImageError
// naming the nid and the rule. Used by inspect, ls, cat, extract and verify.
const fs = process.getBuiltinModule('node:fs');
import { blockDeviceSize } from '../sys/block-device.js';
import {
  SUPER_OFFSET, ISLOT_SIZE, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT,
  INODE_CHUNK_BASED, NULL_ADDR, INODE_EXTENDED_SIZE, INODE_LAYOUT_EXTENDED, I_DATALAYOUT_BIT,
  XATTR_ENTRY_SIZE, XATTR_LONG_PREFIX, MAX_SYMLINK, FT_UNKNOWN, fileTypeOfMode,
  FEATURE_COMPAT_PLAIN_XATTR_PFX, FEATURE_INCOMPAT_XATTR_PREFIXES, CHUNK_FORMAT_ALL, CHUNK_FORMAT_48BIT,
  FEATURE_INCOMPAT_DEVICE_TABLE,
} from '../format/constants.js';
import { decodeDeviceSlot, DEVT_SLOT_SIZE, type DeviceSlot } from '../format/device.js';
import { chunkBitsOf, chunkCount, chunkEntrySize, chunkMapLayout, decodeChunkEntry } from '../format/chunk.js';
import { decodeSuperBlock, verifySuperBlockChecksum, checksumLength, type SuperBlock } from '../format/superblock.js';
import { inodeSize, decodeRdev, flatDataLayout, I_FORMAT_KNOWN, INODE_COMMON_OFFSETS as C, INODE_COMPACT_OFFSETS as P, INODE_EXTENDED_OFFSETS as X } from '../format/inode.js';
import { xattrIbodySize, decodeXattrIbody } from '../format/xattr-ibody.js';
import { decodeDirBlock, type DirEntry } from '../format/dirent.js';
import { decodeXattrEntry, xattrEntryLength, decodePrefixTable, shortPrefix, longPrefixString, type LongPrefix } from '../format/xattr.js';
import { CorruptImageError, UnsupportedFeatureError, UserError, errnoReason } from '../errors.js';
import { readCompressedInode } from './zdata.js';
import type { InodeInfo, ImageReader } from './inode-info.js';
import { kindOfMode } from '../format/file-kind.js';

export type { FileKind, InodeInfo } from './inode-info.js';

export interface XattrEntry {
  /** Full name; hidden (base index 0 long-prefix) names included, flagged. */
  name: Buffer;
  value: Buffer;
  hidden: boolean;
  shared: boolean;
}


/** Bytes of an open image: a file's size, or what a block device holds (its stat size is 0). */
export function imageLength(fd: number): number {
  const st = fs.fstatSync(fd);
  return st.isBlockDevice() ? blockDeviceSize(fd) : st.size;
}

const READ_CHUNK = 1 << 20;
/** rdev of every inode that is not a device: one shared, frozen object, not one per inode. */
const NO_RDEV: { major: number; minor: number } = Object.freeze({ major: 0, minor: 0 });
/** Deepest directory nesting we follow (the kernel has no limit; PATH_MAX makes deeper trees unusable). */
export const MAX_DEPTH = 2048;

export class ErofsImage implements ImageReader {
  readonly sb: SuperBlock;
  readonly blockSize: number;
  readonly length: number;
  readonly prefixes: LongPrefix[];
  /** The device table's slots (a tar index image has one: the tar, appended after the metadata). */
  readonly devices: DeviceSlot[];
  private readonly inodeCache = new Map<number, InodeInfo>();
  /**
   * Keep decoded inodes for the next look-up (ls, verify and dump ask for some again). extract asks
   * for each once: cached, 18,741 of them were most of the old generation its full GCs marked.
   */
  cacheInodes = true;
  /** See ImageReader.readView: set while extract's read-ahead windows serve the reads. */
  readView?: (off: number, len: number, where: string) => Uint8Array;
  /** The same for metadata (readAt's window size): a view valid until the next read. */
  metaView?: (off: number, len: number, where: string) => Uint8Array;
  /**
   * The same bytes in place: the window holding them, which they start at index windowAt of
   * (inode(): no view made per inode). `nid` names the inode in a message.
   */
  metaWindow?: (off: number, len: number, nid: number) => Uint8Array;
  windowAt = 0;

  private constructor(private fd: number, readonly path: string) {
    this.length = imageLength(fd);
    const head = this.readAt(SUPER_OFFSET, 128, 'superblock');
    this.sb = decodeSuperBlock(head);
    this.blockSize = 1 << this.sb.blkszbits;
    const region = this.readAt(SUPER_OFFSET, Math.min(checksumLength(this.blockSize), this.length - SUPER_OFFSET), 'superblock');
    if (region.length < checksumLength(this.blockSize)) throw new CorruptImageError('image shorter than its first block', 'superblock');
    verifySuperBlockChecksum(this.sb, region);
    this.prefixes = this.readPrefixes();
    this.devices = [];
    if (this.sb.featureIncompat & FEATURE_INCOMPAT_DEVICE_TABLE) {
      for (let d = 0; d < this.sb.extraDevices; d++) {
        const at = this.sb.devtSlotoff * DEVT_SLOT_SIZE + d * DEVT_SLOT_SIZE;
        this.devices.push(decodeDeviceSlot(this.readAt(at, DEVT_SLOT_SIZE, `device slot ${d + 1}`), 0));
      }
    }
  }

  static open(path: string): ErofsImage {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new UserError(`${path}: cannot open image: ${errnoReason(e)}`);
    }
    try {
      if (!fs.fstatSync(fd).isFile() && !fs.fstatSync(fd).isBlockDevice()) throw new UserError(`${path}: not a regular file`);
      return new ErofsImage(fd, path);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Read exactly `len` bytes at `off`, or fail naming `where`. */
  readAt(off: number, len: number, where: string): Uint8Array {
    if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > this.length) {
      throw new CorruptImageError('reference beyond the end of the image', where, `bytes ${off}..${off + len} of ${this.length}`);
    }
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, b, got, len - got, off + got);
      if (n === 0) throw new CorruptImageError('short read', where);
      got += n;
    }
    return b;
  }

  get rootNid(): number {
    return this.sb.rootNid;
  }

  /**
   * The long-prefix table: in the metadata area at xattr_prefix_start * 4, or, without
   * COMPAT_PLAIN_XATTR_PFX in an image with a packed inode, at that offset of the packed inode's data
   * (kernel erofs_xattr_prefixes_init; mkfs.erofs 1.9.3 puts it there with -Efragments).
   */
  private readPrefixes(): LongPrefix[] {
    const { xattrPrefixCount: count, xattrPrefixStart: start, featureIncompat, featureCompat } = this.sb;
    if (!(featureIncompat & FEATURE_INCOMPAT_XATTR_PREFIXES)) return [];
    if (count === 0) return [];
    const off = start * 4;
    // Each record: u16 size, then at most 255 + 1 bytes, padded to 4.
    const want = count * 260;
    if (!(featureCompat & FEATURE_COMPAT_PLAIN_XATTR_PFX) && this.sb.packedNid !== 0n) {
      const where = 'xattr prefix table in the packed inode';
      if (this.sb.packedNid > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptImageError('packed nid out of range', where);
      const packed = this.inode(Number(this.sb.packedNid));
      if (packed.kind !== 'reg') throw new CorruptImageError('packed inode is not a regular file', where);
      if (off >= packed.size) throw new CorruptImageError('xattr prefix table beyond the end of the packed inode', where);
      return decodePrefixTable(this.dataRange(packed, off, Math.min(packed.size - off, want)), count, where);
    }
    const avail = Math.min(this.length - off, want);
    if (off >= this.length) throw new CorruptImageError('xattr prefix table beyond the end of the image', 'superblock');
    return decodePrefixTable(this.readAt(off, avail, 'superblock'), count, 'xattr prefix table');
  }

  /** Bytes [off, off + len) of an inode's data, decoding from its start (for small metadata kept in files). */
  private dataRange(i: InodeInfo, off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let pos = 0;
    for (const chunk of this.data(i)) {
      const from = Math.max(off, pos);
      const to = Math.min(off + len, pos + chunk.length);
      if (from < to) out.set(chunk.subarray(from - pos, to - pos), from - off);
      pos += chunk.length;
      if (pos >= off + len) break;
    }
    if (pos < off + len) throw new CorruptImageError('short data', `nid ${i.nid}`, `${pos} of ${off + len} bytes`);
    return out;
  }

  /** Byte offset of an inode slot. */
  iloc(nid: number): number {
    return this.sb.metaBlkaddr * this.blockSize + nid * ISLOT_SIZE;
  }

  inode(nid: number): InodeInfo {
    // extract turns the cache off and asks each inode once: no look-up in an empty map.
    if (this.inodeCache.size) {
      const cached = this.inodeCache.get(nid);
      if (cached) return cached;
    }
    // The message's "nid N" is made only for a message (nidWhere): a string per inode was garbage.
    if (!Number.isSafeInteger(nid) || nid < 0) throw new CorruptImageError('nid out of range', nidWhere(nid));
    const iloc = this.iloc(nid);
    // Decoded at once: extract's read-ahead window will do, read in place (no copy, not even a view).
    const win = this.metaWindow;
    // With a window, one look-up for either form (the larger one's bytes, where the image has them).
    const headLen = win && iloc + INODE_EXTENDED_SIZE <= this.length ? INODE_EXTENDED_SIZE : 2;
    let b = win ? win(iloc, headLen, nid) : this.readAt(iloc, 2, nidWhere(nid));
    let o = win ? this.windowAt : 0;
    const rawFormat = le16(b, o + C.format);
    // Pre-6.15 kernels reject any i_format bit above the version and layout bits.
    if (rawFormat & ~I_FORMAT_KNOWN) throw new CorruptImageError('unsupported i_format bits', nidWhere(nid), `0x${rawFormat.toString(16)}`);
    const extended = (rawFormat & 1) === INODE_LAYOUT_EXTENDED;
    const isize = inodeSize(extended);
    // The fields are read from the bytes here, not through decodeInode: no DataView, result object or
    // BigInt per inode (i_size and the times are numbers until an InodeInfo needs its BigInt), which
    // were most of extract's garbage (corpus: 18,741 inodes).
    if (headLen < isize) {
      b = win ? win(iloc, isize, nid) : this.readAt(iloc, isize, nidWhere(nid));
      o = win ? this.windowAt : 0;
    }
    const datalayout = (rawFormat >> I_DATALAYOUT_BIT) & 7;
    const xattrIcount = le16(b, o + C.xattrIcount);
    const mode = le16(b, o + C.mode);
    let nlink: number;
    let size: number;
    let u: number;
    let ino: number;
    let uid: number;
    let gid: number;
    let mtimeSec: bigint;
    let mtimeNsec: number;
    // Above 2^53 (refused below, in the order the checks have always been made).
    let sizeHi = 0;
    if (extended) {
      sizeHi = le32(b, o + X.size + 4);
      size = sizeHi * 0x100000000 + le32(b, o + X.size);
      u = le32(b, o + X.u);
      ino = le32(b, o + X.ino);
      uid = le32(b, o + X.uid);
      gid = le32(b, o + X.gid);
      mtimeSec = this.extendedSeconds(le32(b, o + X.mtimeSec), le32(b, o + X.mtimeSec + 4));
      mtimeNsec = le32(b, o + X.mtimeNsec);
      nlink = le32(b, o + X.nlink);
    } else {
      nlink = le16(b, o + P.nlink);
      size = le32(b, o + P.size);
      u = le32(b, o + P.u);
      ino = le32(b, o + P.ino);
      uid = le16(b, o + P.uid);
      gid = le16(b, o + P.gid);
      mtimeSec = this.compactSeconds(le32(b, o + P.mtimeDelta));
      mtimeNsec = this.sb.fixedNsec;
    }
    const kind = kindOfMode(mode);
    if (!kind) throw new CorruptImageError('bad file type in i_mode', nidWhere(nid), `0${mode.toString(8)}`);
    if (datalayout > INODE_CHUNK_BASED) throw new CorruptImageError('unknown data layout', nidWhere(nid), `${datalayout}`);
    if (xattrIcount === 1) throw new CorruptImageError('xattr icount 1 is invalid', nidWhere(nid));
    if (sizeHi > 0x1fffff) throw new CorruptImageError('inode size too large', nidWhere(nid));
    const xattrSize = xattrIbodySize(xattrIcount);
    if (iloc + isize + xattrSize > this.length) throw new CorruptImageError('inode xattrs beyond the end of the image', nidWhere(nid));
    const info: InodeInfo = {
      nid, iloc, extended, datalayout, kind, mode, nlink, size, uid, gid, mtimeSec, mtimeNsec,
      ino, u, rdev: kind === 'chr' || kind === 'blk' ? decodeRdev(u) : NO_RDEV,
      isize, xattrSize,
    };
    if (info.mtimeNsec >= 1_000_000_000) throw new CorruptImageError('mtime nanoseconds out of range', nidWhere(nid));
    this.checkLayout(info);
    if (!this.cacheInodes) return info;
    if (this.inodeCache.size > 65536) this.inodeCache.clear();
    this.inodeCache.set(nid, info);
    return info;
  }

  /**
   * A compact inode's i_mtime: the superblock's epoch plus its delta, as a BigInt. The last one is
   * kept: the inodes of an image mostly share a few times (all of them with -T).
   */
  private compactSeconds(delta: number): bigint {
    if (delta !== this.lastDelta) {
      this.lastDelta = delta;
      this.lastDeltaSec = (this.epochSec ??= BigInt.asIntN(64, this.sb.epoch)) + BigInt(delta);
    }
    return this.lastDeltaSec;
  }
  private epochSec: bigint | undefined;
  private lastDelta = -1;
  private lastDeltaSec = 0n;

  /** An extended inode's i_mtime (signed 64-bit, in halves), the last one kept as compactSeconds does. */
  private extendedSeconds(lo: number, hi: number): bigint {
    if (lo !== this.lastLo || hi !== this.lastHi) {
      this.lastLo = lo;
      this.lastHi = hi;
      this.lastSec = (BigInt(hi | 0) << 32n) + BigInt(lo);
    }
    return this.lastSec;
  }
  private lastLo = -1;
  private lastHi = -1;
  private lastSec = 0n;

  private checkLayout(i: InodeInfo): void {
    const bs = this.blockSize;
    if (i.kind === 'lnk' && (i.size === 0 || i.size > MAX_SYMLINK)) throw new CorruptImageError('bad symlink size', nidWhere(i.nid), `${i.size}`);
    if (i.kind === 'dir' && i.size === 0) throw new CorruptImageError('empty directory inode', nidWhere(i.nid));
    if (i.kind !== 'reg' && (i.datalayout === INODE_COMPRESSED_FULL || i.datalayout === INODE_COMPRESSED_COMPACT)
      && i.kind !== 'dir') {
      throw new CorruptImageError('compressed layout on a non-regular file', nidWhere(i.nid));
    }
    if (i.datalayout === INODE_FLAT_PLAIN || i.datalayout === INODE_FLAT_INLINE) {
      if (i.kind === 'chr' || i.kind === 'blk' || i.kind === 'fifo' || i.kind === 'sock') {
        if (i.size !== 0) throw new CorruptImageError('special file with data', nidWhere(i.nid));
        return;
      }
      // flatDataLayout's arithmetic, without its result object (once per inode in extract).
      const inline = i.datalayout === INODE_FLAT_INLINE;
      const nblocks = inline ? Math.floor(i.size / bs) : Math.ceil(i.size / bs);
      const tail = inline ? i.size % bs : 0;
      if (nblocks > 0) {
        if (i.u === NULL_ADDR) throw new UnsupportedFeatureError(`${nidWhere(i.nid)}: flat data with a null start block (6.15 holes) is not supported`);
        if ((i.u + nblocks) * bs > this.length) {
          throw new CorruptImageError('data blocks beyond the end of the image', nidWhere(i.nid), `blocks ${i.u}..${i.u + nblocks}`);
        }
      }
      if (i.datalayout === INODE_FLAT_INLINE) {
        const toff = i.iloc + i.isize + i.xattrSize;
        // data.c erofs_map_blocks: "inline data cross block boundary".
        if (tail === 0 && i.size > 0) throw new CorruptImageError('inline layout with a block-aligned size', nidWhere(i.nid));
        if ((toff % bs) + tail > bs) throw new CorruptImageError('inline data crosses a block boundary', nidWhere(i.nid));
        if (toff + tail > this.length) throw new CorruptImageError('inline data beyond the end of the image', nidWhere(i.nid));
      }
    } else if (i.datalayout === INODE_CHUNK_BASED) {
      if (i.kind === 'chr' || i.kind === 'blk' || i.kind === 'fifo' || i.kind === 'sock') throw new CorruptImageError('chunk-based special file', nidWhere(i.nid));
      this.chunkMap(i);
    }
  }

  /**
   * A chunk-based inode's map, every entry checked: i_u's format (the kernel refuses unknown bits),
   * the map inside the image, each chunk a hole or inside the image on device 0.
   */
  chunkMap(i: InodeInfo): { chunkbits: number; blocks: number[] } {
    const where = `nid ${i.nid}`;
    const bs = this.blockSize;
    const format = i.u & 0xffff;
    if (format & CHUNK_FORMAT_48BIT) throw new UnsupportedFeatureError(`${where}: 48-bit chunk addresses are not supported by this reader`);
    // inode.c erofs_read_inode: "unsupported chunk format".
    if (format & ~CHUNK_FORMAT_ALL) throw new CorruptImageError('unsupported chunk format', where, `0x${format.toString(16)}`);
    const chunkbits = chunkBitsOf(format, this.sb.blkszbits);
    if (chunkbits > 52) throw new CorruptImageError('chunk size too large', where, `2^${chunkbits}`);
    const count = chunkCount(i.size, chunkbits);
    const layout = chunkMapLayout(i.isize + i.xattrSize, count, format);
    if (i.iloc + layout.at + layout.bytes > this.length) throw new CorruptImageError('chunk map beyond the end of the image', where);
    const map = this.readAt(i.iloc + layout.at, layout.bytes, where);
    const unit = chunkEntrySize(format);
    const blocks: number[] = [];
    for (let k = 0; k < count; k++) {
      const e = decodeChunkEntry(map, k * unit, format);
      // Another device is read where its slot maps it into this one (the kernel does so when
      // mounted without device= options, as a tar index image with its tar appended is).
      if (e.deviceId !== 0 && e.blkaddr !== NULL_ADDR) {
        const dev = this.devices[e.deviceId - 1];
        if (!dev) throw new CorruptImageError('chunk on a device the table does not have', where, `chunk ${k} on device ${e.deviceId}`);
        if (!dev.uniaddr) throw new UnsupportedFeatureError(`${where}: chunk ${k} on device ${e.deviceId}, a separate device (not mapped into the image) is not supported`);
        if (e.blkaddr + Math.ceil(Math.min(2 ** chunkbits, i.size - k * 2 ** chunkbits) / bs) > dev.blocks) throw new CorruptImageError('chunk beyond its device', where, `chunk ${k} at block ${e.blkaddr} of device ${e.deviceId} (${dev.blocks} blocks)`);
        e.blkaddr += dev.uniaddr;
        if (e.blkaddr * bs >= this.length) throw new CorruptImageError(`chunk in device ${e.deviceId}, which is not in the file (a tar index image needs its tar appended)`, where, `chunk ${k}`);
      }
      if (e.startblkHi !== 0) throw new CorruptImageError('chunk index startblk_hi without 48-bit addresses', where, `chunk ${k}`);
      if (e.blkaddr !== NULL_ADDR) {
        const len = Math.min(2 ** chunkbits, i.size - k * 2 ** chunkbits);
        if (e.blkaddr * bs + Math.ceil(len / bs) * bs > this.length) {
          throw new CorruptImageError('chunk beyond the end of the image', where, `chunk ${k} at block ${e.blkaddr}`);
        }
      }
      blocks.push(e.blkaddr);
    }
    return { chunkbits, blocks };
  }

  /** The image's file descriptor (read-only), for copying flat data in the kernel (extract). */
  get imageFd(): number {
    return this.fd;
  }

  /**
   * Where a flat (uncompressed) inode's bytes lie in the image: its blocks, then its inline tail, as
   * [offset, length] pairs within the image (bounds checked); null for compressed inodes.
   */
  flatRanges(i: InodeInfo): [number, number][] | null {
    if (i.datalayout !== INODE_FLAT_PLAIN && i.datalayout !== INODE_FLAT_INLINE) return null;
    const bs = this.blockSize;
    const blockBytes = i.datalayout === INODE_FLAT_INLINE ? Math.floor(i.size / bs) * bs : i.size;
    const out: [number, number][] = [];
    if (blockBytes) out.push(this.checkedRange(i, i.u * bs, blockBytes));
    if (i.datalayout === INODE_FLAT_INLINE && i.size % bs) out.push(this.checkedRange(i, i.iloc + i.isize + i.xattrSize, i.size % bs));
    return out;
  }

  /** [off, len] if it lies inside the image (a method, not a closure per call: extract asks per file). */
  private checkedRange(i: InodeInfo, off: number, len: number): [number, number] {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.length) {
      throw new CorruptImageError('reference beyond the end of the image', `nid ${i.nid}`, `bytes ${off}..${off + len} of ${this.length}`);
    }
    return [off, len];
  }

  /**
   * All data of an inode as chunks, in order. Flat data is read from the image in bounded chunks.
   * `transient`: the caller is done with each chunk when it asks for the next and keeps no view of
   * it, so compressed extents may be decoded into reused memory (no buffer per extent).
   */
  *data(i: InodeInfo, opts: { transient?: boolean } = {}): Generator<Uint8Array> {
    if (i.datalayout === INODE_COMPRESSED_FULL || i.datalayout === INODE_COMPRESSED_COMPACT) {
      yield* readCompressedInode(this, i, opts.transient === true);
      return;
    }
    const bs = this.blockSize;
    const where = `nid ${i.nid}`;
    if (i.datalayout === INODE_CHUNK_BASED) {
      const { chunkbits, blocks } = this.chunkMap(i);
      const csize = 2 ** chunkbits;
      for (let k = 0; k < blocks.length; k++) {
        const len = Math.min(csize, i.size - k * csize);
        for (let pos = 0; pos < len; pos += READ_CHUNK) {
          const n = Math.min(READ_CHUNK, len - pos);
          // A hole (EROFS_NULL_ADDR) reads as zeros.
          yield blocks[k] === NULL_ADDR ? new Uint8Array(n) : this.readAt(blocks[k] * bs + pos, n, where);
        }
      }
      return;
    }
    const { blockBytes, tail } = flatDataLayout(i.size, bs, i.datalayout === INODE_FLAT_INLINE);
    for (let pos = 0; pos < blockBytes; pos += READ_CHUNK) {
      yield this.readAt(i.u * bs + pos, Math.min(READ_CHUNK, blockBytes - pos), where);
    }
    if (tail) yield this.readAt(i.iloc + i.isize + i.xattrSize, tail, where);
  }

  /** Whole data of a small inode (directories, symlinks); refuses anything large. */
  readAll(i: InodeInfo, limit = 64 << 20): Uint8Array {
    if (i.size > limit) throw new CorruptImageError('inode too large to read at once', `nid ${i.nid}`, `${i.size} bytes`);
    const parts = [...this.data(i)];
    const all = Buffer.concat(parts);
    if (all.length !== i.size) throw new CorruptImageError('data length differs from i_size', `nid ${i.nid}`);
    return all;
  }

  readlink(i: InodeInfo): Buffer {
    if (i.kind !== 'lnk') throw new UserError(`nid ${i.nid}: not a symlink`);
    const target = Buffer.from(this.readAll(i));
    // symlink(2) cannot store a NUL; the kernel would cut the target at it, so a mount and we would differ.
    if (target.includes(0)) throw new CorruptImageError('symlink target contains a NUL byte', `nid ${i.nid}`);
    return target;
  }

  /**
   * Directory entries with the kernel's and fsck's checks: names sorted strictly (bytewise,
   * across blocks), "." is the directory itself, ".." its parent (when `parentNid` is given),
   * entry file types agree with the target inodes' modes.
   */
  readdir(dir: InodeInfo, parentNid?: number): DirEntry[] {
    const where = `nid ${dir.nid}`;
    if (dir.kind !== 'dir') throw new UserError(`${where}: not a directory`);
    const bs = this.blockSize;
    const data = this.readAll(dir);
    const out: DirEntry[] = [];
    for (let off = 0; off < data.length; off += bs) {
      const maxsize = Math.min(bs, data.length - off);
      decodeDirBlock(data.subarray(off, off + maxsize), maxsize, where, out);
    }
    let dot = false;
    let dotdot = false;
    for (let k = 0; k < out.length; k++) {
      const e = out[k];
      if (k > 0 && Buffer.compare(out[k - 1].name, e.name) >= 0) throw new CorruptImageError('wrong dirent name order', where);
      if (hasSlashOrNul(e.name)) throw new CorruptImageError('dirent name contains / or NUL', where);
      const isDot = e.name.length === 1 && e.name[0] === 0x2e;
      const isDotdot = e.name.length === 2 && e.name[0] === 0x2e && e.name[1] === 0x2e;
      if (isDot) {
        dot = true;
        if (e.nid !== dir.nid) throw new CorruptImageError('"." does not point to the directory itself', where);
      } else if (isDotdot) {
        dotdot = true;
        if (parentNid !== undefined && e.nid !== parentNid) throw new CorruptImageError('".." does not point to the parent', where);
      }
      if (e.fileType === FT_UNKNOWN || e.fileType > 7) throw new CorruptImageError('bad dirent file type', where, Buffer.from(e.name).toString('latin1'));
    }
    if (!dot || !dotdot) throw new CorruptImageError('directory lacks "." or ".."', where);
    return out;
  }

  /** Check that an entry's file type matches the inode it names. */
  checkEntryType(e: DirEntry, target: InodeInfo, where: string): void {
    if (fileTypeOfMode(target.mode) !== e.fileType) {
      throw new CorruptImageError('dirent file type differs from the inode', where, `nid ${target.nid}`);
    }
  }

  /** Full name for a stored key; null when the index has no name (skipped by listxattr). */
  private xattrName(nameIndex: number, suffix: Uint8Array, where: string): { name: Buffer; hidden: boolean } | null {
    if (nameIndex & XATTR_LONG_PREFIX) {
      const id = nameIndex & 0x7f;
      if (id >= this.prefixes.length) throw new CorruptImageError('xattr long prefix id out of range', where, `${id}`);
      const lp = this.prefixes[id];
      return { name: Buffer.concat([longPrefixString(lp), suffix]), hidden: lp.baseIndex === 0 };
    }
    const p = shortPrefix(nameIndex);
    if (!p) return null;
    return { name: Buffer.concat([p, suffix]), hidden: false };
  }

  xattrs(i: InodeInfo): XattrEntry[] {
    if (!i.xattrSize) return [];
    const where = `nid ${i.nid}`;
    const ib = decodeXattrIbody(this.readAt(i.iloc + i.isize, i.xattrSize, where), where);
    const out: XattrEntry[] = [];
    for (const id of ib.sharedIds) {
      const base = this.sb.xattrBlkaddr * this.blockSize + id * 4;
      const len = xattrEntryLength(this.readAt(base, XATTR_ENTRY_SIZE, where));
      const e = decodeXattrEntry(this.readAt(base, len, where), 0, len, where);
      const n = this.xattrName(e.nameIndex, e.suffix, where);
      if (n) out.push({ name: n.name, value: Buffer.from(e.value), hidden: n.hidden, shared: true });
    }
    for (const e of ib.inline) {
      const n = this.xattrName(e.nameIndex, e.suffix, where);
      if (n) out.push({ name: n.name, value: Buffer.from(e.value), hidden: n.hidden, shared: false });
    }
    return out;
  }

  /** Resolve a path ("/a/b" or "a/b") without following symlinks. */
  lookup(path: string | Buffer): InodeInfo {
    const parts = (typeof path === 'string' ? Buffer.from(path) : path).toString('latin1').split('/').filter((s) => s && s !== '.');
    let cur = this.inode(this.rootNid);
    const seen: string[] = [];
    for (const part of parts) {
      seen.push(part);
      if (cur.kind !== 'dir') throw new UserError(`/${Buffer.from(seen.join('/'), 'latin1')}: not a directory`);
      const name = Buffer.from(part, 'latin1');
      const hit = this.readdir(cur).find((e) => Buffer.compare(e.name, name) === 0);
      if (!hit) throw new UserError(`/${Buffer.from(seen.join('/'), 'latin1').toString()}: no such file or directory in the image`);
      cur = this.inode(hit.nid);
    }
    return cur;
  }

  /**
   * Depth-first walk from the root with loop detection: a directory reached twice (a hard-linked
   * directory or a loop) is corruption. `visit` gets the path bytes (relative, no leading /).
   */
  walk(visit: (path: Buffer, ino: InodeInfo, entry: DirEntry | null) => void): void {
    const root = this.inode(this.rootNid);
    if (root.kind !== 'dir') throw new CorruptImageError('root is not a directory', `nid ${root.nid}`);
    const seenDirs = new Set<number>([root.nid]);
    visit(Buffer.alloc(0), root, null);
    const stack: { dir: InodeInfo; parent: number; path: Buffer; depth: number }[] = [{ dir: root, parent: root.nid, path: Buffer.alloc(0), depth: 0 }];
    while (stack.length) {
      const { dir, parent, path, depth } = stack.pop()!;
      if (depth > MAX_DEPTH) throw new CorruptImageError('directory nesting too deep', `nid ${dir.nid}`);
      const entries = this.readdir(dir, parent);
      const subdirs: { dir: InodeInfo; parent: number; path: Buffer; depth: number }[] = [];
      for (const e of entries) {
        if ((e.name.length === 1 && e.name[0] === 0x2e) || (e.name.length === 2 && e.name[0] === 0x2e && e.name[1] === 0x2e)) continue;
        const p = path.length ? Buffer.concat([path, Buffer.from('/'), e.name]) : Buffer.from(e.name);
        const child = this.inode(e.nid);
        this.checkEntryType(e, child, `nid ${dir.nid}`);
        visit(p, child, e);
        if (child.kind === 'dir') {
          if (seenDirs.has(child.nid)) throw new CorruptImageError('directory reached twice (loop or hard-linked directory)', `nid ${child.nid}`);
          seenDirs.add(child.nid);
          subdirs.push({ dir: child, parent: dir.nid, path: p, depth: depth + 1 });
        }
      }
      for (let k = subdirs.length - 1; k >= 0; k--) stack.push(subdirs[k]);
    }
  }
}

/**
 * Whether a name holds '/' or NUL. A plain loop, not Buffer#includes twice: the optimizing compiler
 * inlined includes' generic indexOf into each caller (readdir, extract's name check), and compiling
 * those graphs took a good part of a short command's CPU time.
 */
export function hasSlashOrNul(name: Uint8Array): boolean {
  for (let k = 0; k < name.length; k++) if (name[k] === 0x2f || name[k] === 0) return true;
  return false;
}

/** Little-endian fields of image bytes (inodes), without a DataView per inode. */
function le16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function le32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** How a message names an inode. */
function nidWhere(nid: number): string {
  return `nid ${nid}`;
}
