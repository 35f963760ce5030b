/**
 * Raw DEFLATE for EROFS pclusters: a "destsize" compressor (the longest input prefix whose stream
 * fits in a fixed number of bytes); this module is its driver. The strict inflater for the reader is in
 * deflate-inflate.ts; the LZ77 parser, the token store it fills and the bit writer are WebAssembly
 * (assembly/deflate.ts), reached through deflate-lz77.ts, deflate-tokens.ts (views of the tokens)
 * and deflate-writer.ts; Huffman code construction in deflate-code.ts (WebAssembly too).
 *
 * How deflateDestSize works, and why its output is canonical:
 *  - Our LZ77 parser (3-byte hash chains, zlib's lazy rules and per-level parameters) turns the input
 *    into tokens a chunk at a time; a token depends only on src[0..srcLen), never on the chunking.
 *  - Chunk sizes come from nextChunk(): a function of capacity and of the tokens so far, never of the
 *    hint. Chunks are parsed until the tokens no longer fit in `capacity` bytes (dynamic code built for
 *    exactly those tokens, or the fixed code): the first overflowing chunk, checked after every chunk.
 *  - Large inputs become several blocks: every SPLIT_STEP tokens the open block is closed when two
 *    codes cost less than one (completeBlocks).
 *  - The last block (BFINAL=1): a dynamic Huffman code built for the chosen token prefix, cut at the
 *    last token that still fits (to the bit); or the fixed code; or the whole stream as stored
 *    blocks, whichever covers the most input.
 *  Every step depends only on (src[0..srcLen), capacity, level), so the output is byte-for-byte the
 *  same whatever was compressed before and whatever `hint` holds, on every Node release and CPU (the
 *  tokens used to come from Node's zlib, whose hash depends on both).
 */
import { NUM_LL, NUM_D, EOB, FIXED_LL_LEN, FIXED_D_LEN, SYM_XB, DIST_EXTRA } from './deflate-huffman.js';
import { DynCode } from './deflate-code.js';
import { TokenStore, tokSpan, tokXb } from './deflate-tokens.js';
import { Lz77Parser, deflateWindow } from './deflate-lz77.js';
import { BitWriter, writeDynamic, writeFixed, encodeStored, storedFit } from './deflate-writer.js';


/**
 * Our `build -z deflate` default: the lowest level whose image is no larger than mkfs.erofs 1.9.3's
 * default `-zlibdeflate` (libdeflate level 1; `mkfs -zlibdeflate` writes our level 2 too), the
 * fastest that meets it. Corpus, 4 KiB pclusters, one worker (README, "DEFLATE levels"): image bytes
 * level 1 140,627,968 (1.0047 of mkfs.erofs's 139,964,416: too large), 2 138,338,304 (0.9884),
 * 3 136,900,608, 6 131,706,880; compressor 99 MB/s per core at levels 1-2, 91 at 3, 58 at 6.
 * Level 2's parameters are no longer zlib's (assembly/deflate.ts begin()): 137,826,304 (0.9847),
 * usrtree7 266,612,736 (0.9860 of 270,385,152), and a faster parse.
 */
export const DEFLATE_DEFAULT_LEVEL = 2;
export const DEFLATE_MAX_LEVEL = 9;

export interface DeflateResult {
  /** input bytes represented by `data` (a prefix of src) */
  consumed: number;
  /** the raw DEFLATE stream: length <= capacity, data[0] != 0, ends with a BFINAL block */
  data: Uint8Array;
}

/**
 * Per-file scratch a caller may thread through the pclusters of one file. deflateDestSize never
 * reads it (the output is canonical); it records what the last call did, for statistics.
 */
export interface DeflateHint {
  /** consumed / data.length of the last call */
  lastRatio?: number;
  /** bytes zlib matched for the last call (consumed plus look-ahead up to the chunk end) */
  lastFed?: number;
}

// ---------------------------------------------------------------------------------------------
// deflateDestSize

