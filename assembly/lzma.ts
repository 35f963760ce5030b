// Our MicroLZMA encoder (EROFS "lzma" pclusters with a fixed output size), compiled to WebAssembly
// by AssemblyScript (scripts/build-wasm.js); loaded by src/compress/lzma-encoder.ts, which documents
// the algorithm and the liblzma rules it keeps. Written from the LZMA format description; its output
// is byte for byte that of the TypeScript encoder it replaced (test/helpers/lzma-encoder-ts.ts, the
// tests' oracle): same match finder (bt4 over liblzma's hashes), same optimal parse, same prices.
//
// Linear memory (one instance per encoder, never shared), all laid out by hand:
//   PRICES, CRC          bit prices (1/16 bit) and the CRC-32 table the hashes use
//   model                every adaptive probability (u16), reset per call
//   parse                per-node arrays of the optimal parse (OPTS + 1 nodes) and the block's decisions
//   price tables         length, distance-slot, full-distance and align prices
//   HEAD2, HEAD3         2- and 3-byte hash heads
//   head4, son           4-byte heads (by dictionary) and the binary trees (2 children per position)
//   out                  the stream (capacity + slack)
//   in                   the input window; callers compress views of it in place, or have it filled
//                        on demand (the `need` import) as the encoder advances
//
// Positions in the match finder's tables are global across calls (base + index); a call starts at
// least a dictionary further than the last one ended, so tables need no clearing between calls.

@external("env", "need")
declare function need(end: i32): i32;

// ---- format constants (lzma-model.ts) --------------------------------------------------------
const BIT_MODEL_TOTAL: u32 = 1 << 11;
const MOVE_BITS: u32 = 5;
const PROB_INIT: u16 = 1024;
const LIT_STATES: i32 = 7;
const MATCH_LEN_MIN: i32 = 2;
const MATCH_LEN_MAX: i32 = 273;
const LEN_LOW_SYMBOLS: i32 = 8;
const LEN_MID_SYMBOLS: i32 = 8;
const DIST_STATES: i32 = 4;
const START_POS_MODEL: i32 = 4;
const END_POS_MODEL: i32 = 14;
const FULL_DISTANCES: i32 = 128;
const ALIGN_BITS: i32 = 4;
const TOP: u32 = 1 << 24;

const PRICE_SHIFT: u32 = 4;
const DIRECT_BIT_PRICE: u32 = 16;
const INFINITY: u32 = 0x3fffffff;

const OPTS: i32 = 4096;
const INCOMPRESSIBLE_PROBE: i32 = 4096;
const DIST_PRICE_REFRESH: i32 = 128;
const ALIGN_PRICE_REFRESH: i32 = 16;
/** Input the encoder wants loaded ahead of a block's start: the block, its last match and that match's reach. */
const LOOKAHEAD: i32 = OPTS + 2 * MATCH_LEN_MAX + 64;

const KIND_LIT: i32 = 0;
const KIND_SHORTREP: i32 = 1;
const KIND_REP: i32 = 2;
const KIND_MATCH: i32 = 3;
const KIND_LIT_REP0: i32 = 4;
const KIND_REP_LIT_REP0: i32 = 5;
const KIND_MATCH_LIT_REP0: i32 = 6;

const NODES: i32 = OPTS + 1;
const LEN_ROW: i32 = MATCH_LEN_MAX + 1;

const HASH2_SIZE: i32 = 1 << 10;
const HASH3_SIZE: i32 = 1 << 16;
const EMPTY: i32 = -0x40000000;
const BASE_LIMIT: i32 = 0x3fffffff;
/** Bytes the range coder may write past the capacity within one decision before it is undone. */
const OUT_SLACK: i32 = 256;

// ---- memory layout ---------------------------------------------------------------------------
const PRICES: usize = 0; // u32[128]
const CRC: usize = PRICES + 4 * 128; // i32[256]
// model (u16 each)
const M_ISMATCH: usize = CRC + 4 * 256; // [12 * 16]
const M_ISREP: usize = M_ISMATCH + 2 * 192; // [12]
const M_ISREPG0: usize = M_ISREP + 2 * 12;
const M_ISREPG1: usize = M_ISREPG0 + 2 * 12;
const M_ISREPG2: usize = M_ISREPG1 + 2 * 12;
const M_ISREP0LONG: usize = M_ISREPG2 + 2 * 12; // [12 * 16]
const M_DISTSLOT: usize = M_ISREP0LONG + 2 * 192; // [4 * 64]
const M_DISTSPECIAL: usize = M_DISTSLOT + 2 * 256; // [115]
const M_DISTALIGN: usize = M_DISTSPECIAL + 2 * 116; // [16]
// a length model: choice[2], low[16 * 8], mid[16 * 8], high[256]
const L_CHOICE: usize = 0;
const L_LOW: usize = 2 * 2;
const L_MID: usize = L_LOW + 2 * 128;
const L_HIGH: usize = L_MID + 2 * 128;
const L_SIZE: usize = L_HIGH + 2 * 256;
const M_MATCHLEN: usize = M_DISTALIGN + 2 * 16;
const M_REPLEN: usize = M_MATCHLEN + L_SIZE;
const M_LITERAL: usize = M_REPLEN + L_SIZE; // [0x300 << (lc + lp)], lc + lp <= 4
const M_END: usize = M_LITERAL + 2 * (0x300 << 4);
// parse: one 48-byte record per node (its fields together: a node is read and written as a whole)
const SLOTS: usize = <usize>NODES + 8;
const NODE_SIZE: usize = 48;
const NODE: usize = (M_END + 63) & ~63;
const P_PRICE: usize = 0; // u32
const P_PREV: usize = 4;
const P_KIND: usize = 8;
const P_LEN1: usize = 12;
const P_ARG1: usize = 16;
const P_LEN2: usize = 20;
const P_STATE: usize = 24;
const P_REPS: usize = 28; // i32[4]
const D_KIND: usize = NODE + NODE_SIZE * SLOTS;
const D_LEN: usize = D_KIND + 4 * SLOTS;
const D_ARG: usize = D_LEN + 4 * SLOTS;
// price tables
const T_MATCHLEN: usize = D_ARG + 4 * SLOTS; // u32[16 * LEN_ROW]
const T_REPLEN: usize = T_MATCHLEN + 4 * 16 * <usize>LEN_ROW;
const T_MATCHLEN_COUNT: usize = T_REPLEN + 4 * 16 * <usize>LEN_ROW; // i32[16]
const T_REPLEN_COUNT: usize = T_MATCHLEN_COUNT + 4 * 16;
const T_SLOT: usize = T_REPLEN_COUNT + 4 * 16; // u32[4 * 64]
const T_FULLDIST: usize = T_SLOT + 4 * 256; // u32[4 * 128]
const T_ALIGN: usize = T_FULLDIST + 4 * 512; // u32[16]
// match finder
const MF_LENS: usize = T_ALIGN + 4 * 16; // i32[MATCH_LEN_MAX + 2]
const MF_DISTS: usize = MF_LENS + 4 * 280;
const HEAD2: usize = MF_DISTS + 4 * 280;
const HEAD3: usize = HEAD2 + 4 * <usize>HASH2_SIZE;
const DYN: usize = (HEAD3 + 4 * <usize>HASH3_SIZE + 65535) & ~65535;

