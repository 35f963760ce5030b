// DEFLATE LZ77 parser for the destsize encoder (src/compress/deflate.ts), compiled to WebAssembly by
// AssemblyScript (scripts/build-wasm.js). It turns a prefix of one input into DEFLATE symbols (the
// token store: symbol, length/distance, distance symbol, extra bits, and running histograms) and
// writes the chosen tokens as Huffman codes (the bit writer); code construction and the fit search
// stay in TypeScript (src/compress/deflate.ts). Both loops were JS and cost as much as the parser at
// the low levels (level 2: token conversion 11 %, bit writing 9 % of the encoder's profile).
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
//   STATS  histograms of the tokens so far: literal/length i32 x 288, distance i32 x 32 (JS edits them)
//   CODES  the code the writer uses: literal/length i32 x 288, distance i32 x 32 (bit-reversed | len << 16)
//   TABLES length -> symbol / extra bits, distance -> symbol, RFC 1951 bases and extra bits
//   then, sized by reserve(cap): per token SYM u16 (literal byte or length symbol 257..285), VAL u32
//   (length | distance << 9, matches only), DSYM u8 (distance symbol), XB u8 (extra bits); the input
//   IN (cap bytes + 16 of padding: 8-byte loads may read past the end); the writer's OUT (wreset).
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
const STATS: usize = CHAIN + 4 * <usize>WSIZE;
const ST_D: usize = STATS + 4 * 288;
const CODES: usize = STATS + 2048;
const CODE_D: usize = CODES + 4 * 288;
const TABLES: usize = CODES + 2048;
const LEN_SYM: usize = TABLES; // u16 x 259
const LEN_XB: usize = LEN_SYM + 2 * 260; // u8 x 259
const DSYM_LO: usize = LEN_XB + 260; // u8 x 257: distance 1..256 -> symbol
const DSYM_HI: usize = DSYM_LO + 260; // u8 x 256: (distance - 1) >> 7 -> symbol (distance > 256)
const LEN_BASE: usize = DSYM_HI + 256; // u16 x 29
const LEN_EXTRA: usize = LEN_BASE + 64; // u8 x 29
const DIST_BASE: usize = LEN_EXTRA + 32; // u16 x 30
const DIST_EXTRA: usize = DIST_BASE + 64; // u8 x 30
const DYN: usize = TABLES + 4096;
const EOB: i32 = 256;

let inCap: i32 = 0;
let symPtr: usize = DYN;
let valPtr: usize = DYN;
let dsymPtr: usize = DYN;
let xbPtr: usize = DYN;
let inPtr: usize = DYN;
let outPtr: usize = DYN;
let base: i32 = WSIZE + 1;
let tablesReady: bool = false;
/** extra bits and fixed-code bits of the tokens the last parse() added (JS keeps the running sums) */
export let addXb: i32 = 0;
export let addFixed: i32 = 0;

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

export function statsPtr(): usize { return STATS; }
export function codesPtr(): usize { return CODES; }
export function symArr(): usize { return symPtr; }
export function valArr(): usize { return valPtr; }
export function dsymArr(): usize { return dsymPtr; }
export function xbArr(): usize { return xbPtr; }
/** Address of the input (moves when reserve() grows it). */
export function inputPtr(): usize { return inPtr; }
/** Token capacity: the input capacity + 1. */
export function tokCap(): i32 { return inCap + 1; }

function ensureMemory(need: usize): void {
  const have = <usize>memory.size() << 16;
  if (need > have) memory.grow(<i32>((need - have + 65535) >> 16));
}

/** Make room for `cap` input bytes (and as many tokens, plus one), keeping the `keep` input bytes
 *  already copied and the tokens parsed so far. May grow the memory (views of it must be made
 *  again). Returns the input's address. */