// Scratch of the driver, reused by every call; each call starts from reset() and carries nothing over.
const ts = new TokenStore();
const parser = new Lz77Parser();
const writer = new BitWriter();
const preLL = new Int32Array(NUM_LL);
const preD = new Int32Array(NUM_D);
const codeA = new DynCode();
const codeB = new DynCode();
const codeC = new DynCode();

function checkArgs(src: Uint8Array, srcLen: number, capacity: number, level: number): void {
  if (!(src instanceof Uint8Array)) throw new TypeError('src must be a Uint8Array');
  if (!Number.isInteger(srcLen) || srcLen < 0 || srcLen > src.length) throw new RangeError(`srcLen ${srcLen} out of range 0..${src.length}`);
  if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity ${capacity} must be an integer >= 2`);
  if (!Number.isInteger(level) || level < 0 || level > DEFLATE_MAX_LEVEL) throw new RangeError(`level ${level} must be an integer 0..${DEFLATE_MAX_LEVEL}`);
}

/**
 * Compress the longest prefix of src[0..srcLen) whose raw DEFLATE stream fits in `capacity` bytes.
 * level 0 writes stored blocks; 1..9 use zlib's match finder at that level. The result is a pure
 * function of (src[0..srcLen), capacity, level); `hint` is only written to (statistics).
 * The caller caps srcLen at its extent-size limit.
 */
export function deflateDestSize(src: Uint8Array, srcLen: number, capacity: number, level: number, hint?: DeflateHint): DeflateResult {
  checkArgs(src, srcLen, capacity, level);
  if (!warmed && !isMainThread) warmUp(level);
  const res = level === 0 ? destSizeStored(src, srcLen, capacity, hint) : destSizeLz(src, srcLen, capacity, level, hint);
  // cheap insurance for the two properties the on-disk format depends on
  if (res.data.length > capacity || res.data[0] === 0 || res.consumed > srcLen) {
    throw new Error(`deflateDestSize: internal error (${res.data.length} bytes for capacity ${capacity}, first byte ${res.data[0]})`);
  }
  if (hint) hint.lastRatio = res.consumed / res.data.length;
  return res;
}

/**
 * Every result is made here: an object literal written at each return site left V8 without type
 * feedback for the sites the data seen so far had not reached (the stored fallback on incompressible
 * input, say), and optimized code left there (a deopt) each time: 266 times in one thread compressing
 * 160 MB of the bench corpus at 4 KiB pclusters (--trace-deopt).
 */
function result(consumed: number, data: Uint8Array): DeflateResult {
  return { consumed, data };
}

// ---------------------------------------------------------------------------------------------
// Warm-up

const { isMainThread } = process.getBuiltinModule('node:worker_threads');
let warmed = false;

/** One call of the warm-up: the path of the driver it takes. */
export interface WarmUpCall { src: Uint8Array; srcLen: number; capacity: number; path: string }

/** The made-up inputs of the warm-up (exported for its test: each reaches the path it names). */
export function warmUpCalls(): WarmUpCall[] {
  let x = 0x2545f491;
  const noise = new Uint8Array(5000);
  for (let i = 0; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  const words = ['erofs', 'pcluster', 'deflate', 'block', 'inode', 'xattr', 'extent', 'mkfs', 'lcluster', 'kernel'];
  const text = new Uint8Array(12_000);
  for (let i = 0, w = 0; i < text.length; w++) {
    const t = `${words[(w * 7 + (w >> 3)) % words.length]}${w % 13 === 0 ? `${w}\n` : ' '}`;
    for (let k = 0; k < t.length && i < text.length; k++) text[i++] = t.charCodeAt(k);
  }
  // text then noise: statistics that change part-way
  const mixed = new Uint8Array(text.length + 3000);
  mixed.set(text);
  mixed.set(noise.subarray(0, 3000), text.length);
  const zeros = new Uint8Array(20_000);
  return [
    { src: text, srcLen: 3000, capacity: 4096, path: 'whole, dynamic' },
    { src: text, srcLen: 300, capacity: 4096, path: 'whole, fixed' },
    { src: noise, srcLen: 200, capacity: 4096, path: 'whole, stored' },
    { src: text, srcLen: text.length, capacity: 512, path: 'cut, dynamic' },
    { src: noise, srcLen: noise.length, capacity: 700, path: 'cut, stored' },
    { src: noise, srcLen: 100, capacity: 2, path: 'empty' },
    { src: text, srcLen: 2000, capacity: 60, path: 'cut, fixed' },
    { src: mixed, srcLen: mixed.length, capacity: 4096, path: 'cut, split' },
    // an open block of more tokens than the xlog table covers
    { src: noise, srcLen: noise.length, capacity: 8192, path: 'whole, stored, long block' },
    { src: zeros, srcLen: zeros.length, capacity: 200, path: 'whole, long matches' },
  ];
}

/**
 * Run every path of the driver a few times, on made-up input, before a worker thread's first real
 * call. V8 optimizes a hot function for the paths its calls have taken so far, and a path taken
 * later for the first time (incompressible input stored, a block split, a code longer than 15 bits
 * repaired, a count past the xlog table) throws the optimized code away, to be compiled again: a
 * worker's first files decided which paths it had seen. Bench corpus, -zdeflate, one worker
 * (--trace-opt --trace-deopt): destSizeLz compiled by TurboFan 7 times and Maglev 11 times, 56
 * deopts; and each worker compiles it for itself, on a background thread that competes with the
 * other workers for the cores. Not on the main thread: it compresses only builds small enough to run
 * there (JobPool.inlineBudget), where ~10 ms of warm-up would not pay. Nothing carries over between
 * calls (every call starts from reset()), so the outputs are the same with or without it.
 */
function warmUp(level: number): void {
  warmed = true;
  if (level === 0) return;
  const calls = warmUpCalls();
  // code lengths past 15 bits (Fibonacci counts), and counts a packed sort key cannot hold
  const ll = new Int32Array(NUM_LL);
  const d = new Int32Array(NUM_D);
  for (let i = 0, a = 1, b = 1; i < 24; i++, [a, b] = [b, a + b]) ll[i] = a;
  ll[EOB] = 1;
  d[0] = 1 << 23;
  d[1] = 3;
  // V8 keeps type feedback for a function only once it has been called a few times: three rounds.
  for (let round = 0; round < 3; round++) {
    for (const c of calls) destSizeLz(c.src, c.srcLen, c.capacity, level);
    codeC.build(ll, d);
  }
}

function emptyStream(): DeflateResult {
  // a fixed-code final block holding only end-of-block: 3 + 7 bits
  return result(0, Uint8Array.of(0x03, 0x00));
}

function destSizeStored(src: Uint8Array, srcLen: number, capacity: number, hint?: DeflateHint): DeflateResult {
  const n = storedFit(srcLen, capacity);
  if (hint) hint.lastFed = 0;
  if (n <= 0) return emptyStream();
  return result(n, stored(src, n, capacity));
}

/** cost in bits of token t under a code (0 if a symbol has no code) */
function tokenBits(t: number, llLen: Uint8Array, dLen: Uint8Array): number {
  const v = ts.tok[t];
  const s = v & 511;
  const l = llLen[s];
  if (!l) return 0;
  if (s < 256) return l;
  const ds = (v >>> 9) & 31;
  const dl = dLen[ds];
  if (!dl) return 0;
  return l + dl + SYM_XB[s] + DIST_EXTRA[ds];
}

function tokenSpan(t: number): number {
  return tokSpan(ts.tok[t]);
}

/**
 * Input bytes of the next chunk to feed: a function of capacity, of the bytes fed so far and of an
 * estimate of their cost in bits (never of srcLen, which only clamps, nor of the hint), so every
 * chunk boundary, and with it every token, is canonical. Each chunk costs zlib one block (tree
 * building and output, about as much as matching 3-4 KB) and cuts the match running across its end,
 * so: a first chunk of 2x capacity (most data compresses at least 2:1), then the predicted
 * remainder plus 10 % and 256 bytes (so the chunk usually overflows with little input to spare),
 * never less than 1/16 of what was fed (no crawl when the estimate is off).
 */
function nextChunk(capacity: number, fed: number, estBits: number): number {
  if (fed === 0) return Math.max(512, 2 * capacity);
  const budget = capacity * 8;
  const rem = estBits >= budget ? 0 : fed * (budget / Math.max(estBits, 1) - 1);
  return Math.min(MAX_CHUNK, Math.max(512, fed >> 4, Math.ceil(rem * 1.1) + 256));
}
const MAX_CHUNK = 1 << 20;

/**
 * The most tokens destSizeLz holds for an input of srcLen bytes and `capacity`: one per byte, and
 * never more than the fit allows. Each parse starts with tokens that fit capacity * 8 bits (every
 * token costs at least a bit: completed blocks are counted whole, the fixed code spends 7 bits or
 * more on one, a dynamic code built for the tokens at least 1) and adds at most one per byte of the
 * next chunk (nextChunk: the first 2 x capacity, later at most MAX_CHUNK), plus one held back by the
 * lazy evaluation; Lz77Parser.parseTo asks for room for one more.
 */
export function deflateMaxTokens(srcLen: number, capacity: number): number {
  return Math.min(srcLen, 8 * capacity + Math.max(512, 2 * capacity, MAX_CHUNK)) + 2;
}

/**
 * Block splitting: a large pcluster may be written as several blocks, each with a code of its own
 * (machine code, symbol tables and strings of one binary differ in statistics). Candidate split
 * points are every SPLIT_STEP tokens; at each, the open block so far and the next SPLIT_STEP tokens
 * are priced as two blocks and as one, and split when two cost less. With 4 KiB pclusters (a few
 * thousand tokens) this never triggers; on 64 KiB pclusters of binaries it saves ~0.4 %.
 */
const SPLIT_STEP = 1024;

// the completed (non-final) blocks of the current call: tokens [blkFrom[i], blkTo[i]), with
// blkCode[i] or the fixed code (blkFixed[i])
const blkCode: DynCode[] = [];
const blkFrom: number[] = [];
const blkTo: number[] = [];
const blkFixed: boolean[] = [];
let nBlk = 0;
let blkBits = 0;
let open0 = 0; // first token of the open block
let splitAt = 0; // next candidate split point
let bXb = 0;
let bFixed = 0;
// Shannon cost (entropy), literal/length and distance totals of the open block's histograms (ts.bLL/bD)
let bE = 0;
let bTl = 1;
let bTd = 0;
/** header bits of the last block code built by the split decision: the price of one more block */
let lastHeaderBits = 600;
const spare: DynCode[] = [];

/**
 * Complete blocks at the split points where two blocks cost less than one, while the tokens after
 * the next candidate block exist and the completed blocks fit in the budget whole (with room for an
 * empty final block). The open block's statistics in ts (cumLL, cumD, cumXb, cumFixed) then cover
 * only tokens [open0, ts.n).
 */
function completeBlocks(budget: number): void {
  while (ts.n > splitAt + SPLIT_STEP) {
    // priced by entropy (a Huffman code costs about as much, and building codes here took a third
    // of the encoder's time): two blocks pay one more header. The next block's histograms (n), the
    // joint ones (j) and the entropies of both in one pass in WebAssembly (Lz77Parser.splitPrice);
    // the open block's (b) is carried over.
    parser.splitPrice(splitAt, SPLIT_STEP, bTl, bTd);
    const { bLL, bD, nLL, nD, jLL, jD, priceE, priceN } = ts;
    const eN = priceE[0];
    const eJ = priceE[1];
    const xn = priceN[0];
    const fn = priceN[1];
    const tdN = priceN[2];
    const tlN = SPLIT_STEP + 1;
    const tlJ = bTl + tlN - 1;
    const tdJ = bTd + tdN;
    const two = bE + eN + lastHeaderBits;
    const one = eJ;
    let split = two < one;
    let code: DynCode | null = null;
    let dyn = 0;
    let fix = 0;
    if (split) {
      code = spare.pop() ?? new DynCode();
      code.build(bLL, bD);
      dyn = 3 + code.headerBits + code.bits + bXb;
      fix = 3 + bFixed + 7;
      // the completed blocks must fit whole (with room for an empty final block), else the cut takes it from here
      if (blkBits + Math.min(dyn, fix) + 10 > budget) {
        spare.push(code);
        split = false;
      } else lastHeaderBits = code.headerBits;
    }
    if (!split) {
      bLL.set(jLL);
      bD.set(jD);
      bE = eJ;
      bTl = tlJ;
      bTd = tdJ;
      bXb += xn;
      bFixed += fn;
      splitAt += SPLIT_STEP;
      continue;
    }
    blkCode[nBlk] = code!;
    blkFrom[nBlk] = open0;
    blkTo[nBlk] = splitAt;
    blkFixed[nBlk] = fix < dyn;
    nBlk++;
    blkBits += Math.min(dyn, fix);
    for (let i = 0; i < NUM_LL; i++) ts.cumLL[i] -= bLL[i];
    ts.cumLL[EOB] = 1;
    for (let i = 0; i < NUM_D; i++) ts.cumD[i] -= bD[i];
    ts.cumXb -= bXb;
    ts.cumFixed -= bFixed;
    open0 = splitAt;
    splitAt = open0 + SPLIT_STEP;
    bLL.set(nLL);
    bD.set(nD);
    bE = eN;
    bTl = tlN;
    bTd = tdN;
    bXb = xn;
    bFixed = fn;
  }
}

/** The completed blocks, then the final block (dynamic `code`, or fixed when null) of tokens [open0, k). */
function encodeBlocks(capacity: number, k: number, code: DynCode | null): Uint8Array {
  // last: the output may grow the module's memory, which detaches the token views
  writer.reset(capacity);
  for (let i = 0; i < nBlk; i++) {
    if (blkFixed[i]) writeFixed(writer, ts, blkFrom[i], blkTo[i], false);
    else writeDynamic(writer, ts, blkFrom[i], blkTo[i], blkCode[i], false);
  }
  if (code) writeDynamic(writer, ts, open0, k, code, true);
  else writeFixed(writer, ts, open0, k, true);
  return shareOut ? writer.flushInto(sharedOutFor(capacity)) : writer.flush();
}

// deflateDestSizeShared: every stream is written into one buffer reused by every call
let shareOut = false;
let sharedOut = new Uint8Array(0);

/** The shared output buffer, grown (geometrically) to hold a stream of `capacity` bytes. */
function sharedOutFor(capacity: number): Uint8Array {
  if (sharedOut.length < capacity) sharedOut = new Uint8Array(Math.max(capacity, 2 * sharedOut.length));
  return sharedOut;
}

/**
 * The first n bytes of src as stored blocks (into the shared buffer, see encodeBlocks). A new buffer
 * per stored pcluster (incompressible input) was garbage the worker threads' GC came for only after
 * some 64 MiB of it: tens of MiB resident per thread with 1 MiB pclusters.
 */
function stored(src: Uint8Array, n: number, capacity: number): Uint8Array {
  // the stream fits the capacity (storedFit)
  return shareOut ? encodeStored(src, n, sharedOutFor(capacity)) : encodeStored(src, n);
}

/**
 * deflateDestSize for the codec table (codec.ts), whose contract lets compress() reuse its output:
 * the data view is valid until the next call in this thread. Saves a new ArrayBuffer per pcluster
 * (a backing store to allocate and for the GC to free), the same bytes.
 */
export function deflateDestSizeShared(src: Uint8Array, srcLen: number, capacity: number, level: number, hint?: DeflateHint): DeflateResult {
  shareOut = true;
  try {
    return deflateDestSize(src, srcLen, capacity, level, hint);
  } finally {
    shareOut = false;
  }
}

/**
 * The input window of this thread's encoder (Codec.window): at least n bytes that deflateDestSize
 * reads in place for outputs of up to outCap bytes, room for their tokens reserved with it (so that
 * such a call never grows the module's memory, which would detach the view). The window is valid
 * until a call with an input outside it or a larger capacity, or the next deflateInputWindow call
 * with larger sizes. Without it a file's bytes were in a window of the caller's and, as far as
 * parsed, copied into the module (up to 8000 KiB per thread).
 */
export function deflateInputWindow(n: number, outCap: number, level: number): Uint8Array {
  // the warm-up parses inputs of its own, copied into the region handed out here: before, not after
  if (!warmed && !isMainThread) warmUp(level);
  return deflateWindow(n, deflateMaxTokens(n, outCap), outCap);
}

function destSizeLz(src: Uint8Array, srcLen: number, capacity: number, level: number, hint?: DeflateHint): DeflateResult {
  const budget = capacity * 8;
  parser.begin(ts, src, srcLen, level, deflateMaxTokens(srcLen, capacity));
  for (let i = 0; i < nBlk; i++) spare.push(blkCode[i]);
  nBlk = 0;
  lastHeaderBits = 600;
  blkBits = 0;
  open0 = 0;
  splitAt = 0;
  ts.bLL.fill(0);
  ts.bD.fill(0);
  ts.bLL[EOB] = 1;
  bXb = 0;
  bFixed = 0;
  bE = 0;
  bTl = 1;
  bTd = 0;

  // parse on until the tokens no longer fit (first overflowing chunk)
  let fed = 0;
  let overflow = false;
  let aTok = -1; // ts.n when codeA was built
  let estBits = 0; // cost estimate of the tokens so far, for the chunk schedule
  while (fed < srcLen) {
    fed = parser.parseTo(fed + nextChunk(capacity, fed, estBits));
    completeBlocks(budget);
    const fixed = blkBits + 3 + ts.cumFixed + 7;
    estBits = blkBits + (fixed - blkBits) * 0.85; // dynamic codes typically cost ~85 % of the fixed code...
    if (fixed <= budget) continue; // the fixed code still fits: no overflow
    codeA.build(ts.cumLL, ts.cumD);
    aTok = ts.n;
    const dyn = blkBits + 3 + codeA.headerBits + codeA.bits + ts.cumXb;
    estBits = dyn; // ...but once known, the real cost (a 258-byte match of zeros: 2 bits, not 13)
    if (dyn <= budget) continue;
    overflow = true;
    break;
  }
  if (hint) hint.lastFed = fed;

  const room = budget - blkBits; // for the open (final) block
  if (!overflow) {
    // the whole input fits: the smallest of dynamic / fixed (after the completed blocks) / stored
    if (aTok !== ts.n) codeA.build(ts.cumLL, ts.cumD);
    const dyn = blkBits + 3 + codeA.headerBits + codeA.bits + ts.cumXb;
    const fix = blkBits + 3 + ts.cumFixed + 7;
    const sto = (srcLen + 5 * Math.max(1, Math.ceil(srcLen / 65535))) * 8;
    if (sto < dyn && sto < fix && sto <= budget) return result(srcLen, stored(src, srcLen, capacity));
    if (dyn < fix) return result(srcLen, encodeBlocks(capacity, ts.n, codeA));
    return result(srcLen, encodeBlocks(capacity, ts.n, null));
  }

  // Cut with code A (built for all tokens of the open block): walk back from the end. C_A(k) grows
  // by >= 1 bit per token, so this finds the largest fitting k. Collect the suffix statistics on the way.
  preLL.set(ts.cumLL);
  preD.set(ts.cumD);
  let cost = 3 + codeA.headerBits + codeA.bits + ts.cumXb;
  let fixedCost = 3 + ts.cumFixed + 7;
  let xb = ts.cumXb;
  let bytesA = fed;
  let kA = ts.n;
  const llA = codeA.llLen;
  const dA = codeA.dLen;
  while (kA > open0 && cost > room) {
    const t = --kA;
    const v = ts.tok[t];
    const s = v & 511;
    cost -= tokenBits(t, llA, dA);
    bytesA -= tokenSpan(t);
    preLL[s]--;
    if (s > 256) {
      const x = tokXb(v);
      preD[(v >>> 9) & 31]--;
      xb -= x;
      fixedCost -= FIXED_LL_LEN[s] + 5 + x;
    } else fixedCost -= FIXED_LL_LEN[s];
  }
  if (cost > room) bytesA = -1; // not even an empty block under code A

  // code B, built for exactly that prefix: usually a little smaller, so walk forward (or back)
  codeB.build(preLL, preD);
  let codeF = codeB; // the code the forward walk uses (codeB, or a rebuilt one in codeC)
  let kB = kA;
  let bytesB = bytesA;
  cost = 3 + codeB.headerBits + codeB.bits + xb;
  if (cost <= room) {
    if (bytesB < 0) bytesB = fed - spanOf(kB, ts.n);
    while (kB < ts.n) {
      const c = tokenBits(kB, codeF.llLen, codeF.dLen);
      const v = ts.tok[kB];
      const s = v & 511;
      if (c !== 0) {
        if (cost + c > room) break;
        cost += c;
        preLL[s]++;
        if (s > 256) {
          preD[(v >>> 9) & 31]++;
          xb += tokXb(v);
        }
      } else {
        // A symbol the prefix never used has no code, which says nothing about whether the
        // token fits (finding: deflate-forward-walk-stops-at-new-symbol, seed 1284510741 took
        // 5450 of ~6000 bytes into 384 with 85 bytes spare). Build a code that has it.
        preLL[s]++;
        if (s > 256) {
          preD[(v >>> 9) & 31]++;
          xb += tokXb(v);
        }
        const other = codeF === codeC ? codeB : codeC;
        other.build(preLL, preD);
        const c2 = 3 + other.headerBits + other.bits + xb;
        if (c2 > room) break; // preLL/preD are not used after the walk: no need to undo
        codeF = other;
        cost = c2;
      }
      bytesB += tokenSpan(kB);
      kB++;
    }
  } else {
    while (kB > open0 && cost > room) {
      kB--;
      cost -= tokenBits(kB, codeB.llLen, codeB.dLen);
      bytesB -= tokenSpan(kB);
    }
    if (cost > room) bytesB = -1;
  }

  // fixed code: only worth a look when it fits at least A's prefix (tiny capacities)
  let kF = -1;
  let bytesF = -1;
  if (fixedCost <= room) {
    kF = kA;
    bytesF = fed - spanOf(kA, ts.n);
    while (kF < ts.n) {
      const c = tokenBits(kF, FIXED_LL_LEN, FIXED_D_LEN);
      if (fixedCost + c > room) break;
      fixedCost += c;
      bytesF += tokenSpan(kF);
      kF++;
    }
  }
  const bytesS = storedFit(srcLen, capacity);
  const best = Math.max(bytesA, bytesB, bytesF, bytesS);
  if (best <= 0) return emptyStream();
  // ties: dynamic B, dynamic A, fixed, stored (a fixed order keeps the choice canonical)
  if (bytesB === best) return result(best, encodeBlocks(capacity, kB, codeF));
  if (bytesA === best) return result(best, encodeBlocks(capacity, kA, codeA));
  if (bytesF === best) return result(best, encodeBlocks(capacity, kF, null));
  return result(best, stored(src, best, capacity));
}

/** input bytes of tokens [from, to) */
function spanOf(from: number, to: number): number {
  let n = 0;
  for (let t = from; t < to; t++) n += tokenSpan(t);
  return n;
}
