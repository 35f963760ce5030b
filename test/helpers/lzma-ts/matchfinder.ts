/**
 * The match finder of our LZMA encoder: binary trees over 4-byte hashes, with exact 2-byte and
 * hashed 3-byte heads for the short matches ("bt4", the kind liblzma's normal mode uses; written from
 * the algorithm's description). Each position is inserted once, in order: find() reports its matches,
 * skip() only inserts it (inside a match that is taken whole).
 *
 * Every tree node has two children: strings smaller and greater than its own (compared from the
 * first byte). Inserting a position walks the tree of its hash from the newest node, hangs the nodes
 * it passes under the new one as it goes (so the new position becomes the root), and stops after
 * `depth` nodes, at the dictionary's edge, or at a match of the length limit (whose subtrees the new
 * node takes over). Matches come out in the order of the walk: each longer than the one before, at
 * the nearest distance for its length that the walk saw.
 *
 * Positions are global across calls (`base` + index into the call's input); a call starts at least a
 * dictionary further than the last one ended, so nothing from an earlier call is ever within reach
 * and the tables need no clearing between calls.
 */
import { MATCH_LEN_MAX } from '../../../src/compress/lzma-model.js';

/**
 * The heads are indexed as liblzma's bt4 indexes them (its hash_4_calc: the CRC-32 table of the first
 * byte, XORed with the next bytes; 10-bit 2-byte heads, 16-bit 3-byte heads, 4-byte heads as wide as
 * the dictionary rounded up, at least 16 bits). Which position a head remembers decides which matches
 * the trees hold and which short matches are seen, so the same hashes make the same parse choices
 * as mkfs.erofs's encoder: with an exact 2-byte head and other 3/4-byte hashes, streams of whole
 * small files came out up to 1 % (typically a byte) longer or shorter than liblzma's.
 */
const HASH2_SIZE = 1 << 10;
const HASH3_SIZE = 1 << 16;
const CRC32_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** The 4-byte head mask for a dictionary: its size - 1 with every lower bit set, halved, at least 16 bits. */
export function hash4Mask(dictSize: number): number {
  let hs = dictSize - 1;
  hs |= hs >>> 1;
  hs |= hs >>> 2;
  hs |= hs >>> 4;
  hs |= hs >>> 8;
  hs >>>= 1;
  hs |= 0xffff;
  if (hs > 1 << 24) hs >>>= 1;
  return hs;
}
/** A head no position reaches: farther than any dictionary. */
const EMPTY = -0x40000000;
const BASE_LIMIT = 0x3fffffff;

export class Bt4MatchFinder {
  private readonly head2 = new Int32Array(HASH2_SIZE).fill(EMPTY);
  private readonly head3 = new Int32Array(HASH3_SIZE).fill(EMPTY);
  private readonly head4: Int32Array;
  private readonly mask4: number;
  /** Children of the node at cyclic position c: son[2c] (smaller), son[2c + 1] (greater). */
  private readonly son: Int32Array;
  /** Distances below this (dictionary size + 1) are reachable. */
  private readonly cyclic: number;
  private base = 0;
  /** Cyclic slot of position `next`. */
  private cycNext = 0;
  private src: Uint8Array = new Uint8Array(0);
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private n = 0;
  /** The next position to insert. */
  next = 0;
  /** Matches of the last find(): lengths ascending, distances as coded (distance - 1). */
  readonly lens = new Int32Array(MATCH_LEN_MAX + 2);
  readonly dists = new Int32Array(MATCH_LEN_MAX + 2);
  count = 0;
  /** Position of the last find(), whose matches are still in lens/dists. */
  lastPos = -1;

  constructor(dictSize: number, readonly depth: number, readonly nice: number) {
    this.cyclic = dictSize + 1;
    this.son = new Int32Array(2 * this.cyclic);
    this.mask4 = hash4Mask(dictSize);
    this.head4 = new Int32Array(this.mask4 + 1).fill(EMPTY);
  }

  /** Start a call on src[0, n). */
  reset(src: Uint8Array, n: number): void {
    this.base += this.next + this.cyclic;
    if (this.base + n > BASE_LIMIT) {
      this.head2.fill(EMPTY);
      this.head3.fill(EMPTY);
      this.head4.fill(EMPTY);
      this.base = 0;
    }
    this.src = src;
    this.dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    this.n = n;
    this.next = 0;
    this.cycNext = this.base % this.cyclic;
    this.count = 0;
    this.lastPos = -1;
  }

  /** Insert positions up to `end` (exclusive) without reporting matches. */
  skipTo(end: number): void {
    while (this.next < end) this.insert(this.next, false);
  }