// ---- configuration (configure) ---------------------------------------------------------------
let nice: i32 = 64;
let depth: i32 = 48;
let dictSize: i32 = 1 << 15;
let lc: i32 = 3;
let lp: i32 = 0;
let pb: i32 = 2;
let lenRefresh: i32 = 0;
let HEAD4: usize = DYN;
let mask4: i32 = 0xffff;
let SON: usize = DYN;
let cyclic: i32 = 0;
let OUT: usize = DYN;
let outCap: i32 = 0;
let IN: usize = DYN;

// ---- per-call state --------------------------------------------------------------------------
let srcN: i32 = 0;
/** Input bytes loaded at IN (srcN when the caller's window holds it all). */
let have: i32 = 0;
let mfBase: i32 = 0;
let mfCycNext: i32 = 0;
let mfNext: i32 = 0;
let mfCount: i32 = 0;
let mfLastPos: i32 = -1;
let matchPriceCount: i32 = 0;
let alignPriceCount: i32 = 0;
// range encoder
let rcLow: u64 = 0;
let rcRange: u32 = 0xffffffff;
let rcCache: u32 = 0;
let rcCacheSize: i32 = 1;
let rcN: i32 = 0;

/** Bytes of the stream of the last compress call. */
export let written: i32 = 0;
/** Input positions the match finder has taken in, over all calls (work done: tests and profiling). */
export let positionsExamined: f64 = 0;

// ---- small helpers ---------------------------------------------------------------------------
@inline function sb(inp: usize, i: i32): u32 {
  return <u32>load<u8>(inp + <usize>i);
}
@inline function src(i: i32): u32 {
  return <u32>load<u8>(IN + <usize>i);
}
@inline function ldi(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}
@inline function sti(base: usize, i: i32, v: i32): void {
  store<i32>(base + (<usize>i << 2), v);
}
@inline function nld(field: usize, j: i32): i32 {
  return load<i32>(NODE + <usize>j * NODE_SIZE + field);
}
@inline function nst(field: usize, j: i32, v: i32): void {
  store<i32>(NODE + <usize>j * NODE_SIZE + field, v);
}
@inline function nldu(field: usize, j: i32): u32 {
  return load<u32>(NODE + <usize>j * NODE_SIZE + field);
}
@inline function nstu(field: usize, j: i32, v: u32): void {
  store<u32>(NODE + <usize>j * NODE_SIZE + field, v);
}
@inline function ldu(base: usize, i: i32): u32 {
  return load<u32>(base + (<usize>i << 2));
}
@inline function stu(base: usize, i: i32, v: u32): void {
  store<u32>(base + (<usize>i << 2), v);
}
@inline function prob(base: usize, i: i32): u32 {
  return <u32>load<u16>(base + (<usize>i << 1));
}
@inline function price0(p: u32): u32 {
  return load<u32>(PRICES + ((p >> PRICE_SHIFT) << 2));
}
// The price of a 1 looks up 2047 - p, as liblzma does (see lzma-encoder.ts).
@inline function price1(p: u32): u32 {
  return load<u32>(PRICES + (((p ^ (BIT_MODEL_TOTAL - 1)) >> PRICE_SHIFT) << 2));
}
@inline function priceBit(p: u32, b: u32): u32 {
  return b ? price1(p) : price0(p);
}
@inline function litStateAfterLiteral(s: i32): i32 {
  return s < 4 ? 0 : s < 10 ? s - 3 : s - 6;
}
@inline function stateAfterMatch(s: i32): i32 {
  return s < LIT_STATES ? 7 : 10;
}
@inline function stateAfterRep(s: i32): i32 {
  return s < LIT_STATES ? 8 : 11;
}
@inline function stateAfterShortRep(s: i32): i32 {
  return s < LIT_STATES ? 9 : 11;
}

function treePrice(base: usize, bits: i32, v: i32): u32 {
  let m: i32 = 1;
  let s: u32 = 0;
  for (let k = bits - 1; k >= 0; k--) {
    const b = (v >>> k) & 1;
    s += priceBit(prob(base, m), b);
    m = (m << 1) | b;
  }
  return s;
}
function reverseTreePrice(base: usize, bits: i32, v: i32): u32 {
  let m: i32 = 1;
  let s: u32 = 0;
  for (let k = 0; k < bits; k++) {
    const b = (v >>> k) & 1;
    s += priceBit(prob(base, m), b);
    m = (m << 1) | b;
  }
  return s;
}
@inline function distSlot(dist: i32): i32 {
  if (dist < START_POS_MODEL) return dist;
  const n = 31 - clz(dist);
  return 2 * n + ((dist >>> (n - 1)) & 1);
}

function initTables(): void {
  for (let i = 0; i < 128; i++) {
    let w: u32 = (<u32>i << PRICE_SHIFT) + (1 << (PRICE_SHIFT - 1));
    let bits: u32 = 0;
    for (let j: u32 = 0; j < PRICE_SHIFT; j++) {
      w *= w;
      bits <<= 1;
      while (w >= 1 << 16) {
        w >>= 1;
        bits++;
      }
    }
    stu(PRICES, i, 11 * 16 - 15 - bits);
  }
  for (let i = 0; i < 256; i++) {
    let c: u32 = <u32>i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    stu(CRC, i, c);
  }
}

/** The 4-byte head mask for a dictionary: its size - 1 with every lower bit set, halved, at least 16 bits. */
function hash4Mask(dict: i32): i32 {
  let hs: u32 = <u32>dict - 1;
  hs |= hs >>> 1;
  hs |= hs >>> 2;
  hs |= hs >>> 4;
  hs |= hs >>> 8;
  hs >>>= 1;
  hs |= 0xffff;
  if (hs > 1 << 24) hs >>>= 1;
  return <i32>hs;
}

/**
 * Set the encoder up for a level's depth and nice length, a dictionary, the lc/lp/pb properties and
 * outputs up to maxOut bytes; clears the match finder. Returns the input window's address (inputs
 * are read from there; the memory may grow past it).
 */
