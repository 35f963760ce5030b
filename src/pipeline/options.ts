// Build options as the core sees them: fully resolved, no optional knobs left to guess.
import type { WalkThreads } from '../source/dir-walk.js';
import { UserError } from '../errors.js';
import { availableParallelism } from 'node:os';
import type { FingerprintOptions } from '../fingerprint/compute.js';

export type { FingerprintOptions };
import { codecAlgorithm, type CodecSpec } from '../compress/codec.js';
import { COMPRESSION_LZ4, PCLUSTER_MAX_SIZE } from '../format/zmap.js';

/**
 * Largest lz4 pcluster, in blocks, that Linux mounts: it checks the lz4 config's max_pclusterblks
 * against Z_EROFS_PCLUSTER_MAX_SIZE in blocks of the superblock's size *before* switching to the
 * image's block size, i.e. in 4 KiB blocks (256), whatever -b is ("too large lz4 pclusterblks";
 * measured on 6.18: 256 blocks of 512 and 2048 B mount, 257 do not). mkfs.erofs 1.9.3 writes such
 * images anyway; we refuse them (found by the option matrix).
 */
export const LZ4_MOUNTABLE_PCLUSTER_BLKS = PCLUSTER_MAX_SIZE / 4096;
import type { Clock } from '../sys/clock.js';
import type { Inode } from '../source/tree.js';

import type { Progress } from '../progress.js';
export type { Progress };

export interface CompressionOptions {
  codec: CodecSpec;
  /** -C: largest pcluster in bytes, a multiple of the block size, at most 1 MiB. */
  pclusterSize: number;
  /** -E ztailpacking: the last pcluster inline after the indexes. */
  ztailpacking: boolean;
  /** -E dedupe: extents into earlier pclusters, identical or repeating their start (extent-dedupe.ts; such files get FULL indexes). */
  dedupe: boolean;
  /** -E legacy-compress: FULL indexes for every file. */
  legacyIndexes: boolean;
  /** --max-extent-bytes: no pcluster takes more than this many input bytes (at least a block). */
  maxExtentBytes?: number;
  /** -E fragments / all-fragments: file tails (or whole files) stored in the packed inode. */
  fragments?: FragmentOptions;
  /** -zA:B...: the algorithms after the first (`codec` is index 0), chosen per file by `hints`. */
  alternatives?: CodecSpec[];
  /** --compress-hints: per-path pcluster size and algorithm index, first match wins (see compress-hints.ts). */
  hints?: CompressHint[];
}

export interface FragmentOptions {
  /** -E all-fragments: whole files, not only their tails. */
  all: boolean;
  /**
   * -E fragdedupe: 'full' (default) reuses packed bytes that end with a fragment's bytes; 'inode'
   * only for whole-file fragments; 'off' never.
   */
  dedupe: 'full' | 'inode' | 'off';
  /** -E fragments=SIZE: pcluster size of the packed inode (default: -C). */
  packedPclusterSize: number;
}

