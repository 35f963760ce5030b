// Tar index images (mkfs.erofs --tar=i) and headerballs (--tar=headerball): metadata only, every
// regular file's data left where it is. mkfs.erofs 1.9.3 (lib/blobchunk.c tarerofs_write_chunkes,
// erofs_write_zero_inode; read for facts) makes each such file chunk-based with one chunk as large
// as the file (2^ceil(log2 size), at least a block, at most 2^31 blocks):
//   - --tar=i: 512-byte blocks, one device slot for the tar (mapped right after the metadata, where
//     the caller appends the tar), chunk indexes pointing at device 1, block = data offset / 512;
//   - headerball: the block size asked for, no device, a block map of holes (files read as zeros).
import { CHUNK_FORMAT_BLKBITS_MASK, CHUNK_FORMAT_INDEXES, NULL_ADDR } from '../../format/constants.js';
import type { Inode } from '../../source/tree.js';
import type { TarIndexOptions } from '../options.js';


/** The device the tar is (chunk indexes name it; 0 is the image itself). */
export const TAR_DEVICE_ID = 1;

/** An indexed file's chunk format and map entries (block on TAR_DEVICE_ID, or NULL_ADDR holes). */
export function indexedChunks(size: number, offset: number, mode: TarIndexOptions['mode'], blkszbits: number): { format: number; blocks: number[] } {
  const chunkbits = Math.min(Math.max(blkszbits, (size - 1).toString(2).length), blkszbits + CHUNK_FORMAT_BLKBITS_MASK);
  const count = Math.ceil(size / 2 ** chunkbits);
  const blocks: number[] = [];
  for (let i = 0; i < count; i++) {
    blocks.push(mode === 'tar' ? (offset + i * 2 ** chunkbits) / 2 ** blkszbits : NULL_ADDR);
  }
  return { format: (chunkbits - blkszbits) | (mode === 'tar' ? CHUNK_FORMAT_INDEXES : 0), blocks };
}
