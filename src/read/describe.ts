// Human-readable descriptions of superblocks and inodes (inspect, ls -l).
import {
  FEATURE_COMPAT_SB_CHKSUM, FEATURE_COMPAT_MTIME, FEATURE_COMPAT_XATTR_FILTER, FEATURE_COMPAT_SHARED_EA_IN_METABOX,
  FEATURE_COMPAT_PLAIN_XATTR_PFX, FEATURE_COMPAT_ISHARE_XATTRS, FEATURE_INCOMPAT_LZ4_0PADDING,
  FEATURE_INCOMPAT_COMPR_CFGS, FEATURE_INCOMPAT_CHUNKED_FILE, FEATURE_INCOMPAT_DEVICE_TABLE,
  FEATURE_INCOMPAT_ZTAILPACKING, FEATURE_INCOMPAT_FRAGMENTS, FEATURE_INCOMPAT_XATTR_PREFIXES,
  FEATURE_INCOMPAT_48BIT, FEATURE_INCOMPAT_METABOX, S_IFMT, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
} from '../format/constants.js';
import type { SuperBlock } from '../format/superblock.js';

export const COMPAT_NAMES: [number, string][] = [
  [FEATURE_COMPAT_SB_CHKSUM, 'sb_csum'], [FEATURE_COMPAT_MTIME, 'mtime'], [FEATURE_COMPAT_XATTR_FILTER, 'xattr_filter'],
  [FEATURE_COMPAT_SHARED_EA_IN_METABOX, 'shared_ea_in_metabox'], [FEATURE_COMPAT_PLAIN_XATTR_PFX, 'plain_xattr_pfx'],
  [FEATURE_COMPAT_ISHARE_XATTRS, 'ishare_xattrs'],
];
export const INCOMPAT_NAMES: [number, string][] = [
  [FEATURE_INCOMPAT_LZ4_0PADDING, '0padding'], [FEATURE_INCOMPAT_COMPR_CFGS, 'compr_cfgs/big_pcluster'],
  [FEATURE_INCOMPAT_CHUNKED_FILE, 'chunked_file'], [FEATURE_INCOMPAT_DEVICE_TABLE, 'device_table'],
  [FEATURE_INCOMPAT_ZTAILPACKING, 'ztailpacking'], [FEATURE_INCOMPAT_FRAGMENTS, 'fragments/dedupe'],
  [FEATURE_INCOMPAT_XATTR_PREFIXES, 'xattr_prefixes'], [FEATURE_INCOMPAT_48BIT, '48bit'], [FEATURE_INCOMPAT_METABOX, 'metabox'],
];

export function featureNames(bits: number, table: [number, string][]): string[] {
  const names = table.filter(([b]) => bits & b).map(([, n]) => n);
  const known = table.reduce((a, [b]) => a | b, 0);
  if (bits & ~known) names.push(`unknown(0x${(bits & ~known).toString(16)})`);
  return names;
}

export function formatUuid(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function superblockSummary(sb: SuperBlock, imageBytes: number) {
  const nul = sb.volumeName.indexOf(0);
  return {
    magic: '0xe0f5e1e2',
    blockSize: 1 << sb.blkszbits,
    blocks: sb.blocks,
    imageBytes,
    rootNid: sb.rootNid,
    inodes: Number(sb.inos),
    metaBlkaddr: sb.metaBlkaddr,
    xattrBlkaddr: sb.xattrBlkaddr,
    buildTime: sb.epoch.toString(),
    buildTimeNsec: sb.fixedNsec,
    uuid: formatUuid(sb.uuid),
    label: Buffer.from(sb.volumeName.subarray(0, nul < 0 ? 16 : nul)).toString(),
    checksum: `0x${sb.checksum.toString(16).padStart(8, '0')}`,
    featureCompat: featureNames(sb.featureCompat, COMPAT_NAMES),
    featureIncompat: featureNames(sb.featureIncompat, INCOMPAT_NAMES),
    xattrPrefixCount: sb.xattrPrefixCount,
    xattrPrefixStart: sb.xattrPrefixStart,
    ishareXattrPrefixId: sb.ishareXattrPrefixId,
    u1: sb.u1,
  };
}

export function modeString(mode: number): string {
  const t = mode & S_IFMT;
  const c = t === S_IFDIR ? 'd' : t === S_IFLNK ? 'l' : t === S_IFCHR ? 'c' : t === S_IFBLK ? 'b' : t === S_IFIFO ? 'p' : t === S_IFSOCK ? 's' : '-';
  const rwx = (bits: number, special: boolean, sc: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? sc : sc.toUpperCase()) : bits & 1 ? 'x' : '-');
  return c + rwx((mode >> 6) & 7, !!(mode & 0o4000), 's') + rwx((mode >> 3) & 7, !!(mode & 0o2000), 's') + rwx(mode & 7, !!(mode & 0o1000), 't');
}
