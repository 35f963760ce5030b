// Inodes: erofs_inode_compact (32 B) and erofs_inode_extended (64 B), encoder and decoder side by side.
import {
  INODE_COMPACT_SIZE, INODE_EXTENDED_SIZE, INODE_LAYOUT_COMPACT, INODE_LAYOUT_EXTENDED, I_DATALAYOUT_BIT,
  I_ALL_LEGACY, XATTR_IBODY_HEADER_SIZE,
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

/** i_xattr_icount for an xattr region of `bytes`; 0 means none. Never 1 (kernel: EOPNOTSUPP). */
export function xattrIcount(bytes: number): number {
  return bytes === 0 ? 0 : (bytes - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
}
export function xattrIbodySize(icount: number): number {
  return icount === 0 ? 0 : XATTR_IBODY_HEADER_SIZE + 4 * (icount - 1);
}

/** Encode an inode at `off`; returns its size (inodeSize: the one the writer places it with). */
export function encodeInode(f: InodeFields, out: Uint8Array, off: number): number {
  const size = inodeSize(f.extended);
  const v = new DataView(out.buffer, out.byteOffset + off, size);
  v.setUint16(0, (f.extended ? INODE_LAYOUT_EXTENDED : INODE_LAYOUT_COMPACT) | (f.datalayout << I_DATALAYOUT_BIT), true);
  v.setUint16(2, f.xattrIcount, true);
  v.setUint16(4, f.mode, true);
  if (f.extended) {
    v.setUint16(6, 0, true);
    v.setBigUint64(8, f.size, true);
    v.setUint32(16, f.u >>> 0, true);
    v.setUint32(20, f.ino >>> 0, true);
    v.setUint32(24, f.uid >>> 0, true);
    v.setUint32(28, f.gid >>> 0, true);
    v.setBigUint64(32, BigInt.asUintN(64, f.mtimeSec), true);
    v.setUint32(40, f.mtimeNsec, true);
    v.setUint32(44, f.nlink >>> 0, true);
    for (let i = 48; i < 64; i++) v.setUint8(i, 0);
  } else {
    v.setUint16(6, f.nlink, true);
    v.setUint32(8, Number(f.size), true);
    v.setUint32(12, f.mtimeDelta >>> 0, true);
    v.setUint32(16, f.u >>> 0, true);
    v.setUint32(20, f.ino >>> 0, true);
    v.setUint16(24, f.uid, true);
    v.setUint16(26, f.gid, true);
    v.setUint32(28, 0, true);
  }
  return size;
}

/** Reads the first two bytes only: which of the two inode forms follows. */
export function inodeFormat(b: Uint8Array, off: number): { extended: boolean; datalayout: number; raw: number } {
  const raw = b[off] | (b[off + 1] << 8);
  return { extended: (raw & 1) === INODE_LAYOUT_EXTENDED, datalayout: (raw >> I_DATALAYOUT_BIT) & 7, raw };
}

/** Decode an inode; `b` must hold the whole 32 or 64 bytes at `off`. Range checks are the reader's job. */
export function decodeInode(b: Uint8Array, off: number): InodeFields & { rawFormat: number } {
  const { extended, datalayout, raw } = inodeFormat(b, off);
  const v = new DataView(b.buffer, b.byteOffset + off, inodeSize(extended));
  if (extended) {
    return {
      rawFormat: raw, extended, datalayout,
      xattrIcount: v.getUint16(2, true),
      mode: v.getUint16(4, true),
      size: v.getBigUint64(8, true),
      u: v.getUint32(16, true),
      ino: v.getUint32(20, true),
      uid: v.getUint32(24, true),
      gid: v.getUint32(28, true),
      mtimeSec: v.getBigInt64(32, true),
      mtimeNsec: v.getUint32(40, true),
      nlink: v.getUint32(44, true),
      mtimeDelta: 0,
    };
  }
  return {
    rawFormat: raw, extended, datalayout,
    xattrIcount: v.getUint16(2, true),
    mode: v.getUint16(4, true),
    nlink: v.getUint16(6, true),
    size: BigInt(v.getUint32(8, true)),
    mtimeDelta: v.getUint32(12, true),
    u: v.getUint32(16, true),
    ino: v.getUint32(20, true),
    uid: v.getUint16(24, true),
    gid: v.getUint16(26, true),
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