export function reserve(cap: i32, keep: i32): usize {
  if (cap <= inCap) return inPtr;
  const c: usize = (<usize>cap + 16) & ~15;
  const ns: usize = DYN;
  const nv: usize = ns + 2 * c;
  const nd: usize = nv + 4 * c;
  const nx: usize = nd + c;
  const ni: usize = nx + c;
  ensureMemory(ni + <usize>cap + 16);
  // every region moves up (or stays): move the highest first
  if (keep > 0) memory.copy(ni, inPtr, <usize>keep);
  if (nTok > 0) {
    memory.copy(nx, xbPtr, <usize>nTok);
    memory.copy(nd, dsymPtr, <usize>nTok);
    memory.copy(nv, valPtr, 4 * <usize>nTok);
  }
  symPtr = ns;
  valPtr = nv;
  dsymPtr = nd;
  xbPtr = nx;
  inPtr = ni;
  inCap = cap;
  return inPtr;
}

function initTables(): void {
  // RFC 1951 3.2.5
  let b: i32 = 3;
  for (let s = 0; s < 29; s++) {
    const e: i32 = s < 8 ? 0 : s < 28 ? (s - 4) >> 2 : 0;
    if (s == 28) b = 258;
    store<u16>(LEN_BASE + 2 * <usize>s, <u16>b);
    store<u8>(LEN_EXTRA + <usize>s, <u8>e);
    for (let l = b; l < b + (1 << e) && l <= 258; l++) {
      store<u16>(LEN_SYM + 2 * <usize>l, <u16>(257 + s));
      store<u8>(LEN_XB + <usize>l, <u8>e);
    }
    b += 1 << e;
  }
  let d: i32 = 1;
  for (let s = 0; s < 30; s++) {
    const e: i32 = s < 4 ? 0 : (s - 2) >> 1;
    store<u16>(DIST_BASE + 2 * <usize>s, <u16>d);
    store<u8>(DIST_EXTRA + <usize>s, <u8>e);
    for (let x = d; x < d + (1 << e); x++) {
      if (x <= 256) store<u8>(DSYM_LO + <usize>x, <u8>s);
      else store<u8>(DSYM_HI + <usize>((x - 1) >> 7), <u8>s);
    }
    d += 1 << e;
  }
  tablesReady = true;
}

/** Start a new input of n bytes (already reserved) at a level 1..9. */
export function begin(n: i32, level: i32): void {
  // zlib's configuration table (deflate.c): good, lazy, nice, chain; levels 1-3 greedy
  if (level <= 1) { goodLen = 4; maxLazy = 4; niceLen = 8; maxChain = 4; lazy = false; }
  // level 2, `build -z deflate`'s default, is not zlib's: it inserts the positions of matches up to
  // 32 bytes (zlib: 5) and walks 3 candidates (zlib: 8). Every position in the chains finds more
  // than a deeper walk of fewer: smaller and faster on both trees measured (4 KiB pclusters, whole
  // trees: corpus 39692 -> 39566 pclusters, encoder 85 -> 92 MB/s; usrtree7 90353 -> 90088, ~same
  // speed: its time is in the Huffman fit, not the parse).
  else if (level == 2) { goodLen = 4; maxLazy = 32; niceLen = 16; maxChain = 3; lazy = false; }
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
  if (!tablesReady) {
    ensureMemory(DYN);
    initTables();
  }
  memory.fill(STATS, 0, 4 * (288 + 32));
  store<i32>(STATS + 4 * EOB, 1);
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
  const c: u32 = load<u8>(inPtr + <usize>p);
  store<u16>(symPtr + (<usize>nTok << 1), <u16>c);
  const h = STATS + (<usize>c << 2);
  store<i32>(h, load<i32>(h) + 1);
  addFixed += c < 144 ? 8 : 9;
  nTok++;
}

@inline function emitMatch(len: i32, dist: i32): void {
  const s: u32 = load<u16>(LEN_SYM + (<usize>len << 1));
  const ds: u32 = dist <= 256 ? load<u8>(DSYM_LO + <usize>dist) : load<u8>(DSYM_HI + <usize>((dist - 1) >> 7));
  const x: i32 = <i32>load<u8>(LEN_XB + <usize>len) + <i32>load<u8>(DIST_EXTRA + <usize>ds);
  const t = <usize>nTok;
  store<u16>(symPtr + (t << 1), <u16>s);
  store<u32>(valPtr + (t << 2), <u32>(len | (dist << 9)));
  store<u8>(dsymPtr + t, <u8>ds);
  store<u8>(xbPtr + t, <u8>x);
  const h = STATS + (<usize>s << 2);
  store<i32>(h, load<i32>(h) + 1);
  const hd = ST_D + (<usize>ds << 2);
  store<i32>(hd, load<i32>(hd) + 1);
  addXb += x;
  addFixed += (s < 280 ? 7 : 8) + 5 + x;
  nTok++;
}

