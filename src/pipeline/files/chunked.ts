// Chunk-based files (--chunksize): a file's data is cut into chunks of 2^chunkbits bytes; each chunk
// is stored once in the chunk blob (identical chunks of any files share one copy), all-zero chunks
// are holes, and the map after the inode points at each chunk. The blob is placed after every other
// block of the image, as mkfs.erofs 1.9.3 appends its blob (lib/blobchunk.c erofs_mkfs_dump_blobs),
// so the maps are written once its place is known.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { contentHasher } from '../../fingerprint/compute.js';
import { CHUNK_FORMAT_BLKBITS_MASK, CHUNK_FORMAT_INDEXES, NULL_ADDR } from '../../format/constants.js';
import { dataOf, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import { SourceReader } from './source-reader.js';
import { UserError } from '../../errors.js';
import type { ImageOutput } from '../io/output.js';
import type { ChunkOptions } from '../options.js';


/** A chunked file: its chunk format (i_u) and each chunk's block in the blob (NULL_ADDR: a hole). */
export interface ChunkedFile {
  format: number;
  blobBlocks: number[];
  digest?: Uint8Array;
}

/** Chunk sizes go up to 2^31 blocks (the format's 5 bits). */
const MAX_CHUNK_BLKBITS = CHUNK_FORMAT_BLKBITS_MASK;

/** Largest power of two dividing n (0 for 0). */
function lowbit(n: number): number {
  if (n === 0) return 0;
  let l = 1;
  while (n % (l * 2) === 0) l *= 2;
  return l;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The chunk blob: stored chunks back to back, each padded to whole blocks, and their digests. */
export class ChunkStore {
  /** Blocks of the blob so far. */
  blocks = 0;
  private readonly seen = new Map<string, number>();
  private buf: Buffer;

  /** `alignBlocks`: --dsunit (the blob itself is aligned where it is placed, see finishChunked). */
  constructor(readonly bs: number, readonly o: ChunkOptions, private readonly blob: ImageOutput, private readonly alignBlocks = 1) {
    this.buf = Buffer.alloc(Math.min(2 ** o.chunkbits, 1 << 24));
  }

  /** Store one chunk (or find its copy); returns its blob block. */
  private put(data: Uint8Array): number {
    const key = this.o.dedupe ? createHash('sha256').update(data).digest('base64') : undefined;
    if (key !== undefined) {
      const at = this.seen.get(key);
      if (at !== undefined) return at;
    }
    const at = this.blocks;
    this.blob.write(data, at * this.bs);
    this.blocks += Math.ceil(data.length / this.bs);
    if (key !== undefined) this.seen.set(key, at);
    return at;
  }

  /**
   * Chunk one regular file as mkfs.erofs 1.9.3 does (erofs_blob_write_chunked_file): holes, then
   * the largest chunk size (up to 2^31 blocks) that still maps every run of contiguous chunks.
   * Node has no SEEK_DATA: a hole is a whole all-zero chunk (mkfs.erofs deduplicates those to holes
   * as well); a short all-zero last chunk is a hole when the source file is sparse; a file with no
   * allocated block that reads all zeros is one hole chunk, as mkfs.erofs makes it.
   */
  chunkFile(p: Inode, path: string, algo?: 'sha256' | 'blake3'): ChunkedFile {
    const bs = this.bs;
    const blkszbits = Math.log2(bs);
    const size = p.size;
    const src = dataOf(p);
    let allocated = Infinity;
    if (src.type === 'path') {
      try {
        allocated = fs.statSync(src.path).blocks * 512;
      } catch {
        // The reader below reports the file's trouble.
      }
    }
    const sparse = allocated < size;
    let chunkbits = this.o.chunkbits;
    let fullySparse = false;
    if (allocated === 0 && size > 0) {
      fullySparse = this.allZero(p, path);
      if (fullySparse) chunkbits = Math.max(blkszbits, (size - 1).toString(2).length);
    }
    chunkbits = Math.min(chunkbits, blkszbits + MAX_CHUNK_BLKBITS);
    // --dsunit: each file's chunks start on a unit in the blob when a chunk holds whole units; with
    // smaller chunks a deduplicated chunk would misalign every later one, so mkfs.erofs 1.9.3 does
    // not align them (lib/blobchunk.c), and neither do we.
    const unit = this.alignBlocks;
    if (unit > 1 && unit <= 2 ** (chunkbits - blkszbits)) this.blocks = Math.ceil(this.blocks / unit) * unit;
    const chunkSize = 2 ** chunkbits;
    const h = contentHasher(algo);
    const entries: number[] = [];
    let minextblks = Math.ceil(size / bs);
    let intervalStart = 0;
    let last: number | undefined;
    const update = (end: number) => {
      const lb = lowbit(Math.floor((end - intervalStart) / bs));
      if (lb && lb < minextblks) minextblks = lb;
    };
    const r = new SourceReader({ data: src, path }, size);
    try {
      for (let pos = 0; pos < size;) {
        const len = Math.min(size - pos, chunkSize);
        let blk = NULL_ADDR;
        if (fullySparse) {
          // One hole chunk may be the whole file: read (for the fingerprint) in bounded pieces.
          for (let at = 0; at < len;) {
            const n = Math.min(len - at, 1 << 20);
            this.readInto(r, n, h, path);
            at += n;
          }
        } else {
          const data = this.readInto(r, len, h, path);
          const hole = isZero(data) && (len === chunkSize ? this.o.dedupe || sparse : sparse && pos + len === size);
          if (!hole) blk = this.put(data);
        }
        // A run continues when the chunk follows the last one in the blob, or both are holes.
        const contiguous = last === undefined || (last === NULL_ADDR ? blk === NULL_ADDR
          : blk !== NULL_ADDR && last + chunkSize / bs === blk);
        if (!contiguous) {
          update(pos);
          intervalStart = pos;
        }
        entries.push(blk);
        last = blk;
        pos += len;
      }
      r.finish();
    } finally {
      r.close();
    }
    update(size);
    // Merge runs into bigger chunks where every run is a whole number of them.
    let merged = entries;
    const newbits = Math.min(Math.floor(Math.log2(minextblks)) + blkszbits, blkszbits + MAX_CHUNK_BLKBITS);
    if (newbits > chunkbits) {
      const ratio = 2 ** (newbits - chunkbits);
      merged = [];
      for (let i = 0; i * 2 ** newbits < size; i++) merged.push(entries[i * ratio]);
      chunkbits = newbits;
    }
    const format = (chunkbits - blkszbits) | (this.o.indexes ? CHUNK_FORMAT_INDEXES : 0);
    return { format, blobBlocks: merged, digest: h?.digest() };
  }

  private readInto(r: SourceReader, len: number, h: { update(b: Uint8Array): unknown } | undefined, path: string): Uint8Array {
    if (this.buf.length < len) this.buf = Buffer.alloc(len);
    const b = this.buf.subarray(0, len);
    for (let got = 0; got < len;) {
      const n = r.read(b, got, len - got);
      if (n === 0) throw new UserError(`${showPath(path)}: file shrank during build`);
      got += n;
    }
    h?.update(b);
    return b;
  }

  /** A file with no allocated block: does it read all zeros (then it is all hole, as SEEK_DATA finds)? */
  private allZero(p: Inode, path: string): boolean {
    const r = new SourceReader({ data: dataOf(p), path }, p.size);
    try {
      const b = Buffer.alloc(Math.min(p.size, 1 << 20));
      for (;;) {
        const n = r.read(b, 0, b.length);
        if (n === 0) return true;
        if (!isZero(b.subarray(0, n))) return false;
      }
    } finally {
      r.close();
    }
  }
}
