// Check a sealed image against a root hash the way the kernel trusts it: top down. The top hash
// block must hash to the root, every hash block to its slot in a trusted parent, every data block
// to its slot in a trusted leaf block. The first block that breaks the chain is named: a hash block
// (level, index, byte offset) or a data block (index, byte range, and the file it belongs to). The
// data are streamed once; only the levels above the leaves are held (1/128 of the leaves or less).
import { verityLayout, DIGEST_SIZE, hex, type VerityLayout, type VerityParams } from './params.js';
import { SaltedHasher, TreeAccumulator } from './tree.js';
import { readExactly, streamBlocks, type PositionedReader } from './io.js';

export type VerityProblemCode = 'verity-superblock' | 'verity-root-hash' | 'verity-hash-block' | 'verity-data-block' | 'verity-signature';

export interface VerityProblem {
  code: VerityProblemCode;
  message: string;
  /** verity-data-block: the first data block (of dataBlockSize bytes) that fails its hash. */
  dataBlock?: number;
  /** verity-hash-block: the first damaged hash block, as a block index in the hash device. */
  hashBlock?: number;
}

export interface SealCheck {
  /** Root hash of the tree recomputed from the data. */
  computedRoot: Buffer;
  problems: VerityProblem[];
  /** How many data blocks failed (beyond the first one named). */
  badDataBlocks: number;
}

/** Reads runs of hash blocks from the hash device, a window at a time. */
class BlockWindow {
  private buf: Buffer;
  private first = -1;
  private count = 0;
  constructor(private readonly r: PositionedReader, private readonly hbs: number, private readonly what: string, private readonly size = 64) {
    this.buf = Buffer.alloc(hbs * size);
  }

  /** Hash block `abs` (index in the hash device), valid until the next call. */
  get(abs: number, last: number): Buffer {
    if (abs < this.first || abs >= this.first + this.count) {
      this.first = abs;
      this.count = Math.min(this.size, last - abs);
      readExactly(this.r, this.buf.subarray(0, this.count * this.hbs), abs * this.hbs, this.what);
    }
    const off = (abs - this.first) * this.hbs;
    return this.buf.subarray(off, off + this.hbs);
  }
}

export function checkSeal(data: PositionedReader, hash: PositionedReader, p: VerityParams, expectedRoot: Uint8Array, what: { data: string; hash: string }): SealCheck {
  const layout: VerityLayout = verityLayout(p);
  const { levels, hashesPerBlock: hpb, slotSize } = layout;
  const hbs = p.hashBlockSize;
  const dsize = DIGEST_SIZE[p.hash];
  const hasher = new SaltedHasher(p.hash, p.salt, Math.max(p.dataBlockSize, hbs));
  const problems: VerityProblem[] = [];
  const L = levels.length;
  const slot = (blocks: Buffer, j: number): Buffer => {
    const off = Math.floor(j / hpb) * hbs + (j % hpb) * slotSize;
    return blocks.subarray(off, off + dsize);
  };
  let topHash: Buffer | null = null;
  let badHash: { level: number; index: number } | null = null;
  let leafTrusted = new Uint8Array(0);
  if (L > 0) {
    const top = Buffer.alloc(hbs);
    readExactly(hash, top, levels[L - 1].start * hbs, what.hash);
    topHash = hasher.digest(top);
    let parent: Buffer | null = top;
    let trusted = Uint8Array.of(topHash.equals(expectedRoot) ? 1 : 0);
    for (let level = L - 2; level >= 0; level--) {
      const lv = levels[level];
      const mine = new Uint8Array(lv.blocks);
      const keep: Buffer | null = level >= 1 ? Buffer.alloc(lv.blocks * hbs) : null;
      const window = new BlockWindow(hash, hbs, what.hash);
      for (let j = 0; j < lv.blocks; j++) {
        const block = window.get(lv.start + j, lv.start + lv.blocks);
        keep && block.copy(keep, j * hbs);
        const parentOk = trusted[Math.floor(j / hpb)] === 1;
        const ok = parentOk && hasher.digest(block).equals(slot(parent!, j));
        if (parentOk && !ok && !badHash) badHash = { level, index: j };
        mine[j] = ok ? 1 : 0;
      }
      parent = keep;
      trusted = mine;
    }
    leafTrusted = trusted;
  }

  // The data, once: each digest checked against a trusted leaf and fed to a fresh tree for the root.
  const acc = new TreeAccumulator(layout, hasher, hbs);
  const leaves = L > 0 ? new BlockWindow(hash, hbs, what.hash) : null;
  const dbs = p.dataBlockSize;
  let firstBad = -1;
  let badData = 0;
  for (const { chunk, pos } of streamBlocks(data, p.dataBlocks * dbs, dbs, what.data)) {
    for (let off = 0; off < chunk.length; off += dbs) {
      const k = (pos + off) / dbs;
      const d = hasher.digest(chunk.subarray(off, off + dbs));
      acc.push(d);
      if (!leaves) continue;
      const j = Math.floor(k / hpb);
      if (!leafTrusted[j]) continue;
      const leaf = leaves.get(levels[0].start + j, levels[0].start + levels[0].blocks);
      const want = leaf.subarray((k % hpb) * slotSize, (k % hpb) * slotSize + dsize);
      if (!d.equals(want)) {
        if (firstBad < 0) firstBad = k;
        badData++;
      }
    }
  }
  const computedRoot = acc.finish();

  const stored = topHash ?? computedRoot; // with one data block the "top" is the data block itself
  if (!stored.equals(expectedRoot)) {
    if (topHash && computedRoot.equals(topHash)) {
      problems.push({ code: 'verity-root-hash', message: `root hash mismatch: the data and hash tree seal to ${hex(computedRoot)}, not ${hex(expectedRoot)}` });
    } else if (topHash && computedRoot.equals(expectedRoot)) {
      const abs = levels[L - 1].start;
      problems.push({ code: 'verity-hash-block', hashBlock: abs, message: `hash block ${abs} (top level, bytes ${abs * hbs}..${(abs + 1) * hbs} of ${what.hash}) is damaged: it does not hash to the root hash` });
    } else {
      problems.push({ code: 'verity-root-hash', message: `root hash mismatch: the top of the hash tree does not hash to ${hex(expectedRoot)} (the data hash to ${hex(computedRoot)}; damaged tree or superblock, or another root hash)` });
    }
  }
  if (badHash) {
    const abs = levels[badHash.level].start + badHash.index;
    problems.push({ code: 'verity-hash-block', hashBlock: abs, message: `hash block ${abs} (level ${badHash.level} block ${badHash.index}, bytes ${abs * hbs}..${(abs + 1) * hbs} of ${what.hash}) is damaged: it does not match its parent's hash` });
  }
  if (firstBad >= 0) {
    problems.push({ code: 'verity-data-block', dataBlock: firstBad, message: `data block ${firstBad} (bytes ${firstBad * dbs}..${(firstBad + 1) * dbs}) does not match its hash${badData > 1 ? ` (${badData} data blocks fail)` : ''}` });
  }
  return { computedRoot, problems, badDataBlocks: badData };
}
