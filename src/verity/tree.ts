// The dm-verity hash tree, format 1: each digest is H(salt ‖ block), digests are packed into hash
// blocks in slots padded to a power of two (the rest of a block is zero), levels are built until
// one block remains, the root hash is H(salt ‖ top block), and the levels are stored top first.
// Built bottom-up in one pass over the data: each level keeps only its block being filled, and
// full blocks go out to the hash device in batches, so memory stays a few blocks per level.
import * as crypto from 'node:crypto';
import { verityLayout, DIGEST_SIZE, type VerityHash, type VerityLayout, type VerityParams } from './params.js';
import { readExactly, streamBlocks, STREAM_CHUNK, type PositionedReader, type PositionedWriter } from './io.js';
import { addressDigest, addressOf, type AddressDigest } from '../sys/native-digest.js';
import { UserError } from '../errors.js';

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
  const { acc, writer, layout, hasher } = treeBuilder(out, p);
  const dbs = p.dataBlockSize;
  for (const { chunk } of streamBlocks(data, p.dataBlocks * dbs, dbs, what)) {
    for (let off = 0; off < chunk.length; off += dbs) acc.push(hasher.digest(chunk.subarray(off, off + dbs)));
  }
  const rootHash = acc.finish();
  writer?.flush();
  return { rootHash, layout };
}

function treeBuilder(out: PositionedWriter | null, p: VerityParams) {
  const layout = verityLayout(p);
  const hasher = new SaltedHasher(p.hash, p.salt, Math.max(p.dataBlockSize, p.hashBlockSize));
  const writer = out ? new LevelWriter(layout, p.hashBlockSize, out) : null;
  const acc = new TreeAccumulator(layout, hasher, p.hashBlockSize, writer ? (l, i, b) => writer.add(l, i, b) : undefined);
  return { acc, writer, layout, hasher };
}

/** What the leaf digests of a range of data blocks depend on: the hash, the salt, the block size. */
export interface LeafParams {
  hash: VerityHash;
  salt: Uint8Array;
  dataBlockSize: number;
}

/**
 * The leaf digests H(salt ‖ block) of data blocks [first, first + count), back to back (DIGEST_SIZE
 * bytes each): the level-0 input of the tree, for one range of the data. Ranges are independent, so
 * other threads can hash them (see buildHashTreeFrom). `native` false: node:crypto only (tests).
 */
export function leafDigests(data: PositionedReader, p: LeafParams, first: number, count: number, what: string, native = true): Uint8Array {
  const f = native ? addressDigest(p.hash) : undefined;
  if (f) return leafDigestsAt(f, data, p, first, count, what);
  const dbs = p.dataBlockSize;
  const ds = DIGEST_SIZE[p.hash];
  const hasher = new SaltedHasher(p.hash, p.salt, dbs);
  const out = new Uint8Array(count * ds);
  const buf = Buffer.allocUnsafe(Math.max(dbs, Math.floor(STREAM_CHUNK / dbs) * dbs));
  for (let done = 0; done < count;) {
    const n = Math.min(count - done, buf.length / dbs);
    const chunk = buf.subarray(0, n * dbs);
    readExactly(data, chunk, (first + done) * dbs, what);
    for (let i = 0; i < n; i++) out.set(hasher.digest(chunk.subarray(i * dbs, (i + 1) * dbs)), (done + i) * ds);
    done += n;
  }
  return out;
}

/**
 * leafDigests through OpenSSL by address (sys/native-digest.ts): the blocks are read (one preadv a
 * chunk) each behind its own copy of the salt, so that every H(salt ‖ block) is one call on bytes
 * already in place, its digest written straight into the result: no copy and no object per block.
 */
function leafDigestsAt(f: AddressDigest, data: PositionedReader, p: LeafParams, first: number, count: number, what: string): Uint8Array {
  const s = leafScratch(p, count, 1);
  for (let done = 0; done < count;) {
    const n = Math.min(count - done, s.per);
    readBlocks(data, n < s.per ? s.views[0].slice(0, n) : s.views[0], p.dataBlockSize, (first + done) * p.dataBlockSize, what);
    s.hash(f, 0, n, done);
    done += n;
  }
  return s.result;
}

