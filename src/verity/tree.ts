// The dm-verity hash tree, format 1: each digest is H(salt ‖ block), digests are packed into hash
// blocks in slots padded to a power of two (the rest of a block is zero), levels are built until
// one block remains, the root hash is H(salt ‖ top block), and the levels are stored top first.
// Built bottom-up in one pass over the data: each level keeps only its block being filled, and
// full blocks go out to the hash device in batches, so memory stays a few blocks per level.
import * as crypto from 'node:crypto';
import { verityLayout, type VerityLayout, type VerityParams } from './params.js';
import { streamBlocks, type PositionedReader, type PositionedWriter } from './io.js';

/** H(salt ‖ block) with the salt copied once into a scratch buffer (one-shot hashing is fastest). */
export class SaltedHasher {
  private readonly scratch: Buffer;
  constructor(private readonly alg: string, private readonly salt: Uint8Array, maxBlock: number) {
    this.scratch = Buffer.alloc(salt.length + maxBlock);
    this.scratch.set(salt, 0);
  }

  digest(block: Uint8Array): Buffer {
    this.scratch.set(block, this.salt.length);
    return crypto.hash(this.alg, this.scratch.subarray(0, this.salt.length + block.length), 'buffer');
  }
}

/**
 * Takes leaf digests in data-block order and builds the levels above them. `onBlock(level, index,
 * block)` receives each finished hash block (its buffer is reused afterwards); finish() returns the root.
 */
export class TreeAccumulator {
  private readonly current: Buffer[];
  private readonly filled: number[];
  private readonly done: number[];
  private root: Buffer | null = null;

  constructor(
    readonly layout: VerityLayout,
    private readonly hasher: SaltedHasher,
    hashBlockSize: number,
    private readonly onBlock?: (level: number, index: number, block: Buffer) => void,
  ) {
    const n = layout.levels.length;
    this.current = Array.from({ length: n }, () => Buffer.alloc(hashBlockSize));
    this.filled = new Array<number>(n).fill(0);
    this.done = new Array<number>(n).fill(0);
  }

  /** Add the digest of the next block of level `level - 1` (level 0 takes data-block digests). */
  push(digest: Uint8Array, level = 0): void {
    if (level === this.layout.levels.length) {
      // Only the top level's single block, or with no levels at all the single data block, gets here.
      this.root = Buffer.from(digest);
      return;
    }
    const block = this.current[level];
    block.set(digest, this.filled[level] * this.layout.slotSize);
    if (++this.filled[level] === this.layout.hashesPerBlock) this.close(level);
  }

  private close(level: number): void {
    const block = this.current[level];
    this.onBlock?.(level, this.done[level]++, block);
    const d = this.hasher.digest(block);
    block.fill(0);
    this.filled[level] = 0;
    this.push(d, level + 1);
  }

  /** Close the partly filled last block of each level, lowest first, and return the root hash. */
  finish(): Buffer {
    for (let level = 0; level < this.layout.levels.length; level++) {
      if (this.filled[level] > 0) this.close(level);
    }
    if (!this.root) throw new Error('verity tree: no root (no data blocks)');
    return this.root;
  }
}

/** Collects finished hash blocks per level and writes them to their place in runs of blocks. */
class LevelWriter {
  private readonly batch: Buffer[];
  private readonly used: number[];
  private readonly first: number[];
  private static readonly BATCH_BLOCKS = 64;

  constructor(private readonly layout: VerityLayout, private readonly hbs: number, private readonly out: PositionedWriter) {
    this.batch = layout.levels.map(() => Buffer.alloc(hbs * LevelWriter.BATCH_BLOCKS));
    this.used = layout.levels.map(() => 0);
    this.first = layout.levels.map(() => 0);
  }

  add(level: number, index: number, block: Buffer): void {
    if (this.used[level] === 0) this.first[level] = index;
    block.copy(this.batch[level], this.used[level] * this.hbs);
    if (++this.used[level] === LevelWriter.BATCH_BLOCKS) this.flushLevel(level);
  }

  private flushLevel(level: number): void {
    const n = this.used[level];
    if (!n) return;
    this.out.write(this.batch[level].subarray(0, n * this.hbs), (this.layout.levels[level].start + this.first[level]) * this.hbs);
    this.used[level] = 0;
  }

  flush(): void {
    for (let l = 0; l < this.layout.levels.length; l++) this.flushLevel(l);
  }
}

export interface TreeResult {
  rootHash: Buffer;
  layout: VerityLayout;
}

/**
 * Hash the data device's first p.dataBlocks blocks and write the tree's levels to `out` at their
 * places in the hash device (the superblock, when wanted, is the caller's). Streams the data.
 */
export function buildHashTree(data: PositionedReader, out: PositionedWriter | null, p: VerityParams, what: string): TreeResult {
  const layout = verityLayout(p);
  const hasher = new SaltedHasher(p.hash, p.salt, Math.max(p.dataBlockSize, p.hashBlockSize));
  const writer = out ? new LevelWriter(layout, p.hashBlockSize, out) : null;
  const acc = new TreeAccumulator(layout, hasher, p.hashBlockSize, writer ? (l, i, b) => writer.add(l, i, b) : undefined);
  const dbs = p.dataBlockSize;
  for (const { chunk } of streamBlocks(data, p.dataBlocks * dbs, dbs, what)) {
    for (let off = 0; off < chunk.length; off += dbs) acc.push(hasher.digest(chunk.subarray(off, off + dbs)));
  }
  const rootHash = acc.finish();
  writer?.flush();
  return { rootHash, layout };
}