export function configure(nice_: i32, depth_: i32, dict: i32, lc_: i32, lp_: i32, pb_: i32, maxOut: i32): usize {
  nice = nice_;
  depth = depth_;
  dictSize = dict;
  lc = lc_;
  lp = lp_;
  pb = pb_;
  lenRefresh = (nice > 4 ? nice : 4) + 1 - MATCH_LEN_MIN;
  cyclic = dict + 1;
  mask4 = hash4Mask(dict);
  HEAD4 = DYN;
  SON = (HEAD4 + 4 * (<usize>mask4 + 1) + 15) & ~15;
  OUT = (SON + 8 * <usize>cyclic + 15) & ~15;
  outCap = maxOut;
  IN = (OUT + <usize>outCap + <usize>OUT_SLACK + 15) & ~15;
  grow(IN + 65536);
  initTables();
  for (let i = 0; i < HASH2_SIZE; i++) sti(HEAD2, i, EMPTY);
  for (let i = 0; i < HASH3_SIZE; i++) sti(HEAD3, i, EMPTY);
  for (let i = 0; i <= mask4; i++) sti(HEAD4, i, EMPTY);
  // (lengths past nice are never priced; should one be, it must not look free)
  for (let i = 0; i < 16 * LEN_ROW; i++) {
    stu(T_MATCHLEN, i, INFINITY);
    stu(T_REPLEN, i, INFINITY);
  }
  mfBase = 0;
  mfNext = 0;
  return IN;
}

function grow(need: usize): void {
  const have = <usize>memory.size() << 16;
  if (need > have) memory.grow(<i32>((need - have + 65535) >> 16));
}

export function outPtr(): usize {
  return OUT;
}

// ---- match finder (lzma-matchfinder in the TypeScript oracle) -----------------------------------

function mfReset(n: i32): void {
  mfBase += mfNext + cyclic;
  if (mfBase + n > BASE_LIMIT) {
    for (let i = 0; i < HASH2_SIZE; i++) sti(HEAD2, i, EMPTY);
    for (let i = 0; i < HASH3_SIZE; i++) sti(HEAD3, i, EMPTY);
    for (let i = 0; i <= mask4; i++) sti(HEAD4, i, EMPTY);
    mfBase = 0;
  }
  srcN = n;
  mfNext = 0;
  mfCycNext = mfBase % cyclic;
  mfCount = 0;
  mfLastPos = -1;
}

function skipTo(end: i32): void {
  while (mfNext < end) insert(mfNext, false);
}

/** Matches at `pos` (every position before it inserted) into MF_LENS/MF_DISTS; returns how many. */
function find(pos: i32): i32 {
  const inp = IN;
  if (pos == mfLastPos) return mfCount;
  skipTo(pos);
  insert(pos, true);
  mfLastPos = pos;
  const c = mfCount;
  if (c > 0) {
    const best = ldi(MF_LENS, c - 1);
    let avail = srcN - pos;
    if (avail > MATCH_LEN_MAX) avail = MATCH_LEN_MAX;
    if (best == nice && best < avail) {
      const from = pos - ldi(MF_DISTS, c - 1) - 1;
      let l = best;
      l = matchLen(inp + <usize>from, inp + <usize>pos, l, avail);
      sti(MF_LENS, c - 1, l);
    }
  }
  return c;
}

function insert(pos: i32, report: bool): void {
  const inp = IN;
  const cyc = mfCycNext;
  mfNext = pos + 1;
  mfCycNext = cyc + 1 == cyclic ? 0 : cyc + 1;
  mfCount = 0;
  const avail = srcN - pos;
  // The last 3 bytes are neither searched nor inserted (liblzma's bt4 runs only with 4 bytes ahead).
  if (avail < 4) return;
  const g = mfBase + pos;
  const b0 = sb(inp, pos);
  const b1 = sb(inp, pos + 1);
  const b2 = sb(inp, pos + 2);
  const temp = ldu(CRC, b0) ^ b1;
  const h2 = <i32>(temp & <u32>(HASH2_SIZE - 1));
  const h3 = <i32>((temp ^ (b2 << 8)) & <u32>(HASH3_SIZE - 1));
  const h4 = <i32>((temp ^ (b2 << 8) ^ (ldu(CRC, sb(inp, pos + 3)) << 5)) & <u32>mask4);
  let d2 = g - ldi(HEAD2, h2);
  const d3 = g - ldi(HEAD3, h3);
  let cur = ldi(HEAD4, h4);
  sti(HEAD2, h2, g);
  sti(HEAD3, h3, g);
  sti(HEAD4, h4, g);
  const limit = avail < nice ? avail : nice;
  let best = 1;
  let cnt = 0;
  if (report) {
    if (d2 < cyclic && sb(inp, pos - d2) == b0 && sb(inp, pos - d2 + 1) == b1) {
      best = 2;
      sti(MF_LENS, 0, 2);
      sti(MF_DISTS, 0, d2 - 1);
      cnt = 1;
    }
    if (d2 != d3 && d3 < cyclic && sb(inp, pos - d3) == b0 && sb(inp, pos - d3 + 1) == b1 && sb(inp, pos - d3 + 2) == b2) {
      best = 3;
      sti(MF_DISTS, cnt++, d3 - 1);
      d2 = d3;
    }
    if (cnt > 0) {
      let l = best;
      const from = pos - d2;
      l = matchLen(inp + <usize>from, inp + <usize>pos, l, limit);
      best = l;
      sti(MF_LENS, cnt - 1, l);
      if (l == limit) {
        mfCount = cnt;
        report = false; // the tree walk below only inserts
      }
    }
    if (best < 3) best = 3;
  }
  const son = SON;
  const cyclic_ = cyclic;
  let ptr1 = 2 * cyc; // where the next smaller node hangs
  let ptr0 = 2 * cyc + 1; // where the next greater node hangs
  let len0 = 0;
  let len1 = 0;
  const pIn = IN + <usize>pos;
  for (let d = depth; ; d--) {
    const delta = g - cur;
    if (d == 0 || delta >= cyclic_) {
      sti(son, ptr0, EMPTY);
      sti(son, ptr1, EMPTY);
      break;
    }
    const cc = cyc - delta;
    const pair = 2 * (cc < 0 ? cc + cyclic_ : cc);
    const pFrom = pIn - <usize>delta;
    let len = len0 < len1 ? len0 : len1;
    if (load<u8>(pFrom + <usize>len) == load<u8>(pIn + <usize>len)) {
      len = matchLen(pFrom, pIn, len + 1, limit);
      if (report && len > best) {
        best = len;
        sti(MF_LENS, cnt, len);
        sti(MF_DISTS, cnt, delta - 1);
        cnt++;
      }
      if (len >= limit) {
        sti(son, ptr1, ldi(son, pair));
        sti(son, ptr0, ldi(son, pair + 1));
        break;
      }
    }
    if (load<u8>(pFrom + <usize>len) < load<u8>(pIn + <usize>len)) {
      sti(son, ptr1, cur);
      ptr1 = pair + 1;
      cur = ldi(son, ptr1);
      len1 = len;
    } else {
      sti(son, ptr0, cur);
      ptr0 = pair;
      cur = ldi(son, ptr0);
      len0 = len;
    }
  }
  if (report) mfCount = cnt;
}