/**
 * leafDigestsAt with the next chunk read (preadv) on one of libuv's threads while this one hashes
 * the last: for a thread that hashes alone (the seal command), the copy out of the page cache
 * leaves it. The same digests.
 */
async function leafDigestsAhead(f: AddressDigest, data: PositionedReader, readvAsync: NonNullable<PositionedReader['readvAsync']>, p: LeafParams, first: number, count: number, what: string): Promise<Uint8Array> {
  const s = leafScratch(p, count, 2);
  const dbs = p.dataBlockSize;
  const read = (done: number, k: number): Promise<void> | undefined => {
    if (done >= count) return undefined;
    const n = Math.min(count - done, s.per);
    const views = n < s.per ? s.views[k].slice(0, n) : s.views[k];
    const pos = (first + done) * dbs;
    // A short read goes on here (readBlocks), as leafDigestsAt's.
    const pr = readvAsync(views, pos).then((got) => { if (got < n * dbs) readBlocks(data, views, dbs, pos, what, got); });
    pr.catch(() => {});
    return pr;
  };
  let next = read(0, 0);
  for (let done = 0, k = 0; done < count; k ^= 1) {
    const n = Math.min(count - done, s.per);
    await next;
    // The other buffer was hashed last round: it takes the next chunk.
    next = read(done + n, k ^ 1);
    s.hash(f, k, n, done);
    done += n;
  }
  return s.result;
}

/**
 * Buffers for leaf digests by address: `sets` chunks of blocks, each block behind its own copy of
 * the salt (so that every H(salt ‖ block) is one call on bytes in place), and the result, its
 * digests written straight into it: no copy and no object per block.
 */
function leafScratch(p: LeafParams, count: number, sets: number) {
  const dbs = p.dataBlockSize;
  const ds = DIGEST_SIZE[p.hash];
  const out = Buffer.alloc(Math.max(count * ds, 128));
  const { per, views, at, stride } = saltedSets(p.salt, dbs, sets);
  const outAt = addressOf(out);
  return {
    per, views, result: out.subarray(0, count * ds),
    /** Hash the first n blocks of set k into digests done.. of the result. */
    hash(f: AddressDigest, k: number, n: number, done: number): void {
      for (let i = 0; i < n; i++) f(at[k] + i * stride, stride, outAt + (done + i) * ds);
    },
  };
}

/** The last salted chunk buffers made, kept for the next range of the same salt and block size. */
let lastSets: { salt: Uint8Array; dbs: number; sets: number; per: number; stride: number; views: Buffer[][]; at: number[]; bufs: Buffer[] } | undefined;

let setsMade = 0;
/** Salted chunk buffers made on this thread so far (tests: reused from range to range). */
export function saltedSetsMade(): number {
  return setsMade;
}

/**
 * `sets` chunk buffers of blocks each behind its own copy of the salt, reused from range to range
 * on a thread (a build hashes ~90 ranges on each: each new set was 1 MiB zeroed and 256 salt copies).
 * Callers on one thread finish with a set before the next range takes it (readBlocks and hash are
 * synchronous, and leafDigestsAhead asks for its own two sets, not these).
 */
function saltedSets(salt: Uint8Array, dbs: number, sets: number) {
  const l = lastSets;
  if (l && l.dbs === dbs && l.sets === sets && Buffer.compare(l.salt, salt) === 0) return l;
  const sl = salt.length;
  const stride = sl + dbs;
  const per = Math.max(1, Math.floor(STREAM_CHUNK / dbs));
  // All over 64 bytes (addressOf), and held until the last call.
  const bufs = Array.from({ length: sets }, () => Buffer.alloc(per * stride));
  for (const buf of bufs) for (let i = 0; i < per; i++) buf.set(salt, i * stride);
  const views = bufs.map((buf) => Array.from({ length: per }, (_, i) => buf.subarray(i * stride + sl, (i + 1) * stride)));
  const at = bufs.map((b) => addressOf(b));
  const made = { salt: Buffer.from(salt), dbs, sets, per, stride, views, at, bufs };
  setsMade++;
  if (sets === 1) lastSets = made;
  return made;
}

