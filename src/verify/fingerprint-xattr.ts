// Which fingerprint a sharing-aware kernel reads from an image, following its rules
// (page-cache-share.md §1, §2): the superblock's ishare_xattr_prefix_id names a long xattr prefix;
// the fingerprint is the xattr whose name is exactly that prefix; the value is opaque, 1..blocksize bytes.
import {
  FEATURE_COMPAT_ISHARE_XATTRS, FEATURE_COMPAT_XATTR_FILTER, FEATURE_INCOMPAT_XATTR_PREFIXES,
} from '../format/constants.js';
import { longPrefixString, xattrFilterBit } from '../format/xattr.js';
import { decodeIbodyHeader } from '../format/xattr-ibody.js';
import { XATTR_IBODY_HEADER_SIZE } from '../format/constants.js';
import type { ErofsImage, InodeInfo } from '../read/image.js';
import { parseFingerprint } from '../fingerprint/scheme.js';

export type IshareState =
  /** COMPAT_ISHARE_XATTRS clear: the kernel turns inode_share off for this image; nothing is shared. */
  | { kind: 'off' }
  /** The bit is set but the prefix id is unusable: the kernel refuses to mount the image. */
  | { kind: 'invalid'; code: 'ishare-no-prefix' | 'ishare-prefix-out-of-range'; message: string }
  | {
    kind: 'on';
    prefixId: number;
    /** Full xattr name, e.g. "erofs.fingerprint.v1" or "trusted.erofs.fingerprint". */
    name: Buffer;
    /** Base index 0: hidden from listxattr (the reader flags such names). */
    hidden: boolean;
    /** Bloom-filter bit the kernel tests before looking the name up; null when it does not filter. */
    filterBit: number | null;
  };

export function ishareState(img: ErofsImage): IshareState {
  const sb = img.sb;
  if (!(sb.featureCompat & FEATURE_COMPAT_ISHARE_XATTRS)) return { kind: 'off' };
  const id = sb.ishareXattrPrefixId;
  // super.c (e0bf7d1c074d): "invalid ishare xattr prefix id" when id >= xattr_prefix_count.
  if (!(sb.featureIncompat & FEATURE_INCOMPAT_XATTR_PREFIXES) || sb.xattrPrefixCount === 0) {
    return {
      kind: 'invalid', code: 'ishare-no-prefix',
      message: `ishare_xattrs compat bit set without a valid prefix id (${!(sb.featureIncompat & FEATURE_INCOMPAT_XATTR_PREFIXES)
        ? 'no long xattr prefix table: incompat xattr_prefixes is clear' : 'the long xattr prefix table is empty'}); the kernel refuses to mount it`,
    };
  }
  if (id >= sb.xattrPrefixCount || id >= img.prefixes.length) {
    return {
      kind: 'invalid', code: 'ishare-prefix-out-of-range',
      message: `ishare xattr prefix id ${id} out of range (${sb.xattrPrefixCount} long prefixes); the kernel refuses to mount it`,
    };
  }
  const lp = img.prefixes[id];
  // xattr.c erofs_getxattr: the filter is consulted when the feature is on and xattr_filter_reserved is 0;
  // the name hashed is what follows the base prefix, i.e. the long prefix's infix.
  const filterOn = (sb.featureCompat & FEATURE_COMPAT_XATTR_FILTER) !== 0 && sb.xattrFilterReserved === 0;
  return {
    kind: 'on', prefixId: id, name: longPrefixString(lp), hidden: lp.baseIndex === 0,
    filterBit: filterOn ? xattrFilterBit(lp.baseIndex, lp.infix) : null,
  };
}

export interface FingerprintLookup {
  /** Values of every entry named exactly like the fingerprint; in-inode entries first, then shared ones. */
  values: Buffer[];
  /** The inode's name filter says "absent" for the fingerprint name: getxattr fails, the file never shares. */
  filtered: boolean;
}

/** Fingerprint entries of one inode (reader errors propagate). */
export function lookupFingerprint(img: ErofsImage, ino: InodeInfo, st: Extract<IshareState, { kind: 'on' }>): FingerprintLookup {
  if (!ino.xattrSize) return { values: [], filtered: false };
  const entries = img.xattrs(ino);
  // Same full name AND same base (hidden ⇔ base 0): "trusted.x" stored under a base-0 prefix is another name.
  const hits = entries.filter((e) => e.hidden === st.hidden && e.name.equals(st.name));
  const values = [...hits.filter((e) => !e.shared), ...hits.filter((e) => e.shared)].map((e) => e.value);
  let filtered = false;
  if (st.filterBit !== null && values.length) {
    const where = `nid ${ino.nid}`;
    const h = decodeIbodyHeader(img.readAt(ino.iloc + ino.isize, XATTR_IBODY_HEADER_SIZE, where), where);
    filtered = ((h.nameFilter >>> st.filterBit) & 1) === 1;
  }
  return { values, filtered };
}

/** The kernel takes any value of 1..blocksize bytes (xattr.c erofs_xattr_fill_inode_fingerprint). */
export function kernelAcceptsValue(value: Uint8Array, blockSize: number): boolean {
  return value.length >= 1 && value.length <= blockSize;
}

/** A value for people: "sha256:<hex>" for known schemes, else "hex:<all bytes>". */
export function showFingerprint(value: Uint8Array): string {
  const p = parseFingerprint(value);
  return p.scheme ? `${p.scheme}:${p.raw.toString('hex')}` : `hex:${Buffer.from(value).toString('hex')}`;
}
