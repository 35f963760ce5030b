// The superblock (erofs_super_block, 128 bytes at byte 1024): encoder, decoder and checksum.
import {
  SUPER_OFFSET, SUPER_MAGIC_V1, SUPER_BASE_SIZE, FEATURE_COMPAT_SB_CHKSUM, MIN_BLKSZBITS, MAX_BLKSZBITS,
  ALL_FEATURE_INCOMPAT, FEATURE_INCOMPAT_48BIT, FEATURE_INCOMPAT_METABOX,
} from './constants.js';
import { crc32cRaw } from './crc32c.js';
import { CorruptImageError, UnsupportedFeatureError } from '../errors.js';

export interface SuperBlock {
  checksum: number;
  featureCompat: number;
  blkszbits: number;
  sbExtslots: number;
  rootNid: number;
  inos: bigint;
  /** Base seconds of compact-inode times (old name build_time). */
  epoch: bigint;
  fixedNsec: number;
  blocks: number;
  metaBlkaddr: number;
  xattrBlkaddr: number;
  uuid: Uint8Array; // 16 bytes
  volumeName: Uint8Array; // 16 bytes, NUL padded
  featureIncompat: number;
  /** lz4_max_distance, or available_compr_algs when COMPR_CFGS is set. */
  u1: number;
  extraDevices: number;
  devtSlotoff: number;
  dirblkbits: number;
  xattrPrefixCount: number;
  xattrPrefixStart: number;
  packedNid: bigint;
  xattrFilterReserved: number;
  ishareXattrPrefixId: number;
  buildTime: number;
  rootNid8b: bigint;
}

/** Field offsets within the superblock, in 16-byte rows. */
const O = {
  magic: 0x00, checksum: 0x04, featureCompat: 0x08, blkszbits: 0x0c, sbExtslots: 0x0d, rootNid: 0x0e,
  inos: 0x10, epoch: 0x18,
  fixedNsec: 0x20, blocks: 0x24, metaBlkaddr: 0x28, xattrBlkaddr: 0x2c,
  uuid: 0x30,
  volumeName: 0x40,
  featureIncompat: 0x50, u1: 0x54, extraDevices: 0x56, devtSlotoff: 0x58, dirblkbits: 0x5a,
  xattrPrefixCount: 0x5b, xattrPrefixStart: 0x5c,
  packedNid: 0x60, xattrFilterReserved: 0x68, ishareXattrPrefixId: 0x69, buildTime: 0x6c,
  rootNid8b: 0x70,
} as const;
/** The field offsets within the superblock, named as SuperBlock's fields (for annotated dumps). */
export const SUPERBLOCK_FIELDS: Readonly<Record<string, number>> = O;

export function encodeSuperBlock(sb: SuperBlock): Uint8Array {
  const b = new Uint8Array(configRecordsAt(sb.sbExtslots) - SUPER_OFFSET);
  const v = new DataView(b.buffer);
  v.setUint32(O.magic, SUPER_MAGIC_V1, true);
  v.setUint32(O.checksum, sb.checksum, true);
  v.setUint32(O.featureCompat, sb.featureCompat, true);
  v.setUint8(O.blkszbits, sb.blkszbits);
  v.setUint8(O.sbExtslots, sb.sbExtslots);
  v.setUint16(O.rootNid, sb.rootNid, true);
  v.setBigUint64(O.inos, sb.inos, true);
  v.setBigUint64(O.epoch, sb.epoch, true);
  v.setUint32(O.fixedNsec, sb.fixedNsec, true);
  v.setUint32(O.blocks, sb.blocks, true);
  v.setUint32(O.metaBlkaddr, sb.metaBlkaddr, true);
  v.setUint32(O.xattrBlkaddr, sb.xattrBlkaddr, true);
  b.set(sb.uuid.subarray(0, 16), O.uuid);
  b.set(sb.volumeName.subarray(0, 16), O.volumeName);
  v.setUint32(O.featureIncompat, sb.featureIncompat, true);
  v.setUint16(O.u1, sb.u1, true);
  v.setUint16(O.extraDevices, sb.extraDevices, true);
  v.setUint16(O.devtSlotoff, sb.devtSlotoff, true);
  v.setUint8(O.dirblkbits, sb.dirblkbits);
  v.setUint8(O.xattrPrefixCount, sb.xattrPrefixCount);
  v.setUint32(O.xattrPrefixStart, sb.xattrPrefixStart, true);
  v.setBigUint64(O.packedNid, sb.packedNid, true);
  v.setUint8(O.xattrFilterReserved, sb.xattrFilterReserved);
  v.setUint8(O.ishareXattrPrefixId, sb.ishareXattrPrefixId);
  v.setUint32(O.buildTime, sb.buildTime, true);
  v.setBigUint64(O.rootNid8b, sb.rootNid8b, true);
  return b;
}

