/**
 * Our MicroLZMA encoder with native "destsize" (compress as much input as fits N bytes), written from
 * the LZMA format description. No maintained npm package exposes raw LZMA1 with a fixed output size:
 * lzma-native binds an xz 5.2.3 from 2017 (no MicroLZMA, raw LZMA1 always ends with an end marker,
 * asynchronous API), and @napi-rs/lzma (lzma-rust2) has only whole .lzma/.xz streams whose encoder
 * set-up (8 MiB dictionary at its fixed preset) costs ~29 ms per call, i.e. ~30 minutes for a 400 MB
 * tree at 4 KiB pclusters. So the encoder is ours:
 *
 *  - Match finder: hash chains over 3-byte prefixes (depth and "nice" length by level), distances
 *    below the dictionary size the image declares (z_erofs_lzma_cfgs.dict_size).
 *  - Parser: a price-based optimal parse per block (up to OPT_MAX positions): every position keeps its
 *    cheapest path with the LZMA state and the four rep distances it leads to; literals, short reps,
 *    rep matches and normal matches are priced with tables refreshed from the adaptive probabilities.
 *  - Range coder: decisions are encoded one by one; after each, the size the stream would have if it
 *    were flushed now is known exactly (bytes out + pending + 4), so the stream stops at the last
 *    decision that still fits the pcluster and is flushed there. No search over the input length.
 *  - MicroLZMA framing (see microlzma.ts): the range coder's first byte (always 0) becomes ~props.
 * The output is a pure function of (input, capacity, level, dictionary size).
 */
import {
  LzmaModel, LenModel, encodePropsByte, TOP, MOVE_BITS, BIT_MODEL_TOTAL, LIT_STATES, DIST_STATES, END_POS_MODEL,
  START_POS_MODEL, ALIGN_BITS, LEN_LOW_SYMBOLS, LEN_MID_SYMBOLS, MATCH_LEN_MIN, MATCH_LEN_MAX, FULL_DISTANCES,
  litStateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep, type LzmaProps,
} from './lzma-model.js';

/** mkfs.erofs 1.9.3 (liblzma presets): levels 0..9 and 100..109 ("extreme"), default 6. */
export const LZMA_DEFAULT_LEVEL = 6;
/** lc 3, lp 0, pb 2: liblzma's preset properties, which mkfs.erofs uses. */
export const LZMA_PROPS: LzmaProps = { lc: 3, lp: 0, pb: 2 };

/** The dictionary mkfs.erofs 1.9.3 declares: 4 x the largest pcluster, at least 32 KiB, at most 8 MiB. */
export function lzmaDefaultDictSize(pclusterMax: number): number {
  return Math.min(8 << 20, Math.max(32 << 10, 4 * pclusterMax));
}

export function lzmaLevelValid(level: number): boolean {
  return Number.isInteger(level) && ((level >= 0 && level <= 9) || (level >= 100 && level <= 109));
}

// ---- prices (1/16 bit units) -----------------------------------------------------------------

const PRICE_SHIFT = 4;
const PRICES = new Uint32Array(BIT_MODEL_TOTAL >> PRICE_SHIFT);
for (let i = 0; i < PRICES.length; i++) {
  PRICES[i] = Math.round(-Math.log2(((i << PRICE_SHIFT) + (1 << (PRICE_SHIFT - 1))) / BIT_MODEL_TOTAL) * 16);
}
const price0 = (p: number) => PRICES[p >>> PRICE_SHIFT];
const price1 = (p: number) => PRICES[(BIT_MODEL_TOTAL - p) >>> PRICE_SHIFT];
const priceBit = (p: number, b: number) => (b ? price1(p) : price0(p));
const DIRECT_BIT_PRICE = 16;
const INFINITY = 0x3fffffff;

function treePrice(p: Uint16Array, base: number, bits: number, v: number): number {
  let m = 1;
  let s = 0;
  for (let k = bits - 1; k >= 0; k--) {
    const b = (v >>> k) & 1;
    s += priceBit(p[base + m], b);
    m = (m << 1) | b;
  }
  return s;
}
function reverseTreePrice(p: Uint16Array, base: number, bits: number, v: number): number {
  let m = 1;
  let s = 0;
  for (let k = 0; k < bits; k++) {
    const b = (v >>> k) & 1;
    s += priceBit(p[base + m], b);
    m = (m << 1) | b;
  }
  return s;
}