/** Parse on until pos >= stop (or the input ends). The input must be copied up to
 *  min(srcLen, stop + LOOKAHEAD). Returns the input bytes the tokens cover: pos, or pos - 1 while
 *  the lazy evaluation holds back the token at pos - 1. */
export function parse(stop: i32): i32 {
  if (stop > srcLen) stop = srcLen;
  addXb = 0;
  addFixed = 0;
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

// ---------------------------------------------------------------------------------------------
// The bit writer: LSB-first into OUT, codes from CODES (JS copies a code there before wtokens).

let wPos: usize = DYN;
let wAcc: u64 = 0;
let wCnt: i32 = 0;

/** Start an output of at most `capacity` bytes (after the input region; may grow the memory). */
export function wreset(capacity: i32): usize {
  outPtr = (inPtr + <usize>inCap + 16 + 15) & ~15;
  ensureMemory(outPtr + <usize>capacity + 16);
  wPos = outPtr;
  wAcc = 0;
  wCnt = 0;
  return outPtr;
}

/** Append the low n (<= 16) bits of v. */
export function wput(v: u32, n: i32): void {
  wAcc |= <u64>v << <u64>wCnt;
  wCnt += n;
  while (wCnt >= 8) {
    store<u8>(wPos, <u8>wAcc);
    wPos++;
    wAcc >>= 8;
    wCnt -= 8;
  }
}

/** Pad the last byte with zero bits; returns the bytes written at outPtr. */
export function wflush(): i32 {
  if (wCnt > 0) {
    store<u8>(wPos, <u8>wAcc);
    wPos++;
    wAcc = 0;
    wCnt = 0;
  }
  return <i32>(wPos - outPtr);
}

/** Tokens [from, k) and EOB under the code in CODES. */
export function wtokens(from: i32, k: i32): void {
  let p = wPos;
  let acc = wAcc;
  let cnt: u64 = <u64>wCnt;
  // cnt < 8 before each token, which adds at most 15 + 5 + 15 + 13 bits: acc stays below 2^56; whole
  // bytes are stored 8 at a time (OUT has 16 bytes of slack past the capacity)
  for (let t = from; t < k; t++) {
    const s = <usize>load<u16>(symPtr + (<usize>t << 1));
    const c = load<u32>(CODES + (s << 2));
    acc |= <u64>(c & 0xffff) << cnt;
    cnt += <u64>(c >> 16);
    if (s > 256) {
      const v = load<u32>(valPtr + (<usize>t << 2));
      const li = s - 257;
      acc |= <u64>((v & 511) - <u32>load<u16>(LEN_BASE + (li << 1))) << cnt;
      cnt += <u64>load<u8>(LEN_EXTRA + li);
      const ds = <usize>load<u8>(dsymPtr + <usize>t);
      const d = load<u32>(CODE_D + (ds << 2));
      acc |= <u64>(d & 0xffff) << cnt;
      cnt += <u64>(d >> 16);
      acc |= <u64>((v >> 9) - <u32>load<u16>(DIST_BASE + (ds << 1))) << cnt;
      cnt += <u64>load<u8>(DIST_EXTRA + ds);
    }
    store<u64>(p, acc);
    const whole = cnt & ~7;
    p += <usize>(whole >> 3);
    acc >>= whole;
    cnt -= whole;
  }
  wPos = p;
  wAcc = acc;
  wCnt = <i32>cnt;
  const e = load<u32>(CODES + (<usize>EOB << 2));
  wput(e & 0xffff, <i32>(e >> 16));
}
