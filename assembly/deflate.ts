// DEFLATE LZ77 parser for the destsize encoder (src/compress/deflate.ts), compiled to WebAssembly by
// AssemblyScript (scripts/build-wasm.js). It turns a prefix of one input into literal/match tokens;
// the entropy coder and the fit search stay in TypeScript.
//
// Parsing: hash chains over 3-byte prefixes, a 32 KiB window, the lazy evaluation of zlib's
// deflate_slow (levels 4-9) or greedy matching (levels 1-3) with zlib's per-level good/lazy/nice/
// chain parameters, and zlib's rule that a 3-byte match farther than 4096 bytes is not worth its
// distance code. Unlike Chromium's zlib (Node's), which hashes 4 bytes on x86 and so never finds a
// 3-byte match, this finds them: on machine code they are frequent and worth ~2-3 % of a pcluster.
//
// The parse is resumable (parse(stop) continues where the last call ended) and the tokens depend
// only on the input and its length (srcLen bounds every match), never on where parse() paused: the
// caller may feed the input in any chunking and gets the same tokens. Each begin() starts from an
// empty window: nothing of an earlier input is visible.
//
// Linear memory (one instance per thread, never shared):
//   HEAD   hash heads, 2^16 x i32 (absolute position = position + base)
//   CHAIN  previous absolute position with the same hash, 2^15 x i32 (by absolute position & 32767)
//   TOK    tokens, u32 each: a literal is its byte (< 256); a match is length | distance << 9
//   IN     the input (inCap bytes + 16 of padding: 8-byte loads may read past the end)
// Entries of earlier inputs are below base (it grows by inCap + WSIZE + 1 per input), so no table is
// cleared between inputs (only when base nears 2^30).

const HASH_BITS: i32 = 16;
const WSIZE: i32 = 32768;
const WMASK: i32 = WSIZE - 1;
const MIN_MATCH: i32 = 3;
const MAX_MATCH: i32 = 258;
/** zlib's TOO_FAR: a 3-byte match farther than this costs more than its three literals */
const TOO_FAR: i32 = 4096;
const BASE_LIMIT: i32 = 0x3fffffff;
/** bytes past a parse stop the parser may read: one maximal match from a position before it, plus the hash */
export const LOOKAHEAD: i32 = MAX_MATCH + 8;

const HEAD: usize = 0;
const CHAIN: usize = HEAD + (4 << HASH_BITS);
const TOK: usize = CHAIN + 4 * <usize>WSIZE;

let inCap: i32 = 0;
let inPtr: usize = TOK + 4;
let base: i32 = WSIZE + 1;

// level parameters
let goodLen: i32 = 0;
let maxLazy: i32 = 0;
let niceLen: i32 = 0;
let maxChain: i32 = 0;
let lazy: bool = false;

// parser state
let srcLen: i32 = 0;
export let pos: i32 = 0;
export let nTok: i32 = 0;
let prevLen: i32 = 0;
let prevDist: i32 = 0;
let avail: bool = false;
// result of longest()
let mDist: i32 = 0;

/** Address of the token array. */
export function tokPtr(): usize {
  return TOK;
}

/** Address of the input (moves when reserve() grows it). */
export function inputPtr(): usize {
  return inPtr;
}

/** Make room for `cap` input bytes (and as many tokens), keeping the `keep` input bytes already
 *  copied. May grow the memory (views of it must be made again). Returns the input's address. */
export function reserve(cap: i32, keep: i32): usize {
  if (cap <= inCap) return inPtr;
  const np: usize = (TOK + 4 * (<usize>cap + 1) + 15) & ~15;
  const need = np + <usize>cap + 16;
  const have = <usize>memory.size() << 16;
  if (need > have) memory.grow(<i32>((need - have + 65535) >> 16));
  if (keep > 0) memory.copy(np, inPtr, <usize>keep);
  inPtr = np;
  inCap = cap;
  return inPtr;
}

/** Start a new input of n bytes (already reserved) at a level 1..9. */
export function begin(n: i32, level: i32): void {
  // zlib's configuration table (deflate.c): good, lazy, nice, chain; levels 1-3 greedy
  if (level <= 1) { goodLen = 4; maxLazy = 4; niceLen = 8; maxChain = 4; lazy = false; }
  else if (level == 2) { goodLen = 4; maxLazy = 5; niceLen = 16; maxChain = 8; lazy = false; }
  else if (level == 3) { goodLen = 4; maxLazy = 6; niceLen = 32; maxChain = 32; lazy = false; }
  else if (level == 4) { goodLen = 4; maxLazy = 4; niceLen = 16; maxChain = 16; lazy = true; }
  else if (level == 5) { goodLen = 8; maxLazy = 16; niceLen = 32; maxChain = 32; lazy = true; }
  else if (level == 6) { goodLen = 8; maxLazy = 16; niceLen = 128; maxChain = 128; lazy = true; }
  else if (level == 7) { goodLen = 8; maxLazy = 32; niceLen = 128; maxChain = 256; lazy = true; }
  else if (level == 8) { goodLen = 32; maxLazy = 128; niceLen = 258; maxChain = 1024; lazy = true; }
  else { goodLen = 32; maxLazy = 258; niceLen = 258; maxChain = 4096; lazy = true; }
  base += srcLen + WSIZE + 1;
  if (base > BASE_LIMIT - n - WSIZE) {
    memory.fill(HEAD, 0, 4 << HASH_BITS);
    base = WSIZE + 1;
  }
  srcLen = n;
  pos = 0;
  nTok = 0;
  prevLen = MIN_MATCH - 1;
  prevDist = 0;
  avail = false;
}

