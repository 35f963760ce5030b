// DEFLATE LZ77 parser for the destsize encoder (src/compress/deflate.ts), compiled to WebAssembly by
// AssemblyScript (scripts/build-wasm.js). It turns a prefix of one input into DEFLATE symbols (the
// token store: symbol, length/distance, distance symbol, extra bits, and running histograms) and
// writes the chosen tokens as Huffman codes (the bit writer); it also prices block splits
// (splitPrice), builds dynamic Huffman codes (hbuild) and writes their headers (wdynamic). The fit
// search stays in TypeScript (src/compress/deflate.ts). All of these were JS once: the parser's
// token conversion and the bit writer cost 11 % and 9 % of the encoder's profile at level 2, the code
// construction ~15 % and the split pricing ~12 %.
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
//   TABLES length -> symbol / extra bits, distance -> symbol, RFC 1951 bases and extra bits, fixed
//          code lengths, the code-length order, bit reversal
//   SPLIT_B/N/J, PRICE, XLOG  splitPrice's histograms, results and f * log2(f) table
//   HUF    hbuild's frequencies in, code out, scratch; WD_* wdynamic's code in, scratch
//   then, sized by configure(inCap, tokCap, outCap):
//   IN     the input (inCap bytes + 16 of padding: 8-byte loads may read past the end), at a fixed
//          address: the encoder's window when the caller reads its input there (no copy), else
//          the bytes JS copies in as the parse needs them
//   TOK    the tokens, one u32 each: a literal is its byte; a match is its length symbol (257..285)
//          | distance symbol << 9 | the length's extra bits' value << 14 | the distance's << 19 (5
//          and 13 bits at most). Sized by tokens, not by input, and one run of pages: four arrays
//          (symbol, length and distance, distance symbol, extra bits: 8 bytes a token) of one slot
//          per input byte, moved up each time the input grew, left ~40 MiB resident per thread
//          after 1 MiB pclusters
//   OUT    the writer's output (wreset)
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
const FIXED_LEN: usize = DIST_EXTRA + 32; // u8 x 288: literal/length code lengths of the fixed code
const CL_ORDER: usize = FIXED_LEN + 288; // u8 x 19: the order code-length code lengths are sent in
const REV8: usize = CL_ORDER + 32; // u8 x 256: bits reversed
const LEN_EV: usize = REV8 + 256; // u8 x 259: length -> the value of its extra bits
const SYM_XB: usize = LEN_EV + 260; // u8 x 288: literal/length symbol -> extra bits (0 for a literal)
// block-split pricing (splitPrice): histograms of the open block (B), the candidate next block (N)
// and both (J), each literal/length i32 x 288 then distance i32 x 32; its results; f * log2(f)
const SPLIT_B: usize = TABLES + 4096;
const SPLIT_N: usize = SPLIT_B + 1280;
const SPLIT_J: usize = SPLIT_N + 1280;
const SPLIT_D: usize = 4 * 288; // offset of the distance histogram in each
const PRICE: usize = SPLIT_J + 1280; // f64 eN, f64 eJ, i32 extra bits, i32 fixed-code bits, i32 matches
const XLOG_N: i32 = 4096;
const XLOG: usize = PRICE + 256; // f64 x XLOG_N
// Huffman code construction (hbuild): frequencies copied in by JS (when not already in this memory),
// the code's lengths, run-length coded header and sizes out; then hbuild's own scratch
const HUF: usize = XLOG + 8 * <usize>XLOG_N;
const HF_FREQ: usize = HUF; // literal/length i32 x 288, distance i32 x 32 at + 4 * 288
const HF_LLLEN: usize = HF_FREQ + 1280; // u8 x 288
const HF_DLEN: usize = HF_LLLEN + 288; // u8 x 32
const HF_CLLEN: usize = HF_DLEN + 32; // u8 x 32
const HF_RLE: usize = HF_CLLEN + 32; // u16 x 320: symbol | extra << 8
const HF_RES: usize = HF_RLE + 640; // i32 x 5: hlit, hdist, hclen, rle count, header bits; f64 at +24: data bits
const HF_SEQ: usize = HF_RES + 32; // u8 x 320
const HF_CLFREQ: usize = HF_SEQ + 320; // i32 x 32
const HS_KEY: usize = HF_CLFREQ + 128; // u64 x 320: weight << 9 | symbol
const HS_KEY2: usize = HS_KEY + 2560; // u64 x 320 (radix sort)
const HS_A: usize = HS_KEY2 + 2560; // i64 x 320: weights, then tree links, then lengths
const HS_CNT: usize = HS_A + 2560; // i32 x 256
const HS_NUM: usize = HS_CNT + 1024; // i32 x 32: symbols per length
// a dynamic block's header (wdynamic): the code's lengths and runs, copied in by JS; scratch
const WD_LL: usize = HS_NUM + 128; // u8 x 288
const WD_D: usize = WD_LL + 288; // u8 x 32
const WD_CL: usize = WD_D + 32; // u8 x 32
const WD_RLE: usize = WD_CL + 32; // u16 x 320
const WD_CLCODE: usize = WD_RLE + 640; // i32 x 32
const WD_CNT: usize = WD_CLCODE + 128; // i32 x 16
const WD_NEXT: usize = WD_CNT + 64; // i32 x 16
const DYN: usize = WD_NEXT + 64;
const EOB: i32 = 256;