export interface BuildOptions {
  blockSize: number;
  /** 16 bytes. */
  uuid: Uint8Array;
  /** Up to 16 bytes. */
  label: Buffer;
  /** -T: fixed build time. */
  timestamp?: bigint;
  /** With -T: 'all' sets every inode's mtime to it (mkfs.erofs --all-time, the default); 'mkfs' only the superblock. */
  timeMode: 'all' | 'mkfs';
  /** SOURCE_DATE_EPOCH when set and no -T: build time, and newer mtimes are clamped to it. */
  sourceDateEpoch?: bigint;
  /** Drop per-file mtimes (all become the build time) so compact inodes can be used. */
  ignoreMtime: boolean;
  allRoot: boolean;
  forceUid?: number;
  forceGid?: number;
  /**
   * -E force-inode-compact / force-inode-extended: every inode in one form. Compact fails on a
   * file that needs the extended form (ids or nlink over 65535, size over 4 GiB, a time other
   * than the build time: pair it with ignoreMtime, as mkfs.erofs does).
   */
  inodeVersion?: 'compact' | 'extended';
  /** Inline the tails of regular files (false for -E noinline_data). */
  inlineData: boolean;
  /**
   * mkfs.erofs --dsunit: every file's data (flat blocks, pclusters, the chunk blob and, when a chunk
   * holds whole units, each file's chunks in it) starts at a multiple of this many blocks (1: packed).
   */
  dataAlignBlocks?: number;
  /** -x: a (name, value) pair used by more than this many inodes is shared; < 0 drops all xattrs. */
  xattrTolerance: number;
  /** --xattr-prefix values (full prefix strings), in command-line order. */
  xattrPrefixes: Buffer[];
  /** Write the per-inode xattr name bloom filter (mkfs.erofs default). */
  xattrNameFilter: boolean;
  /** --cache DIR: reuse compressed segments from earlier builds (output identical to an uncached build). */
  cacheDir?: string;
  /** Worker threads for hashing and compression (output never depends on it). */
  workers: number;
  /** Compress regular files (-z); absent = uncompressed image. */
  compression?: CompressionOptions;
  /**
   * --chunksize: uncompressed regular files (all of them, or with -z those not worth compressing)
   * become chunk-based, chunks deduplicated across files, all-zero chunks holes.
   */
  chunks?: ChunkOptions;
  /** mkfs.erofs --tar=i / --tar=headerball: regular files' data stays in the archive (src/pipeline/files/tar-index.ts). */
  tarIndex?: TarIndexOptions;
  /** Stamp every non-empty regular file with a fingerprint xattr (page-cache-share.md). */
  fingerprint?: FingerprintOptions;
  /** Called as work advances (the CLI draws a progress bar from it on a terminal). */
  progress?: (p: Progress) => void;
  /** Time for progress throttling and its timer (default: the system clock); tests drive their own. */
  progressClock?: Clock;
  /** Tests: reorder each directory's names as readdir returns them (the image must not change). */
  readdirOrder?: (names: string[]) => string[];
  /** Walk threads for a directory scan (tests, benchmarks); by default one per core the workers leave free (walkThreadsFor). */
  walkThreads?: WalkThreads;
  /** The clock, for builds without -T or SOURCE_DATE_EPOCH: seconds and nanoseconds. */
  now: () => { sec: bigint; nsec: number };
  warn: (msg: string) => void;
}

export const BLOCK_SIZES = [512, 1024, 2048, 4096] as const;

/** The image's largest pcluster: -C, raised by any compress hint asking for more (as mkfs.erofs does). */
export function maxPclusterSize(c: CompressionOptions): number {
  return Math.max(c.pclusterSize, ...(c.hints ?? []).map((h) => h.pclusterSize));
}

export function defaultBuildOptions(over: Partial<BuildOptions> = {}): BuildOptions {
  const opts: BuildOptions = {
    blockSize: 4096,
    uuid: new Uint8Array(16),
    label: Buffer.alloc(0),
    timeMode: 'all',
    ignoreMtime: false,
    allRoot: false,
    inlineData: true,
    xattrTolerance: 2,
    xattrPrefixes: [],
    xattrNameFilter: true,
    workers: Math.max(1, availableParallelism()),
    now: () => {
      const ms = Date.now();
      return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 };
    },
    warn: () => {},
    ...over,
  };
  checkBuildOptions(opts);
  return opts;
}

