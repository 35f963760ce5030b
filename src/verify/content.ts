// Decode one regular file and hash it while it streams: one reused 1 MiB buffer for flat (plain and
// inline) data, the reader's data() generator for every other layout (compressed files, through
// whatever decoder src/read installs). Memory stays bounded whatever the file sizes.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { blake3 } from '@noble/hashes/blake3.js';
import { INODE_FLAT_INLINE, INODE_FLAT_PLAIN } from '../format/constants.js';
import { imageLength, type ErofsImage, type InodeInfo } from '../read/image.js';
import { CorruptImageError, UserError } from '../errors.js';
import { flatDataLayout } from '../format/inode.js';

export interface ContentDigest {
  /** Bytes the decoder produced (equal to i_size, or decode() throws). */
  bytes: number;
  sha256?: Buffer;
  blake3?: Buffer;
}

export interface DigestWanted {
  sha256?: boolean;
  blake3?: boolean;
}

const BUFFER_SIZE = 1 << 20;

export class ContentReader {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(BUFFER_SIZE);

  constructor(private readonly img: ErofsImage) {
    try {
      this.fd = fs.openSync(img.path, 'r');
    } catch (e) {
      throw new UserError(`${img.path}: cannot open image: ${(e as Error).message}`);
    }
    if (imageLength(this.fd) !== img.length) {
      fs.closeSync(this.fd);
      throw new UserError(`${img.path}: image changed while being read`);
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /**
   * Decode `ino`'s content, hashing as asked. Errors are the reader's typed errors; a decoder that
   * yields a different number of bytes than i_size is a CorruptImageError.
   */
  decode(ino: InodeInfo, want: DigestWanted): ContentDigest {
    const sha = want.sha256 ? createHash('sha256') : null;
    const b3 = want.blake3 ? blake3.create() : null;
    let bytes = 0;
    const take = (chunk: Uint8Array): void => {
      sha?.update(chunk);
      b3?.update(chunk);
      bytes += chunk.length;
    };
    if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
      // The same extents ErofsImage.data() yields (test/verify.test.ts pins that both agree): whole
      // blocks from i_u, then for the inline layout the tail right after the inode's xattrs. The
      // reader's inode() already checked both ranges against the image length.
      const bs = this.img.blockSize;
      const { blockBytes, tail } = flatDataLayout(ino.size, bs, ino.datalayout === INODE_FLAT_INLINE);
      if (blockBytes > 0) this.readRange(ino.u * bs, blockBytes, ino.nid, take);
      if (tail > 0) this.readRange(ino.iloc + ino.isize + ino.xattrSize, tail, ino.nid, take);
    } else {
      // take() hashes each chunk at once: decoded extents may share memory.
      for (const chunk of this.img.data(ino, { transient: true })) take(chunk);
    }
    if (bytes !== ino.size) {
      throw new CorruptImageError('decoded length differs from i_size', `nid ${ino.nid}`, `${bytes} bytes decoded, i_size ${ino.size}`);
    }
    const out: ContentDigest = { bytes };
    if (sha) out.sha256 = sha.digest();
    if (b3) out.blake3 = Buffer.from(b3.digest());
    return out;
  }

  private readRange(off: number, len: number, nid: number, take: (c: Uint8Array) => void): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.img.length) {
      throw new CorruptImageError('reference beyond the end of the image', `nid ${nid}`, `bytes ${off}..${off + len} of ${this.img.length}`);
    }
    for (let pos = 0; pos < len;) {
      const n = fs.readSync(this.fd, this.buf, 0, Math.min(BUFFER_SIZE, len - pos), off + pos);
      if (n === 0) throw new CorruptImageError('short read', `nid ${nid}`);
      take(this.buf.subarray(0, n));
      pos += n;
    }
  }
}