const IN: usize = DYN;
let inCap: i32 = 0;
let tokCap: i32 = 0;
let outCap: i32 = 0;
/** the current input: IN + its offset there */
let inPtr: usize = IN;
let tokPtr: usize = IN + 16;
let outPtr: usize = IN + 16;
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
export function splitPtr(): usize { return SPLIT_B; }
/** Address of hbuild's region (the frequencies JS copies in first); makes the memory and tables. */
/** Address of wdynamic's input (the code's lengths and runs, JS copies them in). */
export function wdPtr(): usize {
  prepare();
  return WD_LL;
}

export function hufPtr(): usize {
  prepare();
  return HUF;
}

function prepare(): void {
  if (!tablesReady) {
    ensureMemory(DYN);
    initTables();
  }
}
export function pricePtr(): usize { return PRICE; }
export function codesPtr(): usize { return CODES; }
/** Address of the token records (moves when configure() grows the input). */
export function tokArr(): usize { return tokPtr; }
/** Address of the input region (fixed). */
export function inputPtr(): usize { return IN; }
export function inputCap(): i32 { return inCap; }
export function tokenCap(): i32 { return tokCap; }
export function outputCap(): i32 { return outCap; }

function ensureMemory(need: usize): void {
  const have = <usize>memory.size() << 16;
  if (need > have) memory.grow(<i32>((need - have + 65535) >> 16));
}

/** Make room for at least `inCap` input bytes, `tokCap` tokens and `outCap` output bytes (none
 *  shrinks), keeping the input bytes and the tokens parsed so far. May grow the memory (views of
 *  it must be made again). Returns the input's address. */
export function configure(inBytes: i32, tokens: i32, outBytes: i32): usize {
  prepare();
  if (inBytes <= inCap && tokens <= tokCap && outBytes <= outCap) return IN;
  if (inBytes > inCap) inCap = inBytes;
  if (tokens > tokCap) tokCap = tokens;
  if (outBytes > outCap) outCap = outBytes;
  const nt: usize = (IN + <usize>inCap + 16 + 15) & ~15;
  outPtr = (nt + 4 * <usize>tokCap + 15) & ~15;
  ensureMemory(outPtr + <usize>outCap + 16);
  // the tokens move up (or stay) when the input grew
  if (nt != tokPtr && nTok > 0) memory.copy(nt, tokPtr, 4 * <usize>nTok);
  tokPtr = nt;
  return IN;
}