export function checkBuildOptions(o: BuildOptions): void {
  if (!(BLOCK_SIZES as readonly number[]).includes(o.blockSize)) {
    throw new UserError(`block size ${o.blockSize}: must be one of ${BLOCK_SIZES.join(', ')}`);
  }
  if (o.uuid.length !== 16) throw new UserError('uuid must be 16 bytes');
  if (o.label.length > 16) throw new UserError(`label "${o.label}" is longer than 16 bytes`);
  if (o.xattrPrefixes.length > 128) throw new UserError('at most 128 --xattr-prefix values');
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 256) throw new UserError(`--workers ${o.workers}: must be 1..256`);
  if (o.compression) {
    const c = o.compression.pclusterSize;
    if (c < o.blockSize || c % o.blockSize || c > 1 << 20) {
      throw new UserError(`-C ${c}: pcluster size must be a multiple of the block size (${o.blockSize}) up to 1048576`);
    }
    const f = o.compression.fragments;
    if (f && (f.packedPclusterSize < o.blockSize || f.packedPclusterSize % o.blockSize || f.packedPclusterSize > c)) {
      throw new UserError(`-E fragments=${f.packedPclusterSize}: the packed inode's pcluster size must be a multiple of the block size (${o.blockSize}) up to -C (${c})`);
    }
    const m = o.compression.maxExtentBytes;
    if (m !== undefined && (!Number.isInteger(m) || m < o.blockSize)) {
      throw new UserError(`--max-extent-bytes ${m}: must be at least the block size (${o.blockSize})`);
    }
    const hinted = maxPclusterSize(o.compression);
    for (const h of o.compression.hints ?? []) {
      if (h.pclusterSize % o.blockSize || h.pclusterSize > 1 << 20) throw new UserError(`compress hint ${h.source}: pcluster size ${h.pclusterSize} must be a multiple of the block size (${o.blockSize}) up to 1048576`);
      if (h.algorithm >= 1 + (o.compression.alternatives?.length ?? 0)) throw new UserError(`compress hint ${h.source}: no algorithm #${h.algorithm} in -z`);
    }
    const specs = [o.compression.codec, ...(o.compression.alternatives ?? [])];
    if (specs.some((s) => codecAlgorithm(s) === COMPRESSION_LZ4) && hinted / o.blockSize > LZ4_MOUNTABLE_PCLUSTER_BLKS) {
      const most = LZ4_MOUNTABLE_PCLUSTER_BLKS * o.blockSize;
      throw new UserError(`-C ${hinted}: Linux does not mount lz4 pclusters of more than ${LZ4_MOUNTABLE_PCLUSTER_BLKS} blocks; with -b ${o.blockSize} use -C ${most} or less`);
    }
  }
  if (o.chunks) {
    const b = o.chunks.chunkbits;
    if (!Number.isInteger(b) || 2 ** b < o.blockSize || b - Math.log2(o.blockSize) > 31) {
      throw new UserError(`--chunksize ${2 ** b}: must be a power of two, at least the block size (${o.blockSize})`);
    }
  }
  if (o.tarIndex && (o.compression || o.chunks || o.fingerprint)) {
    throw new UserError('a tar index image keeps file data in the archive: no compression, --chunksize or fingerprints with it');
  }
  if (o.tarIndex?.mode === 'tar' && o.blockSize !== 512) throw new UserError('a tar index image has 512-byte blocks (the tar\'s)');
  if (o.fingerprint) {
    const f = o.fingerprint;
    if (f.name.length === 0 || f.name.length > 255) throw new UserError('--xattr-inode-digest: name must be 1..255 bytes');
    if (f.scheme === 'uuid' && !f.vendorNamespace && !f.assignUuid) {
      throw new UserError('--fingerprint uuid needs --vendor-namespace or --uuid-map');
    }
    if (o.xattrPrefixes.length >= 128) throw new UserError('at most 127 --xattr-prefix values with fingerprints');
  }
  for (const p of o.xattrPrefixes) {
    if (p.length === 0 || p.length > 255) throw new UserError(`--xattr-prefix "${p}": must be 1..255 bytes`);
  }
}

export interface ChunkOptions {
  /** log2 of --chunksize (at least the block size's). */
  chunkbits: number;
  /** -E force-chunk-indexes: 8-byte chunk indexes; otherwise the 4-byte block map. */
  indexes: boolean;
  /** Identical chunks stored once (mkfs.erofs unless -E ^dedupe); all-zero chunks are holes. */
  dedupe: boolean;
  /**
   * Leave FEATURE_INCOMPAT_CHUNKED_FILE clear: mkfs.erofs 1.9.3 sets it only for --chunksize, not for
   * the block-sized chunks -E dedupe without -z turns on (kernels read chunk-based inodes either way).
   */
  noFeatureBit?: boolean;
}

export interface TarIndexOptions {
  mode: 'tar' | 'headerball';
  /** Data offset of each regular file in the archive (see TarIndex in source/tar.ts). */
  offsets: Map<Inode, number>;
  /** Archive bytes up to its end-of-archive marker: the device's size. */
  archiveBytes: number;
}

export interface CompressHint {
  /** Bytes; 0 = not compressed. */
  pclusterSize: number;
  /** Index into the -z list. */
  algorithm: number;
  pattern: RegExp;
  /** The line's regex as written (messages). */
  source: string;
}
