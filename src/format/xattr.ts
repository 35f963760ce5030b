// Extended attributes: name prefixes, entries, the ibody header, the name filter and the
// long-prefix table (erofs-format.md §4, page-cache-share.md §1.2).
import {
  XATTR_INDEX_USER, XATTR_INDEX_POSIX_ACL_ACCESS, XATTR_INDEX_POSIX_ACL_DEFAULT, XATTR_INDEX_TRUSTED,
  XATTR_INDEX_SECURITY, XATTR_LONG_PREFIX, XATTR_FILTER_SEED, XATTR_ENTRY_SIZE,
  XATTR_LONG_PREFIX_MASK,
} from './constants.js';
import { xxh32 } from './xxh32.js';
import { CorruptImageError } from '../errors.js';

/** Short prefixes (xattr_types[] in erofs-utils). POSIX ACL names are whole names (empty suffix). */
export const SHORT_PREFIXES: readonly { index: number; prefix: Buffer }[] = [
  { index: XATTR_INDEX_USER, prefix: Buffer.from('user.') },
  { index: XATTR_INDEX_POSIX_ACL_ACCESS, prefix: Buffer.from('system.posix_acl_access') },
  { index: XATTR_INDEX_POSIX_ACL_DEFAULT, prefix: Buffer.from('system.posix_acl_default') },
  { index: XATTR_INDEX_TRUSTED, prefix: Buffer.from('trusted.') },
  { index: XATTR_INDEX_SECURITY, prefix: Buffer.from('security.') },
];

export function shortPrefix(index: number): Buffer | undefined {
  return SHORT_PREFIXES.find((p) => p.index === index)?.prefix;
}

/** A long prefix (erofs_xattr_long_prefix): base short-prefix index (0 = none, hidden) + infix. */
export interface LongPrefix {
  baseIndex: number;
  infix: Buffer;
}

/** Split a full prefix string such as "trusted.overlay." into base index + infix. */
export function longPrefixOf(full: Buffer): LongPrefix {
  for (const p of SHORT_PREFIXES) {
    // ACL names are complete names, never bases of a longer prefix.
    if (p.index === XATTR_INDEX_POSIX_ACL_ACCESS || p.index === XATTR_INDEX_POSIX_ACL_DEFAULT) continue;
    if (full.length >= p.prefix.length && full.subarray(0, p.prefix.length).equals(p.prefix)) {
      return { baseIndex: p.index, infix: full.subarray(p.prefix.length) };
    }
  }
  return { baseIndex: 0, infix: full };
}

export function longPrefixString(p: LongPrefix): Buffer {
  return Buffer.concat([shortPrefix(p.baseIndex) ?? Buffer.alloc(0), p.infix]);
}

/** How one full xattr name is stored: e_name_index and the suffix bytes. */
export interface XattrKey {
  nameIndex: number;
  suffix: Buffer;
}

/**
 * Map a full name to its on-disk key. Long prefixes are tried first, in table order (as mkfs.erofs),
 * then the short ones. Returns null for names no prefix can express (e.g. "system.foo").
 */
export function keyOfName(name: Buffer, longPrefixes: readonly Buffer[]): XattrKey | null {
  for (let i = 0; i < longPrefixes.length; i++) {
    const lp = longPrefixes[i];
    if (name.length >= lp.length && name.subarray(0, lp.length).equals(lp)) {
      return { nameIndex: XATTR_LONG_PREFIX | i, suffix: name.subarray(lp.length) };
    }
  }
  for (const p of SHORT_PREFIXES) {
    const acl = p.index === XATTR_INDEX_POSIX_ACL_ACCESS || p.index === XATTR_INDEX_POSIX_ACL_DEFAULT;
    if (acl ? name.equals(p.prefix) : name.length > p.prefix.length && name.subarray(0, p.prefix.length).equals(p.prefix)) {
      return { nameIndex: p.index, suffix: name.subarray(p.prefix.length) };
    }
  }
  return null;
}

/** Field offsets within erofs_xattr_entry (the name, then the value, follow its 4 bytes). */
const E = { nameLen: 0, nameIndex: 1, valueSize: 2 } as const;