@inline function hash3(p: usize): i32 {
  return <i32>(((load<u32>(p) & 0xffffff) * 0x9e3779b1) >>> (32 - HASH_BITS));
}

/** Insert position p (p + 3 <= srcLen); returns the previous head of its chain (absolute). */
@inline function insert(p: i32): i32 {
  const h: usize = HEAD + (<usize>hash3(inPtr + <usize>p) << 2);
  const a = p + base;
  const prev = load<i32>(h);
  store<i32>(h, a);
  store<i32>(CHAIN + (<usize>(a & WMASK) << 2), prev);
  return prev;
}

@inline function commonLength(a: usize, b: usize, max: i32): i32 {
  let l: i32 = 0;
  while (l < max) {
    const x = load<u64>(a + <usize>l) ^ load<u64>(b + <usize>l);
    if (x != 0) {
      l += <i32>(ctz(x) >> 3);
      return l < max ? l : max;
    }
    l += 8;
  }
  return max;
}

/** Longest match at p longer than `best` among `chain` candidates from absolute position cand;
 *  returns its length (best if none) and sets mDist. */
function longest(p: i32, cand: i32, best: i32, chain: i32): i32 {
  let maxLen = srcLen - p;
  if (maxLen > MAX_MATCH) maxLen = MAX_MATCH;
  if (best >= maxLen) return best;
  const nice = niceLen < maxLen ? niceLen : maxLen;
  const a = p + base;
  const cur = inPtr + <usize>p;
  const first = load<u16>(cur);
  let scanEnd = load<u16>(cur + <usize>(best - 1));
  let dist: i32 = 0;
  while (chain-- > 0) {
    const d = a - cand;
    if (d > WSIZE) break;
    const q = cur - <usize>d;
    // cheap rejects first (as zlib): the two bytes ending a match one longer than best, then the first two
    if (load<u16>(q + <usize>(best - 1)) == scanEnd && load<u16>(q) == first) {
      const l = commonLength(cur + 2, q + 2, maxLen - 2) + 2;
      if (l > best) {
        best = l;
        dist = d;
        if (l >= nice) break;
        scanEnd = load<u16>(cur + <usize>(best - 1));
      }
    }
    // chain[cand] was overwritten by cand + WSIZE once that was inserted
    if (d >= WSIZE) break;
    cand = load<i32>(CHAIN + (<usize>(cand & WMASK) << 2));
  }
  mDist = dist;
  return best;
}

@inline function emitLit(p: i32): void {
  store<u32>(TOK + (<usize>nTok << 2), load<u8>(inPtr + <usize>p));
  nTok++;
}

@inline function emitMatch(len: i32, dist: i32): void {
  store<u32>(TOK + (<usize>nTok << 2), <u32>(len | (dist << 9)));
  nTok++;
}

/** Parse on until pos >= stop (or the input ends). The input must be copied up to
 *  min(srcLen, stop + LOOKAHEAD). Returns the input bytes the tokens cover: pos, or pos - 1 while
 *  the lazy evaluation holds back the token at pos - 1. */
export function parse(stop: i32): i32 {
  if (stop > srcLen) stop = srcLen;
  if (lazy) parseLazy(stop);
  else parseGreedy(stop);
  return avail ? pos - 1 : pos;
}

function parseLazy(stop: i32): void {
  let p = pos;
  let pl = prevLen;
  let pd = prevDist;
  let av = avail;
  const n = srcLen;
  while (p < stop) {
    let cl: i32 = MIN_MATCH - 1;
    let cd: i32 = 0;
    if (p + MIN_MATCH <= n) {
      const cand = insert(p);
      if (pl < maxLazy) {
        cl = longest(p, cand, pl > MIN_MATCH - 1 ? pl : MIN_MATCH - 1, pl >= goodLen ? maxChain >> 2 : maxChain);
        cd = mDist;
        if (cd == 0) cl = MIN_MATCH - 1;
        else if (cl == MIN_MATCH && cd > TOO_FAR) cl = MIN_MATCH - 1;
      }
    }
    if (pl >= MIN_MATCH && cl <= pl) {
      // the match found at p - 1 is at least as long: take it, insert the positions it covers
      emitMatch(pl, pd);
      const end = p - 1 + pl;
      const lim = n - MIN_MATCH;
      for (let q = p + 1; q < end; q++) if (q <= lim) insert(q);
      p = end;
      av = false;
      pl = MIN_MATCH - 1;
      pd = 0;
    } else {
      if (av) emitLit(p - 1);
      av = true;
      pl = cl;
      pd = cd;
      p++;
    }
  }
  if (p >= n && av) {
    emitLit(p - 1);
    av = false;
  }
  pos = p;
  prevLen = pl;
  prevDist = pd;
  avail = av;
}

function parseGreedy(stop: i32): void {
  let p = pos;
  const n = srcLen;
  while (p < stop) {
    let l: i32 = 0;
    if (p + MIN_MATCH <= n) {
      const cand = insert(p);
      l = longest(p, cand, MIN_MATCH - 1, maxChain);
      if (mDist == 0 || (l == MIN_MATCH && mDist > TOO_FAR)) l = 0;
    }
    if (l >= MIN_MATCH) {
      emitMatch(l, mDist);
      const end = p + l;
      // zlib inserts the covered positions only for short matches (max_insert_length at levels 1-3)
      if (l <= maxLazy) {
        const lim = n - MIN_MATCH;
        for (let q = p + 1; q < end; q++) if (q <= lim) insert(q);
      }
      p = end;
    } else {
      emitLit(p);
      p++;
    }
  }
  pos = p;
}
