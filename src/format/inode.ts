// Inodes: erofs_inode_compact (32 B) and erofs_inode_extended (64 B), encoder and decoder side by side.
import {
  INODE_COMPACT_SIZE, INODE_EXTENDED_SIZE, INODE_LAYOUT_COMPACT, INODE_LAYOUT_EXTENDED, I_DATALAYOUT_BIT,
  I_ALL_LEGACY,
} from './constants.js';

export interface InodeFields {
  extended: boolean;
  datalayout: number;
  xattrIcount: number;
  mode: number;
  nlink: number;
  size: bigint;
  /** i_u: startblk, compressed block count, rdev, or chunk format. */
  u: number;
  ino: number;
  uid: number;
  gid: number;
  /** Extended only; compact inodes take (sb.epoch + mtimeDelta, sb.fixedNsec). */
  mtimeSec: bigint;
  mtimeNsec: number;
  /** Compact only: seconds after sb.epoch (6.15+ kernels read it; we write it only when 0). */
  mtimeDelta: number;
}

export function inodeSize(extended: boolean): number {
  return extended ? INODE_EXTENDED_SIZE : INODE_COMPACT_SIZE;
}

/**
 * Where a flat inode's data lies: `blocks` whole blocks from i_u, then (FLAT_INLINE) `tail` bytes right
 * after the inode's xattrs. The writer places data with it and the readers find it with it.
 */
export function flatDataLayout(size: number, blockSize: number, inline: boolean): { blocks: number; blockBytes: number; tail: number } {
  const blocks = inline ? Math.floor(size / blockSize) : Math.ceil(size / blockSize);
  const tail = inline ? size % blockSize : 0;
  return { blocks, blockBytes: size - tail, tail };
}

/** Field offsets shared by both forms (i_format, i_xattr_icount, i_mode), then each form's own (named as InodeFields). */
const O = { format: 0, xattrIcount: 2, mode: 4 } as const;
/** erofs_inode_compact: i_nlink, i_size, i_mtime (seconds after the epoch), i_u, i_ino, i_uid, i_gid, i_reserved. */
const OC = { nlink: 6, size: 8, mtimeDelta: 12, u: 16, ino: 20, uid: 24, gid: 26, reserved: 28 } as const;
/** erofs_inode_extended: i_reserved, i_size, i_u, i_ino, i_uid, i_gid, i_mtime, i_mtime_nsec, i_nlink, i_reserved2[16]. */
const OX = { reserved: 6, size: 8, u: 16, ino: 20, uid: 24, gid: 28, mtimeSec: 32, mtimeNsec: 40, nlink: 44, reserved2: 48 } as const;
/** The offsets by name, for readers that take fields straight from the bytes (image.ts). */
export const INODE_COMMON_OFFSETS = O;
export const INODE_COMPACT_OFFSETS = OC;
export const INODE_EXTENDED_OFFSETS = OX;
/** Every field of each form, in offset order (for annotated dumps). */
export const INODE_COMPACT_FIELDS: Readonly<Record<string, number>> = { ...O, ...OC };
export const INODE_EXTENDED_FIELDS: Readonly<Record<string, number>> = { ...O, ...OX };

/** What encodeInode takes: InodeFields, with i_size and i_mtime as numbers where they fit (no BigInt per inode). */
export type InodeInput = Omit<InodeFields, 'size' | 'mtimeSec'> & { size: bigint | number; mtimeSec: bigint | number };

/** One view per buffer encoded into (the writer encodes every inode into one scratch buffer): not a DataView per inode. */
let lastView: DataView | undefined;