/** Size of one entry on disk, padded to 4. */
export function xattrEntrySize(suffixLen: number, valueLen: number): number {
  return (XATTR_ENTRY_SIZE + suffixLen + valueLen + 3) & ~3;
}

export function encodeXattrEntry(key: XattrKey, value: Uint8Array, out: Uint8Array, off: number): number {
  out[off + E.nameLen] = key.suffix.length;
  out[off + E.nameIndex] = key.nameIndex;
  out[off + E.valueSize] = value.length & 0xff;
  out[off + E.valueSize + 1] = value.length >>> 8;
  out.set(key.suffix, off + XATTR_ENTRY_SIZE);
  out.set(value, off + XATTR_ENTRY_SIZE + key.suffix.length);
  const size = xattrEntrySize(key.suffix.length, value.length);
  out.fill(0, off + XATTR_ENTRY_SIZE + key.suffix.length + value.length, off + size);
  return size;
}

export interface DecodedEntry {
  nameIndex: number;
  suffix: Uint8Array;
  value: Uint8Array;
  size: number;
}

/** Bytes an entry spans before padding, from its 4-byte header (e_name_len, e_name_index, __le16 e_value_size). */
export function xattrEntryLength(head: Uint8Array): number {
  return XATTR_ENTRY_SIZE + head[E.nameLen] + (head[E.valueSize] | (head[E.valueSize + 1] << 8));
}

/** Decode the entry at `off`; `end` bounds the region it must lie in. */
export function decodeXattrEntry(b: Uint8Array, off: number, end: number, where: string): DecodedEntry {
  if (off + XATTR_ENTRY_SIZE > end) throw new CorruptImageError('xattr entry header out of bounds', where);
  const nameLen = b[off + E.nameLen];
  const nameIndex = b[off + E.nameIndex];
  const valueLen = b[off + E.valueSize] | (b[off + E.valueSize + 1] << 8);
  const size = xattrEntrySize(nameLen, valueLen);
  if (off + XATTR_ENTRY_SIZE + nameLen + valueLen > end) {
    throw new CorruptImageError('xattr entry out of bounds', where, `name ${nameLen} B, value ${valueLen} B`);
  }
  const s = off + XATTR_ENTRY_SIZE;
  return { nameIndex, suffix: b.slice(s, s + nameLen), value: b.slice(s + nameLen, s + nameLen + valueLen), size };
}

/** Bloom filter bit for one xattr: xxh32(name after the short prefix, seed + base index) & 31. */
export function xattrFilterBit(baseIndex: number, nameAfterShortPrefix: Uint8Array): number {
  return xxh32(nameAfterShortPrefix, (XATTR_FILTER_SEED + baseIndex) >>> 0) & 31;
}

/** Long-prefix table records: u16 size, u8 base_index, infix; each record starts 4-aligned. */
export function encodePrefixTable(prefixes: readonly LongPrefix[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of prefixes) {
    const size = 1 + p.infix.length;
    const rec = Buffer.alloc((2 + size + 3) & ~3);
    rec.writeUInt16LE(size, 0);
    rec[2] = p.baseIndex;
    p.infix.copy(rec, 3);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

export function decodePrefixTable(b: Uint8Array, count: number, where: string): LongPrefix[] {
  const out: LongPrefix[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    off = (off + 3) & ~3;
    if (off + 2 > b.length) throw new CorruptImageError('xattr prefix table truncated', where, `record ${i}`);
    const size = b[off] | (b[off + 1] << 8);
    if (size < 1 || off + 2 + size > b.length) throw new CorruptImageError('bad xattr prefix record size', where, `record ${i}`);
    const baseIndex = b[off + 2];
    if (baseIndex & XATTR_LONG_PREFIX) throw new CorruptImageError('long prefix based on a long prefix', where, `record ${i}`);
    out.push({ baseIndex, infix: Buffer.from(b.subarray(off + 3, off + 2 + size)) });
    off += 2 + size;
  }
  return out;
}

export { XATTR_LONG_PREFIX, XATTR_LONG_PREFIX_MASK };