  /**
   * Matches at `pos` (every position before it inserted): fills lens/dists and returns how many.
   * The longest is extended past `nice` up to the input's end or MATCH_LEN_MAX. Asking again for the
   * same position returns the same matches without inserting it twice.
   */
  find(pos: number): number {
    if (pos === this.lastPos) return this.count;
    if (pos < this.next) throw new RangeError(`match finder: position ${pos} asked after ${this.next}`);
    this.skipTo(pos);
    this.insert(pos, true);
    this.lastPos = pos;
    const c = this.count;
    if (c > 0) {
      const best = this.lens[c - 1];
      const avail = Math.min(this.n - pos, MATCH_LEN_MAX);
      if (best === this.nice && best < avail) {
        const src = this.src;
        const from = pos - this.dists[c - 1] - 1;
        let l = best;
        while (l < avail && src[from + l] === src[pos + l]) l++;
        this.lens[c - 1] = l;
      }
    }
    return c;
  }

  private insert(pos: number, report: boolean): void {
    // pos === this.next: positions go in one by one, in order
    const cyc = this.cycNext;
    this.next = pos + 1;
    this.cycNext = cyc + 1 === this.cyclic ? 0 : cyc + 1;
    this.count = 0;
    const src = this.src;
    const avail = this.n - pos;
    // The last 3 bytes of the input are neither searched nor inserted (liblzma's bt4 runs only with 4
    // bytes ahead): no short match there, as in mkfs.erofs's streams.
    if (avail < 4) return;
    const g = this.base + pos;
    const cyclic = this.cyclic;
    const lens = this.lens;
    const dists = this.dists;
    const b0 = src[pos];
    const b1 = src[pos + 1];
    const b2 = src[pos + 2];
    const temp = CRC32_TABLE[b0] ^ b1;
    const h2 = temp & (HASH2_SIZE - 1);
    const h3 = (temp ^ (b2 << 8)) & (HASH3_SIZE - 1);
    const h4 = (temp ^ (b2 << 8) ^ (CRC32_TABLE[src[pos + 3]] << 5)) & this.mask4;
    let d2 = g - this.head2[h2];
    const d3 = g - this.head3[h3];
    let cur = this.head4[h4];
    this.head2[h2] = g;
    this.head3[h3] = g;
    this.head4[h4] = g;
    const limit = Math.min(avail, this.nice);
    let best = 1;
    let cnt = 0;
    if (report) {
      if (d2 < cyclic && src[pos - d2] === b0 && src[pos - d2 + 1] === b1) {
        // (the hash of an equal first byte is exact in the second: the first byte decides)
        best = 2;
        lens[0] = 2;
        dists[0] = d2 - 1;
        cnt = 1;
      }
      if (d2 !== d3 && d3 < cyclic && src[pos - d3] === b0 && src[pos - d3 + 1] === b1 && src[pos - d3 + 2] === b2) {
        best = 3;
        dists[cnt++] = d3 - 1;
        d2 = d3;
      }
      if (cnt > 0) {
        let l = best;
        const from = pos - d2;
        while (l < limit && src[from + l] === src[pos + l]) l++;
        best = l;
        lens[cnt - 1] = l;
        if (l === limit) {
          this.count = cnt;
          report = false; // the tree walk below only inserts
        }
      }
      if (best < 3) best = 3;
    }
    // Tree walk (insert pos as the new root of its hash's tree).
    const son = this.son;
    const dv = this.dv;
    let ptr1 = 2 * cyc; // where the next smaller node hangs
    let ptr0 = 2 * cyc + 1; // where the next greater node hangs
    let len0 = 0;
    let len1 = 0;
    for (let depth = this.depth; ; depth--) {
      const delta = g - cur;
      if (depth === 0 || delta >= cyclic) {
        son[ptr0] = EMPTY;
        son[ptr1] = EMPTY;
        break;
      }
      const cc = cyc - delta;
      const pair = 2 * (cc < 0 ? cc + cyclic : cc);
      const from = pos - delta;
      let len = len0 < len1 ? len0 : len1;
      if (src[from + len] === src[pos + len]) {
        len++;
        // four bytes at a time while they fit, then byte by byte
        while (len + 4 <= limit && dv.getInt32(from + len, true) === dv.getInt32(pos + len, true)) len += 4;
        while (len < limit && src[from + len] === src[pos + len]) len++;
        if (report && len > best) {
          best = len;
          lens[cnt] = len;
          dists[cnt] = delta - 1;
          cnt++;
        }
        if (len >= limit) {
          son[ptr1] = son[pair];
          son[ptr0] = son[pair + 1];
          break;
        }
      }
      if (src[from + len] < src[pos + len]) {
        son[ptr1] = cur;
        ptr1 = pair + 1;
        cur = son[ptr1];
        len1 = len;
      } else {
        son[ptr0] = cur;
        ptr0 = pair;
        cur = son[ptr0];
        len0 = len;
      }
    }
    if (report) this.count = cnt;
  }
}