/** Encode an inode at `off`; returns its size (inodeSize: the one the writer places it with). */
export function encodeInode(f: InodeInput, out: Uint8Array, off: number): number {
  const size = inodeSize(f.extended);
  if (out.byteLength < off + size) throw new RangeError(`inode of ${size} bytes at ${off} past the buffer's ${out.byteLength}`);
  if (lastView?.buffer !== out.buffer) lastView = new DataView(out.buffer);
  const v = lastView;
  const b = out.byteOffset + off;
  v.setUint16(b + O.format, (f.extended ? INODE_LAYOUT_EXTENDED : INODE_LAYOUT_COMPACT) | (f.datalayout << I_DATALAYOUT_BIT), true);
  v.setUint16(b + O.xattrIcount, f.xattrIcount, true);
  v.setUint16(b + O.mode, f.mode, true);
  if (f.extended) {
    v.setUint16(b + OX.reserved, 0, true);
    v.setBigUint64(b + OX.size, BigInt(f.size), true);
    v.setUint32(b + OX.u, f.u >>> 0, true);
    v.setUint32(b + OX.ino, f.ino >>> 0, true);
    v.setUint32(b + OX.uid, f.uid >>> 0, true);
    v.setUint32(b + OX.gid, f.gid >>> 0, true);
    v.setBigUint64(b + OX.mtimeSec, BigInt.asUintN(64, BigInt(f.mtimeSec)), true);
    v.setUint32(b + OX.mtimeNsec, f.mtimeNsec, true);
    v.setUint32(b + OX.nlink, f.nlink >>> 0, true);
    out.fill(0, off + OX.reserved2, off + INODE_EXTENDED_SIZE);
  } else {
    v.setUint16(b + OC.nlink, f.nlink, true);
    v.setUint32(b + OC.size, Number(f.size), true);
    v.setUint32(b + OC.mtimeDelta, f.mtimeDelta >>> 0, true);
    v.setUint32(b + OC.u, f.u >>> 0, true);
    v.setUint32(b + OC.ino, f.ino >>> 0, true);
    v.setUint16(b + OC.uid, f.uid, true);
    v.setUint16(b + OC.gid, f.gid, true);
    v.setUint32(b + OC.reserved, 0, true);
  }
  return size;
}

/** Reads the first two bytes only: which of the two inode forms follows. */
export function inodeFormat(b: Uint8Array, off: number): { extended: boolean; datalayout: number; raw: number } {
  const raw = b[off + O.format] | (b[off + O.format + 1] << 8);
  return { extended: (raw & 1) === INODE_LAYOUT_EXTENDED, datalayout: (raw >> I_DATALAYOUT_BIT) & 7, raw };
}

/** Decode an inode; `b` must hold the whole 32 or 64 bytes at `off`. Range checks are the reader's job. */
export function decodeInode(b: Uint8Array, off: number): InodeFields & { rawFormat: number } {
  const { extended, datalayout, raw } = inodeFormat(b, off);
  const v = new DataView(b.buffer, b.byteOffset + off, inodeSize(extended));
  if (extended) {
    return {
      rawFormat: raw, extended, datalayout,
      xattrIcount: v.getUint16(O.xattrIcount, true),
      mode: v.getUint16(O.mode, true),
      size: v.getBigUint64(OX.size, true),
      u: v.getUint32(OX.u, true),
      ino: v.getUint32(OX.ino, true),
      uid: v.getUint32(OX.uid, true),
      gid: v.getUint32(OX.gid, true),
      mtimeSec: v.getBigInt64(OX.mtimeSec, true),
      mtimeNsec: v.getUint32(OX.mtimeNsec, true),
      nlink: v.getUint32(OX.nlink, true),
      mtimeDelta: 0,
    };
  }
  return {
    rawFormat: raw, extended, datalayout,
    xattrIcount: v.getUint16(O.xattrIcount, true),
    mode: v.getUint16(O.mode, true),
    nlink: v.getUint16(OC.nlink, true),
    size: BigInt(v.getUint32(OC.size, true)),
    mtimeDelta: v.getUint32(OC.mtimeDelta, true),
    u: v.getUint32(OC.u, true),
    ino: v.getUint32(OC.ino, true),
    uid: v.getUint16(OC.uid, true),
    gid: v.getUint16(OC.gid, true),
    mtimeSec: 0n,
    mtimeNsec: 0,
  };
}

/** i_format bits this reader accepts (pre-6.15 kernels: bits 0..3 only). */
export const I_FORMAT_KNOWN = I_ALL_LEGACY;

/** rdev as the kernel packs it into i_u (new_encode_dev). */
export function encodeRdev(major: number, minor: number): number {
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
export function decodeRdev(u: number): { major: number; minor: number } {
  return { major: (u & 0xfff00) >>> 8, minor: ((u & 0xff) | ((u >>> 12) & 0xfff00)) >>> 0 };
}