/**
 * Length of the common prefix of a and b, known to be at least `len`, at most `limit`: 8 bytes at a
 * time, the first differing byte found from the XOR's trailing zeros (little-endian). May read up to
 * 7 bytes past `limit` (the window has slack after the input).
 */
@inline function matchLen(a: usize, b: usize, len: i32, limit: i32): i32 {
  if (len >= limit) return len;
  while (len < limit) {
    const x = load<u64>(a + <usize>len) ^ load<u64>(b + <usize>len);
    if (x != 0) {
      len += <i32>(ctz(x) >> 3);
      return len < limit ? len : limit;
    }
    len += 8;
  }
  return limit;
}

// ---- range encoder ---------------------------------------------------------------------------

function shiftLow(): void {
  const lo32 = <u32>rcLow;
  const carry = <u32>(rcLow >> 32);
  if (lo32 < 0xff000000 || carry) {
    let temp = rcCache;
    do {
      store<u8>(OUT + <usize>rcN, <u8>(temp + carry));
      rcN++;
      temp = 0xff;
    } while (--rcCacheSize != 0);
    rcCache = lo32 >>> 24;
  }
  rcCacheSize++;
  rcLow = <u64>(lo32 & 0x00ffffff) << 8;
}
@inline function normalize(): void {
  while (rcRange < TOP) {
    rcRange <<= 8;
    shiftLow();
  }
}
function encBit(base: usize, i: i32, b: u32): void {
  const a = base + (<usize>i << 1);
  const p = <u32>load<u16>(a);
  const bound = (rcRange >>> 11) * p;
  if (b == 0) {
    rcRange = bound;
    store<u16>(a, <u16>(p + ((BIT_MODEL_TOTAL - p) >>> MOVE_BITS)));
  } else {
    rcLow += <u64>bound;
    rcRange -= bound;
    store<u16>(a, <u16>(p - (p >>> MOVE_BITS)));
  }
  normalize();
}
function encDirect(v: u32, bits: i32): void {
  for (let k = bits - 1; k >= 0; k--) {
    rcRange >>>= 1;
    if ((v >>> k) & 1) rcLow += <u64>rcRange;
    normalize();
  }
}
function encTree(base: usize, bits: i32, v: i32): void {
  let m = 1;
  for (let k = bits - 1; k >= 0; k--) {
    const b = (v >>> k) & 1;
    encBit(base, m, b);
    m = (m << 1) | b;
  }
}
function encReverseTree(base: usize, bits: i32, v: i32): void {
  let m = 1;
  for (let k = 0; k < bits; k++) {
    const b = (v >>> k) & 1;
    encBit(base, m, b);
    m = (m << 1) | b;
  }
}
function encodeLen(l: usize, len: i32, posState: i32): void {
  const v = len - MATCH_LEN_MIN;
  if (v < LEN_LOW_SYMBOLS) {
    encBit(l + L_CHOICE, 0, 0);
    encTree(l + L_LOW + 2 * <usize>(posState * LEN_LOW_SYMBOLS), 3, v);
  } else if (v < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS) {
    encBit(l + L_CHOICE, 0, 1);
    encBit(l + L_CHOICE, 1, 0);
    encTree(l + L_MID + 2 * <usize>(posState * LEN_MID_SYMBOLS), 3, v - LEN_LOW_SYMBOLS);
  } else {
    encBit(l + L_CHOICE, 0, 1);
    encBit(l + L_CHOICE, 1, 1);
    encTree(l + L_HIGH, 8, v - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS);
  }
}
/** Returns whether the align bits were coded. */
function encodeDist(dist: i32, len: i32): bool {
  const ls = len - MATCH_LEN_MIN < DIST_STATES - 1 ? len - MATCH_LEN_MIN : DIST_STATES - 1;
  const slot = distSlot(dist);
  encTree(M_DISTSLOT + 2 * <usize>(ls * 64), 6, slot);
  if (slot < START_POS_MODEL) return false;
  const extra = (slot >>> 1) - 1;
  const base = (2 | (slot & 1)) << extra;
  const reduced = dist - base;
  if (slot < END_POS_MODEL) {
    encReverseTree(M_DISTSPECIAL + 2 * <usize>(base - slot), extra, reduced);
    return false;
  }
  encDirect(<u32>reduced >>> ALIGN_BITS, extra - ALIGN_BITS);
  encReverseTree(M_DISTALIGN, ALIGN_BITS, reduced & 15);
  return true;
}

// ---- prices ----------------------------------------------------------------------------------

function lenPrices(model: usize, table: usize, ps: i32): void {
  const c0 = price0(prob(model + L_CHOICE, 0));
  const c1 = price1(prob(model + L_CHOICE, 0));
  const c10 = c1 + price0(prob(model + L_CHOICE, 1));
  const c11 = c1 + price1(prob(model + L_CHOICE, 1));
  const row = ps * LEN_ROW;
  const low = model + L_LOW + 2 * <usize>(ps * LEN_LOW_SYMBOLS);
  const mid = model + L_MID + 2 * <usize>(ps * LEN_MID_SYMBOLS);
  for (let len = MATCH_LEN_MIN; len <= nice; len++) {
    const l = len - MATCH_LEN_MIN;
    stu(table, row + len, l < LEN_LOW_SYMBOLS ? c0 + treePrice(low, 3, l)
      : l < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS ? c10 + treePrice(mid, 3, l - LEN_LOW_SYMBOLS)
        : c11 + treePrice(model + L_HIGH, 8, l - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS));
  }
}

