// The xattr region right after an inode: erofs_xattr_ibody_header (12 B: __le32 h_name_filter,
// __u8 h_shared_count, __u8 h_reserved2[7]), then h_shared_count __le32 shared-xattr ids, then the
// inline entries (each 4-aligned). Its size is i_xattr_icount's; the planner sizes it, the writer
// encodes it and the readers decode it, all here.
import { XATTR_IBODY_HEADER_SIZE } from './constants.js';
import { encodeXattrEntry, xattrEntrySize, decodeXattrEntry, type XattrKey, type DecodedEntry } from './xattr.js';
import { CorruptImageError } from '../errors.js';

/** Field offsets within erofs_xattr_ibody_header. */
const O = { nameFilter: 0, sharedCount: 4, reserved: 5 } as const;
export const IBODY_HEADER_FIELDS: Readonly<Record<string, number>> = O;

/** One xattr as the planner places it: its on-disk key, its full name (for ordering) and value. */
export interface PlannedXattr {
  key: XattrKey;
  /** Full name, for ordering. */
  name: Buffer;
  value: Buffer;
}

/** What an inode's xattr region holds: header fields, shared-xattr ids and the entries stored in it. */
export interface XattrIbodyParts {
  nameFilter: number;
  sharedIds: readonly number[];
  inline: readonly { key: XattrKey; value: Uint8Array }[];
}

/** The planner's xattr region of one inode (source/tree.ts Inode.ibody). */
export interface XattrIbody extends XattrIbodyParts {
  sharedIds: number[];
  inline: PlannedXattr[];
  /** Bytes of the region. */
  size: number;
  /** Regular files with a fingerprint: the inline entry whose value the writer fills in. */
  fingerprint?: PlannedXattr;
}

export interface IbodyHeader {
  /** Bloom filter: a SET bit means "no xattr whose name hashes here" (COMPAT_XATTR_FILTER). */
  nameFilter: number;
  sharedCount: number;
}

/** i_xattr_icount for a region of `bytes`; 0 means none. Never 1 (kernel: EOPNOTSUPP). */
export function xattrIcount(bytes: number): number {
  return bytes === 0 ? 0 : (bytes - XATTR_IBODY_HEADER_SIZE) / 4 + 1;
}

/** The region's size for an i_xattr_icount. */
export function xattrIbodySize(icount: number): number {
  return icount === 0 ? 0 : XATTR_IBODY_HEADER_SIZE + 4 * (icount - 1);
}

export function encodeIbodyHeader(nameFilter: number, sharedCount: number, out: Uint8Array, off: number): void {
  const v = new DataView(out.buffer, out.byteOffset + off, XATTR_IBODY_HEADER_SIZE);
  v.setUint32(O.nameFilter, nameFilter >>> 0, true);
  v.setUint8(O.sharedCount, sharedCount);
  for (let i = O.reserved; i < XATTR_IBODY_HEADER_SIZE; i++) v.setUint8(i, 0);
}

export function decodeIbodyHeader(b: Uint8Array, where: string): IbodyHeader {
  if (b.length < XATTR_IBODY_HEADER_SIZE) throw new CorruptImageError('xattr ibody header truncated', where);
  const v = new DataView(b.buffer, b.byteOffset, XATTR_IBODY_HEADER_SIZE);
  return { nameFilter: v.getUint32(O.nameFilter, true), sharedCount: v.getUint8(O.sharedCount) };
}

/**
 * Encode the region at `off`, or only measure it when `out` is undefined: the planner's size is this
 * encoder's, never a second formula. Returns its size in bytes.
 */
export function encodeXattrIbody(ib: XattrIbodyParts, out: Uint8Array | undefined, off: number): number {
  if (out) encodeIbodyHeader(ib.nameFilter, ib.sharedIds.length, out, off);
  let at = off + XATTR_IBODY_HEADER_SIZE;
  const v = out && new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const id of ib.sharedIds) {
    v?.setUint32(at, id, true);
    at += 4;
  }
  for (const x of ib.inline) at += out ? encodeXattrEntry(x.key, x.value, out, at) : xattrEntrySize(x.key.suffix.length, x.value.length);
  return at - off;
}

export interface DecodedIbody extends IbodyHeader {
  /** Shared-xattr ids: the entry of id k lies at xattr_blkaddr * blocksize + 4k. */
  sharedIds: number[];
  /** The inline entries, in stored order. */
  inline: DecodedEntry[];
}

/** Decode a whole region (`body` is exactly its xattrIbodySize bytes). */
export function decodeXattrIbody(body: Uint8Array, where: string): DecodedIbody {
  const h = decodeIbodyHeader(body, where);
  let off = XATTR_IBODY_HEADER_SIZE;
  if (off + 4 * h.sharedCount > body.length) throw new CorruptImageError('shared xattr count beyond the xattr body', where);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const sharedIds: number[] = [];
  for (let k = 0; k < h.sharedCount; k++, off += 4) sharedIds.push(dv.getUint32(off, true));
  const inline: DecodedEntry[] = [];
  while (off < body.length) {
    const e = decodeXattrEntry(body, off, body.length, where);
    inline.push(e);
    off += e.size;
  }
  return { ...h, sharedIds, inline };
}
