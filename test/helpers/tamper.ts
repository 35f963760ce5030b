// Tampering with copies of images for verify's negative tests. Every byte to change is located
// through our reader (inode iloc + isize + xattr body, data block from i_u, superblock fields through
// the superblock codec), never at a hard-coded offset, so the tests keep working when layouts move.
// After editing block 0 the superblock checksum is recomputed, so only the intended rule breaks.
import { closeSync, copyFileSync, openSync, readSync, writeSync } from 'node:fs';
import { ErofsImage, type InodeInfo } from '../../src/read/image.js';
import {
  decodeSuperBlock, encodeSuperBlock, sealSuperBlock, checksumLength, type SuperBlock,
} from '../../src/format/superblock.js';
import { decodeXattrEntry } from '../../src/format/xattr.js';
import { decodeIbodyHeader } from '../../src/format/xattr-ibody.js';
import { INODE_FLAT_INLINE, INODE_FLAT_PLAIN, SUPER_OFFSET, XATTR_IBODY_HEADER_SIZE, XATTR_LONG_PREFIX } from '../../src/format/constants.js';

const SUPER_SIZE = 128;

export function readBytes(file: string, off: number, len: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    if (readSync(fd, b, 0, len, off) !== len) throw new Error(`${file}: short read at ${off}`);
    return b;
  } finally {
    closeSync(fd);
  }
}

export function writeBytes(file: string, off: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    if (writeSync(fd, bytes, 0, bytes.length, off) !== bytes.length) throw new Error(`${file}: short write at ${off}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `bytes` at `off` and, when they land in the superblock checksum's range (small images keep
 * their inodes in block 0), recompute the checksum so the edit is the only thing wrong.
 */
export function patch(file: string, off: number, bytes: Uint8Array): void {
  writeBytes(file, off, bytes);
  const sb = decodeSuperBlock(readBytes(file, SUPER_OFFSET, SUPER_SIZE));
  if (off < SUPER_OFFSET + checksumLength(1 << sb.blkszbits) && off + bytes.length > SUPER_OFFSET) fixSuperblockChecksum(file);
}

export function withImage<T>(file: string, fn: (img: ErofsImage) => T): T {
  const img = ErofsImage.open(file);
  try {
    return fn(img);
  } finally {
    img.close();
  }
}

export function inodeAt(file: string, path: string): InodeInfo {
  return withImage(file, (img) => img.lookup(path));
}

/** Absolute offset of a flat file's first content byte (block data, or the inline tail for small files). */
export function firstDataOffset(file: string, path: string): number {
  return withImage(file, (img) => {
    const ino = img.lookup(path);
    if (ino.size === 0) throw new Error(`${path}: empty`);
    const bs = img.blockSize;
    if (ino.datalayout === INODE_FLAT_PLAIN) return ino.u * bs;
    if (ino.datalayout === INODE_FLAT_INLINE) return ino.size >= bs ? ino.u * bs : ino.iloc + ino.isize + ino.xattrSize;
    throw new Error(`${path}: layout ${ino.datalayout} is not flat`);
  });
}

export interface EntryLocation {
  /** Absolute offset of the 4-byte entry header (e_name_len, e_name_index, e_value_size). */
  entry: number;
  /** Absolute offset of the value. */
  value: number;
  valueLength: number;
  nameIndex: number;
}

/** The in-inode xattr entry with e_name_index 0x80|ishare id and an empty suffix (the fingerprint). */
export function fingerprintEntry(file: string, path: string): EntryLocation {
  return withImage(file, (img) => {
    const ino = img.lookup(path);
    const id = img.sb.ishareXattrPrefixId;
    const base = ino.iloc + ino.isize;
    const body = img.readAt(base, ino.xattrSize, 'test');
    const h = decodeIbodyHeader(body, 'test');
    for (let off = XATTR_IBODY_HEADER_SIZE + 4 * h.sharedCount; off < body.length;) {
      const e = decodeXattrEntry(body, off, body.length, 'test');
      if (e.nameIndex === (XATTR_LONG_PREFIX | id) && e.suffix.length === 0) {
        return { entry: base + off, value: base + off + 4, valueLength: e.value.length, nameIndex: e.nameIndex };
      }
      off += e.size;
    }
    throw new Error(`${path}: no in-inode fingerprint entry`);
  });
}

/** Absolute offset of the inode's h_name_filter (first field of the xattr ibody header). */
export function nameFilterOffset(file: string, path: string): number {
  const ino = inodeAt(file, path);
  if (!ino.xattrSize) throw new Error(`${path}: no xattrs`);
  return ino.iloc + ino.isize;
}

/** Recompute the superblock CRC32C over [1024, blocksize) after an edit in block 0. */
export function fixSuperblockChecksum(file: string): void {
  const sb = decodeSuperBlock(readBytes(file, SUPER_OFFSET, SUPER_SIZE));
  sealSuperBlock({
    read: (buf, at) => { buf.set(readBytes(file, at, buf.length)); return buf.length; },
    write: (buf, at) => writeBytes(file, at, buf),
  }, 1 << sb.blkszbits);
}

/** Change superblock fields through the codec, then fix the checksum. Refuses if the codec would lose bytes. */
export function editSuperblock(file: string, edit: (sb: SuperBlock) => void): void {
  const raw = readBytes(file, SUPER_OFFSET, SUPER_SIZE);
  const sb = decodeSuperBlock(raw);
  if (!Buffer.from(encodeSuperBlock(sb)).equals(raw)) throw new Error(`${file}: superblock does not round-trip through the codec`);
  edit(sb);
  writeBytes(file, SUPER_OFFSET, encodeSuperBlock(sb));
  fixSuperblockChecksum(file);
}

export function copyImage(src: string, dst: string): string {
  copyFileSync(src, dst);
  return dst;
}