function initTables(): void {
  // RFC 1951 3.2.5
  let b: i32 = 3;
  for (let s = 0; s < 29; s++) {
    const e: i32 = s < 8 ? 0 : s < 28 ? (s - 4) >> 2 : 0;
    if (s == 28) b = 258;
    store<u16>(LEN_BASE + 2 * <usize>s, <u16>b);
    store<u8>(LEN_EXTRA + <usize>s, <u8>e);
    store<u8>(SYM_XB + 257 + <usize>s, <u8>e);
    for (let l = b; l < b + (1 << e) && l <= 258; l++) {
      store<u16>(LEN_SYM + 2 * <usize>l, <u16>(257 + s));
      store<u8>(LEN_XB + <usize>l, <u8>e);
      store<u8>(LEN_EV + <usize>l, <u8>(l - b));
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
  for (let i = 0; i < 256; i++) {
    let r = 0;
    for (let b = 0; b < 8; b++) r |= ((i >> b) & 1) << (7 - b);
    store<u8>(REV8 + <usize>i, <u8>r);
  }
  // RFC 1951 3.2.7
  store<u64>(CL_ORDER, 0x0609070800121110); // 16, 17, 18, 0, 8, 7, 9, 6
  store<u64>(CL_ORDER + 8, 0x020d030c040b050a); // 10, 5, 11, 4, 12, 3, 13, 2
  store<u8>(CL_ORDER + 16, 14);
  store<u8>(CL_ORDER + 17, 1);
  store<u8>(CL_ORDER + 18, 15);
  for (let i = 0; i < 288; i++) store<u8>(FIXED_LEN + <usize>i, <u8>(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8));
  for (let f = 1; f < XLOG_N; f++) store<f64>(XLOG + (<usize>f << 3), <f64>f * log2(<f64>f));
  tablesReady = true;
}

/** Start a new input of n bytes at IN + off (configured) at a level 1..9. */
export function begin(n: i32, level: i32, off: i32): void {
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
  prepare();
  memory.fill(STATS, 0, 4 * (288 + 32));
  store<i32>(STATS + 4 * EOB, 1);
  srcLen = n;
  inPtr = IN + <usize>off;
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
  store<u32>(tokPtr + (<usize>nTok << 2), c);
  const h = STATS + (<usize>c << 2);
  store<i32>(h, load<i32>(h) + 1);
  addFixed += c < 144 ? 8 : 9;
  nTok++;
}

@inline function emitMatch(len: i32, dist: i32): void {
  const s: u32 = load<u16>(LEN_SYM + (<usize>len << 1));
  const ds: u32 = dist <= 256 ? load<u8>(DSYM_LO + <usize>dist) : load<u8>(DSYM_HI + <usize>((dist - 1) >> 7));
  const x: i32 = <i32>load<u8>(LEN_XB + <usize>len) + <i32>load<u8>(DIST_EXTRA + <usize>ds);
  const lv: u32 = load<u8>(LEN_EV + <usize>len);
  const dv: u32 = <u32>dist - <u32>load<u16>(DIST_BASE + (<usize>ds << 1));
  store<u32>(tokPtr + (<usize>nTok << 2), s | (ds << 9) | (lv << 14) | (dv << 19));
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
// Block-split pricing for the driver's completeBlocks (src/compress/deflate.ts): the open block's
// histograms (B) against those of the next SPLIT_STEP tokens (N) and of both (J), priced by Shannon
// cost. It was JS and a tenth of the encoder's profile. The doubles are the driver's: each sum runs in
// symbol order, f * log2(f) is tabled below XLOG_N and computed above, with the host's Math.log2
// (the import), so the split decisions, made in JS from eN and eJ, are the ones JS computing them made.

/** V8's Math.log2: the same doubles as the JS that computed these costs before */
@external("env", "log2") declare function log2(x: f64): f64;

@inline function xlog(f: i32): f64 {
  return f < XLOG_N ? load<f64>(XLOG + (<usize>f << 3)) : <f64>f * log2(<f64>f);
}

/** N := statistics of tokens [from, from + n) (EOB counted once), J := B + N (J's EOB: 1); PRICE:
 *  eN = Shannon bits of N, eJ = of J (totals tlB + n, tdB + matches), and N's extra bits, fixed-code
 *  bits and matches. */
export function splitPrice(from: i32, n: i32, tlB: i32, tdB: i32): void {
  memory.fill(SPLIT_N, 0, 1280);
  store<i32>(SPLIT_N + 4 * EOB, 1);
  let xb: i32 = 0;
  let fixed: i32 = 0;
  let matches: i32 = 0;
  const end = from + n;
  // branch-free: literals and matches interleave unpredictably
  for (let t = from; t < end; t++) {
    const v = load<u32>(tokPtr + (<usize>t << 2));
    const s = <usize>(v & 511);
    const h = SPLIT_N + (s << 2);
    store<i32>(h, load<i32>(h) + 1);
    const isMatch = s > 256;
    // a literal's distance symbol reads as 0: its count goes to slot 31 (unused), its extra bits are 0
    const ds = <usize>((v >> 9) & 31);
    const hd = SPLIT_N + SPLIT_D + (select<usize>(ds, 31, isMatch) << 2);
    store<i32>(hd, load<i32>(hd) + 1);
    const x = <i32>load<u8>(SYM_XB + s) + <i32>load<u8>(DIST_EXTRA + ds);
    matches += <i32>isMatch;
    xb += x;
    fixed += <i32>load<u8>(FIXED_LEN + s) + select<i32>(5 + x, 0, isMatch);
  }
  const tlN = n + 1;
  const tdN = matches;
  let eN = xlog(tlN) + xlog(tdN);
  let eJ = xlog(tlB + tlN - 1) + xlog(tdB + tdN);
  for (let i: usize = 0; i < 286; i++) {
    if (i == <usize>EOB) {
      store<i32>(SPLIT_J + 4 * EOB, 1); // xlog(1) = 0 in both sums
      continue;
    }
    const f = load<i32>(SPLIT_N + (i << 2));
    eN -= xlog(f);
    const j = load<i32>(SPLIT_B + (i << 2)) + f;
    store<i32>(SPLIT_J + (i << 2), j);
    eJ -= xlog(j);
  }
  for (let i: usize = 0; i < 30; i++) {
    const f = load<i32>(SPLIT_N + SPLIT_D + (i << 2));
    eN -= xlog(f);
    const j = load<i32>(SPLIT_B + SPLIT_D + (i << 2)) + f;
    store<i32>(SPLIT_J + SPLIT_D + (i << 2), j);
    eJ -= xlog(j);
  }
  store<f64>(PRICE, eN);
  store<f64>(PRICE + 8, eJ);
  store<i32>(PRICE + 16, xb);
  store<i32>(PRICE + 20, fixed);
  store<i32>(PRICE + 24, matches);
}

// ---------------------------------------------------------------------------------------------
// Huffman code construction for dynamic blocks (DynCode.build in src/compress/deflate-code.ts): it was
// JS and ~15 % of the encoder's profile, run 2-3 times per pcluster. Deterministic and length-limited:
// symbols sorted by (weight, symbol), Moffat & Katajainen's in-place minimum-redundancy lengths, then
// the Kraft repair of lengths over the limit, the most frequent symbols taking the shortest lengths.
// At least two symbols get a code (as zlib: inflaters want a complete code). The lengths are the ones
// the JS construction gave (test/deflate-code.test.ts compares them with it).

/** Code lengths for freq[0..n) (i32), limited to maxLen bits, into lens[0..n) (u8). */
function buildLengths(freq: usize, n: i32, maxLen: i32, lens: usize): void {
  let m: i32 = 0;
  let maxW: u32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    store<u8>(lens + <usize>i, 0);
    const f = load<u32>(freq + (<usize>i << 2));
    if (f != 0) {
      store<u64>(HS_KEY + (<usize>m << 3), (<u64>f << 9) | <u64>i);
      m++;
      if (f > maxW) maxW = f;
    }
  }
  // force a second (or first and second) symbol, weight 1, lowest unused numbers
  for (let i: i32 = 0; m < 2 && i < n; i++) {
    if (load<u32>(freq + (<usize>i << 2)) == 0) {
      store<u64>(HS_KEY + (<usize>m << 3), (<u64>1 << 9) | <u64>i);
      m++;
      if (maxW < 1) maxW = 1;
    }
  }
  // sort the keys (distinct: any exact sort gives the one order)
  let keys = HS_KEY;
  if (m <= 40) {
    for (let i: i32 = 1; i < m; i++) {
      const k = load<u64>(HS_KEY + (<usize>i << 3));
      let j = i - 1;
      while (j >= 0 && load<u64>(HS_KEY + (<usize>j << 3)) > k) {
        store<u64>(HS_KEY + (<usize>(j + 1) << 3), load<u64>(HS_KEY + (<usize>j << 3)));
        j--;
      }
      store<u64>(HS_KEY + (<usize>(j + 1) << 3), k);
    }
  } else {
    // keys in ascending symbol order (m > 2: no forced symbol): a stable LSD radix sort on the
    // weight, 8 bits a pass, as many passes as the largest weight needs
    const wBits: i32 = 32 - <i32>clz(maxW);
    let src = HS_KEY;
    let dst = HS_KEY2;
    for (let shift: i32 = 9; shift < 9 + wBits; shift += 8) {
      memory.fill(HS_CNT, 0, 1024);
      for (let i: i32 = 0; i < m; i++) {
        const c = HS_CNT + (<usize>((load<u64>(src + (<usize>i << 3)) >> <u64>shift) & 255) << 2);
        store<i32>(c, load<i32>(c) + 1);
      }
      let sum: i32 = 0;
      for (let d: usize = 0; d < 256; d++) {
        const c = load<i32>(HS_CNT + (d << 2));
        store<i32>(HS_CNT + (d << 2), sum);
        sum += c;
      }
      for (let i: i32 = 0; i < m; i++) {
        const k = load<u64>(src + (<usize>i << 3));
        const c = HS_CNT + (<usize>((k >> <u64>shift) & 255) << 2);
        const o = load<i32>(c);
        store<i32>(c, o + 1);
        store<u64>(dst + (<usize>o << 3), k);
      }
      const t = src;
      src = dst;
      dst = t;
    }
    keys = src;
  }
  // Moffat & Katajainen, in place: weights ascending -> code lengths (longest first)
  const A = HS_A;
  for (let i: i32 = 0; i < m; i++) store<i64>(A + (<usize>i << 3), <i64>(load<u64>(keys + (<usize>i << 3)) >> 9));
  store<i64>(A, load<i64>(A) + load<i64>(A + 8));
  let root: i32 = 0;
  let leaf: i32 = 2;
  for (let next: i32 = 1; next < m - 1; next++) {
    const an = A + (<usize>next << 3);
    if (leaf >= m || load<i64>(A + (<usize>root << 3)) < load<i64>(A + (<usize>leaf << 3))) {
      store<i64>(an, load<i64>(A + (<usize>root << 3)));
      store<i64>(A + (<usize>root << 3), <i64>next);
      root++;
    } else {
      store<i64>(an, load<i64>(A + (<usize>leaf << 3)));
      leaf++;
    }
    if (leaf >= m || (root < next && load<i64>(A + (<usize>root << 3)) < load<i64>(A + (<usize>leaf << 3)))) {
      store<i64>(an, load<i64>(an) + load<i64>(A + (<usize>root << 3)));
      store<i64>(A + (<usize>root << 3), <i64>next);
      root++;
    } else {
      store<i64>(an, load<i64>(an) + load<i64>(A + (<usize>leaf << 3)));
      leaf++;
    }
  }
  store<i64>(A + (<usize>(m - 2) << 3), 0);
  for (let next: i32 = m - 3; next >= 0; next--) {
    const an = A + (<usize>next << 3);
    store<i64>(an, load<i64>(A + (<usize>load<i64>(an) << 3)) + 1);
  }
  let avbl: i32 = 1;
  let used: i32 = 0;
  let dpth: i64 = 0;
  root = m - 2;
  let next: i32 = m - 1;
  while (avbl > 0) {
    while (root >= 0 && load<i64>(A + (<usize>root << 3)) == dpth) {
      used++;
      root--;
    }
    while (avbl > used) {
      store<i64>(A + (<usize>next << 3), dpth);
      next--;
      avbl--;
    }
    avbl = 2 * used;
    dpth++;
    used = 0;
  }
  // A[i] is now the length of the i-th least frequent symbol; enforce the limit (Kraft repair)
  memory.fill(HS_NUM, 0, 128);
  let maxSeen: i32 = 0;
  for (let i: i32 = 0; i < m; i++) {
    const l = <i32>load<i64>(A + (<usize>i << 3));
    const c = HS_NUM + (<usize>l << 2);
    store<i32>(c, load<i32>(c) + 1);
    if (l > maxSeen) maxSeen = l;
  }
  if (maxSeen > maxLen) {
    const cm = HS_NUM + (<usize>maxLen << 2);
    for (let l = maxLen + 1; l <= maxSeen; l++) {
      const c = HS_NUM + (<usize>l << 2);
      store<i32>(cm, load<i32>(cm) + load<i32>(c));
      store<i32>(c, 0);
    }
    let total: i64 = 0;
    for (let l = maxLen; l > 0; l--) total += <i64>load<i32>(HS_NUM + (<usize>l << 2)) << <i64>(maxLen - l);
    const full: i64 = <i64>1 << <i64>maxLen;
    while (total != full) {
      store<i32>(cm, load<i32>(cm) - 1);
      for (let l = maxLen - 1; l > 0; l--) {
        const c = HS_NUM + (<usize>l << 2);
        if (load<i32>(c) != 0) {
          store<i32>(c, load<i32>(c) - 1);
          store<i32>(c + 4, load<i32>(c + 4) + 2);
          break;
        }
      }
      total--;
    }
    // most frequent symbols get the shortest lengths
    let j = m;
    for (let l = 1; l <= maxLen; l++) {
      for (let c = load<i32>(HS_NUM + (<usize>l << 2)); c > 0; c--) {
        j--;
        store<u8>(lens + <usize>(load<u64>(keys + (<usize>j << 3)) & 511), <u8>l);
      }
    }
  } else {
    for (let i: i32 = 0; i < m; i++) {
      store<u8>(lens + <usize>(load<u64>(keys + (<usize>i << 3)) & 511), <u8>load<i64>(A + (<usize>i << 3)));
    }
  }
}

/** A dynamic block's code for the histograms at llFreq (i32 x 286, counting EOB) and dFreq (i32 x 30):
 *  lengths into HF_LLLEN/HF_DLEN/HF_CLLEN, the run-length coded lengths into HF_RLE, and into HF_RES
 *  hlit, hdist, hclen, the run count, the header bits (after BFINAL/BTYPE) and the data bits of the
 *  histograms under the code. */
export function hbuild(llFreq: usize, dFreq: usize): void {
  buildLengths(llFreq, 286, 15, HF_LLLEN);
  buildLengths(dFreq, 30, 15, HF_DLEN);
  let hlit: i32 = 286;
  while (hlit > 257 && load<u8>(HF_LLLEN + <usize>(hlit - 1)) == 0) hlit--;
  let hdist: i32 = 30;
  while (hdist > 1 && load<u8>(HF_DLEN + <usize>(hdist - 1)) == 0) hdist--;
  const total = hlit + hdist;
  memory.copy(HF_SEQ, HF_LLLEN, <usize>hlit);
  memory.copy(HF_SEQ + <usize>hlit, HF_DLEN, <usize>hdist);
  // run-length code the sequence (one sequence: runs may cross from HLIT into HDIST, RFC 1951)
  memory.fill(HF_CLFREQ, 0, 128);
  let n: i32 = 0;
  let extraBits: i32 = 0;
  for (let i: i32 = 0; i < total; ) {
    const v = <i32>load<u8>(HF_SEQ + <usize>i);
    let run: i32 = 1;
    while (i + run < total && <i32>load<u8>(HF_SEQ + <usize>(i + run)) == v) run++;
    i += run;
    if (v == 0) {
      let r = run;
      while (r >= 11) {
        const k = r > 138 ? 138 : r;
        n = rlePut(n, 18 | ((k - 11) << 8), 18);
        extraBits += 7;
        r -= k;
      }
      if (r >= 3) {
        n = rlePut(n, 17 | ((r - 3) << 8), 17);
        extraBits += 3;
        r = 0;
      }
      for (; r > 0; r--) n = rlePut(n, 0, 0);
    } else {
      n = rlePut(n, v, v);
      let r = run - 1;
      while (r >= 3) {
        const k = r > 6 ? 6 : r;
        n = rlePut(n, 16 | ((k - 3) << 8), 16);
        extraBits += 2;
        r -= k;
      }
      for (; r > 0; r--) n = rlePut(n, v, v);
    }
  }
  buildLengths(HF_CLFREQ, 19, 7, HF_CLLEN);
  let hclen: i32 = 19;
  while (hclen > 4 && load<u8>(HF_CLLEN + <usize>load<u8>(CL_ORDER + <usize>(hclen - 1))) == 0) hclen--;
  let bits: i32 = 5 + 5 + 4 + 3 * hclen + extraBits;
  for (let s: usize = 0; s < 19; s++) bits += load<i32>(HF_CLFREQ + (s << 2)) * <i32>load<u8>(HF_CLLEN + s);
  let data: i64 = 0;
  for (let s: usize = 0; s < 286; s++) data += <i64>load<u32>(llFreq + (s << 2)) * <i64>load<u8>(HF_LLLEN + s);
  for (let s: usize = 0; s < 30; s++) data += <i64>load<u32>(dFreq + (s << 2)) * <i64>load<u8>(HF_DLEN + s);
  store<i32>(HF_RES, hlit);
  store<i32>(HF_RES + 4, hdist);
  store<i32>(HF_RES + 8, hclen);
  store<i32>(HF_RES + 12, n);
  store<i32>(HF_RES + 16, bits);
  store<f64>(HF_RES + 24, <f64>data);
}

@inline function rlePut(n: i32, v: i32, sym: i32): i32 {
  store<u16>(HF_RLE + (<usize>n << 1), <u16>v);
  const c = HF_CLFREQ + (<usize>sym << 2);
  store<i32>(c, load<i32>(c) + 1);
  return n + 1;
}

// ---------------------------------------------------------------------------------------------
// The bit writer: LSB-first into OUT, codes from CODES (JS copies a code there before wtokens).

let wPos: usize = DYN;
let wAcc: u64 = 0;
let wCnt: i32 = 0;

/** Start an output of at most `capacity` bytes (after the tokens; may grow the memory). */
export function wreset(capacity: i32): usize {
  configure(inCap, tokCap, capacity);
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

/** Canonical codes (RFC 1951 3.2.2) for lens[0..n) into out (i32): bit-reversed code | length << 16, 0 without a code. */
function canonical(lens: usize, n: i32, out: usize): void {
  memory.fill(WD_CNT, 0, 64);
  for (let i: i32 = 0; i < n; i++) {
    const c = WD_CNT + (<usize>load<u8>(lens + <usize>i) << 2);
    store<i32>(c, load<i32>(c) + 1);
  }
  store<i32>(WD_CNT, 0);
  let code: i32 = 0;
  for (let b: usize = 1; b < 16; b++) {
    code = (code + load<i32>(WD_CNT + ((b - 1) << 2))) << 1;
    store<i32>(WD_NEXT + (b << 2), code);
  }
  for (let i: i32 = 0; i < n; i++) {
    const l = <i32>load<u8>(lens + <usize>i);
    let v: i32 = 0;
    if (l != 0) {
      const nx = WD_NEXT + (<usize>l << 2);
      const c = load<i32>(nx);
      store<i32>(nx, c + 1);
      v = ((((<i32>load<u8>(REV8 + <usize>(c & 255)) << 8) | <i32>load<u8>(REV8 + <usize>((c >> 8) & 255))) >> (16 - l)) | (l << 16));
    }
    store<i32>(out + (<usize>i << 2), v);
  }
}

/** A dynamic block's header (BFINAL, BTYPE=10, HLIT .. the last code length) for the code JS copied
 *  to WD_*, and its codes into CODES for wtokens. */
export function wdynamic(final: i32, hlit: i32, hdist: i32, hclen: i32, rleN: i32): void {
  canonical(WD_LL, 286, CODES);
  canonical(WD_D, 30, CODE_D);
  canonical(WD_CL, 19, WD_CLCODE);
  wput(final, 1);
  wput(2, 2);
  wput(hlit - 257, 5);
  wput(hdist - 1, 5);
  wput(hclen - 4, 4);
  for (let i: i32 = 0; i < hclen; i++) wput(<u32>load<u8>(WD_CL + <usize>load<u8>(CL_ORDER + <usize>i)), 3);
  for (let i: i32 = 0; i < rleN; i++) {
    const v = <u32>load<u16>(WD_RLE + (<usize>i << 1));
    const s = v & 255;
    const c = load<u32>(WD_CLCODE + (<usize>s << 2));
    wput(c & 0xffff, <i32>(c >> 16));
    if (s == 16) wput(v >> 8, 2);
    else if (s == 17) wput(v >> 8, 3);
    else if (s == 18) wput(v >> 8, 7);
  }
}

/** Tokens [from, k) and EOB under the code in CODES. */
export function wtokens(from: i32, k: i32): void {
  let p = wPos;
  let acc = wAcc;
  let cnt: u64 = <u64>wCnt;
  // cnt < 8 before each token, which adds at most 15 + 5 + 15 + 13 bits: acc stays below 2^56; whole
  // bytes are stored 8 at a time (OUT has 16 bytes of slack past the capacity)
  for (let t = from; t < k; t++) {
    const v = load<u32>(tokPtr + (<usize>t << 2));
    const s = <usize>(v & 511);
    const c = load<u32>(CODES + (s << 2));
    acc |= <u64>(c & 0xffff) << cnt;
    cnt += <u64>(c >> 16);
    if (s > 256) {
      acc |= <u64>((v >> 14) & 31) << cnt;
      cnt += <u64>load<u8>(SYM_XB + s);
      const ds = <usize>((v >> 9) & 31);
      const d = load<u32>(CODE_D + (ds << 2));
      acc |= <u64>(d & 0xffff) << cnt;
      cnt += <u64>(d >> 16);
      acc |= <u64>(v >> 19) << cnt;
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
