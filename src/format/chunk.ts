// Chunk-based inodes: the chunk map after the inode and its xattrs, one entry per chunk, in
// either form (4-byte block map or 8-byte chunk indexes). Encoder, decoder and the layout both use.
import {
  BLOCK_MAP_ENTRY_SIZE, CHUNK_INDEX_SIZE, CHUNK_FORMAT_INDEXES, CHUNK_FORMAT_BLKBITS_MASK, NULL_ADDR,
} from './constants.js';

/** Bytes of one map entry for a chunk format. */
export function chunkEntrySize(format: number): number {
  return format & CHUNK_FORMAT_INDEXES ? CHUNK_INDEX_SIZE : BLOCK_MAP_ENTRY_SIZE;
}

/** Chunks of a file of `size` bytes with chunks of 2^chunkbits bytes. */
export function chunkCount(size: number, chunkbits: number): number {
  return Math.ceil(size / 2 ** chunkbits);
}

/**
 * Where a chunk map lies, relative to the inode's first byte, after `inodeEnd` bytes of inode and
 * xattrs. The kernel reads entry i at ALIGN(iloc + isize + xattr_isize, unit) + i * unit
 * (data.c erofs_map_blocks); mkfs.erofs reserves roundup(isize + xattr_isize, 8) + count * unit,
 * the item size we place with (the block map form may leave 4 bytes unused at the end).
 */
export function chunkMapLayout(inodeEnd: number, count: number, format: number): { at: number; bytes: number; itemSize: number } {
  const unit = chunkEntrySize(format);
  const bytes = count * unit;
  return { at: Math.ceil(inodeEnd / unit) * unit, bytes, itemSize: Math.ceil(inodeEnd / 8) * 8 + bytes };
}

/**
 * Block of each chunk (NULL_ADDR: a hole, reads as zeros); block addresses are 32-bit, on device 0 or,
 * with chunk indexes, on `deviceId` (1: the first extra device of the device table).
 */
export function encodeChunkMap(blocks: readonly number[], format: number, out: Uint8Array, off: number, deviceId = 0): number {
  const unit = chunkEntrySize(format);
  const v = new DataView(out.buffer, out.byteOffset + off, blocks.length * unit);
  blocks.forEach((b, i) => {
    if (unit === BLOCK_MAP_ENTRY_SIZE) {
      v.setUint32(i * unit, b >>> 0, true);
    } else {
      v.setUint16(i * unit, 0, true);
      v.setUint16(i * unit + 2, b === NULL_ADDR ? 0 : deviceId, true);
      v.setUint32(i * unit + 4, b >>> 0, true);
    }
  });
  return blocks.length * unit;
}

export interface ChunkEntry {
  /** Start block, or NULL_ADDR for a hole. */
  blkaddr: number;
  deviceId: number;
  /** startblk_hi of a chunk index (nonzero only with 48-bit addresses). */
  startblkHi: number;
}

/** erofs_inode_chunk_index: __le16 startblk_hi, __le16 device_id, __le32 startblk_lo; a block map entry is one __le32. */
const O = { startblkHi: 0, deviceId: 2, startblkLo: 4, blkaddr: 0 } as const;

export function decodeChunkEntry(b: Uint8Array, off: number, format: number): ChunkEntry {
  const v = new DataView(b.buffer, b.byteOffset + off, chunkEntrySize(format));
  if (!(format & CHUNK_FORMAT_INDEXES)) return { blkaddr: v.getUint32(O.blkaddr, true), deviceId: 0, startblkHi: 0 };
  return { startblkHi: v.getUint16(O.startblkHi, true), deviceId: v.getUint16(O.deviceId, true), blkaddr: v.getUint32(O.startblkLo, true) };
}

/** Chunk size in bits for a chunk format on a filesystem of 2^blkszbits-byte blocks. */
export function chunkBitsOf(format: number, blkszbits: number): number {
  return blkszbits + (format & CHUNK_FORMAT_BLKBITS_MASK);
}

export { NULL_ADDR };