function distSlot(dist: number): number {
  if (dist < START_POS_MODEL) return dist;
  const n = 31 - Math.clz32(dist);
  return 2 * n + ((dist >>> (n - 1)) & 1);
}

// ---- range encoder ---------------------------------------------------------------------------

class RangeEncoder {
  low = 0; // up to 33 bits: a double
  range = 0xffffffff;
  cache = 0;
  cacheSize = 1;
  out: Uint8Array;
  n = 0;
  constructor(cap: number) {
    this.out = new Uint8Array(cap + 16);
  }
  reset(): void {
    this.low = 0;
    this.range = 0xffffffff;
    this.cache = 0;
    this.cacheSize = 1;
    this.n = 0;
  }
  /** Bytes the stream would have if flushed now: written + pending + the 4 that flushing adds. */
  flushedSize(): number {
    return this.n + this.cacheSize + 4;
  }
  private put(b: number): void {
    if (this.n >= this.out.length) {
      const o = new Uint8Array(this.out.length * 2);
      o.set(this.out);
      this.out = o;
    }
    this.out[this.n++] = b;
  }
  shiftLow(): void {
    const lo32 = this.low % 0x100000000;
    const carry = this.low >= 0x100000000 ? 1 : 0;
    if (lo32 < 0xff000000 || carry) {
      let temp = this.cache;
      do {
        this.put((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = lo32 >>> 24;
    }
    this.cacheSize++;
    this.low = (lo32 & 0x00ffffff) * 256;
  }
  bit(p: Uint16Array, i: number, b: number): void {
    const prob = p[i];
    const bound = (this.range >>> 11) * prob;
    if (b === 0) {
      this.range = bound;
      p[i] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      p[i] = prob - (prob >>> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }
  direct(v: number, bits: number): void {
    for (let k = bits - 1; k >= 0; k--) {
      this.range >>>= 1;
      if ((v >>> k) & 1) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }
  tree(p: Uint16Array, base: number, bits: number, v: number): void {
    let m = 1;
    for (let k = bits - 1; k >= 0; k--) {
      const b = (v >>> k) & 1;
      this.bit(p, base + m, b);
      m = (m << 1) | b;
    }
  }
  reverseTree(p: Uint16Array, base: number, bits: number, v: number): void {
    let m = 1;
    for (let k = 0; k < bits; k++) {
      const b = (v >>> k) & 1;
      this.bit(p, base + m, b);
      m = (m << 1) | b;
    }
  }
  flush(): void {
    for (let k = 0; k < 5; k++) this.shiftLow();
  }
}

// ---- level parameters --------------------------------------------------------------------------

interface LevelParams {
  depth: number;
  nice: number;
}
function levelParams(level: number): LevelParams {
  const l = level >= 100 ? level - 100 : level;
  // Hash chains need more steps than liblzma's binary trees to find as long matches: 6 walks 96
  // (64 KiB pclusters, 6 MB sample: 48 -> 96 steps saved 1.7 % for no measurable time; 256 steps or
  // nice 128 saved 0.7 % more for 1.7-2.2x the time, which is what levels 8 and 9 buy).
  const depth = [8, 12, 16, 24, 48, 64, 96, 128, 192, 256][l];
  const nice = [32, 32, 48, 48, 64, 64, 64, 96, 128, MATCH_LEN_MAX][l];
  const r = level >= 100 ? { depth: depth * 2, nice: MATCH_LEN_MAX } : { depth, nice };
  if (process.env.LZMA_DEPTH) r.depth = Number(process.env.LZMA_DEPTH);
  if (process.env.LZMA_NICE) r.nice = Number(process.env.LZMA_NICE);
  return r;
}

const OPT_MAX = 2048;
/**
 * Input after which a stream that has gained nothing (flushed size >= input taken) ends. The caller
 * then stores one block raw and asks again one block later: without this stop, each of those calls
 * re-encoded everything up to the pcluster's capacity, quadratic in the length of an incompressible
 * run at big pclusters (a 300 KB random file at -C 1 MiB -b 1024 took 13 s). It is at least the
 * largest block size, so the stream returned then is never kept, neither as a pcluster nor as an
 * inline tail (smaller than a block); at capacities up to it nothing changes.
 */
export const INCOMPRESSIBLE_PROBE = 4096;
const HASH_BITS = 16;
/** Recompute length and distance price tables after this many encoded matches (liblzma: every 128 for distances). */
const PRICE_REFRESH = 64;

const KIND_LIT = 0;
const KIND_SHORTREP = 1;
const KIND_REP = 2;
const KIND_MATCH = 3;

export interface LzmaDestSizeOut {
  consumed: number;
  data: Uint8Array;
}

/**
 * One encoder (its tables are reused between calls; one call at a time). compress() returns the
 * MicroLZMA stream of the longest decision prefix that fits `capacity` bytes.
 */
export class MicroLzmaEncoder {
  private readonly p: LevelParams;
  private head = new Int32Array(1 << HASH_BITS);
  private chain = new Int32Array(0);
  private rc = new RangeEncoder(1 << 16);
  // per-node arrays of the optimal parse
  private price = new Int32Array(OPT_MAX + MATCH_LEN_MAX + 2);
  private prev = new Int32Array(OPT_MAX + MATCH_LEN_MAX + 2);
  private kind = new Uint8Array(OPT_MAX + MATCH_LEN_MAX + 2);
  private slen = new Int32Array(OPT_MAX + MATCH_LEN_MAX + 2);
  /** KIND_MATCH: the distance; KIND_REP: the rep index. */
  private sarg = new Int32Array(OPT_MAX + MATCH_LEN_MAX + 2);
  private nstate = new Uint8Array(OPT_MAX + MATCH_LEN_MAX + 2);
  private nreps = new Int32Array(4 * (OPT_MAX + MATCH_LEN_MAX + 2));
  private mLen = new Int32Array(MATCH_LEN_MAX + 2);
  private mDist = new Int32Array(MATCH_LEN_MAX + 2);
  // price tables
  private matchLenPrices = new Uint32Array(16 * (MATCH_LEN_MAX + 1));
  private repLenPrices = new Uint32Array(16 * (MATCH_LEN_MAX + 1));
  private slotPrices = new Uint32Array(DIST_STATES * 64);
  private fullDistPrices = new Uint32Array(DIST_STATES * FULL_DISTANCES);
  private alignPrices = new Uint32Array(16);
  // decisions of the current block, in order
  private dKind = new Uint8Array(OPT_MAX + 2);
  private dLen = new Int32Array(OPT_MAX + 2);
  private dArg = new Int32Array(OPT_MAX + 2);

  /** Input positions the match finder has taken in, over all calls (work done: for tests and profiling). */
  positionsExamined = 0;

  constructor(readonly level: number, readonly dictSize: number, readonly props: LzmaProps = LZMA_PROPS) {
    this.p = levelParams(level);
  }

  compress(src: Uint8Array, srcLen: number, capacity: number): LzmaDestSizeOut {
    if (capacity < 6 || srcLen === 0) return { consumed: 0, data: new Uint8Array(0) };
    const n = srcLen;
    if (this.chain.length < n) this.chain = new Int32Array(Math.max(n, this.chain.length * 2));
    this.head.fill(-1);
    const m = new LzmaModel(this.props);
    const rc = this.rc;
    rc.reset();
    const pbMask = (1 << this.props.pb) - 1;
    let state = 0;
    const reps = [0, 0, 0, 0];
    let pos = 0;
    let inserted = 0; // positions [0, inserted) are in the hash chains
    let sinceRefresh = PRICE_REFRESH;
    // rc state after the last decision that fit
    let okLow = 0, okRange = 0xffffffff, okCache = 0, okCacheSize = 1, okN = 0, okPos = 0;

    const insertTo = (end: number): void => {
      const lim = Math.min(end, n - 2);
      for (; inserted < lim; inserted++) {
        const h = hash3(src, inserted);
        this.chain[inserted] = this.head[h];
        this.head[h] = inserted;
      }
      if (inserted < end) inserted = end;
    };

    outer: while (pos < n) {
      if (sinceRefresh >= PRICE_REFRESH) {
        this.refreshPrices(m);
        sinceRefresh = 0;
      }
      const count = this.parseBlock(src, n, pos, state, reps, m, insertTo);
      for (let k = 0; k < count; k++) {
        const kind = this.dKind[k];
        const len = this.dLen[k];
        const arg = this.dArg[k];
        const posState = pos & pbMask;
        if (kind === KIND_LIT) {
          rc.bit(m.isMatch, state * 16 + posState, 0);
          const base = m.literalBase(pos, pos > 0 ? src[pos - 1] : 0);
          const byte = src[pos];
          if (state < LIT_STATES) {
            rc.tree(m.literal, base, 8, byte);
          } else {
            let matchByte = src[pos - reps[0] - 1] << 1;
            let offset = 0x100;
            let sym = 1;
            for (let b = 7; b >= 0; b--) {
              const matchBit = matchByte & offset;
              matchByte <<= 1;
              const bit = (byte >>> b) & 1;
              rc.bit(m.literal, base + offset + matchBit + sym, bit);
              sym = (sym << 1) | bit;
              offset = bit ? matchBit : offset & ~matchBit;
            }
          }
          state = litStateAfterLiteral(state);
        } else if (kind === KIND_SHORTREP) {
          rc.bit(m.isMatch, state * 16 + posState, 1);
          rc.bit(m.isRep, state, 1);
          rc.bit(m.isRepG0, state, 0);
          rc.bit(m.isRep0Long, state * 16 + posState, 0);
          state = stateAfterShortRep(state);
        } else if (kind === KIND_REP) {
          rc.bit(m.isMatch, state * 16 + posState, 1);
          rc.bit(m.isRep, state, 1);
          if (arg === 0) {
            rc.bit(m.isRepG0, state, 0);
            rc.bit(m.isRep0Long, state * 16 + posState, 1);
          } else {
            rc.bit(m.isRepG0, state, 1);
            if (arg === 1) rc.bit(m.isRepG1, state, 0);
            else {
              rc.bit(m.isRepG1, state, 1);
              rc.bit(m.isRepG2, state, arg === 3 ? 1 : 0);
            }
            const d = reps[arg];
            for (let r = arg; r > 0; r--) reps[r] = reps[r - 1];
            reps[0] = d;
          }
          encodeLen(rc, m.repLen, len, posState);
          state = stateAfterRep(state);
        } else {
          rc.bit(m.isMatch, state * 16 + posState, 1);
          rc.bit(m.isRep, state, 0);
          encodeLen(rc, m.matchLen, len, posState);
          encodeDist(rc, m, arg, len);
          reps[3] = reps[2];
          reps[2] = reps[1];
          reps[1] = reps[0];
          reps[0] = arg;
          state = stateAfterMatch(state);
        }
        if (rc.flushedSize() > capacity) break outer;
        pos += len;
        okLow = rc.low; okRange = rc.range; okCache = rc.cache; okCacheSize = rc.cacheSize; okN = rc.n; okPos = pos;
        // Incompressible input: a stream no smaller than its input is stored raw by every caller
        // (a pcluster is kept only when it saves a block), so stop once a probe's worth shows no gain.
        if (pos >= INCOMPRESSIBLE_PROBE && rc.flushedSize() >= pos) break outer;
        // Only matches and reps move the length and distance probabilities the tables price.
        if (kind >= KIND_REP) sinceRefresh++;
      }
    }
    // Back to the state after the last decision that fit (bytes already written stay as they are).
    rc.low = okLow; rc.range = okRange; rc.cache = okCache; rc.cacheSize = okCacheSize; rc.n = okN;
    this.positionsExamined += inserted;
    if (okPos === 0) return { consumed: 0, data: new Uint8Array(0) };
    rc.flush();
    const data = rc.out.slice(0, rc.n);
    // MicroLZMA: the range coder's first byte (always 0) carries ~props.
    data[0] = ~encodePropsByte(this.props) & 0xff;
    return { consumed: okPos, data };
  }

  private refreshPrices(m: LzmaModel): void {
    const posStates = 1 << this.props.pb;
    for (const [model, table] of [[m.matchLen, this.matchLenPrices], [m.repLen, this.repLenPrices]] as const) {
      for (let ps = 0; ps < posStates; ps++) {
        const c0 = price0(model.choice[0]);
        const c1 = price1(model.choice[0]);
        const c10 = c1 + price0(model.choice[1]);
        const c11 = c1 + price1(model.choice[1]);
        for (let len = MATCH_LEN_MIN; len <= MATCH_LEN_MAX; len++) {
          const l = len - MATCH_LEN_MIN;
          table[ps * (MATCH_LEN_MAX + 1) + len] = l < LEN_LOW_SYMBOLS ? c0 + treePrice(model.low, ps * LEN_LOW_SYMBOLS, 3, l)
            : l < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS ? c10 + treePrice(model.mid, ps * LEN_MID_SYMBOLS, 3, l - LEN_LOW_SYMBOLS)
              : c11 + treePrice(model.high, 0, 8, l - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS);
        }
      }
    }
    for (let ls = 0; ls < DIST_STATES; ls++) {
      for (let slot = 0; slot < 64; slot++) {
        let pr = treePrice(m.distSlot, ls * 64, 6, slot);
        if (slot >= END_POS_MODEL) pr += (((slot >>> 1) - 1) - ALIGN_BITS) * DIRECT_BIT_PRICE;
        this.slotPrices[ls * 64 + slot] = pr;
      }
      for (let d = 0; d < FULL_DISTANCES; d++) {
        const slot = distSlot(d);
        let pr = this.slotPrices[ls * 64 + slot];
        if (slot >= START_POS_MODEL) {
          const extra = (slot >>> 1) - 1;
          const base = (2 | (slot & 1)) << extra;
          pr += reverseTreePrice(m.distSpecial, base - slot, extra, d - base);
        }
        this.fullDistPrices[ls * FULL_DISTANCES + d] = pr;
      }
    }
    for (let i = 0; i < 16; i++) this.alignPrices[i] = reverseTreePrice(m.distAlign, 0, ALIGN_BITS, i);
  }

  private distPrice(dist: number, len: number): number {
    const ls = Math.min(len - MATCH_LEN_MIN, DIST_STATES - 1);
    if (dist < FULL_DISTANCES) return this.fullDistPrices[ls * FULL_DISTANCES + dist];
    return this.slotPrices[ls * 64 + distSlot(dist)] + this.alignPrices[dist & 15];
  }

  private literalPrice(m: LzmaModel, src: Uint8Array, pos: number, state: number, rep0: number): number {
    const base = m.literalBase(pos, pos > 0 ? src[pos - 1] : 0);
    const byte = src[pos];
    if (state < LIT_STATES) return treePrice(m.literal, base, 8, byte);
    let matchByte = src[pos - rep0 - 1] << 1;
    let offset = 0x100;
    let sym = 1;
    let pr = 0;
    for (let b = 7; b >= 0; b--) {
      const matchBit = matchByte & offset;
      matchByte <<= 1;
      const bit = (byte >>> b) & 1;
      pr += priceBit(m.literal[base + offset + matchBit + sym], bit);
      sym = (sym << 1) | bit;
      offset = bit ? matchBit : offset & ~matchBit;
    }
    return pr;
  }

  /** Matches at `pos` (hash chains), longest per distance rank: fills mLen/mDist ascending by length. */
  private findMatches(src: Uint8Array, n: number, pos: number, maxLen: number): number {
    if (maxLen < 3 || pos + 3 > n) return 0;
    let cnt = 0;
    let best = 2;
    let cand = this.head[hash3(src, pos)];
    const minPos = pos - this.dictSize;
    for (let d = this.p.depth; d > 0 && cand >= 0 && cand > minPos; d--) {
      if (src[cand + best] === src[pos + best] && src[cand] === src[pos]) {
        let l = 0;
        while (l < maxLen && src[cand + l] === src[pos + l]) l++;
        if (l > best) {
          best = l;
          this.mLen[cnt] = l;
          this.mDist[cnt] = pos - cand - 1;
          cnt++;
          if (l >= maxLen || l >= this.p.nice) break;
        }
      }
      cand = this.chain[cand];
    }
    return cnt;
  }

  /**
   * Optimal parse from `start` with the coder's state and reps: fills dKind/dLen/dArg and returns the
   * number of decisions (at least one).
   */
  private parseBlock(src: Uint8Array, n: number, start: number, state0: number, reps0: number[], m: LzmaModel,
    insertTo: (end: number) => void): number {
    const pbMask = (1 << this.props.pb) - 1;
    const price = this.price;
    const limit = Math.min(OPT_MAX, n - start);
    price[0] = 0;
    this.nstate[0] = state0;
    for (let r = 0; r < 4; r++) this.nreps[r] = reps0[r];
    let reach = 0; // highest node whose price is initialised
    let far = 0; // highest node any step reaches: when i gets there, every path goes through i
    let end = -1;
    for (let i = 0; ; i++) {
      if (i > 0 && i >= far) {
        end = i;
        break;
      }
      if (i >= limit) {
        end = i;
        break;
      }
      const pos = start + i;
      // Node i's state and reps, from its cheapest predecessor.
      if (i > 0) {
        const pi = this.prev[i];
        let st = this.nstate[pi];
        const k = this.kind[i];
        const nr = 4 * i;
        const pr = 4 * pi;
        if (k === KIND_LIT) {
          st = litStateAfterLiteral(st);
          for (let r = 0; r < 4; r++) this.nreps[nr + r] = this.nreps[pr + r];
        } else if (k === KIND_SHORTREP) {
          st = stateAfterShortRep(st);
          for (let r = 0; r < 4; r++) this.nreps[nr + r] = this.nreps[pr + r];
        } else if (k === KIND_REP) {
          st = stateAfterRep(st);
          const a = this.sarg[i];
          this.nreps[nr] = this.nreps[pr + a];
          let w = 1;
          for (let r = 0; r < 4; r++) if (r !== a) this.nreps[nr + w++] = this.nreps[pr + r];
        } else {
          st = stateAfterMatch(st);
          this.nreps[nr] = this.sarg[i];
          for (let r = 1; r < 4; r++) this.nreps[nr + r] = this.nreps[pr + r - 1];
        }
        this.nstate[i] = st;
      }
      const st = this.nstate[i];
      const rp = 4 * i;
      const posState = pos & pbMask;
      const base = price[i];
      const avail = Math.min(MATCH_LEN_MAX, n - pos);
      insertTo(pos);
      const cnt = this.findMatches(src, n, pos, avail);
      insertTo(pos + 1);
      // A long match is taken as it is (as liblzma does past its nice length).
      if (cnt > 0 && this.mLen[cnt - 1] >= this.p.nice) {
        const len = this.mLen[cnt - 1];
        const dist = this.mDist[cnt - 1];
        let best = -1;
        // a rep with the same reach is cheaper
        for (let r = 0; r < 4; r++) if (this.nreps[rp + r] === dist) best = r;
        const j = i + len;
        this.prev[j] = i;
        this.kind[j] = best >= 0 ? KIND_REP : KIND_MATCH;
        this.slen[j] = len;
        this.sarg[j] = best >= 0 ? best : dist;
        price[j] = base;
        insertTo(pos + len);
        end = j;
        break;
      }
      // the frontier grows only as far as steps go (blocks of one literal are common)
      if (reach < i + 1) price[++reach] = INFINITY;
      if (avail <= 0) {
        end = i;
        break;
      }
      const mPrice = base + price1(m.isMatch[st * 16 + posState]);
      // literal
      {
        const c = base + price0(m.isMatch[st * 16 + posState]) + this.literalPrice(m, src, pos, st, this.nreps[rp]);
        if (c < price[i + 1]) {
          price[i + 1] = c;
          if (i + 1 > far) far = i + 1;
          this.prev[i + 1] = i;
          this.kind[i + 1] = KIND_LIT;
          this.slen[i + 1] = 1;
        }
      }
      const repBase = mPrice + price1(m.isRep[st]);
      // short rep
      const rep0 = this.nreps[rp];
      if (pos > rep0 && src[pos] === src[pos - rep0 - 1]) {
        const c = repBase + price0(m.isRepG0[st]) + price0(m.isRep0Long[st * 16 + posState]);
        if (c < price[i + 1]) {
          price[i + 1] = c;
          if (i + 1 > far) far = i + 1;
          this.prev[i + 1] = i;
          this.kind[i + 1] = KIND_SHORTREP;
          this.slen[i + 1] = 1;
        }
      }
      // rep matches
      let repMax = 0;
      for (let r = 0; r < 4 && avail >= 2; r++) {
        const d = this.nreps[rp + r];
        if (pos <= d) continue;
        const from = pos - d - 1;
        if (src[from] !== src[pos] || src[from + 1] !== src[pos + 1]) continue;
        let l = 2;
        while (l < avail && src[from + l] === src[pos + l]) l++;
        if (l < 2 || l > avail) continue;
        let rpPrice = repBase;
        if (r === 0) rpPrice += price0(m.isRepG0[st]) + price1(m.isRep0Long[st * 16 + posState]);
        else {
          rpPrice += price1(m.isRepG0[st]);
          if (r === 1) rpPrice += price0(m.isRepG1[st]);
          else rpPrice += price1(m.isRepG1[st]) + priceBit(m.isRepG2[st], r === 3 ? 1 : 0);
        }
        const lp = posState * (MATCH_LEN_MAX + 1);
        while (reach < i + l) price[++reach] = INFINITY;
        for (let len = 2; len <= l; len++) {
          const c = rpPrice + this.repLenPrices[lp + len];
          const j = i + len;
          if (c < price[j]) {
            price[j] = c;
            if (j > far) far = j;
            this.prev[j] = i;
            this.kind[j] = KIND_REP;
            this.slen[j] = len;
            this.sarg[j] = r;
          }
        }
        if (l > repMax) repMax = l;
      }
      // normal matches
      if (cnt > 0) {
        const nmBase = mPrice + price0(m.isRep[st]);
        const lp = posState * (MATCH_LEN_MAX + 1);
        let len = 2;
        while (reach < i + this.mLen[cnt - 1]) price[++reach] = INFINITY;
        for (let k = 0; k < cnt; k++) {
          const dist = this.mDist[k];
          const ml = this.mLen[k];
          for (; len <= ml; len++) {
            const c = nmBase + this.matchLenPrices[lp + len] + this.distPrice(dist, len);
            const j = i + len;
            if (c < price[j]) {
              price[j] = c;
              if (j > far) far = j;
              this.prev[j] = i;
              this.kind[j] = KIND_MATCH;
              this.slen[j] = len;
              this.sarg[j] = dist;
            }
          }
        }
      }
    }
    // The block ends at `end`: walk back and list the decisions in order.
    let cnt = 0;
    for (let j = end; j > 0; j = this.prev[j]) cnt++;
    let k = cnt;
    for (let j = end; j > 0; j = this.prev[j]) {
      k--;
      this.dKind[k] = this.kind[j];
      this.dLen[k] = this.slen[j];
      this.dArg[k] = this.sarg[j];
    }
    return cnt;
  }
}

function hash3(src: Uint8Array, p: number): number {
  return (Math.imul((src[p] << 16) | (src[p + 1] << 8) | src[p + 2], 0x9e3779b1) >>> (32 - HASH_BITS));
}

function encodeLen(rc: RangeEncoder, l: LenModel, len: number, posState: number): void {
  const v = len - MATCH_LEN_MIN;
  if (v < LEN_LOW_SYMBOLS) {
    rc.bit(l.choice, 0, 0);
    rc.tree(l.low, posState * LEN_LOW_SYMBOLS, 3, v);
  } else if (v < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS) {
    rc.bit(l.choice, 0, 1);
    rc.bit(l.choice, 1, 0);
    rc.tree(l.mid, posState * LEN_MID_SYMBOLS, 3, v - LEN_LOW_SYMBOLS);
  } else {
    rc.bit(l.choice, 0, 1);
    rc.bit(l.choice, 1, 1);
    rc.tree(l.high, 0, 8, v - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS);
  }
}

function encodeDist(rc: RangeEncoder, m: LzmaModel, dist: number, len: number): void {
  const ls = Math.min(len - MATCH_LEN_MIN, DIST_STATES - 1);
  const slot = distSlot(dist);
  rc.tree(m.distSlot, ls * 64, 6, slot);
  if (slot < START_POS_MODEL) return;
  const extra = (slot >>> 1) - 1;
  const base = ((2 | (slot & 1)) << extra) >>> 0;
  const reduced = dist - base;
  if (slot < END_POS_MODEL) {
    rc.reverseTree(m.distSpecial, base - slot, extra, reduced);
  } else {
    rc.direct(reduced >>> ALIGN_BITS, extra - ALIGN_BITS);
    rc.reverseTree(m.distAlign, 0, ALIGN_BITS, reduced & 15);
  }
}