/** Fill every view (each `dbs` bytes) from pos on, in one preadv where the reader has it; `got`: bytes already there. */
function readBlocks(r: PositionedReader, views: Buffer[], dbs: number, pos: number, what: string, got = -1): void {
  const want = views.length * dbs;
  if (got < 0) got = r.readv ? r.readv(views, pos) : 0;
  // A short read (or a reader without readv) goes on block by block.
  while (got < want) {
    const v = views[Math.floor(got / dbs)];
    const n = r.read(v.subarray(got % dbs), pos + got);
    if (n === 0) throw new UserError(`${what}: ends at byte ${pos + got}, before byte ${pos + want}`);
    got += n;
  }
}

/** Leaf digests of a range, computed wherever the caller likes (a worker thread: see buildImage). */
export type LeafHasher = (p: LeafParams, first: number, count: number) => Promise<Uint8Array>;

/**
 * A LeafHasher on this thread, reading `data` (the seal command: no workers to lend) ahead of the
 * hashing where it can (readvAsync); one range at a time, in the order asked.
 */
export function localLeaves(data: PositionedReader, what: string): LeafHasher {
  let last: Promise<unknown> = Promise.resolve();
  return (p, first, count) => {
    const f = addressDigest(p.hash);
    const readvAsync = data.readvAsync;
    if (!f || !readvAsync) return Promise.resolve().then(() => leafDigests(data, p, first, count, what));
    const r = last.then(() => leafDigestsAhead(f, data, readvAsync, p, first, count, what));
    last = r.catch(() => {});
    return r;
  };
}

/**
 * Data blocks per range handed to a LeafHasher (4 MiB of 4 KiB blocks, ~2.5 ms to hash): the round
 * trip (~0.1 ms) stays small, and the threads finish within one small range of each other (16 MiB
 * ranges left one thread hashing alone for up to ~10 ms at the end of a build's seal).
 */
export const LEAF_RANGE_BLOCKS = 1024;
/** Ranges asked for ahead of the one the tree takes next: digests held at most this many ranges' worth. */
const LEAF_RANGES_AHEAD = 16;

/**
 * buildHashTree with the leaf digests computed by `leaves`, range by range, several ranges in
 * flight: the tree above them is built here in data-block order, so the bytes written and the root
 * are exactly buildHashTree's, wherever and in whatever order the ranges were hashed.
 */
export async function buildHashTreeFrom(leaves: LeafHasher, out: PositionedWriter | null, p: VerityParams): Promise<TreeResult> {
  const { acc, writer, layout } = treeBuilder(out, p);
  const ds = DIGEST_SIZE[p.hash];
  const lp: LeafParams = { hash: p.hash, salt: p.salt, dataBlockSize: p.dataBlockSize };
  const ranges = Math.ceil(p.dataBlocks / LEAF_RANGE_BLOCKS);
  const pending: Promise<Uint8Array>[] = [];
  const ask = (r: number) => {
    const first = r * LEAF_RANGE_BLOCKS;
    const pr = leaves(lp, first, Math.min(LEAF_RANGE_BLOCKS, p.dataBlocks - first));
    // Observed in order below; a later range failing first must not go unhandled meanwhile.
    pr.catch(() => {});
    pending.push(pr);
  };
  let asked = 0;
  for (; asked < Math.min(ranges, LEAF_RANGES_AHEAD); asked++) ask(asked);
  for (let r = 0; r < ranges; r++) {
    const d = await pending.shift()!;
    if (asked < ranges) ask(asked++);
    for (let off = 0; off < d.length; off += ds) acc.push(d.subarray(off, off + ds));
  }
  const rootHash = acc.finish();
  writer?.flush();
  return { rootHash, layout };
}