function distPrices(): void {
  const d1 = dictSize - 1 > 1 ? dictSize - 1 : 1;
  let slots = 2 * (32 - clz(d1));
  if (slots > 64) slots = 64;
  for (let ls = 0; ls < DIST_STATES; ls++) {
    for (let slot = 0; slot < slots; slot++) {
      let pr = treePrice(M_DISTSLOT + 2 * <usize>(ls * 64), 6, slot);
      if (slot >= END_POS_MODEL) pr += <u32>(((slot >>> 1) - 1) - ALIGN_BITS) * DIRECT_BIT_PRICE;
      stu(T_SLOT, ls * 64 + slot, pr);
    }
    for (let d = 0; d < FULL_DISTANCES; d++) {
      const slot = distSlot(d);
      let pr = ldu(T_SLOT, ls * 64 + slot);
      if (slot >= START_POS_MODEL) {
        const extra = (slot >>> 1) - 1;
        const base = (2 | (slot & 1)) << extra;
        pr += reverseTreePrice(M_DISTSPECIAL + 2 * <usize>(base - slot), extra, d - base);
      }
      stu(T_FULLDIST, ls * FULL_DISTANCES + d, pr);
    }
  }
  matchPriceCount = 0;
}

function fillAlignPrices(): void {
  for (let i = 0; i < 16; i++) stu(T_ALIGN, i, reverseTreePrice(M_DISTALIGN, ALIGN_BITS, i));
  alignPriceCount = 0;
}

@inline function distPrice(dist: i32, len: i32): u32 {
  const ls = len - MATCH_LEN_MIN < DIST_STATES - 1 ? len - MATCH_LEN_MIN : DIST_STATES - 1;
  if (dist < FULL_DISTANCES) return ldu(T_FULLDIST, ls * FULL_DISTANCES + dist);
  return ldu(T_SLOT, ls * 64 + distSlot(dist)) + ldu(T_ALIGN, dist & 15);
}

@inline function literalBase(pos: i32, prev: u32): usize {
  return M_LITERAL + 2 * <usize>(0x300 * (((pos & ((1 << lp) - 1)) << lc) + <i32>(prev >> <u32>(8 - lc))));
}

/** Price of the literal at `pos` in `state` (a matched literal against `matchByte` after a match). */
function literalPrice(pos: i32, state: i32, matchByte: i32): u32 {
  const inp = IN;
  const base = literalBase(pos, pos > 0 ? sb(inp, pos - 1) : 0);
  const byte = <i32>sb(inp, pos);
  if (state < LIT_STATES) return treePrice(base, 8, byte);
  let mb = matchByte << 1;
  let offset = 0x100;
  let sym = 1;
  let pr: u32 = 0;
  for (let b = 7; b >= 0; b--) {
    const matchBit = mb & offset;
    mb <<= 1;
    const bit = (byte >>> b) & 1;
    pr += priceBit(prob(base, offset + matchBit + sym), bit);
    sym = (sym << 1) | bit;
    offset = bit ? matchBit : offset & ~matchBit;
  }
  return pr;
}

/** isRep0 / isRepG* / isRep0Long part of a rep match's price. */
@inline function pureRepPrice(r: i32, st: i32, posState: i32): u32 {
  if (r == 0) return price0(prob(M_ISREPG0, st)) + price1(prob(M_ISREP0LONG, st * 16 + posState));
  let pr = price1(prob(M_ISREPG0, st));
  if (r == 1) return pr + price0(prob(M_ISREPG1, st));
  pr += price1(prob(M_ISREPG1, st));
  return pr + priceBit(prob(M_ISREPG2, st), r - 2);
}

/** A whole rep0 match of `len` coded in state `st` at `posState`. */
function rep0MatchPrice(st: i32, posState: i32, len: i32): u32 {
  return price1(prob(M_ISMATCH, st * 16 + posState)) + price1(prob(M_ISREP, st)) + pureRepPrice(0, st, posState)
    + ldu(T_REPLEN, posState * LEN_ROW + len);
}

// ---- optimal parse ---------------------------------------------------------------------------

@inline function endsWithRep0(j: i32, before: i32): bool {
  if (nld(P_PREV, j) >= before) return false;
  const k = nld(P_KIND, j);
  return k >= KIND_LIT_REP0 || (k == KIND_REP && nld(P_ARG1, j) == 0);
}

@inline function extend(lenEnd: i32, to: i32): i32 {
  while (lenEnd < to) nstu(P_PRICE, ++lenEnd, INFINITY);
  return lenEnd;
}

@inline function setNode(j: i32, c: u32, i: i32, kind: i32, len1: i32, arg1: i32, len2: i32): void {
  nstu(P_PRICE, j, c);
  nst(P_PREV, j, i);
  nst(P_KIND, j, kind);
  nst(P_LEN1, j, len1);
  nst(P_ARG1, j, arg1);
  nst(P_LEN2, j, len2);
}

@inline function single(kind: i32, len: i32, arg: i32): i32 {
  sti(D_KIND, 0, kind);
  sti(D_LEN, 0, len);
  sti(D_ARG, 0, arg);
  return 1;
}

// the coder's reps (the parse's node 0)
let rep0: i32 = 0;
let rep1: i32 = 0;
let rep2: i32 = 0;
let rep3: i32 = 0;
let repLen0: i32 = 0;
let repLen1: i32 = 0;
let repLen2: i32 = 0;
let repLen3: i32 = 0;

@inline function repAt(r: i32): i32 {
  return r == 0 ? rep0 : r == 1 ? rep1 : r == 2 ? rep2 : rep3;
}
@inline function repLenAt(r: i32): i32 {
  return r == 0 ? repLen0 : r == 1 ? repLen1 : r == 2 ? repLen2 : repLen3;
}
@inline function setRepLen(r: i32, v: i32): void {
  if (r == 0) repLen0 = v;
  else if (r == 1) repLen1 = v;
  else if (r == 2) repLen2 = v;
  else repLen3 = v;
}

