// What the superblock announces: compression settings and config records, the feature bits, and
// where block 0's areas (config records, device slot, shared xattrs) start.
import {
  FEATURE_COMPAT_SB_CHKSUM, FEATURE_COMPAT_MTIME, FEATURE_COMPAT_XATTR_FILTER,
  FEATURE_COMPAT_PLAIN_XATTR_PFX, FEATURE_INCOMPAT_XATTR_PREFIXES, FEATURE_COMPAT_ISHARE_XATTRS, FEATURE_INCOMPAT_LZ4_0PADDING,
  FEATURE_INCOMPAT_ZTAILPACKING, FEATURE_INCOMPAT_COMPR_CFGS, FEATURE_INCOMPAT_CHUNKED_FILE, FEATURE_INCOMPAT_DEVICE_TABLE,
} from '../../format/constants.js';
import { DEVT_SLOT_SIZE } from '../../format/device.js';
import { configRecordsAt } from '../../format/superblock.js';
import { codecAlgorithm } from '../../compress/codec.js';
import { COMPRESSION_LZ4, COMPRESSION_ZSTD, COMPRESSION_LZMA } from '../../format/zmap.js';
import { encodeLz4Cfgs, encodeDeflateCfgs, encodeZstdCfgs, encodeLzmaCfgs, encodeCfgRecords, DEFLATE_MAX_WINDOWBITS } from '../../format/compr-cfgs.js';
import { lzmaDefaultDictSize } from '../../compress/lzma-encoder.js';
import { zstdDefaultWindowLog } from '../../compress/zstd.js';
import { maxPclusterSize, type BuildOptions } from '../options.js';

export interface CompressionSuper {
  incompat: number;
  /** Superblock u1: lz4_max_distance, or available_compr_algs with COMPR_CFGS. */
  u1: number;
  /** Config records written right after the superblock. */
  records: Uint8Array;
  /** BIG_PCLUSTER (= COMPR_CFGS). */
  big: boolean;
}

/**
 * Superblock compression settings (erofs-format.md §5 "Minimal sets"): LZ4 with one-block pclusters
 * needs only 0PADDING and lz4_max_distance; bigger pclusters or any other algorithm set COMPR_CFGS
 * (the same bit as BIG_PCLUSTER) and write one config record per algorithm.
 */
export function compressionSuper(o: BuildOptions): CompressionSuper {
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

/**
 * Block 0 after the superblock: the config records, then (a tar index image) the device slot, then
 * the shared xattrs. We write no superblock extension slots; mkfs.erofs allocates the device slot
 * right after the superblock, before anything else of block 0.
 */
export function block0Layout(o: BuildOptions, compr: CompressionSuper): { devtAt: number; sharedAreaStart: number } {
  const devtAt = o.tarIndex?.mode === 'tar' ? configRecordsAt(0) + compr.records.length : 0;
  const sharedAreaStart = configRecordsAt(0) + compr.records.length + (devtAt ? DEVT_SLOT_SIZE : 0);
  return { devtAt, sharedAreaStart };
}

/** The feature bits of the image (FRAGMENTS is added by the writer, once it knows there is a packed inode). */
export function featureBits(o: BuildOptions, compr: CompressionSuper, x: { anyXattr: boolean; longPrefixes: number }, devtAt: number): { featureCompat: number; featureIncompat: number } {
  let featureCompat = FEATURE_COMPAT_SB_CHKSUM | FEATURE_COMPAT_MTIME;
  if (x.anyXattr && o.xattrNameFilter) featureCompat |= FEATURE_COMPAT_XATTR_FILTER;
  let featureIncompat = compr.incompat;
  if (x.longPrefixes) {
    featureCompat |= FEATURE_COMPAT_PLAIN_XATTR_PFX;
    featureIncompat |= FEATURE_INCOMPAT_XATTR_PREFIXES;
  }
  if (o.fingerprint) featureCompat |= FEATURE_COMPAT_ISHARE_XATTRS;
  // Set by --chunksize whether or not a file ends up chunk-based (mkfs.erofs sets it when parsing the option).
  if (o.chunks && !o.chunks.noFeatureBit) featureIncompat |= FEATURE_INCOMPAT_CHUNKED_FILE;
  // mkfs.erofs 1.9.3 leaves CHUNKED_FILE clear for index images (no --chunksize); kernels read chunk-based inodes anyway.
  if (devtAt) featureIncompat |= FEATURE_INCOMPAT_DEVICE_TABLE;
  return { featureCompat, featureIncompat };
}
