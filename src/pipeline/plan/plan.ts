// plan(tree, options): everything decidable before reading file data, without I/O, in named steps:
//   1. the build time (times.ts) and the visit order, which numbers and names the inodes (visit-order.ts);
//   2. ownership, nlink, directory blocks and sizes (inode-forms.ts settleInodes);
//   3. each inode's xattrs (xattrs.ts gatherXattrs);
//   4. compression settings and config records, block 0's layout (features.ts);
//   5. the shared xattr area and each inode's xattr body, the long-prefix table (xattrs.ts placeXattrs);
//   6. compact vs extended inodes (inode-forms.ts chooseInodeForms);
//   7. the feature bits (features.ts) and, with --compress-hints, each file's compression.
// Per-inode results go into the tree's inodes themselves (see Inode in source/tree.ts).
import type { LongPrefix } from '../../format/xattr.js';
import type { Inode } from '../../source/tree.js';
import type { BuildOptions } from '../options.js';
import { compressChoiceOf } from './compress-hints.js';
import { visitOrder, type Step } from './visit-order.js';
import { buildTimes } from './times.js';
import { settleInodes, chooseInodeForms, type DirBlock } from './inode-forms.js';
import { gatherXattrs, placeXattrs } from './xattrs.js';
import { compressionSuper, block0Layout, featureBits } from './features.js';

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

export function plan(root: Inode, o: BuildOptions): Plan {
  const bs = o.blockSize;
  const times = buildTimes(o);
  const { steps, order } = visitOrder(root);
  const dirBlocks = settleInodes(order, o);
  const xattrs = gatherXattrs(order, o);
  const compr = compressionSuper(o);
  const { devtAt, sharedAreaStart } = block0Layout(o, compr);
  const { sharedArea, prefixTable, prefixTableStart } = placeXattrs(xattrs, o, sharedAreaStart);
  const metaStart = (prefixTableStart + prefixTable.length + 31) & ~31;
  chooseInodeForms(order, o, times);
  const { featureCompat, featureIncompat } = featureBits(o, compr, { anyXattr: xattrs.anyXattr, longPrefixes: xattrs.longPrefixes.length }, devtAt);
  return {
    zChoice: compressChoices(order, o),
    blockSize: bs, blkszbits: Math.log2(bs), steps, root, dirBlocks, inodeCount: order.length,
    ...times, featureCompat, featureIncompat,
    sharedArea, prefixTable, prefixes: xattrs.longPrefixes, sharedAreaStart, prefixTableStart, metaStart, ishareId: xattrs.ishareId,
    u1: compr.u1, configRecords: compr.records, bigPcluster: compr.big, devtAt,
  };
}

/**
 * --compress-hints: each regular file's pcluster size and algorithm, from the first hint matching its
 * path (relative to the root, by its first name in visit order); -C and the first algorithm otherwise.
 */
function compressChoices(order: readonly Inode[], o: BuildOptions): Plan['zChoice'] {
  const hints = o.compression?.hints;
  if (!hints?.length) return undefined;
  const zChoice: NonNullable<Plan['zChoice']> = new Map();
  for (const n of order) {
    if (n.kind === 'reg') zChoice.set(n, compressChoiceOf(n, o));
  }
  return zChoice;
}