function parseBlock(n: i32, start: i32, state0: i32): i32 {
  const inp = IN;
  const pbMask = (1 << pb) - 1;
  const cnt = find(start);
  const availAll = n - start;
  if (availAll < 2) return single(KIND_LIT, 1, 0);
  const avail0 = availAll < MATCH_LEN_MAX ? availAll : MATCH_LEN_MAX;
  let repMax = 0;
  for (let r = 0; r < 4; r++) {
    const back = start - repAt(r) - 1;
    setRepLen(r, 0);
    if (back < 0 || sb(inp, back) != sb(inp, start) || sb(inp, back + 1) != sb(inp, start + 1)) continue;
    let l = 2;
    l = matchLen(inp + <usize>back, inp + <usize>start, l, avail0);
    setRepLen(r, l);
    if (l > repLenAt(repMax)) repMax = r;
  }
  const repMaxLen = repLenAt(repMax);
  if (repMaxLen >= nice) {
    skipTo(start + repMaxLen);
    return single(KIND_REP, repMaxLen, repMax);
  }
  const mainLen = cnt > 0 ? ldi(MF_LENS, cnt - 1) : 0;
  if (mainLen >= nice) {
    skipTo(start + mainLen);
    return single(KIND_MATCH, mainLen, ldi(MF_DISTS, cnt - 1));
  }
  const curByte = <i32>sb(inp, start);
  const rep0Back = start - rep0 - 1;
  const matchByte = rep0Back >= 0 ? <i32>sb(inp, rep0Back) : -1;
  if (mainLen < 2 && curByte != matchByte && repMaxLen < 2) return single(KIND_LIT, 1, 0);

  const st = state0;
  const posState = start & pbMask;
  nst(P_STATE, 0, st);
  nst(P_REPS, 0, rep0);
  nst(P_REPS + 4, 0, rep1);
  nst(P_REPS + 8, 0, rep2);
  nst(P_REPS + 12, 0, rep3);
  nstu(P_PRICE, 0, 0);
  setNode(1, price0(prob(M_ISMATCH, st * 16 + posState)) + literalPrice(start, st, matchByte), 0, KIND_LIT, 1, 0, 0);
  const matchPrice = price1(prob(M_ISMATCH, st * 16 + posState));
  const repMatchPrice = matchPrice + price1(prob(M_ISREP, st));
  if (matchByte == curByte) {
    const c = repMatchPrice + price0(prob(M_ISREPG0, st)) + price0(prob(M_ISREP0LONG, st * 16 + posState));
    if (c < nldu(P_PRICE, 1)) setNode(1, c, 0, KIND_SHORTREP, 1, 0, 0);
  }
  let lenEnd = mainLen > repMaxLen ? mainLen : repMaxLen;
  if (lenEnd < 2) return single(nld(P_KIND, 1), 1, 0);
  for (let l = 2; l <= lenEnd; l++) nstu(P_PRICE, l, INFINITY);
  const lrow = posState * LEN_ROW;
  for (let r = 0; r < 4; r++) {
    const rl = repLenAt(r);
    if (rl < 2) continue;
    const base = repMatchPrice + pureRepPrice(r, st, posState);
    for (let l = rl; l >= 2; l--) {
      const c = base + ldu(T_REPLEN, lrow + l);
      if (c < nldu(P_PRICE, l)) setNode(l, c, 0, KIND_REP, l, r, 0);
    }
  }
  let len = repLen0 >= 2 ? repLen0 + 1 : 2;
  if (len <= mainLen) {
    const nmBase = matchPrice + price0(prob(M_ISREP, st));
    let i = 0;
    while (len > ldi(MF_LENS, i)) i++;
    for (; ; len++) {
      const dist = ldi(MF_DISTS, i);
      const c = nmBase + ldu(T_MATCHLEN, lrow + len) + distPrice(dist, len);
      if (c < nldu(P_PRICE, len)) setNode(len, c, 0, KIND_MATCH, len, dist, 0);
      if (len == ldi(MF_LENS, i) && ++i == cnt) break;
    }
  }

  let cur = 1;
  for (; cur < lenEnd; cur++) {
    const c = find(start + cur);
    if (c > 0 && ldi(MF_LENS, c - 1) >= nice) break;
    lenEnd = expand(n, start, cur, lenEnd, c);
  }
  return backtrack(cur);
}

