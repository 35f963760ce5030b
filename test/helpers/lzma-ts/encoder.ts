/**
 * The test oracle for our MicroLZMA encoder: the TypeScript encoder that src/compress/lzma-encoder.ts
 * used before it moved to WebAssembly (assembly/lzma.ts). Same algorithm, rules and output bytes; kept
 * so that tests can assert the WebAssembly encoder's streams equal it byte for byte on any input.
 * The algorithm and the liblzma rules it keeps are described in src/compress/lzma-encoder.ts.
 */
import {
  LzmaModel, LenModel, encodePropsByte, LIT_STATES, DIST_STATES, END_POS_MODEL,
  START_POS_MODEL, ALIGN_BITS, LEN_LOW_SYMBOLS, LEN_MID_SYMBOLS, MATCH_LEN_MIN, MATCH_LEN_MAX, FULL_DISTANCES,
  litStateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep, type LzmaProps,
} from '../../../src/compress/lzma-model.js';
import { Bt4MatchFinder } from './matchfinder.js';
import { LZMA_PROPS, INCOMPRESSIBLE_PROBE, levelParams, type LevelParams, type LzmaDestSizeOut } from '../../../src/compress/lzma-encoder.js';
import { price0, price1, priceBit, DIRECT_BIT_PRICE, INFINITY, treePrice, reverseTreePrice, distSlot, RangeEncoder, encodeLen, encodeDist } from './rc.js';

/** Positions one optimal-parse block may span (liblzma's OPTS). */
const OPTS = 4096;
/** Distance prices are recomputed after this many matches, align prices after this many far ones (as liblzma). */
const DIST_PRICE_REFRESH = 128;
const ALIGN_PRICE_REFRESH = 16;

// Decisions (what the range coder writes).
const KIND_LIT = 0;
const KIND_SHORTREP = 1;
const KIND_REP = 2;
const KIND_MATCH = 3;
// Parse steps of several decisions: a literal then a rep0 match, and a rep or normal match followed
// by a literal and a rep0 match (the literal breaks a match that continues at the same distance).
const KIND_LIT_REP0 = 4;
const KIND_REP_LIT_REP0 = 5;
const KIND_MATCH_LIT_REP0 = 6;

const NODES = OPTS + 1;
const LEN_ROW = MATCH_LEN_MAX + 1;

/**
 * One encoder (its tables are reused between calls; one call at a time). compress() returns the
 * MicroLZMA stream of the longest decision prefix that fits `capacity` bytes.
 */
export class TsMicroLzmaEncoder {
  private readonly p: LevelParams;
  private readonly mf: Bt4MatchFinder;
  private rc = new RangeEncoder(1 << 16);
  private m!: LzmaModel;
  // per-node arrays of the optimal parse: the cheapest step into the node and what it leads to
  private price = new Int32Array(NODES);
  private prev = new Int32Array(NODES);
  private kind = new Uint8Array(NODES);
  /** Length of the step's first (rep or normal) match; 1 for a literal or short rep. */
  private len1 = new Int32Array(NODES);
  /** The first match's distance (normal) or rep index. */
  private arg1 = new Int32Array(NODES);
  /** Length of the closing rep0 match of a combined step. */
  private len2 = new Int32Array(NODES);
  private nstate = new Uint8Array(NODES);
  private nreps = new Int32Array(4 * NODES);
  private repLens = new Int32Array(4);
  // price tables
  private matchLenPrices = new Uint32Array(16 * LEN_ROW);
  private repLenPrices = new Uint32Array(16 * LEN_ROW);
  private matchLenCount = new Int32Array(16);
  private repLenCount = new Int32Array(16);
  private lenRefresh: number;
  private readonly lpMask: number;
  private readonly lcShift: number;
  private slotPrices = new Uint32Array(DIST_STATES * 64);
  private fullDistPrices = new Uint32Array(DIST_STATES * FULL_DISTANCES);
  private alignPrices = new Uint32Array(16);
  private matchPriceCount = 0;
  private alignPriceCount = 0;
  // decisions of the current block, in order
  private dKind = new Uint8Array(NODES + 2);
  private dLen = new Int32Array(NODES + 2);
  private dArg = new Int32Array(NODES + 2);

