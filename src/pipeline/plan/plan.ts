// plan(tree, options): everything decidable before reading file data, without I/O: the visit order
// (mkfs.erofs 1.9.3 order), final ownership and times, compact vs extended inodes, nlink, directory
// entries and sizes, xattr placement (shared area, inline entries, name filter), long-prefix table.
// Per-inode results go into the tree's inodes themselves (see Inode in source/tree.ts).
import {
  FEATURE_COMPAT_SB_CHKSUM, FEATURE_COMPAT_MTIME, FEATURE_COMPAT_XATTR_FILTER,
  FEATURE_COMPAT_PLAIN_XATTR_PFX, FEATURE_INCOMPAT_XATTR_PREFIXES, FEATURE_COMPAT_ISHARE_XATTRS, XATTR_LONG_PREFIX,
  S_IFMT, fileTypeOfMode, DIRENT_SIZE, FEATURE_INCOMPAT_LZ4_0PADDING,
  FEATURE_INCOMPAT_ZTAILPACKING, FEATURE_INCOMPAT_COMPR_CFGS, FEATURE_INCOMPAT_CHUNKED_FILE, FEATURE_INCOMPAT_DEVICE_TABLE,
} from '../../format/constants.js';
import { DEVT_SLOT_SIZE } from '../../format/device.js';
import { splitDirBlocks, type DirEntry } from '../../format/dirent.js';
import {
  keyOfName, longPrefixOf, xattrEntrySize, xattrFilterBit, encodeXattrEntry, encodePrefixTable,
  type XattrKey, type LongPrefix,
} from '../../format/xattr.js';
import { xattrIcount, encodeXattrIbody, type PlannedXattr } from '../../format/xattr-ibody.js';
import { configRecordsAt } from '../../format/superblock.js';
import { UserError } from '../../errors.js';
import { fingerprintLength } from '../../fingerprint/scheme.js';
import { codecAlgorithm } from '../../compress/codec.js';
import { COMPRESSION_LZ4, COMPRESSION_ZSTD, COMPRESSION_LZMA } from '../../format/zmap.js';
import { encodeLz4Cfgs, encodeDeflateCfgs, encodeZstdCfgs, encodeLzmaCfgs, encodeCfgRecords, DEFLATE_MAX_WINDOWBITS } from '../../format/compr-cfgs.js';
import { lzmaDefaultDictSize } from '../../compress/lzma-encoder.js';
import { zstdDefaultWindowLog } from '../../compress/zstd.js';
import { pathOf, compareLatin1, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { maxPclusterSize, type BuildOptions } from '../options.js';
import { hintFor } from './compress-hints.js';

/** One block of a directory: entries [start, end) of its dirEntryList, `used` bytes. */
export interface DirBlock {
  start: number;
  end: number;
  used: number;
}

/** A directory whose children all have nids (its entries can be written). */
export class DirDone {
  constructor(readonly p: Inode) {}
}
/** Writer steps in visit order: place an inode; or a directory done. One object per directory only. */
export type Step = Inode | DirDone;

const NO_IDS: number[] = [];
const NO_XATTRS: PlannedXattr[] = [];

export interface Plan {
  blockSize: number;
  blkszbits: number;
  steps: Step[];
  root: Inode;
  /** Directories: the split of the entries (see dirEntryList) into blocks. A map, not an inode field: few inodes are directories. */
  dirBlocks: Map<Inode, DirBlock[]>;
  inodeCount: number;
  epoch: bigint;
  fixedNsec: number;
  /** Every inode gets the build time (epoch, fixedNsec), whatever its own mtime (see mtimeOf). */
  fixedTime: boolean;
  /** SOURCE_DATE_EPOCH without -T: mtimes after it become it. */
  clampSec?: bigint;
  featureCompat: number;
  featureIncompat: number;
  /** Block-0 area after the superblock (and any config records): shared xattrs then prefix table. */
  sharedArea: Buffer;
  prefixTable: Buffer;
  prefixes: LongPrefix[];
  /** Absolute byte offsets. */
  sharedAreaStart: number;
  prefixTableStart: number;
  /** First byte the inode allocator may use. */
  metaStart: number;
  /** Long-prefix id of the fingerprint name (sb.ishare_xattr_prefix_id), or -1. */
  ishareId: number;
  /** Superblock u1: lz4_max_distance, or available_compr_algs with COMPR_CFGS. */
  u1: number;
  /** Compression config records written right after the superblock. */
  configRecords: Uint8Array;
  /** BIG_PCLUSTER (= COMPR_CFGS): CBLKCNT entries and big-pcluster advise bits in compressed files. */
  bigPcluster: boolean;
  /** Byte offset of the device table (a tar index image's one slot), or 0 for none. */
  devtAt: number;
  /**
   * --compress-hints: each regular file's pcluster size (0: not compressed) and -z algorithm index,
   * decided here from its path (first name in visit order, relative to the root).
   */
  zChoice?: Map<Inode, { pclusterSize: number; algorithm: number }>;
}

/**
 * Superblock compression settings (erofs-format.md §5 "Minimal sets"): LZ4 with one-block pclusters
 * needs only 0PADDING and lz4_max_distance; bigger pclusters or any other algorithm set COMPR_CFGS
 * (the same bit as BIG_PCLUSTER) and write one config record per algorithm.
 */
function compressionSuper(o: BuildOptions): { incompat: number; u1: number; records: Uint8Array; big: boolean } {
  if (!o.compression) return { incompat: 0, u1: 0, records: new Uint8Array(0), big: false };
  // Every -z algorithm is available (used or not, as mkfs.erofs), one config record per algorithm id
  // in ascending order (lz4 and lz4hc share id 0), each sized for the image's largest pcluster.
  const algs = [...new Set([o.compression.codec, ...(o.compression.alternatives ?? [])].map(codecAlgorithm))].sort((a, b) => a - b);
  const pcluster = maxPclusterSize(o.compression);
  const blocks = pcluster / o.blockSize;
  let incompat = FEATURE_INCOMPAT_LZ4_0PADDING | (o.compression.ztailpacking ? FEATURE_INCOMPAT_ZTAILPACKING : 0);
  if (algs.length === 1 && algs[0] === COMPRESSION_LZ4 && blocks === 1) return { incompat, u1: 65535, records: new Uint8Array(0), big: false };
  incompat |= FEATURE_INCOMPAT_COMPR_CFGS;
  const payloads = algs.map((alg) => (alg === COMPRESSION_LZ4
    ? encodeLz4Cfgs({ maxDistance: 65535, maxPclusterBlks: blocks })
    : alg === COMPRESSION_ZSTD
      // The window the encoder uses (zstdDefaultWindowLog) is the one the kernel must allow.
      ? encodeZstdCfgs({ windowSize: 2 ** zstdDefaultWindowLog(pcluster) })
      : alg === COMPRESSION_LZMA
        // The encoder's distances stay below this dictionary size (the kernel rejects farther ones).
        ? encodeLzmaCfgs({ dictSize: lzmaDefaultDictSize(pcluster) })
        : encodeDeflateCfgs({ windowBits: DEFLATE_MAX_WINDOWBITS })));
  return { incompat, u1: algs.reduce((a, alg) => a | (1 << alg), 0), records: encodeCfgRecords(payloads), big: true };
}

/** Path of an inode's first name relative to the root, e.g. "etc/hostname" ("" for the root). */
export function relPathOf(n: Inode): Buffer {
  const parts: string[] = [];
  for (let q = n; q.parent; q = q.parent) parts.push(q.name);
  return Buffer.from(parts.reverse().join('/'), 'latin1');
}

/**
 * The mtime an inode gets in the image. Computed, not stored in place: reads check a file against
 * the mtime the scan saw (see dataOf).
 */
export function mtimeOf(n: Inode, pl: Pick<Plan, 'epoch' | 'fixedNsec' | 'fixedTime' | 'clampSec'>): { sec: bigint; nsec: number } {
  if (pl.fixedTime) return { sec: pl.epoch, nsec: pl.fixedNsec };
  const sec = BigInt(n.mtimeSec);
  if (pl.clampSec !== undefined && (sec > pl.clampSec || (sec === pl.clampSec && n.mtimeNsec > 0))) {
    return { sec: pl.clampSec, nsec: 0 };
  }
  return { sec, nsec: n.mtimeNsec };
}

/** Bytes of the xattr region after an inode (0 = none). */
export function xattrSizeOf(n: Inode): number {
  return n.ibody?.size ?? 0;
}

function sortKey(x: PlannedXattr): Buffer {
  return Buffer.concat([x.name, Buffer.from([0]), x.value]);
}

export function plan(root: Inode, o: BuildOptions): Plan {
  const bs = o.blockSize;
  const blkszbits = Math.log2(bs);

  // Times: -T, else SOURCE_DATE_EPOCH (clamping newer mtimes), else the clock.
  let buildSec: bigint;
  let buildNsec: number;
  if (o.timestamp !== undefined) {
    buildSec = o.timestamp;
    buildNsec = 0;
  } else if (o.sourceDateEpoch !== undefined) {
    buildSec = o.sourceDateEpoch;
    buildNsec = 0;
  } else {
    ({ sec: buildSec, nsec: buildNsec } = o.now());
  }

  // Every inode the build time (-T with --all-time, --ignore-mtime), else SOURCE_DATE_EPOCH clamping.
  const times = {
    epoch: buildSec, fixedNsec: buildNsec, fixedTime: o.ignoreMtime || (o.timestamp !== undefined && o.timeMode === 'all'),
    clampSec: o.timestamp === undefined ? o.sourceDateEpoch : undefined,
  };

  // Visit order (mkfs.erofs 1.9.3): a directory's entries in name order, then its subdirectories.
  // An inode is numbered at its first name in this order (ino 0: not reached yet, so a tree is
  // planned once), and that name becomes the one pathOf and relPathOf follow.
  const steps: Step[] = [];
  const order: Inode[] = [];
  const visit = (n: Inode): void => {
    n.ino = order.length + 1;
    order.push(n);
    steps.push(n);
  };
  visit(root);
  const stack: Inode[] = [root];
  // Iterative DFS over directories keeps deep trees off the JS call stack.
  const visitDir = (dir: Inode): void => {
    const sub: Inode[] = [];
    const { names, inodes } = dir.entries!;
    for (let i = 0; i < inodes.length; i++) {
      const n = inodes[i];
      if (n.ino === 0) {
        n.name = names[i];
        n.parent = dir;
        visit(n);
      }
      if (n.kind === 'dir') sub.push(n);
    }
    steps.push(new DirDone(dir));
    for (let i = sub.length - 1; i >= 0; i--) stack.push(sub[i]);
  };
  while (stack.length) visitDir(stack.pop()!);

  // Ownership, nlink, directory entries and sizes.
  const dirBlocks = new Map<Inode, DirBlock[]>();
  for (const n of order) {
    if (o.allRoot) { n.uid = 0; n.gid = 0; }
    if (o.forceUid !== undefined) n.uid = o.forceUid;
    if (o.forceGid !== undefined) n.gid = o.forceGid;
    if (n.uid > 0xffffffff || n.gid > 0xffffffff || n.uid < 0 || n.gid < 0) {
      throw new UserError(`${showPath(pathOf(n))}: uid/gid out of range`);
    }
    if (n.kind === 'dir') {
      const blocks = splitDirBlocks(dirEntryList(n).map((e) => e.name), bs);
      dirBlocks.set(n, blocks);
      n.size = (blocks.length - 1) * bs + blocks[blocks.length - 1].used;
      n.links = 2 + n.entries!.inodes.filter((c) => c.kind === 'dir').length;
    } else if (n.kind === 'lnk') {
      if (n.size === 0) throw new UserError(`${showPath(pathOf(n))}: empty symlink target`);
    } else if (n.kind !== 'reg') {
      n.size = 0;
    }
  }

  // Xattrs: long prefixes, sharing, per-inode entries and filter.
  const prefixStrings = [...o.xattrPrefixes];
  const fp = o.fingerprint;
  let ishareId = -1;
  if (fp) {
    // The fingerprint name is itself a long prefix with an empty suffix (mkfs.erofs --xattr-inode-digest).
    ishareId = prefixStrings.findIndex((s) => s.equals(fp.name));
    if (ishareId < 0) ishareId = prefixStrings.push(fp.name) - 1;
  }
  const longPrefixes: LongPrefix[] = prefixStrings.map(longPrefixOf);
  const itemsOf = new Map<Inode, PlannedXattr[]>();
  const useCount = new Map<string, number>();
  let anyXattr = false;
  // -x -1 drops the source's xattrs, not the fingerprints asked for (as mkfs.erofs 1.9.3): an image
  // that declares a fingerprint name carries it on every non-empty regular file.
  const keepSource = o.xattrTolerance >= 0;
  const NO_SOURCE_XATTRS: typeof root.xattrs = [];
  for (const n of order) {
    if (!keepSource && !fp) break;
    const stamped = !!fp && n.kind === 'reg' && n.size > 0;
    const own = keepSource ? n.xattrs : NO_SOURCE_XATTRS;
    // Most inodes have neither: no item list, name set, map entry or ibody for them.
    if (!own.length && !stamped) continue;
    const items: PlannedXattr[] = [];
    const seenNames = new Set<string>();
    for (const x of own) {
      if (fp && x.name.equals(fp.name)) {
        o.warn(`${showPath(pathOf(n))}: source xattr ${showPath(x.name)} replaced by the computed fingerprint`);
        continue;
      }
      const key = keyOfName(x.name, prefixStrings);
      if (!key) {
        o.warn(`${showPath(pathOf(n))}: xattr ${showPath(x.name)} has no EROFS name prefix; skipped`);
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
    }
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
    itemsOf.set(n, items);
  }

  const compr = compressionSuper(o);
  // We write no superblock extension slots. A tar index image's device slot comes next (mkfs.erofs
  // allocates it right after the superblock, before anything else of block 0).
  const devtAt = o.tarIndex?.mode === 'tar' ? configRecordsAt(0) + compr.records.length : 0;
  const sharedAreaStart = configRecordsAt(0) + compr.records.length + (devtAt ? DEVT_SLOT_SIZE : 0);
  // Shared area: every pair used by more than `tolerance` inodes, ordered by the sort key.
  const sharedItems: PlannedXattr[] = [];
  const sharedSeen = new Set<string>();
  for (const [n, items] of itemsOf) {
    for (const it of items) {
      if (it === n.ibody!.fingerprint) continue;
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

  for (const [n, items] of itemsOf) {
    const ib = n.ibody!;
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
  const metaStart = (prefixTableStart + prefixTable.length + 31) & ~31;

  // Compact inodes where the rules allow (erofs-format.md §2): ids, nlink and size fit, and the
  // time equals the superblock's (epoch, fixed_nsec) exactly, so no nanosecond is lost.
  for (const n of order) {
    const t = mtimeOf(n, times);
    n.extended = o.inodeVersion === 'extended' || n.uid > 0xffff || n.gid > 0xffff || n.links > 0xffff || n.size > 0xffffffff
      || t.sec !== buildSec || t.nsec !== buildNsec;
    if (n.extended && o.inodeVersion === 'compact') throw new UserError(`file ${showPath(pathOf(n))} cannot be in compact form`);
  }

  let featureCompat = FEATURE_COMPAT_SB_CHKSUM | FEATURE_COMPAT_MTIME;
  if (anyXattr && o.xattrNameFilter) featureCompat |= FEATURE_COMPAT_XATTR_FILTER;
  let featureIncompat = compr.incompat;
  if (longPrefixes.length) {
    featureCompat |= FEATURE_COMPAT_PLAIN_XATTR_PFX;
    featureIncompat |= FEATURE_INCOMPAT_XATTR_PREFIXES;
  }
  if (fp) featureCompat |= FEATURE_COMPAT_ISHARE_XATTRS;
  // Set by --chunksize whether or not a file ends up chunk-based (mkfs.erofs sets it when parsing the option).
  if (o.chunks && !o.chunks.noFeatureBit) featureIncompat |= FEATURE_INCOMPAT_CHUNKED_FILE;
  // mkfs.erofs 1.9.3 leaves CHUNKED_FILE clear for index images (no --chunksize); kernels read chunk-based inodes anyway.
  if (devtAt) featureIncompat |= FEATURE_INCOMPAT_DEVICE_TABLE;
  let zChoice: Plan['zChoice'];
  const hints = o.compression?.hints;
  if (hints?.length) {
    zChoice = new Map();
    for (const n of order) {
      if (n.kind !== 'reg') continue;
      const h = hintFor(hints, relPathOf(n).toString('latin1'));
      zChoice.set(n, h ? { pclusterSize: h.pclusterSize, algorithm: h.algorithm } : { pclusterSize: o.compression!.pclusterSize, algorithm: 0 });
    }
  }
  return {
    zChoice,
    blockSize: bs, blkszbits, steps, root, dirBlocks, inodeCount: order.length,
    ...times, featureCompat, featureIncompat,
    sharedArea, prefixTable, prefixes: longPrefixes, sharedAreaStart, prefixTableStart, metaStart, ishareId,
    u1: compr.u1, configRecords: compr.records, bigPcluster: compr.big, devtAt,
  };
}

function filterBitOf(key: XattrKey, longPrefixes: readonly LongPrefix[]): number {
  if (key.nameIndex & XATTR_LONG_PREFIX) {
    const lp = longPrefixes[key.nameIndex & 0x7f];
    return xattrFilterBit(lp.baseIndex, Buffer.concat([lp.infix, key.suffix]));
  }
  return xattrFilterBit(key.nameIndex, key.suffix);
}

/** A directory's entries with "." and "..", in bytewise order (made when needed, not kept). */
export function dirEntryList(n: Inode): { name: string; node: Inode }[] {
  return [
    { name: '.', node: n },
    // The root is its own parent.
    { name: '..', node: n.parent ?? n },
    ...n.entries!.names.map((name, i) => ({ name, node: n.entries!.inodes[i] })),
  ].sort((a, b) => compareLatin1(a.name, b.name));
}

/** Directory entries of a planned directory with nids resolved. */
export function dirEntriesWithNids(n: Inode): DirEntry[] {
  return dirEntryList(n).map((e) => ({ name: Buffer.from(e.name, 'latin1'), nid: e.node.nid, fileType: fileTypeOfMode(e.node.mode & S_IFMT) }));
}

export { DIRENT_SIZE };