/** The steps out of node `cur` (its own cheapest step in is final now). Returns the new lenEnd. */
function expand(n: i32, start: i32, cur: i32, lenEnd: i32, cnt: i32): i32 {
  const inp = IN;
  const pbMask = (1 << pb) - 1;
  const pi = nld(P_PREV, cur);
  let st = nld(P_STATE, pi);
  const k = nld(P_KIND, cur);
  const nr = NODE + <usize>cur * NODE_SIZE + P_REPS;
  const pr = NODE + <usize>pi * NODE_SIZE + P_REPS;
  if (k == KIND_LIT || k == KIND_SHORTREP || k == KIND_LIT_REP0) {
    st = k == KIND_LIT ? litStateAfterLiteral(st) : k == KIND_SHORTREP ? stateAfterShortRep(st) : stateAfterRep(litStateAfterLiteral(st));
    store<i32>(nr, load<i32>(pr));
    store<i32>(nr, load<i32>(pr, 4), 4);
    store<i32>(nr, load<i32>(pr, 8), 8);
    store<i32>(nr, load<i32>(pr, 12), 12);
  } else if (k == KIND_REP || k == KIND_REP_LIT_REP0) {
    const a = nld(P_ARG1, cur);
    store<i32>(nr, load<i32>(pr + (<usize>a << 2)));
    let w: usize = 4;
    for (let r = 0; r < 4; r++) {
      if (r != a) {
        store<i32>(nr + w, load<i32>(pr + (<usize>r << 2)));
        w += 4;
      }
    }
    st = stateAfterRep(st);
    if (k == KIND_REP_LIT_REP0) st = stateAfterRep(litStateAfterLiteral(st));
  } else {
    store<i32>(nr, nld(P_ARG1, cur));
    store<i32>(nr, load<i32>(pr), 4);
    store<i32>(nr, load<i32>(pr, 4), 8);
    store<i32>(nr, load<i32>(pr, 8), 12);
    st = stateAfterMatch(st);
    if (k == KIND_MATCH_LIT_REP0) st = stateAfterRep(litStateAfterLiteral(st));
  }
  nst(P_STATE, cur, st);

  const pos = start + cur;
  const posState = pos & pbMask;
  const curPrice = nldu(P_PRICE, cur);
  const curByte = <i32>sb(inp, pos);
  const rep0_ = load<i32>(nr);
  const matchByte = pos - rep0_ - 1 >= 0 ? <i32>sb(inp, pos - rep0_ - 1) : -1;
  const isMatchIdx = st * 16 + posState;
  const litCost = curPrice + price0(prob(M_ISMATCH, isMatchIdx)) + literalPrice(pos, st, matchByte);
  let nextIsLiteral = false;
  if (litCost < nldu(P_PRICE, cur + 1)) {
    setNode(cur + 1, litCost, cur, KIND_LIT, 1, 0, 0);
    nextIsLiteral = true;
  }
  const matchPrice = curPrice + price1(prob(M_ISMATCH, isMatchIdx));
  const repMatchPrice = matchPrice + price1(prob(M_ISREP, st));
  // No short rep over a path that reaches cur + 1 with a rep0 match (liblzma's rule).
  if (matchByte == curByte && !endsWithRep0(cur + 1, cur)) {
    const c = repMatchPrice + price0(prob(M_ISREPG0, st)) + price0(prob(M_ISREP0LONG, isMatchIdx));
    if (c <= nldu(P_PRICE, cur + 1)) {
      setNode(cur + 1, c, cur, KIND_SHORTREP, 1, 0, 0);
      nextIsLiteral = true;
    }
  }
  let availFull = n - pos;
  if (availFull > OPTS - 1 - cur) availFull = OPTS - 1 - cur;
  if (availFull < 2) return lenEnd;
  const avail = availFull < nice ? availFull : nice;

  // literal + rep0
  if (!nextIsLiteral && matchByte != curByte && matchByte >= 0) {
    const back = pos - rep0_ - 1;
    const limit = availFull < nice + 1 ? availFull : nice + 1;
    let l = 1;
    l = matchLen(inp + <usize>back, inp + <usize>pos, l, limit);
    const lenTest = l - 1;
    if (lenTest >= 2) {
      const st2 = litStateAfterLiteral(st);
      const ps2 = (pos + 1) & pbMask;
      const c = litCost + rep0MatchPrice(st2, ps2, lenTest);
      const j = cur + 1 + lenTest;
      lenEnd = extend(lenEnd, j);
      if (c < nldu(P_PRICE, j)) setNode(j, c, cur, KIND_LIT_REP0, 1, 0, lenTest);
    }
  }

  let startLen = 2;
  const lrow = posState * LEN_ROW;
  const next = <i32>sb(inp, pos + 1);
  for (let r = 0; r < 4; r++) {
    const back = pos - load<i32>(nr + (<usize>r << 2)) - 1;
    if (back < 0 || <i32>sb(inp, back) != curByte || <i32>sb(inp, back + 1) != next) continue;
    let lenTest = 2;
    lenTest = matchLen(inp + <usize>back, inp + <usize>pos, lenTest, avail);
    lenEnd = extend(lenEnd, cur + lenTest);
    const base = repMatchPrice + pureRepPrice(r, st, posState);
    for (let l = lenTest; l >= 2; l--) {
      const c = base + ldu(T_REPLEN, lrow + l);
      if (c < nldu(P_PRICE, cur + l)) setNode(cur + l, c, cur, KIND_REP, l, r, 0);
    }
    if (r == 0) startLen = lenTest + 1;
    // rep + literal + rep0
    const lim2 = availFull < lenTest + 1 + nice ? availFull : lenTest + 1 + nice;
    let l2 = lenTest + 1;
    l2 = matchLen(inp + <usize>back, inp + <usize>pos, l2, lim2);
    const len2 = l2 - lenTest - 1;
    if (len2 >= 2) {
      const stA = stateAfterRep(st);
      const psA = (pos + lenTest) & pbMask;
      let c = base + ldu(T_REPLEN, lrow + lenTest) + price0(prob(M_ISMATCH, stA * 16 + psA))
        + literalPrice(pos + lenTest, stA, <i32>sb(inp, back + lenTest));
      const stB = litStateAfterLiteral(stA);
      const psB = (pos + lenTest + 1) & pbMask;
      c += rep0MatchPrice(stB, psB, len2);
      const j = cur + lenTest + 1 + len2;
      lenEnd = extend(lenEnd, j);
      if (c < nldu(P_PRICE, j)) setNode(j, c, cur, KIND_REP_LIT_REP0, lenTest, r, len2);
    }
  }

  // normal matches (no longer than avail), each length at the nearest distance found for it
  if (cnt == 0) return lenEnd;
  let newLen = ldi(MF_LENS, cnt - 1);
  if (newLen > avail) newLen = avail;
  if (newLen < startLen) return lenEnd;
  const nmBase = matchPrice + price0(prob(M_ISREP, st));
  lenEnd = extend(lenEnd, cur + newLen);
  let i = 0;
  while (startLen > ldi(MF_LENS, i)) i++;
  let mlen = ldi(MF_LENS, i);
  let dist = ldi(MF_DISTS, i);
  let dp = distPrice(dist, startLen);
  for (let l = startLen; ; l++) {
    // (the distance price depends on the length only below 5)
    if (l < 6) dp = distPrice(dist, l);
    const c = nmBase + ldu(T_MATCHLEN, lrow + l) + dp;
    if (c < nldu(P_PRICE, cur + l)) setNode(cur + l, c, cur, KIND_MATCH, l, dist, 0);
    if (l == newLen || l == mlen) {
      // match + literal + rep0
      const back = pos - dist - 1;
      const lim2 = availFull < l + 1 + nice ? availFull : l + 1 + nice;
      let l2 = l + 1;
      l2 = matchLen(inp + <usize>back, inp + <usize>pos, l2, lim2);
      const len2 = l2 - l - 1;
      if (len2 >= 2) {
        const stA = stateAfterMatch(st);
        const psA = (pos + l) & pbMask;
        let c2 = c + price0(prob(M_ISMATCH, stA * 16 + psA)) + literalPrice(pos + l, stA, <i32>sb(inp, back + l));
        const stB = litStateAfterLiteral(stA);
        const psB = (pos + l + 1) & pbMask;
        c2 += rep0MatchPrice(stB, psB, len2);
        const j = cur + l + 1 + len2;
        lenEnd = extend(lenEnd, j);
        if (c2 < nldu(P_PRICE, j)) setNode(j, c2, cur, KIND_MATCH_LIT_REP0, l, dist, len2);
      }
      if (l == newLen || ++i == cnt) break;
      mlen = ldi(MF_LENS, i);
      dist = ldi(MF_DISTS, i);
      dp = distPrice(dist, l + 1);
    }
  }
  return lenEnd;
}

@inline function put(w: i32, kind: i32, len: i32, arg: i32): void {
  sti(D_KIND, w, kind);
  sti(D_LEN, w, len);
  sti(D_ARG, w, arg);
}

/** The decisions on the cheapest path to node `end`, in order. */
function backtrack(end: i32): i32 {
  let count = 0;
  for (let j = end; j > 0; j = nld(P_PREV, j)) {
    const k = nld(P_KIND, j);
    count += k == KIND_LIT_REP0 ? 2 : k >= KIND_REP_LIT_REP0 ? 3 : 1;
  }
  let w = count;
  for (let j = end; j > 0; j = nld(P_PREV, j)) {
    const k = nld(P_KIND, j);
    if (k <= KIND_MATCH) put(--w, k, nld(P_LEN1, j), nld(P_ARG1, j));
    else {
      put(--w, KIND_REP, nld(P_LEN2, j), 0);
      put(--w, KIND_LIT, 1, 0);
      if (k == KIND_REP_LIT_REP0) put(--w, KIND_REP, nld(P_LEN1, j), nld(P_ARG1, j));
      else if (k == KIND_MATCH_LIT_REP0) put(--w, KIND_MATCH, nld(P_LEN1, j), nld(P_ARG1, j));
    }
  }
  return count;
}

// ---- one stream ------------------------------------------------------------------------------