/** Decode and check the superblock. `block` holds the image bytes from offset 1024 on (at least 128). */
export function decodeSuperBlock(b: Uint8Array): SuperBlock {
  if (b.length < SUPER_BASE_SIZE) throw new CorruptImageError('image too small for a superblock', 'superblock');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = v.getUint32(O.magic, true);
  if (magic !== SUPER_MAGIC_V1) {
    throw new CorruptImageError('bad magic', 'superblock', `0x${magic.toString(16)}, not an EROFS image`);
  }
  const sb: SuperBlock = {
    checksum: v.getUint32(O.checksum, true),
    featureCompat: v.getUint32(O.featureCompat, true),
    blkszbits: v.getUint8(O.blkszbits),
    sbExtslots: v.getUint8(O.sbExtslots),
    rootNid: v.getUint16(O.rootNid, true),
    inos: v.getBigUint64(O.inos, true),
    epoch: v.getBigUint64(O.epoch, true),
    fixedNsec: v.getUint32(O.fixedNsec, true),
    blocks: v.getUint32(O.blocks, true),
    metaBlkaddr: v.getUint32(O.metaBlkaddr, true),
    xattrBlkaddr: v.getUint32(O.xattrBlkaddr, true),
    uuid: b.slice(O.uuid, O.uuid + 16),
    volumeName: b.slice(O.volumeName, O.volumeName + 16),
    featureIncompat: v.getUint32(O.featureIncompat, true),
    u1: v.getUint16(O.u1, true),
    extraDevices: v.getUint16(O.extraDevices, true),
    devtSlotoff: v.getUint16(O.devtSlotoff, true),
    dirblkbits: v.getUint8(O.dirblkbits),
    xattrPrefixCount: v.getUint8(O.xattrPrefixCount),
    xattrPrefixStart: v.getUint32(O.xattrPrefixStart, true),
    packedNid: v.getBigUint64(O.packedNid, true),
    xattrFilterReserved: v.getUint8(O.xattrFilterReserved),
    ishareXattrPrefixId: v.getUint8(O.ishareXattrPrefixId),
    buildTime: v.getUint32(O.buildTime, true),
    rootNid8b: v.getBigUint64(O.rootNid8b, true),
  };
  // super.c: blkszbits must lie in [9, PAGE_SHIFT].
  if (sb.blkszbits < MIN_BLKSZBITS || sb.blkszbits > MAX_BLKSZBITS) {
    throw new CorruptImageError('unsupported block size', 'superblock', `blkszbits ${sb.blkszbits}`);
  }
  // super.c: a non-zero dirblkbits is rejected.
  if (sb.dirblkbits !== 0) throw new CorruptImageError('dirblkbits must be 0', 'superblock');
  const unknown = sb.featureIncompat & ~ALL_FEATURE_INCOMPAT;
  if (unknown) {
    throw new UnsupportedFeatureError(`superblock: unknown incompatible features 0x${unknown.toString(16)}`);
  }
  if (sb.featureIncompat & (FEATURE_INCOMPAT_48BIT | FEATURE_INCOMPAT_METABOX)) {
    throw new UnsupportedFeatureError('superblock: 48-bit layout and metabox are not supported by this reader');
  }
  if (sb.sbExtslots !== 0) throw new UnsupportedFeatureError('superblock: extended superblock slots are not supported');
  return sb;
}

/** Bytes covered by the superblock checksum: [1024, 1024 + len). */
export function checksumLength(blockSize: number): number {
  return blockSize > SUPER_OFFSET ? blockSize - SUPER_OFFSET : blockSize;
}

/** The checksum over `region` (image bytes from 1024, checksumLength long) with the checksum field taken as zero. */
export function superBlockChecksum(region: Uint8Array): number {
  let c = crc32cRaw(0xffffffff, region, 0, O.checksum);
  c = crc32cRaw(c, new Uint8Array(4));
  return crc32cRaw(c, region, O.checksum + 4, region.length);
}

/** Where the superblock starts in an image. */
export const SUPER_BLOCK_AT = SUPER_OFFSET;

/** Where the compression configuration records start: right after the superblock and its extension slots (16 B each). */
export function configRecordsAt(sbExtslots: number): number {
  return SUPER_OFFSET + SUPER_BASE_SIZE + sbExtslots * 16;
}

/** Random access to an image being sealed: an output file, or bytes in memory. */
export interface ImageAccess {
  read(buf: Uint8Array, position: number): number;
  write(buf: Uint8Array, position: number): void;
}

/**
 * Seal the superblock: compute the checksum over [1024, 1024 + checksumLength) as the image holds it
 * now and store it in the checksum field. Call it last, after everything the region covers is written.
 */
export function sealSuperBlock(image: ImageAccess, blockSize: number): void {
  const region = new Uint8Array(checksumLength(blockSize));
  image.read(region, SUPER_OFFSET);
  const field = new Uint8Array(4);
  new DataView(field.buffer).setUint32(0, superBlockChecksum(region), true);
  image.write(field, SUPERBLOCK_CHECKSUM_OFFSET);
}

/** sealSuperBlock for an image held in memory (from byte 0). */
export function stampSuperBlockChecksum(image: Uint8Array, blockSize: number): void {
  sealSuperBlock({
    read: (buf, at) => { buf.set(image.subarray(at, at + buf.length)); return buf.length; },
    write: (buf, at) => { image.set(buf, at); },
  }, blockSize);
}

export function verifySuperBlockChecksum(sb: SuperBlock, region: Uint8Array): void {
  if (!(sb.featureCompat & FEATURE_COMPAT_SB_CHKSUM)) return;
  const want = superBlockChecksum(region);
  if (want !== sb.checksum) {
    throw new CorruptImageError('bad superblock checksum', 'superblock',
      `stored 0x${sb.checksum.toString(16)}, computed 0x${want.toString(16)}`);
  }
}

export const SUPERBLOCK_CHECKSUM_OFFSET = SUPER_OFFSET + O.checksum;
