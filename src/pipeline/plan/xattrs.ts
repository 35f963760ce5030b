// Xattr planning: the long-prefix table, which (name, value) pairs go to the shared area (those used
// by more than -x inodes), and each inode's xattr body: shared ids, inline entries, name filter, and
// its size as the writer's encoder will write it.
import { XATTR_LONG_PREFIX } from '../../format/constants.js';
import {
  keyOfName, longPrefixOf, xattrEntrySize, xattrFilterBit, encodeXattrEntry, encodePrefixTable,
  type XattrKey, type LongPrefix,
} from '../../format/xattr.js';
import { xattrIcount, encodeXattrIbody, type PlannedXattr, type XattrIbody } from '../../format/xattr-ibody.js';
import { UserError } from '../../errors.js';
import { fingerprintLength } from '../../fingerprint/scheme.js';
import { pathOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import type { BuildOptions } from '../options.js';

const NO_IDS: number[] = [];
const NO_XATTRS: PlannedXattr[] = [];

/** The xattrs each inode keeps, before any is shared. */
export interface GatheredXattrs {
  /** Long prefixes (--xattr-prefix, and the fingerprint name). */
  longPrefixes: LongPrefix[];
  /** Long-prefix id of the fingerprint name (sb.ishare_xattr_prefix_id), or -1. */
  ishareId: number;
  /**
   * Each xattr body's items, and an inode of it (for messages). Inodes whose source lists are one
   * interned list (source/xattrs-read.ts: a tree labelled with a few SELinux contexts has a few) and
   * that carry no fingerprint share one body: a million labelled files cost a million map entries,
   * item lists, sort keys and bodies otherwise (~1 KiB each: 1.3 GiB peak for 1,000,000 files).
   */
  itemsOf: Map<XattrIbody, { n: Inode; items: PlannedXattr[] }>;
  /** Inodes using each (name, value) pair, by sortKey. */
  useCount: Map<string, number>;
  anyXattr: boolean;
}

/** The shared area and long-prefix table of block 0. */
export interface XattrAreas {
  sharedArea: Buffer;
  prefixTable: Buffer;
  /** Absolute byte offset of the prefix table (after the shared area, 4-aligned). */
  prefixTableStart: number;
}

/** Bytes of the xattr region after an inode (0 = none). */
export function xattrSizeOf(n: Inode): number {
  return n.ibody?.size ?? 0;
}

function sortKey(x: PlannedXattr): Buffer {
  return Buffer.concat([x.name, Buffer.from([0]), x.value]);
}

/**
 * Each inode's xattrs as they will be stored: names checked and keyed by prefix, duplicates dropped,
 * the fingerprint (its value zero until the data is read) added to every non-empty regular file.
 * Sets an empty ibody on each inode that has any.
 */
export function gatherXattrs(order: readonly Inode[], o: BuildOptions): GatheredXattrs {
  const prefixStrings = [...o.xattrPrefixes];
  const fp = o.fingerprint;
  let ishareId = -1;
  if (fp) {
    // The fingerprint name is itself a long prefix with an empty suffix (mkfs.erofs --xattr-inode-digest).
    ishareId = prefixStrings.findIndex((s) => s.equals(fp.name));
    if (ishareId < 0) ishareId = prefixStrings.push(fp.name) - 1;
  }
  const longPrefixes: LongPrefix[] = prefixStrings.map(longPrefixOf);
  const itemsOf = new Map<XattrIbody, { n: Inode; items: PlannedXattr[] }>();
  // Per interned source list that gave no warning: its items, their use-count keys, and the body shared
  // by its inodes without a fingerprint (a list that warns is checked again per inode: each warning
  // names its inode).
  const fromList = new Map<Inode['xattrs'], { items: PlannedXattr[]; keys: string[]; shared?: XattrIbody }>();
  const useCount = new Map<string, number>();
  let anyXattr = false;
  // -x -1 drops the source's xattrs, not the fingerprints asked for (as mkfs.erofs 1.9.3): an image
  // that declares a fingerprint name carries it on every non-empty regular file.
  const keepSource = o.xattrTolerance >= 0;
  const NO_SOURCE_XATTRS: Inode['xattrs'] = [];
  for (const n of order) {
    if (!keepSource && !fp) break;
    const stamped = !!fp && n.kind === 'reg' && n.size > 0;
    const own = keepSource ? n.xattrs : NO_SOURCE_XATTRS;
    // Most inodes have neither: no item list, name set, map entry or ibody for them.
    if (!own.length && !stamped) continue;
    const known = fromList.get(own);
    if (known) {
      for (const k of known.keys) useCount.set(k, useCount.get(k)! + 1);
      if (!stamped && known.items.length) {
        anyXattr = true;
        n.ibody = known.shared ??= { sharedIds: NO_IDS, inline: NO_XATTRS, nameFilter: 0, size: 0 };
        if (!itemsOf.has(n.ibody)) itemsOf.set(n.ibody, { n, items: known.items });
        continue;
      }
    }
    let warned = false;
    const items: PlannedXattr[] = known ? [...known.items] : [];
    const keys: string[] = [];
    const seenNames = new Set<string>();
    for (const x of known ? NO_SOURCE_XATTRS : own) {
      if (fp && x.name.equals(fp.name)) {
        o.warn(`${showPath(pathOf(n))}: source xattr ${showPath(x.name)} replaced by the computed fingerprint`);
        warned = true;
        continue;
      }
      const key = keyOfName(x.name, prefixStrings);
      if (!key) {
        o.warn(`${showPath(pathOf(n))}: xattr ${showPath(x.name)} has no EROFS name prefix; skipped`);
        warned = true;
        continue;
      }
      if (key.suffix.length > 255) throw new UserError(`${showPath(pathOf(n))}: xattr name ${showPath(x.name)} too long`);
      if (x.value.length > 0xffff) throw new UserError(`${showPath(pathOf(n))}: xattr ${showPath(x.name)} value over 65535 bytes`);
      const nameKey = x.name.toString('latin1');
      if (seenNames.has(nameKey)) continue;
      seenNames.add(nameKey);
      const item = { key, name: x.name, value: x.value };
      items.push(item);
      const k = sortKey(item).toString('latin1');
      useCount.set(k, (useCount.get(k) ?? 0) + 1);
      keys.push(k);
    }
    if (!known && !warned && own.length) fromList.set(own, { items: [...items], keys });
    let fingerprint: PlannedXattr | undefined;
    if (stamped) {
      // Never shared: the value is per content and only known once the data is read.
      fingerprint = {
        key: { nameIndex: XATTR_LONG_PREFIX | ishareId, suffix: Buffer.alloc(0) },
        name: fp.name, value: Buffer.alloc(fingerprintLength(fp.scheme)),
      };
      items.push(fingerprint);
    }
    if (!items.length) continue;
    anyXattr = true;
    n.ibody = { sharedIds: NO_IDS, inline: NO_XATTRS, nameFilter: 0, size: 0, fingerprint };
    itemsOf.set(n.ibody, { n, items });
  }
  return { longPrefixes, ishareId, itemsOf, useCount, anyXattr };
}

/**
 * The shared area at `sharedAreaStart` (every pair used by more than -x inodes, ordered by the sort
 * key), each inode's body (shared ids, inline entries, name filter, size), and the long-prefix table
 * after the shared area.
 */
export function placeXattrs(g: GatheredXattrs, o: BuildOptions, sharedAreaStart: number): XattrAreas {
  const { itemsOf, useCount, longPrefixes } = g;
  const sharedItems: PlannedXattr[] = [];
  const sharedSeen = new Set<string>();
  for (const [ib, { items }] of itemsOf) {
    for (const it of items) {
      if (it === ib.fingerprint) continue;
      const k = sortKey(it).toString('latin1');
      if ((useCount.get(k) ?? 0) > o.xattrTolerance && !sharedSeen.has(k)) {
        sharedSeen.add(k);
        sharedItems.push(it);
      }
    }
  }
  sharedItems.sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  const sharedId = new Map<string, number>();
  const sharedParts: Buffer[] = [];
  let sharedOff = sharedAreaStart;
  for (const it of sharedItems) {
    const b = Buffer.alloc(xattrEntrySize(it.key.suffix.length, it.value.length));
    const size = encodeXattrEntry(it.key, it.value, b, 0);
    sharedParts.push(b);
    // xattr_blkaddr is 0, so an id is the absolute byte offset / 4.
    sharedId.set(sortKey(it).toString('latin1'), sharedOff / 4);
    sharedOff += size;
  }
  const sharedArea = Buffer.concat(sharedParts);

  for (const [ib, { n, items }] of itemsOf) {
    items.sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
    let filterBits = 0;
    for (const it of items) {
      const id = it === ib.fingerprint ? undefined : sharedId.get(sortKey(it).toString('latin1'));
      if (id !== undefined) {
        if (ib.sharedIds === NO_IDS) ib.sharedIds = [];
        ib.sharedIds.push(id);
      } else {
        if (ib.inline === NO_XATTRS) ib.inline = [];
        ib.inline.push(it);
      }
      filterBits |= 1 << filterBitOf(it.key, longPrefixes);
    }
    ib.sharedIds.sort((a, b) => a - b);
    ib.nameFilter = o.xattrNameFilter ? ~filterBits >>> 0 : 0;
    if (ib.sharedIds.length > 255) throw new UserError(`${showPath(pathOf(n))}: more than 255 shared xattrs`);
    // Measured by the encoder the writer uses (the fingerprint's value has its final length already).
    const size = encodeXattrIbody(ib, undefined, 0);
    if (xattrIcount(size) > 0xffff) throw new UserError(`${showPath(pathOf(n))}: xattrs too large`);
    ib.size = size;
  }

  const prefixTable = encodePrefixTable(longPrefixes);
  const prefixTableStart = (sharedAreaStart + sharedArea.length + 3) & ~3;
  return { sharedArea, prefixTable, prefixTableStart };
}

function filterBitOf(key: XattrKey, longPrefixes: readonly LongPrefix[]): number {
  if (key.nameIndex & XATTR_LONG_PREFIX) {
    const lp = longPrefixes[key.nameIndex & 0x7f];
    return xattrFilterBit(lp.baseIndex, Buffer.concat([lp.infix, key.suffix]));
  }
  return xattrFilterBit(key.nameIndex, key.suffix);
}