/**
 * The MicroLZMA stream of the longest decision prefix of in[inOff, inOff + n) that fits `capacity`
 * bytes (at most the configured output size): returns the input it takes; the stream is at
 * outPtr(), `written` bytes. `loaded`: input bytes present at the window now (n when all are; fewer
 * and the encoder asks for more through need()). `probe`: stop once INCOMPRESSIBLE_PROBE bytes have
 * gained nothing.
 */
export function compress(inOff: i32, n: i32, loaded: i32, capacity: i32, probe: bool): i32 {
  written = 0;
  if (capacity < 6 || n == 0) return 0;
  IN += <usize>inOff; // (restored before returning)
  have = loaded;
  mfReset(n);
  // fresh model
  for (let a = M_ISMATCH; a < M_LITERAL + 2 * (<usize>0x300 << <usize>(lc + lp)); a += 2) store<u16>(a, PROB_INIT);
  rcLow = 0;
  rcRange = 0xffffffff;
  rcCache = 0;
  rcCacheSize = 1;
  rcN = 0;
  const pbMask = (1 << pb) - 1;
  let state = 0;
  rep0 = 0; rep1 = 0; rep2 = 0; rep3 = 0;
  let pos = 0;
  let okLow: u64 = 0;
  let okRange: u32 = 0xffffffff;
  let okCache: u32 = 0;
  let okCacheSize = 1;
  let okN = 0;
  let okPos = 0;
  const posStates = 1 << pb;
  for (let ps = 0; ps < posStates; ps++) {
    lenPrices(M_MATCHLEN, T_MATCHLEN, ps);
    lenPrices(M_REPLEN, T_REPLEN, ps);
    sti(T_MATCHLEN_COUNT, ps, lenRefresh);
    sti(T_REPLEN_COUNT, ps, lenRefresh);
  }
  distPrices();
  fillAlignPrices();

  let stop = false;
  while (!stop && pos < n) {
    if (have < n && have - pos < LOOKAHEAD) have = need(pos + LOOKAHEAD < n ? pos + LOOKAHEAD : n);
    // Prices are refreshed only where no match search ran ahead of the block (see lzma-encoder.ts).
    if (mfLastPos != pos) {
      if (matchPriceCount >= DIST_PRICE_REFRESH) distPrices();
      if (alignPriceCount >= ALIGN_PRICE_REFRESH) fillAlignPrices();
    }
    const count = parseBlock(n, pos, state);
    for (let k = 0; k < count; k++) {
      const kind = ldi(D_KIND, k);
      const len = ldi(D_LEN, k);
      const arg = ldi(D_ARG, k);
      const posState = pos & pbMask;
      if (kind == KIND_LIT) {
        encBit(M_ISMATCH, state * 16 + posState, 0);
        const base = literalBase(pos, pos > 0 ? src(pos - 1) : 0);
        const byte = <i32>src(pos);
        if (state < LIT_STATES) {
          encTree(base, 8, byte);
        } else {
          let matchByte = <i32>src(pos - rep0 - 1) << 1;
          let offset = 0x100;
          let sym = 1;
          for (let b = 7; b >= 0; b--) {
            const matchBit = matchByte & offset;
            matchByte <<= 1;
            const bit = (byte >>> b) & 1;
            encBit(base, offset + matchBit + sym, bit);
            sym = (sym << 1) | bit;
            offset = bit ? matchBit : offset & ~matchBit;
          }
        }
        state = litStateAfterLiteral(state);
      } else if (kind == KIND_SHORTREP) {
        encBit(M_ISMATCH, state * 16 + posState, 1);
        encBit(M_ISREP, state, 1);
        encBit(M_ISREPG0, state, 0);
        encBit(M_ISREP0LONG, state * 16 + posState, 0);
        state = stateAfterShortRep(state);
      } else if (kind == KIND_REP) {
        encBit(M_ISMATCH, state * 16 + posState, 1);
        encBit(M_ISREP, state, 1);
        if (arg == 0) {
          encBit(M_ISREPG0, state, 0);
          encBit(M_ISREP0LONG, state * 16 + posState, 1);
        } else {
          encBit(M_ISREPG0, state, 1);
          let d: i32;
          if (arg == 1) {
            encBit(M_ISREPG1, state, 0);
            d = rep1;
          } else {
            encBit(M_ISREPG1, state, 1);
            encBit(M_ISREPG2, state, arg == 3 ? 1 : 0);
            if (arg == 3) {
              d = rep3;
              rep3 = rep2;
            } else d = rep2;
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = d;
        }
        // Length prices refreshed from the model as it was before this length's bits (as liblzma).
        const cntAt = ldi(T_REPLEN_COUNT, posState) - 1;
        sti(T_REPLEN_COUNT, posState, cntAt);
        if (cntAt == 0) {
          lenPrices(M_REPLEN, T_REPLEN, posState);
          sti(T_REPLEN_COUNT, posState, lenRefresh);
        }
        encodeLen(M_REPLEN, len, posState);
        state = stateAfterRep(state);
      } else {
        encBit(M_ISMATCH, state * 16 + posState, 1);
        encBit(M_ISREP, state, 0);
        const cntAt = ldi(T_MATCHLEN_COUNT, posState) - 1;
        sti(T_MATCHLEN_COUNT, posState, cntAt);
        if (cntAt == 0) {
          lenPrices(M_MATCHLEN, T_MATCHLEN, posState);
          sti(T_MATCHLEN_COUNT, posState, lenRefresh);
        }
        encodeLen(M_MATCHLEN, len, posState);
        if (encodeDist(arg, len)) alignPriceCount++;
        matchPriceCount++;
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        rep0 = arg;
        state = stateAfterMatch(state);
      }
      if (rcN + rcCacheSize + 4 > capacity) {
        stop = true;
        break;
      }
      pos += len;
      okLow = rcLow; okRange = rcRange; okCache = rcCache; okCacheSize = rcCacheSize; okN = rcN; okPos = pos;
      if (probe && pos >= INCOMPRESSIBLE_PROBE && rcN + rcCacheSize + 4 >= pos) {
        stop = true;
        break;
      }
    }
  }
  rcLow = okLow; rcRange = okRange; rcCache = okCache; rcCacheSize = okCacheSize; rcN = okN;
  positionsExamined += <f64>mfNext;
  IN -= <usize>inOff;
  if (okPos == 0) return 0;
  for (let k = 0; k < 5; k++) shiftLow();
  written = rcN;
  // MicroLZMA: the range coder's first byte (always 0) carries ~props.
  store<u8>(OUT, <u8>~((pb * 5 + lp) * 9 + lc));
  return okPos;
}
