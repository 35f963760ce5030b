// The in-inode xattr body header (erofs_xattr_ibody_header, 12 bytes right after the inode):
// __le32 h_name_filter, __u8 h_shared_count, __u8 h_reserved2[7]. The encoder lives in xattr.ts
// (encodeIbodyHeader); this is the decoder readers outside src/read need.
import { XATTR_IBODY_HEADER_SIZE } from './constants.js';
import { CorruptImageError } from '../errors.js';

export interface IbodyHeader {
  /** Bloom filter: a SET bit means "no xattr whose name hashes here" (COMPAT_XATTR_FILTER). */
  nameFilter: number;
  sharedCount: number;
}

const O = { nameFilter: 0, sharedCount: 4 } as const;

export function decodeIbodyHeader(b: Uint8Array, where: string): IbodyHeader {
  if (b.length < XATTR_IBODY_HEADER_SIZE) throw new CorruptImageError('xattr ibody header truncated', where);
  const v = new DataView(b.buffer, b.byteOffset, XATTR_IBODY_HEADER_SIZE);
  return { nameFilter: v.getUint32(O.nameFilter, true), sharedCount: v.getUint8(O.sharedCount) };
}
