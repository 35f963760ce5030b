// The fs-verity digest of a whole file, as `fsverity digest` prints it and composefs/bootc pin it:
// a Merkle tree over 4096-byte blocks (the last one zero-padded) with SHA-256 and no salt, then
// SHA-256 of the 256-byte fsverity_descriptor holding the root hash and the file size
// (kernel Documentation/filesystems/fsverity.rst, "File digest computation").
import * as crypto from 'node:crypto';
import { verityLayout } from './params.js';
import { SaltedHasher, TreeAccumulator } from './tree.js';
import { readExactly, STREAM_CHUNK, type PositionedReader } from './io.js';

export const FS_VERITY_HASH_ALG_SHA256 = 1;
const FS_VERITY_LOG_BLOCKSIZE = 12;
const BLOCK = 1 << FS_VERITY_LOG_BLOCKSIZE;
const DESCRIPTOR_SIZE = 256;

/** "sha256:<hex>" of bytes [0, size) of the file. */
export function fsverityDigest(r: PositionedReader, size: number, what: string): string {
  let root: Buffer = Buffer.alloc(32);
  if (size > 0) {
    const blocks = Math.ceil(size / BLOCK);
    const layout = verityLayout({
      hash: 'sha256', dataBlockSize: BLOCK, hashBlockSize: BLOCK, dataBlocks: blocks, salt: new Uint8Array(0),
      uuid: new Uint8Array(16), superblock: false, hashOffset: 0,
    });
    const hasher = new SaltedHasher('sha256', new Uint8Array(0), BLOCK);
    const acc = new TreeAccumulator(layout, hasher, BLOCK);
    const buf = Buffer.alloc(STREAM_CHUNK);
    for (let pos = 0; pos < size; pos += buf.length) {
      const n = Math.min(buf.length, size - pos);
      readExactly(r, buf.subarray(0, n), pos, what);
      // The last block is hashed zero-padded to a whole block.
      const end = Math.ceil(n / BLOCK) * BLOCK;
      buf.fill(0, n, end);
      for (let off = 0; off < end; off += BLOCK) acc.push(hasher.digest(buf.subarray(off, off + BLOCK)));
    }
    root = acc.finish();
  }
  const d = Buffer.alloc(DESCRIPTOR_SIZE);
  d[0] = 1; // version
  d[1] = FS_VERITY_HASH_ALG_SHA256;
  d[2] = FS_VERITY_LOG_BLOCKSIZE;
  d[3] = 0; // salt_size
  d.writeBigUInt64LE(BigInt(size), 8);
  root.copy(d, 16);
  return `sha256:${crypto.createHash('sha256').update(d).digest('hex')}`;
}