  /** Input positions the match finder has taken in, over all calls (work done: for tests and profiling). */
  positionsExamined = 0;

  constructor(readonly level: number, readonly dictSize: number, readonly props: LzmaProps = LZMA_PROPS) {
    this.p = levelParams(level);
    this.mf = new Bt4MatchFinder(dictSize, this.p.depth, this.p.nice);
    this.lenRefresh = Math.max(this.p.nice, 4) + 1 - MATCH_LEN_MIN;
    // (lengths past nice are never priced; should one be, it must not look free)
    this.matchLenPrices.fill(INFINITY);
    this.repLenPrices.fill(INFINITY);
    this.lpMask = (1 << props.lp) - 1;
    this.lcShift = 8 - props.lc;
  }

  /**
   * `probe`: stop at INCOMPRESSIBLE_PROBE when nothing is gained yet (only for callers that store one
   * raw block per failed call, -E dedupe). Without it the stream runs to the capacity, as
   * lzma_microlzma_encoder does: input that gains nothing in its first 4 KiB may still gain a block
   * by the pcluster's end (a .ps.gz of gzip stored blocks, a PNG's later chunks).
   */
  compress(src: Uint8Array, srcLen: number, capacity: number, probe = false): LzmaDestSizeOut {
    if (capacity < 6 || srcLen === 0) return { consumed: 0, data: new Uint8Array(0) };
    const n = srcLen;
    const mf = this.mf;
    mf.reset(src, n);
    const m = (this.m = new LzmaModel(this.props));
    const rc = this.rc;
    rc.reset();
    const pbMask = (1 << this.props.pb) - 1;
    let state = 0;
    const reps = new Int32Array(4);
    let pos = 0;
    // rc state after the last decision that fit
    let okLow = 0, okRange = 0xffffffff, okCache = 0, okCacheSize = 1, okN = 0, okPos = 0;
    const posStates = 1 << this.props.pb;
    for (let ps = 0; ps < posStates; ps++) {
      this.lenPrices(m.matchLen, this.matchLenPrices, ps);
      this.lenPrices(m.repLen, this.repLenPrices, ps);
      this.matchLenCount[ps] = this.lenRefresh;
      this.repLenCount[ps] = this.lenRefresh;
    }
    this.distPrices(m);
    this.fillAlignPrices(m);

    outer: while (pos < n) {
      // Prices are refreshed only where no match search ran ahead of the block (liblzma refreshes
      // when its read-ahead is 0: a block that ended before a nice-length match leaves one).
      if (mf.lastPos !== pos) {
        if (this.matchPriceCount >= DIST_PRICE_REFRESH) this.distPrices(m);
        if (this.alignPriceCount >= ALIGN_PRICE_REFRESH) this.fillAlignPrices(m);
      }
      const count = this.parseBlock(src, n, pos, state, reps);
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
          // The length prices are refreshed from the model as it was before this length's bits
          // (liblzma queues a symbol's bits and updates the probabilities only when it writes them,
          // after the refresh): refreshing after them priced other parses than mkfs.erofs's.
          if (--this.repLenCount[posState] === 0) {
            this.lenPrices(m.repLen, this.repLenPrices, posState);
            this.repLenCount[posState] = this.lenRefresh;
          }
          encodeLen(rc, m.repLen, len, posState);
          state = stateAfterRep(state);
        } else {
          rc.bit(m.isMatch, state * 16 + posState, 1);
          rc.bit(m.isRep, state, 0);
          if (--this.matchLenCount[posState] === 0) {
            this.lenPrices(m.matchLen, this.matchLenPrices, posState);
            this.matchLenCount[posState] = this.lenRefresh;
          }
          encodeLen(rc, m.matchLen, len, posState);
          if (encodeDist(rc, m, arg, len)) this.alignPriceCount++;
          this.matchPriceCount++;
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
        if (probe && pos >= INCOMPRESSIBLE_PROBE && rc.flushedSize() >= pos) break outer;
      }
    }
    // Back to the state after the last decision that fit (bytes already written stay as they are).
    rc.low = okLow; rc.range = okRange; rc.cache = okCache; rc.cacheSize = okCacheSize; rc.n = okN;
    this.positionsExamined += mf.next;
    if (okPos === 0) return { consumed: 0, data: new Uint8Array(0) };
    rc.flush();
    const data = rc.out.slice(0, rc.n);
    // MicroLZMA: the range coder's first byte (always 0) carries ~props.
    data[0] = ~encodePropsByte(this.props) & 0xff;
    return { consumed: okPos, data };
  }

  private lenPrices(model: LenModel, table: Uint32Array, ps: number): void {
    const c0 = price0(model.choice[0]);
    const c1 = price1(model.choice[0]);
    const c10 = c1 + price0(model.choice[1]);
    const c11 = c1 + price1(model.choice[1]);
    const row = ps * LEN_ROW;
    // Only lengths up to nice are ever priced (longer matches are taken without weighing), so the
    // table ends there, as liblzma's does: the refresh costs a quarter of the full table at level 6.
    for (let len = MATCH_LEN_MIN; len <= this.p.nice; len++) {
      const l = len - MATCH_LEN_MIN;
      table[row + len] = l < LEN_LOW_SYMBOLS ? c0 + treePrice(model.low, ps * LEN_LOW_SYMBOLS, 3, l)
        : l < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS ? c10 + treePrice(model.mid, ps * LEN_MID_SYMBOLS, 3, l - LEN_LOW_SYMBOLS)
          : c11 + treePrice(model.high, 0, 8, l - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS);
    }
  }

  private distPrices(m: LzmaModel): void {
    const slots = Math.min(64, 2 * (32 - Math.clz32(Math.max(this.dictSize - 1, 1))));
    for (let ls = 0; ls < DIST_STATES; ls++) {
      for (let slot = 0; slot < slots; slot++) {
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
    this.matchPriceCount = 0;
  }

  private fillAlignPrices(m: LzmaModel): void {
    for (let i = 0; i < 16; i++) this.alignPrices[i] = reverseTreePrice(m.distAlign, 0, ALIGN_BITS, i);
    this.alignPriceCount = 0;
  }

  private distPrice(dist: number, len: number): number {
    const ls = len - MATCH_LEN_MIN < DIST_STATES - 1 ? len - MATCH_LEN_MIN : DIST_STATES - 1;
    if (dist < FULL_DISTANCES) return this.fullDistPrices[ls * FULL_DISTANCES + dist];
    return this.slotPrices[ls * 64 + distSlot(dist)] + this.alignPrices[dist & 15];
  }

  /** Price of the literal at `pos` in `state` (a matched literal against `matchByte` after a match). */
  private literalPrice(src: Uint8Array, pos: number, state: number, matchByte: number): number {
    const lit = this.m.literal;
    const base = 0x300 * ((((pos & this.lpMask) << this.props.lc) + ((pos > 0 ? src[pos - 1] : 0) >> this.lcShift)));
    const byte = src[pos];
    if (state < LIT_STATES) return treePrice(lit, base, 8, byte);
    let mb = matchByte << 1;
    let offset = 0x100;
    let sym = 1;
    let pr = 0;
    for (let b = 7; b >= 0; b--) {
      const matchBit = mb & offset;
      mb <<= 1;
      const bit = (byte >>> b) & 1;
      pr += priceBit(lit[base + offset + matchBit + sym], bit);
      sym = (sym << 1) | bit;
      offset = bit ? matchBit : offset & ~matchBit;
    }
    return pr;
  }

  /** A whole rep0 match of `len` coded in state `st` at `posState`: its is-match and is-rep bits, rep0's
   *  own bits and its length (the last step of the lit+rep0, rep+lit+rep0 and match+lit+rep0 paths). */
  private rep0MatchPrice(st: number, posState: number, len: number): number {
    const m = this.m;
    return price1(m.isMatch[st * 16 + posState]) + price1(m.isRep[st]) + this.pureRepPrice(0, st, posState)
      + this.repLenPrices[posState * LEN_ROW + len];
  }

  /** isRep0 / isRepG* / isRep0Long part of a rep match's price (the rep index's own bits). */
  private pureRepPrice(r: number, st: number, posState: number): number {
    const m = this.m;
    if (r === 0) return price0(m.isRepG0[st]) + price1(m.isRep0Long[st * 16 + posState]);
    let pr = price1(m.isRepG0[st]);
    if (r === 1) return pr + price0(m.isRepG1[st]);
    pr += price1(m.isRepG1[st]);
    return pr + priceBit(m.isRepG2[st], r - 2);
  }

  /** Whether the cheapest step into node `j` comes from before node `before` and ends with a rep0 match. */
  private endsWithRep0(j: number, before: number): boolean {
    if (this.prev[j] >= before) return false;
    const k = this.kind[j];
    return k >= KIND_LIT_REP0 || (k === KIND_REP && this.arg1[j] === 0);
  }

  /** Nodes up to `to` get an infinite price (they are about to become reachable). */
  private extend(lenEnd: number, to: number): number {
    while (lenEnd < to) this.price[++lenEnd] = INFINITY;
    return lenEnd;
  }

  private setNode(j: number, c: number, i: number, kind: number, len1: number, arg1: number, len2: number): void {
    this.price[j] = c;
    this.prev[j] = i;
    this.kind[j] = kind;
    this.len1[j] = len1;
    this.arg1[j] = arg1;
    this.len2[j] = len2;
  }

  /** One decision as the whole block. */
  private single(kind: number, len: number, arg: number): number {
    this.dKind[0] = kind;
    this.dLen[0] = len;
    this.dArg[0] = arg;
    return 1;
  }

  /**
   * Optimal parse from `start` with the coder's state and reps: fills dKind/dLen/dArg and returns the
   * number of decisions (at least one). Node i is position start + i; each keeps its cheapest step
   * in, and the LZMA state and reps that path leads to. The block ends where every path meets (no
   * step reaches past the node being expanded), at OPTS, or before a match of the nice length.
   */
  private parseBlock(src: Uint8Array, n: number, start: number, state0: number, reps0: Int32Array): number {
    const mf = this.mf;
    const m = this.m;
    const nice = this.p.nice;
    const pbMask = (1 << this.props.pb) - 1;
    const price = this.price;
    const nreps = this.nreps;
    const repLens = this.repLens;
    const cnt = mf.find(start);
    const availAll = n - start;
    if (availAll < 2) return this.single(KIND_LIT, 1, 0);
    const avail0 = availAll < MATCH_LEN_MAX ? availAll : MATCH_LEN_MAX;
    let repMax = 0;
    for (let r = 0; r < 4; r++) {
      const back = start - reps0[r] - 1;
      repLens[r] = 0;
      if (back < 0 || src[back] !== src[start] || src[back + 1] !== src[start + 1]) continue;
      let l = 2;
      while (l < avail0 && src[back + l] === src[start + l]) l++;
      repLens[r] = l;
      if (l > repLens[repMax]) repMax = r;
    }
    if (repLens[repMax] >= nice) {
      mf.skipTo(start + repLens[repMax]);
      return this.single(KIND_REP, repLens[repMax], repMax);
    }
    const mainLen = cnt > 0 ? mf.lens[cnt - 1] : 0;
    if (mainLen >= nice) {
      mf.skipTo(start + mainLen);
      return this.single(KIND_MATCH, mainLen, mf.dists[cnt - 1]);
    }
    const curByte = src[start];
    const rep0Back = start - reps0[0] - 1;
    const matchByte = rep0Back >= 0 ? src[rep0Back] : -1;
    if (mainLen < 2 && curByte !== matchByte && repLens[repMax] < 2) return this.single(KIND_LIT, 1, 0);

    const st = state0;
    const posState = start & pbMask;
    this.nstate[0] = st;
    for (let r = 0; r < 4; r++) nreps[r] = reps0[r];
    price[0] = 0;
    this.setNode(1, price0(m.isMatch[st * 16 + posState]) + this.literalPrice(src, start, st, matchByte), 0, KIND_LIT, 1, 0, 0);
    const matchPrice = price1(m.isMatch[st * 16 + posState]);
    const repMatchPrice = matchPrice + price1(m.isRep[st]);
    if (matchByte === curByte) {
      const c = repMatchPrice + price0(m.isRepG0[st]) + price0(m.isRep0Long[st * 16 + posState]);
      if (c < price[1]) this.setNode(1, c, 0, KIND_SHORTREP, 1, 0, 0);
    }
    let lenEnd = mainLen > repLens[repMax] ? mainLen : repLens[repMax];
    if (lenEnd < 2) return this.single(this.kind[1], 1, 0);
    for (let l = 2; l <= lenEnd; l++) price[l] = INFINITY;
    const lrow = posState * LEN_ROW;
    for (let r = 0; r < 4; r++) {
      const rl = repLens[r];
      if (rl < 2) continue;
      const base = repMatchPrice + this.pureRepPrice(r, st, posState);
      for (let l = rl; l >= 2; l--) {
        const c = base + this.repLenPrices[lrow + l];
        if (c < price[l]) this.setNode(l, c, 0, KIND_REP, l, r, 0);
      }
    }
    let len = repLens[0] >= 2 ? repLens[0] + 1 : 2;
    if (len <= mainLen) {
      const nmBase = matchPrice + price0(m.isRep[st]);
      let i = 0;
      while (len > mf.lens[i]) i++;
      for (; ; len++) {
        const dist = mf.dists[i];
        const c = nmBase + this.matchLenPrices[lrow + len] + this.distPrice(dist, len);
        if (c < price[len]) this.setNode(len, c, 0, KIND_MATCH, len, dist, 0);
        if (len === mf.lens[i] && ++i === cnt) break;
      }
    }

    let cur = 1;
    for (; cur < lenEnd; cur++) {
      const c = mf.find(start + cur);
      if (c > 0 && mf.lens[c - 1] >= nice) break;
      lenEnd = this.expand(src, n, start, cur, lenEnd, c);
    }
    return this.backtrack(cur);
  }

  /** The steps out of node `cur` (its own cheapest step in is final now). Returns the new lenEnd. */
  private expand(src: Uint8Array, n: number, start: number, cur: number, lenEnd: number, cnt: number): number {
    const m = this.m;
    const mf = this.mf;
    const nice = this.p.nice;
    const price = this.price;
    const nreps = this.nreps;
    const pbMask = (1 << this.props.pb) - 1;
    // Node cur's state and reps, from the step into it.
    const pi = this.prev[cur];
    let st = this.nstate[pi];
    const k = this.kind[cur];
    const nr = 4 * cur;
    const pr = 4 * pi;
    if (k === KIND_LIT || k === KIND_SHORTREP || k === KIND_LIT_REP0) {
      st = k === KIND_LIT ? litStateAfterLiteral(st) : k === KIND_SHORTREP ? stateAfterShortRep(st) : stateAfterRep(litStateAfterLiteral(st));
      nreps[nr] = nreps[pr]; nreps[nr + 1] = nreps[pr + 1]; nreps[nr + 2] = nreps[pr + 2]; nreps[nr + 3] = nreps[pr + 3];
    } else if (k === KIND_REP || k === KIND_REP_LIT_REP0) {
      const a = this.arg1[cur];
      nreps[nr] = nreps[pr + a];
      let w = 1;
      for (let r = 0; r < 4; r++) if (r !== a) nreps[nr + w++] = nreps[pr + r];
      st = stateAfterRep(st);
      if (k === KIND_REP_LIT_REP0) st = stateAfterRep(litStateAfterLiteral(st));
    } else {
      nreps[nr] = this.arg1[cur];
      nreps[nr + 1] = nreps[pr]; nreps[nr + 2] = nreps[pr + 1]; nreps[nr + 3] = nreps[pr + 2];
      st = stateAfterMatch(st);
      if (k === KIND_MATCH_LIT_REP0) st = stateAfterRep(litStateAfterLiteral(st));
    }
    this.nstate[cur] = st;

    const pos = start + cur;
    const posState = pos & pbMask;
    const curPrice = price[cur];
    const curByte = src[pos];
    const rep0 = nreps[nr];
    const matchByte = pos - rep0 - 1 >= 0 ? src[pos - rep0 - 1] : -1;
    const isMatchIdx = st * 16 + posState;
    const litCost = curPrice + price0(m.isMatch[isMatchIdx]) + this.literalPrice(src, pos, st, matchByte);
    let nextIsLiteral = false;
    if (litCost < price[cur + 1]) {
      this.setNode(cur + 1, litCost, cur, KIND_LIT, 1, 0, 0);
      nextIsLiteral = true;
    }
    const matchPrice = curPrice + price1(m.isMatch[isMatchIdx]);
    const repMatchPrice = matchPrice + price1(m.isRep[st]);
    // A short rep is not weighed against a path that reaches cur + 1 with a rep0 match (liblzma's
    // rule): the equal-price tie would otherwise go to the short rep and change the parse.
    if (matchByte === curByte && !this.endsWithRep0(cur + 1, cur)) {
      const c = repMatchPrice + price0(m.isRepG0[st]) + price0(m.isRep0Long[isMatchIdx]);
      if (c <= price[cur + 1]) {
        this.setNode(cur + 1, c, cur, KIND_SHORTREP, 1, 0, 0);
        nextIsLiteral = true;
      }
    }
    let availFull = n - pos;
    if (availFull > OPTS - 1 - cur) availFull = OPTS - 1 - cur;
    if (availFull < 2) return lenEnd;
    // Rep and normal matches out of a node inside the block are no longer than `nice` (liblzma's
    // buf_avail): a longer one is found again, whole, where the block ends before it.
    const avail = availFull < nice ? availFull : nice;

    // literal + rep0
    if (!nextIsLiteral && matchByte !== curByte && matchByte >= 0) {
      const back = pos - rep0 - 1;
      const limit = availFull < nice + 1 ? availFull : nice + 1;
      let l = 1;
      while (l < limit && src[back + l] === src[pos + l]) l++;
      const lenTest = l - 1;
      if (lenTest >= 2) {
        const st2 = litStateAfterLiteral(st);
        const ps2 = (pos + 1) & pbMask;
        const c = litCost + this.rep0MatchPrice(st2, ps2, lenTest);
        const j = cur + 1 + lenTest;
        lenEnd = this.extend(lenEnd, j);
        if (c < price[j]) this.setNode(j, c, cur, KIND_LIT_REP0, 1, 0, lenTest);
      }
    }

    let startLen = 2;
    const lrow = posState * LEN_ROW;
    for (let r = 0; r < 4; r++) {
      const back = pos - nreps[nr + r] - 1;
      if (back < 0 || src[back] !== curByte || src[back + 1] !== src[pos + 1]) continue;
      let lenTest = 2;
      while (lenTest < avail && src[back + lenTest] === src[pos + lenTest]) lenTest++;
      lenEnd = this.extend(lenEnd, cur + lenTest);
      const base = repMatchPrice + this.pureRepPrice(r, st, posState);
      for (let l = lenTest; l >= 2; l--) {
        const c = base + this.repLenPrices[lrow + l];
        if (c < price[cur + l]) this.setNode(cur + l, c, cur, KIND_REP, l, r, 0);
      }
      if (r === 0) startLen = lenTest + 1;
      // rep + literal + rep0
      const lim2 = availFull < lenTest + 1 + nice ? availFull : lenTest + 1 + nice;
      let l2 = lenTest + 1;
      while (l2 < lim2 && src[back + l2] === src[pos + l2]) l2++;
      const len2 = l2 - lenTest - 1;
      if (len2 >= 2) {
        const stA = stateAfterRep(st);
        const psA = (pos + lenTest) & pbMask;
        let c = base + this.repLenPrices[lrow + lenTest] + price0(m.isMatch[stA * 16 + psA])
          + this.literalPrice(src, pos + lenTest, stA, src[back + lenTest]);
        const stB = litStateAfterLiteral(stA);
        const psB = (pos + lenTest + 1) & pbMask;
        c += this.rep0MatchPrice(stB, psB, len2);
        const j = cur + lenTest + 1 + len2;
        lenEnd = this.extend(lenEnd, j);
        if (c < price[j]) this.setNode(j, c, cur, KIND_REP_LIT_REP0, lenTest, r, len2);
      }
    }

    // normal matches (no longer than avail), each length at the nearest distance found for it
    if (cnt === 0) return lenEnd;
    let newLen = mf.lens[cnt - 1];
    if (newLen > avail) newLen = avail;
    if (newLen < startLen) return lenEnd;
    const nmBase = matchPrice + price0(m.isRep[st]);
    lenEnd = this.extend(lenEnd, cur + newLen);
    let i = 0;
    while (startLen > mf.lens[i]) i++;
    for (let l = startLen; ; l++) {
      const dist = mf.dists[i];
      const c = nmBase + this.matchLenPrices[lrow + l] + this.distPrice(dist, l);
      if (c < price[cur + l]) this.setNode(cur + l, c, cur, KIND_MATCH, l, dist, 0);
      if (l === newLen || l === mf.lens[i]) {
        // match + literal + rep0
        const back = pos - dist - 1;
        const lim2 = availFull < l + 1 + nice ? availFull : l + 1 + nice;
        let l2 = l + 1;
        while (l2 < lim2 && src[back + l2] === src[pos + l2]) l2++;
        const len2 = l2 - l - 1;
        if (len2 >= 2) {
          const stA = stateAfterMatch(st);
          const psA = (pos + l) & pbMask;
          let c2 = c + price0(m.isMatch[stA * 16 + psA]) + this.literalPrice(src, pos + l, stA, src[back + l]);
          const stB = litStateAfterLiteral(stA);
          const psB = (pos + l + 1) & pbMask;
          c2 += this.rep0MatchPrice(stB, psB, len2);
          const j = cur + l + 1 + len2;
          lenEnd = this.extend(lenEnd, j);
          if (c2 < price[j]) this.setNode(j, c2, cur, KIND_MATCH_LIT_REP0, l, dist, len2);
        }
        if (l === newLen || ++i === cnt) break;
      }
    }
    return lenEnd;
  }

  /** The decisions on the cheapest path to node `end`, in order. */
  private backtrack(end: number): number {
    let count = 0;
    for (let j = end; j > 0; j = this.prev[j]) {
      const k = this.kind[j];
      count += k === KIND_LIT_REP0 ? 2 : k >= KIND_REP_LIT_REP0 ? 3 : 1;
    }
    let w = count;
    const put = (kind: number, len: number, arg: number): void => {
      w--;
      this.dKind[w] = kind;
      this.dLen[w] = len;
      this.dArg[w] = arg;
    };
    for (let j = end; j > 0; j = this.prev[j]) {
      const k = this.kind[j];
      if (k <= KIND_MATCH) put(k, this.len1[j], this.arg1[j]);
      else {
        put(KIND_REP, this.len2[j], 0);
        put(KIND_LIT, 1, 0);
        if (k === KIND_REP_LIT_REP0) put(KIND_REP, this.len1[j], this.arg1[j]);
        else if (k === KIND_MATCH_LIT_REP0) put(KIND_MATCH, this.len1[j], this.arg1[j]);
      }
    }
    return count;
  }
}
