/**
 * Raw DEFLATE for EROFS pclusters: a "destsize" compressor (the longest input prefix whose stream
 * fits in a fixed number of bytes) and a strict inflater for the reader.
 *
 * How deflateDestSize works, and why its output is canonical:
 *  - node:zlib serves only as a native LZ77 match finder. Input is fed from offset 0 in chunks, each
 *    followed by Z_SYNC_FLUSH. A flush makes zlib emit every token (literal or length/distance pair)
 *    for the data it has, so a chunk's tokens depend only on src[0 .. end of that chunk].
 *  - zlib's byte-aligned output for each chunk is decoded back into tokens (JS, ~10 ns/token).
 *  - Chunk sizes come from nextChunk(): a function of capacity and of the tokens decoded so far,
 *    never of the hint. Chunks are fed until the tokens no longer fit in `capacity` bytes as one
 *    block (dynamic code built for exactly those tokens, or the fixed code): the first overflowing
 *    chunk, checked after every chunk.
 *  - Our own entropy coder then writes one final block (BFINAL=1): a dynamic Huffman code built for
 *    the chosen token prefix, cut at the last token that still fits (to the bit); or the fixed code;
 *    or stored blocks, whichever covers the most input.
 *  Every step depends only on (src[0..srcLen), capacity, level), so the output is byte-for-byte the
 *  same whatever was compressed before and whatever `hint` holds. zlib matches each byte about once
 *  (1.04-1.1x the consumed input, against ~2.3x for a libdeflate-style search with zlib trials).
 *
 * Reproducibility caveat: the tokens come from the zlib inside Node (Chromium's fork). Its hash
 * function depends on the CPU (CRC32C with SSE4.2+PCLMUL or ARMv8 CRC, Rabin-Karp otherwise) and the
 * code changes between Node releases, so pin the Node version for golden images; the streams are
 * valid everywhere.
 */
import * as zlib from 'node:zlib';

/**
 * Our `-z deflate` default. Benchmark corpus, 4 KiB pclusters, data bytes on disk / compressor
 * CPU-s (one core): level 1 140.4 MB / 7.8 s, 4 134.9 / 8.3, 5 133.0 / 9.1, 6 132.3 / 9.9,
 * 7 132.1 / 10.6, 9 131.9 / 16.8; mkfs.erofs 1.9.3 -zlibdeflate (libdeflate level 1): 138.2 MB.
 * 6 is the knee: 5 -> 6 saves 0.7 MB for 0.8 s, 6 -> 7 only 0.2 MB for 0.7 s.
 */
export const DEFLATE_DEFAULT_LEVEL = 6;
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

export type DeflateFormatReason =
  | 'truncated' // input ended inside a block
  | 'missing-final-block' // every block complete, but none had BFINAL set
  | 'output-too-long' // decodes to more than outLen bytes
  | 'output-too-short' // final block reached before outLen bytes
  | 'trailing-data' // bytes left after the final block
  | 'corrupt'; // zlib rejected the stream (bad block type, code, distance, ...)

export class DeflateFormatError extends Error {
  readonly reason: DeflateFormatReason;
  constructor(reason: DeflateFormatReason, message: string) {
    super(`DEFLATE: ${message}`);
    this.name = 'DeflateFormatError';
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 1951 tables

const LEN_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
const LEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
const DIST_BASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
/** order in which code-length code lengths are sent */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

const NUM_LL = 286; // literal/length symbols that may be coded (286, 287 are invalid)
const NUM_D = 30;
const NUM_CL = 19;
const EOB = 256;

/** fixed (BTYPE=01) code lengths */
const FIXED_LL_LEN = new Uint8Array(288);
const FIXED_D_LEN = new Uint8Array(30).fill(5);
for (let i = 0; i < 288; i++) FIXED_LL_LEN[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;

const REV8 = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let r = 0;
  for (let b = 0; b < 8; b++) r |= ((i >> b) & 1) << (7 - b);
  REV8[i] = r;
}
/** reverse the low `len` (<= 16) bits of `code` */
function reverseBits(code: number, len: number): number {
  return ((REV8[code & 255] << 8) | REV8[(code >> 8) & 255]) >> (16 - len);
}

const ccCount = new Uint16Array(16);
const ccNext = new Uint16Array(16);
/** canonical codes from code lengths, packed for the writer: bit-reversed code | length << 16 */
function canonicalCodes(lens: Uint8Array, n: number, out: Int32Array): void {
  ccCount.fill(0);
  for (let i = 0; i < n; i++) ccCount[lens[i]]++;
  ccCount[0] = 0;
  let code = 0;
  for (let b = 1; b < 16; b++) {
    code = (code + ccCount[b - 1]) << 1;
    ccNext[b] = code;
  }
  for (let i = 0; i < n; i++) {
    const l = lens[i];
    out[i] = l ? reverseBits(ccNext[l]++, l) | (l << 16) : 0;
  }
}

const FIXED_LL_CODE = new Int32Array(288);
const FIXED_D_CODE = new Int32Array(30);
canonicalCodes(FIXED_LL_LEN, 288, FIXED_LL_CODE);
canonicalCodes(FIXED_D_LEN, 30, FIXED_D_CODE);

// ---------------------------------------------------------------------------------------------
// Huffman code construction (deterministic, length-limited)

const hKeys = new Float64Array(NUM_LL + 2);
const hKeys32 = new Uint32Array(NUM_LL + 2);
const hW = new Float64Array(NUM_LL + 2);
const hSym = new Int32Array(NUM_LL + 2);
const hNum = new Int32Array(NUM_LL + 4);
/** radix sort scratch */
const rSym = new Int32Array(NUM_LL + 2);
const rW = new Uint32Array(NUM_LL + 2);
const rCount = new Int32Array(128);

/**
 * Optimal prefix code lengths for freq[0..n), limited to maxLen bits. At least two symbols get a
 * code (zlib does the same: inflaters want a complete code). Ties are broken by symbol number, so
 * the result is a pure function of the frequencies.
 */
function buildLengths(freq: Int32Array, n: number, maxLen: number, lens: Uint8Array): void {
  // used symbols in ascending order, with their weights
  let m = 0;
  let maxW = 0;
  for (let i = 0; i < n; i++) {
    lens[i] = 0;
    const f = freq[i];
    if (f) {
      hSym[m] = i;
      hKeys32[m++] = f;
      if (f > maxW) maxW = f;
    }
  }
  // force a second (or first and second) symbol, weight 1, lowest unused numbers (appended out
  // of symbol order: m <= 2 here, so the insertion sort below, which compares symbols, sorts them)
  for (let i = 0; m < 2 && i < n; i++) {
    if (!freq[i]) {
      hSym[m] = i;
      hKeys32[m++] = 1;
      if (maxW < 1) maxW = 1;
    }
  }
  // sort by (weight, symbol). Keys are distinct, so any exact sort gives the same order.
  if (maxW < 1 << 22) {
    let srcS = hSym;
    let srcW = hKeys32;
    let dstS = rSym;
    let dstW = rW;
    if (m <= 40) {
      // insertion sort on (weight, symbol): cheaper than counting passes for small alphabets
      for (let i = 1; i < m; i++) {
        const w = srcW[i];
        const sym = srcS[i];
        let j = i - 1;
        while (j >= 0 && (srcW[j] > w || (srcW[j] === w && srcS[j] > sym))) {
          srcW[j + 1] = srcW[j];
          srcS[j + 1] = srcS[j];
          j--;
        }
        srcW[j + 1] = w;
        srcS[j + 1] = sym;
      }
    } else {
      // hSym[0..m) is in ascending symbol order, so a stable LSD radix sort on the weight orders
      // by (weight, symbol): digits of <= 7 bits, only as many passes as the largest weight
      // needs. For ~100-280 symbols this beats the typed-array sort (half of buildLengths' time).
      const wBits = 32 - Math.clz32(maxW);
      const passes = Math.ceil(wBits / 7);
      const width = Math.ceil(wBits / passes);
      const buckets = 1 << width;
      const dm = buckets - 1;
      const cnt = rCount;
      for (let pass = 0, shift = 0; pass < passes; pass++, shift += width) {
        cnt.fill(0, 0, buckets);
        for (let i = 0; i < m; i++) cnt[(srcW[i] >>> shift) & dm]++;
        let sum = 0;
        for (let d = 0; d < buckets; d++) {
          const c = cnt[d];
          cnt[d] = sum;
          sum += c;
        }
        for (let i = 0; i < m; i++) {
          const w = srcW[i];
          const o = cnt[(w >>> shift) & dm]++;
          dstW[o] = w;
          dstS[o] = srcS[i];
        }
        const ts = srcS;
        srcS = dstS;
        dstS = ts;
        const tw = srcW;
        srcW = dstW;
        dstW = tw;
      }
    }
    for (let i = 0; i < m; i++) {
      hSym[i] = srcS[i];
      hW[i] = srcW[i];
    }
  } else {
    // weights of 2^22 and more: exact in a double, not in a packed 32-bit key
    const keys = hKeys.subarray(0, m);
    for (let i = 0; i < m; i++) keys[i] = hKeys32[i] * 512 + hSym[i];
    keys.sort();
    for (let i = 0; i < m; i++) {
      const k = keys[i];
      const sym = k % 512;
      hSym[i] = sym;
      hW[i] = (k - sym) / 512;
    }
  }
  // Moffat & Katajainen, in place: weights ascending -> code lengths (longest first)
  const A = hW;
  A[0] += A[1];
  let root = 0;
  let leaf = 2;
  for (let next = 1; next < m - 1; next++) {
    if (leaf >= m || A[root] < A[leaf]) {
      A[next] = A[root];
      A[root++] = next;
    } else A[next] = A[leaf++];
    if (leaf >= m || (root < next && A[root] < A[leaf])) {
      A[next] += A[root];
      A[root++] = next;
    } else A[next] += A[leaf++];
  }
  A[m - 2] = 0;
  for (let next = m - 3; next >= 0; next--) A[next] = A[A[next]] + 1;
  let avbl = 1;
  let used = 0;
  let dpth = 0;
  root = m - 2;
  let next = m - 1;
  while (avbl > 0) {
    while (root >= 0 && A[root] === dpth) {
      used++;
      root--;
    }
    while (avbl > used) {
      A[next--] = dpth;
      avbl--;
    }
    avbl = 2 * used;
    dpth++;
    used = 0;
  }
  // A[i] is now the length for the i-th least frequent symbol; enforce the limit (Kraft repair)
  hNum.fill(0);
  let maxSeen = 0;
  for (let i = 0; i < m; i++) {
    hNum[A[i]]++;
    if (A[i] > maxSeen) maxSeen = A[i];
  }
  if (maxSeen > maxLen) {
    for (let l = maxLen + 1; l <= maxSeen; l++) {
      hNum[maxLen] += hNum[l];
      hNum[l] = 0;
    }
    let total = 0;
    for (let l = maxLen; l > 0; l--) total += hNum[l] * 2 ** (maxLen - l);
    const full = 2 ** maxLen;
    while (total !== full) {
      hNum[maxLen]--;
      for (let l = maxLen - 1; l > 0; l--) {
        if (hNum[l]) {
          hNum[l]--;
          hNum[l + 1] += 2;
          break;
        }
      }
      total--;
    }
    // most frequent symbols get the shortest lengths
    let j = m;
    for (let l = 1; l <= maxLen; l++) for (let c = hNum[l]; c > 0; c--) lens[hSym[--j]] = l;
  } else {
    for (let i = 0; i < m; i++) lens[hSym[i]] = A[i];
  }
}

/** a dynamic-block code: lengths, codes and the exact header size */
class DynCode {
  readonly llLen = new Uint8Array(NUM_LL);
  readonly dLen = new Uint8Array(NUM_D);
  readonly llCode = new Int32Array(NUM_LL);
  readonly dCode = new Int32Array(NUM_D);
  readonly clLen = new Uint8Array(NUM_CL);
  readonly clCode = new Int32Array(NUM_CL);
  readonly clFreq = new Int32Array(NUM_CL);
  /** run-length coded code lengths: symbol | extra << 8 */
  rle = new Uint16Array(NUM_LL + NUM_D);
  rleN = 0;
  hlit = 257;
  hdist = 1;
  hclen = 4;
  /** bits of the block header after BFINAL/BTYPE (HLIT .. last code length) */
  headerBits = 0;
  private seq = new Uint8Array(NUM_LL + NUM_D);

  /** build from frequencies (llFreq must count EOB) and compute the header size */
  build(llFreq: Int32Array, dFreq: Int32Array): void {
    buildLengths(llFreq, NUM_LL, 15, this.llLen);
    buildLengths(dFreq, NUM_D, 15, this.dLen);
    let hlit = NUM_LL;
    while (hlit > 257 && this.llLen[hlit - 1] === 0) hlit--;
    let hdist = NUM_D;
    while (hdist > 1 && this.dLen[hdist - 1] === 0) hdist--;
    this.hlit = hlit;
    this.hdist = hdist;
    const seq = this.seq;
    const total = hlit + hdist;
    seq.set(this.llLen.subarray(0, hlit), 0);
    seq.set(this.dLen.subarray(0, hdist), hlit);
    // run-length code the sequence (one sequence: runs may cross from HLIT into HDIST, RFC 1951)
    const clFreq = this.clFreq;
    clFreq.fill(0);
    const rle = this.rle;
    let n = 0;
    let extraBits = 0;
    for (let i = 0; i < total; ) {
      const v = seq[i];
      let run = 1;
      while (i + run < total && seq[i + run] === v) run++;
      i += run;
      if (v === 0) {
        let r = run;
        while (r >= 11) {
          const k = r > 138 ? 138 : r;
          rle[n++] = 18 | ((k - 11) << 8);
          clFreq[18]++;
          extraBits += 7;
          r -= k;
        }
        if (r >= 3) {
          rle[n++] = 17 | ((r - 3) << 8);
          clFreq[17]++;
          extraBits += 3;
          r = 0;
        }
        for (; r > 0; r--) {
          rle[n++] = 0;
          clFreq[0]++;
        }
      } else {
        rle[n++] = v;
        clFreq[v]++;
        let r = run - 1;
        while (r >= 3) {
          const k = r > 6 ? 6 : r;
          rle[n++] = 16 | ((k - 3) << 8);
          clFreq[16]++;
          extraBits += 2;
          r -= k;
        }
        for (; r > 0; r--) {
          rle[n++] = v;
          clFreq[v]++;
        }
      }
    }
    this.rleN = n;
    buildLengths(clFreq, NUM_CL, 7, this.clLen);
    let hclen = NUM_CL;
    while (hclen > 4 && this.clLen[CL_ORDER[hclen - 1]] === 0) hclen--;
    this.hclen = hclen;
    let bits = 5 + 5 + 4 + 3 * hclen + extraBits;
    for (let s = 0; s < NUM_CL; s++) bits += clFreq[s] * this.clLen[s];
    this.headerBits = bits;
  }

  /** codes for writing (only needed for the final encode) */
  finish(): void {
    canonicalCodes(this.llLen, NUM_LL, this.llCode);
    canonicalCodes(this.dLen, NUM_D, this.dCode);
    canonicalCodes(this.clLen, NUM_CL, this.clCode);
  }

  /** data bits of a histogram under this code (Infinity if a used symbol has no code) */
  dataBits(llFreq: Int32Array, dFreq: Int32Array): number {
    let bits = 0;
    for (let s = 0; s < NUM_LL; s++) {
      const f = llFreq[s];
      if (f) {
        if (!this.llLen[s]) return Infinity;
        bits += f * this.llLen[s];
      }
    }
    for (let s = 0; s < NUM_D; s++) {
      const f = dFreq[s];
      if (f) {
        if (!this.dLen[s]) return Infinity;
        bits += f * this.dLen[s];
      }
    }
    return bits;
  }
}

// ---------------------------------------------------------------------------------------------
// Token store (module scratch: grows, never shrinks, carries nothing from one call to the next)

let tSym = new Uint16Array(1 << 14); // literal byte 0..255 or length symbol 257..285
let tVal = new Uint32Array(1 << 14); // match: length | distance << 9; literal: 0
let tDsym = new Uint8Array(1 << 14); // distance symbol, 255 for a literal
let tXb = new Uint8Array(1 << 14); // extra bits (length + distance)
let nTok = 0;

function ensureTokens(n: number): void {
  if (tSym.length >= n) return;
  const cap = Math.max(n, tSym.length * 2);
  const s = new Uint16Array(cap);
  s.set(tSym.subarray(0, nTok));
  tSym = s;
  const v = new Uint32Array(cap);
  v.set(tVal.subarray(0, nTok));
  tVal = v;
  const d = new Uint8Array(cap);
  d.set(tDsym.subarray(0, nTok));
  tDsym = d;
  const x = new Uint8Array(cap);
  x.set(tXb.subarray(0, nTok));
  tXb = x;
}

/** cumulative statistics of all decoded tokens (cumLL counts one EOB) */
// Int32Array (counts stay far below 2^31): V8 keeps the increments in integer registers
const cumLL = new Int32Array(NUM_LL);
const cumD = new Int32Array(NUM_D);
let cumXb = 0; // extra bits
let cumFixed = 0; // data bits under the fixed code (without EOB)

// ---------------------------------------------------------------------------------------------
// Decoder for zlib's (trusted, byte-aligned) chunk output -> tokens

/** canonical Huffman decoder: a primary table (entry = sym << 4 | len, 0 = longer code) + slow path */
class Decoder {
  readonly table: Int32Array;
  readonly mask: number;
  readonly count = new Uint16Array(16);
  readonly sorted = new Uint16Array(320);
  private readonly offs = new Uint16Array(16);
  private readonly next = new Uint16Array(16);
  /** per symbol, or'ed into its entries: extra-bit count << 13 | base << 17 (0: none) */
  readonly aux: Int32Array;
  constructor(readonly pri: number, aux?: Int32Array) {
    this.aux = aux ?? new Int32Array(320);
    this.table = new Int32Array(1 << pri);
    this.mask = (1 << pri) - 1;
  }
  init(lens: Uint8Array, n: number): void {
    const count = this.count;
    count.fill(0);
    for (let i = 0; i < n; i++) count[lens[i]]++;
    count[0] = 0;
    const offs = this.offs;
    offs[1] = 0;
    for (let l = 1; l < 15; l++) offs[l + 1] = offs[l] + count[l];
    for (let i = 0; i < n; i++) if (lens[i]) this.sorted[offs[lens[i]]++] = i;
    const table = this.table;
    const next = this.next;
    let code = 0;
    for (let b = 1; b < 16; b++) {
      next[b] = code;
      code = (code + count[b]) << 1;
    }
    // Fill the table by doubling: after step l, table[0 .. 2^l) holds every code of length <= l
    // at each index whose low bits are that code (reversed), and 0 elsewhere (unused, or the
    // prefix of a longer code). Doubling is a memcpy, so each entry costs no JS store.
    const pri = this.pri;
    const sorted = this.sorted;
    const aux = this.aux;
    table[0] = 0;
    let idx = 0; // symbols in sorted[] are ordered by (length, symbol): canonical order
    for (let l = 1; l <= pri; l++) {
      const half = 1 << (l - 1);
      table.copyWithin(half, 0, half);
      let c = next[l];
      for (let j = count[l]; j > 0; j--) {
        const sym = sorted[idx++];
        table[reverseBits(c++, l)] = (sym << 4) | l | aux[sym];
      }
    }
  }
}

// length and distance symbols carry their extra-bit count and base in the table entry, which
// saves the decoder's hot loop four table loads per match
const LL_AUX = new Int32Array(288);
const D_AUX = new Int32Array(32);
for (let i = 0; i < 29; i++) LL_AUX[257 + i] = (LEN_EXTRA[i] << 13) | (LEN_BASE[i] << 17);
for (let i = 0; i < 30; i++) D_AUX[i] = (DIST_EXTRA[i] << 13) | (DIST_BASE[i] << 17);
const llDec = new Decoder(11, LL_AUX);
const dDec = new Decoder(9, D_AUX);
const clDec = new Decoder(7);
const fixedLLDec = new Decoder(11, LL_AUX);
const fixedDDec = new Decoder(9, D_AUX);
fixedLLDec.init(FIXED_LL_LEN, 288);
fixedDDec.init(FIXED_D_LEN, 30);
const decLens = new Uint8Array(NUM_LL + 2 + 32 + 140);
const clScratch = new Uint8Array(NUM_CL);

class ZlibOutputError extends Error {}

/** bit reader state shared by the slow paths (the hot loop keeps it in locals) */
let bBuf = 0;
let bCnt = 0;
let bPos = 0;
let bSrc: Uint8Array = new Uint8Array(0);
let bEnd = 0;

function need(n: number): void {
  while (bCnt < n) {
    bBuf |= (bPos < bEnd ? bSrc[bPos] : 0) << bCnt;
    bPos++;
    bCnt += 8;
  }
}
function bits(n: number): number {
  need(n);
  const v = bBuf & ((1 << n) - 1);
  bBuf >>>= n;
  bCnt -= n;
  return v;
}
function decodeSym(d: Decoder): number {
  need(15);
  const e = d.table[bBuf & d.mask];
  if (e) {
    const l = e & 15;
    bBuf >>>= l;
    bCnt -= l;
    return (e >> 4) & 511;
  }
  // canonical decode, one bit at a time (codes longer than the primary table)
  let code = 0;
  let first = 0;
  let index = 0;
  for (let len = 1; len < 16; len++) {
    code |= bBuf & 1;
    bBuf >>>= 1;
    bCnt--;
    const c = d.count[len];
    if (code - c < first) return d.sorted[index + (code - first)];
    index += c;
    first += c;
    first <<= 1;
    code <<= 1;
  }
  throw new ZlibOutputError('bad code');
}

/** read a dynamic block header at the shared bit state into llDec/dDec; false if malformed */
function readDynamicHeader(): boolean {
  const hlit = bits(5) + 257;
  const hdist = bits(5) + 1;
  const hclen = bits(4) + 4;
  if (hlit > 286 || hdist > 30) return false;
  clScratch.fill(0);
  for (let i = 0; i < hclen; i++) clScratch[CL_ORDER[i]] = bits(3);
  clDec.init(clScratch, NUM_CL);
  const total = hlit + hdist;
  for (let i = 0; i < total; ) {
    const s = decodeSym(clDec);
    if (s < 16) decLens[i++] = s;
    else if (s === 16) {
      if (i === 0) return false;
      const p = decLens[i - 1];
      for (let r = 3 + bits(2); r > 0; r--) decLens[i++] = p;
    } else if (s === 17) for (let r = 3 + bits(3); r > 0; r--) decLens[i++] = 0;
    else for (let r = 11 + bits(7); r > 0; r--) decLens[i++] = 0;
    if (i > total) return false;
  }
  llDec.init(decLens.subarray(0, hlit), hlit);
  dDec.init(decLens.subarray(hlit, total), hdist);
  return true;
}

/**
 * Decode the blocks zlib wrote for one sync-flushed chunk (buf[0..n)): non-final blocks, the last
 * one the empty stored block of the flush. Appends tokens and updates the cumulative statistics.
 * `inLen` (the chunk's input size) bounds the number of new tokens.
 * The bit buffer holds at most 24 bits (refill while <= 16), so it always stays a small integer.
 */
function decodeChunk(buf: Uint8Array, n: number, inLen: number): void {
  ensureTokens(nTok + inLen);
  const sym = tSym;
  const val = tVal;
  const dsy = tDsym;
  const xbs = tXb;
  const hl = cumLL;
  const hd = cumD;
  const lens = decLens;
  let k = nTok;
  let xbits = cumXb;
  let pos = 0;
  let bb = 0;
  let bc = 0;
  const limit = nTok + inLen;
  for (;;) {
    while (bc <= 16) {
      bb |= buf[pos] << bc;
      pos++;
      bc += 8;
    }
    const hdr = bb & 7;
    bb >>= 3;
    bc -= 3;
    if (hdr & 1) throw new ZlibOutputError('unexpected final block');
    const type = hdr >> 1;
    if (type === 0) {
      bb >>= bc & 7;
      bc -= bc & 7;
      let p = pos - (bc >> 3);
      const len = buf[p] | (buf[p + 1] << 8);
      p += 4;
      if (p + len > n || k + len > limit) throw new ZlibOutputError('stored block overruns');
      for (let i = 0; i < len; i++) {
        const b = buf[p + i];
        sym[k++] = b;
        hl[b]++;
      }
      pos = p + len;
      bb = 0;
      bc = 0;
      if (pos >= n) break;
      continue;
    }
    let ld: Decoder;
    let dd: Decoder;
    if (type === 1) {
      ld = fixedLLDec;
      dd = fixedDDec;
    } else if (type === 2) {
      // dynamic header (5 + 5 + 4 bits, then 3 bits per code-length code length)
      while (bc <= 16) {
        bb |= buf[pos] << bc;
        pos++;
        bc += 8;
      }
      const hlit = (bb & 31) + 257;
      const hdist = ((bb >> 5) & 31) + 1;
      const hclen = ((bb >> 10) & 15) + 4;
      bb >>= 14;
      bc -= 14;
      if (hlit > 286 || hdist > 30) throw new ZlibOutputError('bad dynamic header');
      const cl = clScratch;
      cl.fill(0);
      for (let i = 0; i < hclen; i++) {
        while (bc <= 16) {
          bb |= buf[pos] << bc;
          pos++;
          bc += 8;
        }
        cl[CL_ORDER[i]] = bb & 7;
        bb >>= 3;
        bc -= 3;
      }
      clDec.init(cl, NUM_CL);
      const ct = clDec.table; // code-length codes are <= 7 bits: the 7-bit table decodes all
      const total = hlit + hdist;
      for (let i = 0; i < total; ) {
        while (bc <= 16) {
          bb |= buf[pos] << bc;
          pos++;
          bc += 8;
        }
        const e = ct[bb & 127];
        if (e <= 0) throw new ZlibOutputError('bad code-length code');
        const l = e & 15;
        bb >>= l;
        bc -= l;
        const c = e >> 4;
        if (c < 16) lens[i++] = c;
        else {
          let r: number;
          let v = 0;
          if (c === 16) {
            if (i === 0) throw new ZlibOutputError('repeat without a length');
            v = lens[i - 1];
            r = 3 + (bb & 3);
            bb >>= 2;
            bc -= 2;
          } else if (c === 17) {
            r = 3 + (bb & 7);
            bb >>= 3;
            bc -= 3;
          } else {
            r = 11 + (bb & 127);
            bb >>= 7;
            bc -= 7;
          }
          if (i + r > total) throw new ZlibOutputError('code lengths overrun');
          for (; r > 0; r--) lens[i++] = v;
        }
      }
      llDec.init(lens.subarray(0, hlit), hlit);
      dDec.init(lens.subarray(hlit, total), hdist);
      ld = llDec;
      dd = dDec;
    } else throw new ZlibOutputError('reserved block type');
    const lt = ld.table;
    const lm = ld.mask;
    const lp = ld.pri;
    const dt = dd.table;
    const dm = dd.mask;
    for (;;) {
      // branchless refill to 24..31 bits: whole bytes count as consumed, the bits of a partly
      // fitting byte sit above bc as a correct preview (or-ed again, same value, next time)
      bb |= ((buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16)) << bc) & 0x7fffffff;
      const nb = (31 - bc) >> 3;
      pos += nb;
      bc += nb << 3;
      // entry: code length | symbol << 4 | extra-bit count << 13 | base << 17 (see Decoder);
      // the slow path returns the symbol, rebuilt into an entry with length 0 (bits consumed)
      let e = lt[bb & lm];
      if (e === 0) {
        bSrc = buf;
        bEnd = n;
        bPos = pos;
        bBuf = bb;
        bCnt = bc;
        const s = decodeSym(ld);
        pos = bPos;
        bb = bBuf;
        bc = bCnt;
        e = (s << 4) | LL_AUX[s];
      }
      const l = e & 15;
      bb >>= l;
      bc -= l;
      if (e < 256 << 4) {
        // literals: only tSym is meaningful (tVal/tDsym/tXb are read for matches only); writes
        // past the reserved room are dropped by the typed array and caught after the block
        const s = e >> 4;
        sym[k++] = s;
        hl[s]++;
        // a second literal without a refill while the buffer still holds a table index
        if (bc >= lp) {
          const e2 = lt[bb & lm];
          if (e2 !== 0 && e2 < 256 << 4) {
            const l2 = e2 & 15;
            bb >>= l2;
            bc -= l2;
            const s2 = e2 >> 4;
            sym[k++] = s2;
            hl[s2]++;
          }
        }
        continue;
      }
      const s = (e >> 4) & 511;
      if (s === EOB) break;
      if (s > 285) throw new ZlibOutputError('bad length symbol');
      let len = e >>> 17;
      const le = (e >> 13) & 15;
      if (le) {
        if (bc < 16) {
          bb |= (buf[pos] | (buf[pos + 1] << 8)) << bc;
          pos += 2;
          bc += 16;
        }
        len += bb & ((1 << le) - 1);
        bb >>= le;
        bc -= le;
      }
      if (bc < 16) {
        bb |= (buf[pos] | (buf[pos + 1] << 8)) << bc;
        pos += 2;
        bc += 16;
      }
      e = dt[bb & dm];
      if (e === 0) {
        bSrc = buf;
        bEnd = n;
        bPos = pos;
        bBuf = bb;
        bCnt = bc;
        const d = decodeSym(dd);
        pos = bPos;
        bb = bBuf;
        bc = bCnt;
        e = (d << 4) | D_AUX[d];
      }
      const dl = e & 15;
      bb >>= dl;
      bc -= dl;
      const ds = (e >> 4) & 511;
      if (ds > 29) throw new ZlibOutputError('bad distance symbol');
      let dist = e >>> 17; // entries with a base >= 16384 are negative as Int32: hence >>> and === 0
      const de = (e >> 13) & 15;
      if (de) {
        if (bc < 16) {
          bb |= (buf[pos] | (buf[pos + 1] << 8)) << bc;
          pos += 2;
          bc += 16;
        }
        dist += bb & ((1 << de) - 1);
        bb >>= de;
        bc -= de;
      }
      const x = le + de;
      sym[k] = s;
      val[k] = len | (dist << 9);
      dsy[k] = ds;
      xbs[k] = x;
      k++;
      hl[s]++;
      hd[ds]++;
      xbits += x;
    }
    if (pos > n + 4) throw new ZlibOutputError('block overruns the chunk output');
    if (k > limit) throw new ZlibOutputError('more tokens than input');
  }
  nTok = k;
  cumXb = xbits;
  // fixed-code cost of everything so far (without EOB), from the histograms
  let fixedBits = xbits;
  for (let i = 0; i < 144; i++) fixedBits += hl[i] * 8;
  for (let i = 144; i < 256; i++) fixedBits += hl[i] * 9;
  for (let i = 257; i < 280; i++) fixedBits += hl[i] * 7;
  for (let i = 280; i < NUM_LL; i++) fixedBits += hl[i] * 8;
  for (let i = 0; i < NUM_D; i++) fixedBits += hd[i] * 5;
  cumFixed = fixedBits;
}

// ---------------------------------------------------------------------------------------------
// zlib match finder: a fresh zlib stream for every call

interface ZHandle {
  writeSync(flush: number, inp: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  close(): void;
}
interface ZEngine {
  handle: ZHandle;
  state: Uint32Array; // [avail_out, avail_in] after writeSync
}
type DeflateRawCtor = new (opts: zlib.ZlibOptions) => { _handle?: ZHandle; _writeState?: Uint32Array };

/**
 * Why not one stream per level, reset between calls: deflateReset keeps the old window bytes, and
 * Chromium's zlib (Node's) reads past the end of the input it was given — 4-byte hashes below
 * level 6, over-long match compares — so after a sync flush the tokens near each chunk end would
 * depend on what an earlier call compressed. A new stream starts from a zeroed window. Creating the
 * handle directly (not through the stream's close()) costs ~10 us.
 */
function openEngine(level: number): ZEngine {
  const Ctor = (zlib as unknown as { DeflateRaw: DeflateRawCtor }).DeflateRaw;
  // chunkSize: the stream's own output buffer is never used (writeSync gets ours), so keep it minimal
  const z = new Ctor({ level, memLevel: 9, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY, chunkSize: zlib.constants.Z_MIN_CHUNK });
  if (!z._handle || typeof z._handle.writeSync !== 'function' || typeof z._handle.close !== 'function' || !(z._writeState instanceof Uint32Array)) {
    throw new Error('deflateDestSize: this Node.js zlib has no synchronous handle API (_handle.writeSync)');
  }
  return { handle: z._handle, state: z._writeState };
}

let zOut = new Uint8Array(1 << 16);

/** feed src[from, from+n) to zlib with a sync flush and decode the resulting blocks */
function feed(eng: ZEngine, src: Uint8Array, from: number, n: number): void {
  const need = n + (n >> 3) + 96;
  if (zOut.length < need) zOut = new Uint8Array(need);
  const avail = zOut.length - 16; // keep 16 zero bytes after the output: the decoder reads ahead
  eng.handle.writeSync(zlib.constants.Z_SYNC_FLUSH, src, from, n, zOut, 0, avail);
  if (eng.state[1] !== 0 || eng.state[0] === 0) throw new Error('deflateDestSize: zlib output buffer too small');
  const len = avail - eng.state[0];
  zOut.fill(0, len, len + 16);
  decodeChunk(zOut, len, n);
}

// ---------------------------------------------------------------------------------------------
// Bit writer

let wBuf = new Uint8Array(1 << 16);
let wView = new DataView(wBuf.buffer);
let wPos = 0;
let wAcc = 0;
let wCnt = 0;

function wReset(capacity: number): void {
  if (wBuf.length < capacity + 16) {
    wBuf = new Uint8Array(capacity + 16);
    wView = new DataView(wBuf.buffer);
  }
  wPos = 0;
  wAcc = 0;
  wCnt = 0;
}
function put(v: number, n: number): void {
  wAcc |= v << wCnt;
  wCnt += n;
  while (wCnt >= 8) {
    wBuf[wPos++] = wAcc;
    wAcc >>= 8;
    wCnt -= 8;
  }
}
function wFlush(): Uint8Array {
  if (wCnt > 0) {
    wBuf[wPos++] = wAcc;
    wAcc = 0;
    wCnt = 0;
  }
  return wBuf.slice(0, wPos);
}

/** tokens [0, k) and EOB with the given packed codes (see canonicalCodes) */
function writeTokens(k: number, llCode: Int32Array, dCode: Int32Array): void {
  const buf = wBuf;
  const dv = wView;
  const sym = tSym;
  const val = tVal;
  const dsy = tDsym;
  let p = wPos;
  let acc = wAcc;
  let cnt = wCnt;
  let f = 0;
  // Invariant: cnt < 16 before each step, and a step adds at most 15 bits (a code <= 15, length
  // extra <= 5, distance extra <= 13), so acc stays below 2^31; whole 16-bit units are stored at
  // once, without a branch: the two bytes are always stored (the buffer has slack) and p, acc and
  // cnt advance by (cnt & 16), which is 16 exactly when cnt >= 16 (cnt < 31)
  for (let t = 0; t < k; t++) {
    const s = sym[t];
    const c = llCode[s];
    acc |= (c & 0xffff) << cnt;
    cnt += c >> 16;
    f = cnt & 16;
    dv.setUint16(p, acc, true);
    p += f >> 3;
    acc >>= f;
    cnt -= f;
    if (s > 256) {
      const v = val[t];
      const li = s - 257;
      acc |= ((v & 511) - LEN_BASE[li]) << cnt;
      cnt += LEN_EXTRA[li];
      const ds = dsy[t];
      const d = dCode[ds];
      f = cnt & 16;
      dv.setUint16(p, acc, true);
      p += f >> 3;
      acc >>= f;
      cnt -= f;
      acc |= (d & 0xffff) << cnt;
      cnt += d >> 16;
      f = cnt & 16;
      dv.setUint16(p, acc, true);
      p += f >> 3;
      acc >>= f;
      cnt -= f;
      acc |= ((v >> 9) - DIST_BASE[ds]) << cnt;
      cnt += DIST_EXTRA[ds];
      f = cnt & 16;
      dv.setUint16(p, acc, true);
      p += f >> 3;
      acc >>= f;
      cnt -= f;
    }
  }
  // back to the byte-wise writer's state (cnt < 8)
  if (cnt >= 8) {
    buf[p++] = acc;
    acc >>= 8;
    cnt -= 8;
  }
  wPos = p;
  wAcc = acc;
  wCnt = cnt;
  const e = llCode[EOB];
  put(e & 0xffff, e >> 16);
}

function encodeDynamic(k: number, code: DynCode): Uint8Array {
  code.finish();
  put(1, 1); // BFINAL
  put(2, 2); // BTYPE = dynamic
  put(code.hlit - 257, 5);
  put(code.hdist - 1, 5);
  put(code.hclen - 4, 4);
  for (let i = 0; i < code.hclen; i++) put(code.clLen[CL_ORDER[i]], 3);
  for (let i = 0; i < code.rleN; i++) {
    const v = code.rle[i];
    const s = v & 255;
    const c = code.clCode[s];
    put(c & 0xffff, c >> 16);
    if (s === 16) put(v >> 8, 2);
    else if (s === 17) put(v >> 8, 3);
    else if (s === 18) put(v >> 8, 7);
  }
  writeTokens(k, code.llCode, code.dCode);
  return wFlush();
}

function encodeFixed(k: number): Uint8Array {
  put(1, 1);
  put(1, 2);
  writeTokens(k, FIXED_LL_CODE, FIXED_D_CODE);
  return wFlush();
}

/**
 * The byte libdeflate/erofs-utils (and we) put first when a stream starts with a non-final stored
 * block: BFINAL=0, BTYPE=00 are bits 0..2; bits 3..7 are the padding up to the byte boundary that
 * RFC 1951 (3.2.4) says is ignored (zlib: BYTEBITS() drops them unread), so setting bit 3 leaves the
 * stream identical for an inflater while making the first byte non-zero for EROFS 0PADDING.
 */
export const STORED_PAD_BIT = 1 << 3;

/** stored blocks of at most 65535 bytes; a non-final stored first block gets its pad bit 3 set */
function encodeStored(src: Uint8Array, len: number): Uint8Array {
  const nb = Math.max(1, Math.ceil(len / 65535));
  const out = new Uint8Array(len + 5 * nb);
  let o = 0;
  for (let b = 0, p = 0; b < nb; b++) {
    const n = Math.min(65535, len - p);
    out[o++] = b === nb - 1 ? 1 : 0;
    out[o++] = n & 255;
    out[o++] = n >> 8;
    out[o++] = ~n & 255;
    out[o++] = (~n >> 8) & 255;
    out.set(src.subarray(p, p + n), o);
    o += n;
    p += n;
  }
  if (out[0] === 0) out[0] = STORED_PAD_BIT;
  return out;
}

/** largest n <= srcLen such that stored blocks for n bytes fit in capacity (-1: not even 0) */
function storedFit(srcLen: number, capacity: number): number {
  let best = -1;
  for (let b = 1; 5 * b <= capacity; b++) {
    const n = Math.min(srcLen, 65535 * b, capacity - 5 * b);
    if (n > best) best = n;
    if (65535 * b >= srcLen || 65535 * b >= capacity - 5 * b) break;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// deflateDestSize

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
  const res = level === 0 ? destSizeStored(src, srcLen, capacity, hint) : destSizeLz(src, srcLen, capacity, level, hint);
  // cheap insurance for the two properties the on-disk format depends on
  if (res.data.length > capacity || res.data[0] === 0 || res.consumed > srcLen) {
    throw new Error(`deflateDestSize: internal error (${res.data.length} bytes for capacity ${capacity}, first byte ${res.data[0]})`);
  }
  if (hint) hint.lastRatio = res.consumed / res.data.length;
  return res;
}

function emptyStream(): DeflateResult {
  // a fixed-code final block holding only end-of-block: 3 + 7 bits
  return { consumed: 0, data: Uint8Array.of(0x03, 0x00) };
}

function destSizeStored(src: Uint8Array, srcLen: number, capacity: number, hint?: DeflateHint): DeflateResult {
  const n = storedFit(srcLen, capacity);
  if (hint) hint.lastFed = 0;
  if (n <= 0) return emptyStream();
  return { consumed: n, data: encodeStored(src, n) };
}

/** cost in bits of token t under a code (0 if a symbol has no code) */
function tokenBits(t: number, llLen: Uint8Array, dLen: Uint8Array): number {
  const s = tSym[t];
  const l = llLen[s];
  if (!l) return 0;
  if (s < 256) return l;
  const dl = dLen[tDsym[t]];
  if (!dl) return 0;
  return l + dl + tXb[t];
}

function tokenSpan(t: number): number {
  return tSym[t] < 256 ? 1 : tVal[t] & 511;
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

function destSizeLz(src: Uint8Array, srcLen: number, capacity: number, level: number, hint?: DeflateHint): DeflateResult {
  const eng = openEngine(level);
  try {
    return destSizeWith(eng, src, srcLen, capacity, hint);
  } finally {
    eng.handle.close();
  }
}

function destSizeWith(eng: ZEngine, src: Uint8Array, srcLen: number, capacity: number, hint?: DeflateHint): DeflateResult {
  const budget = capacity * 8;
  nTok = 0;
  cumLL.fill(0);
  cumD.fill(0);
  cumXb = 0;
  cumFixed = 0;
  cumLL[EOB] = 1;

  // feed chunks until the tokens no longer fit in one block (first overflowing chunk)
  let fed = 0;
  let overflow = false;
  let aTok = -1; // nTok when codeA was built
  let estBits = 0; // cost estimate of the tokens so far, for the chunk schedule
  while (fed < srcLen) {
    const n = Math.min(nextChunk(capacity, fed, estBits), srcLen - fed);
    feed(eng, src, fed, n);
    fed += n;
    const fixed = 3 + cumFixed + 7;
    estBits = fixed * 0.85; // dynamic codes typically cost ~85 % of the fixed code...
    if (fixed <= budget) continue; // the fixed code still fits: no overflow
    codeA.build(cumLL, cumD);
    aTok = nTok;
    const dyn = 3 + codeA.headerBits + codeA.dataBits(cumLL, cumD) + cumXb;
    estBits = dyn; // ...but once known, the real cost (a 258-byte match of zeros: 2 bits, not 13)
    if (dyn <= budget) continue;
    overflow = true;
    break;
  }
  if (hint) hint.lastFed = fed;

  wReset(capacity);
  if (!overflow) {
    // the whole input fits: the smallest of dynamic / fixed / stored
    if (aTok !== nTok) codeA.build(cumLL, cumD);
    const dyn = 3 + codeA.headerBits + codeA.dataBits(cumLL, cumD) + cumXb;
    const fix = 3 + cumFixed + 7;
    const sto = (srcLen + 5 * Math.max(1, Math.ceil(srcLen / 65535))) * 8;
    if (sto < dyn && sto < fix && sto <= budget) return { consumed: srcLen, data: encodeStored(src, srcLen) };
    if (dyn < fix) return { consumed: srcLen, data: encodeDynamic(nTok, codeA) };
    return { consumed: srcLen, data: encodeFixed(nTok) };
  }

  // Cut with code A (built for all decoded tokens): walk back from the end. C_A(k) grows by >= 1
  // bit per token, so this finds the largest fitting k. Collect the suffix statistics on the way.
  preLL.set(cumLL);
  preD.set(cumD);
  let cost = 3 + codeA.headerBits + codeA.dataBits(cumLL, cumD) + cumXb;
  let fixedCost = 3 + cumFixed + 7;
  let xb = cumXb;
  let bytesA = fed;
  let kA = nTok;
  const llA = codeA.llLen;
  const dA = codeA.dLen;
  while (kA > 0 && cost > budget) {
    const t = --kA;
    const s = tSym[t];
    cost -= tokenBits(t, llA, dA);
    bytesA -= tokenSpan(t);
    preLL[s]--;
    if (s > 256) {
      preD[tDsym[t]]--;
      xb -= tXb[t];
      fixedCost -= FIXED_LL_LEN[s] + 5 + tXb[t];
    } else fixedCost -= FIXED_LL_LEN[s];
  }

  // code B, built for exactly that prefix: usually a little smaller, so walk forward (or back)
  codeB.build(preLL, preD);
  let codeF = codeB; // the code the forward walk uses (codeB, or a rebuilt one in codeC)
  let kB = kA;
  let bytesB = bytesA;
  cost = 3 + codeB.headerBits + codeB.dataBits(preLL, preD) + xb;
  if (cost <= budget) {
    while (kB < nTok) {
      const c = tokenBits(kB, codeF.llLen, codeF.dLen);
      const s = tSym[kB];
      if (c !== 0) {
        if (cost + c > budget) break;
        cost += c;
        preLL[s]++;
        if (s > 256) {
          preD[tDsym[kB]]++;
          xb += tXb[kB];
        }
      } else {
        // A symbol the prefix never used has no code, which says nothing about whether the
        // token fits (finding: deflate-forward-walk-stops-at-new-symbol, seed 1284510741 took
        // 5450 of ~6000 bytes into 384 with 85 bytes spare). Build a code that has it.
        preLL[s]++;
        if (s > 256) {
          preD[tDsym[kB]]++;
          xb += tXb[kB];
        }
        const other = codeF === codeC ? codeB : codeC;
        other.build(preLL, preD);
        const c2 = 3 + other.headerBits + other.dataBits(preLL, preD) + xb;
        if (c2 > budget) break; // preLL/preD are not used after the walk: no need to undo
        codeF = other;
        cost = c2;
      }
      bytesB += tokenSpan(kB);
      kB++;
    }
  } else {
    while (kB > 0 && cost > budget) {
      kB--;
      cost -= tokenBits(kB, codeB.llLen, codeB.dLen);
      bytesB -= tokenSpan(kB);
    }
  }

  // fixed code: only worth a look when it fits at least A's prefix (tiny capacities)
  let kF = -1;
  let bytesF = -1;
  if (fixedCost <= budget) {
    kF = kA;
    bytesF = bytesA;
    while (kF < nTok) {
      const c = tokenBits(kF, FIXED_LL_LEN, FIXED_D_LEN);
      if (fixedCost + c > budget) break;
      fixedCost += c;
      bytesF += tokenSpan(kF);
      kF++;
    }
  }
  const bytesS = storedFit(srcLen, capacity);
  const best = Math.max(bytesA, bytesB, bytesF, bytesS);
  if (best <= 0) return emptyStream();
  // ties: dynamic B, dynamic A, fixed, stored (a fixed order keeps the choice canonical)
  if (bytesB === best) return { consumed: best, data: encodeDynamic(kB, codeF) };
  if (bytesA === best) return { consumed: best, data: encodeDynamic(kA, codeA) };
  if (bytesF === best) return { consumed: best, data: encodeFixed(kF) };
  return { consumed: best, data: encodeStored(src, best) };
}

// ---------------------------------------------------------------------------------------------
// Strict inflate (reader side)

/**
 * Inflate raw DEFLATE that must decode to exactly outLen bytes and end with its final block exactly
 * at the end of `src` (EROFS right-aligns the stream in its pcluster, so nothing may follow).
 * Uses node:zlib (the kernel's inflate). Throws DeflateFormatError with a stable `reason`.
 */
export function inflateStrict(src: Uint8Array, outLen: number): Uint8Array {
  if (!Number.isInteger(outLen) || outLen < 0) throw new RangeError(`outLen ${outLen} must be a non-negative integer`);
  let out: Buffer;
  let used: number;
  try {
    const r = zlib.inflateRawSync(src, { windowBits: 15, maxOutputLength: Math.max(1, outLen), info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    out = r.buffer;
    used = r.engine.bytesWritten;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw new DeflateFormatError('output-too-long', `stream decodes to more than ${outLen} bytes`);
    if (err.code === 'Z_BUF_ERROR') {
      const complete = endsOnBlockBoundary(src);
      if (complete) throw new DeflateFormatError('missing-final-block', 'all blocks end but none is marked final (BFINAL)');
      throw new DeflateFormatError('truncated', 'stream ends inside a block');
    }
    throw new DeflateFormatError('corrupt', err.message);
  }
  if (out.length > outLen) throw new DeflateFormatError('output-too-long', `stream decodes to ${out.length} bytes, expected ${outLen}`);
  if (out.length < outLen) throw new DeflateFormatError('output-too-short', `stream decodes to ${out.length} bytes, expected ${outLen}`);
  if (used !== src.length) throw new DeflateFormatError('trailing-data', `${src.length - used} bytes after the final block`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * Inflate a whole stream of at most maxLen bytes and keep its first outLen (a partial reference:
 * the extent is a prefix of what the pcluster decodes to; erofs-utils decodes it whole, too).
 */
export function inflatePrefix(src: Uint8Array, outLen: number, maxLen: number): Uint8Array {
  const all = zlib.inflateRawSync(src, { maxOutputLength: maxLen });
  if (all.length < outLen) throw new Error(`stream decodes to ${all.length} bytes, less than the extent`);
  return all.subarray(0, outLen);
}

/**
 * Error-path helper: true if `src` is a sequence of complete non-final blocks (what a sync-flushed
 * stream without BFINAL looks like), as far as a structural walk can tell.
 */
function endsOnBlockBoundary(src: Uint8Array): boolean {
  bSrc = src;
  bEnd = src.length;
  bPos = 0;
  bBuf = 0;
  bCnt = 0;
  const limit = src.length * 8;
  const consumed = () => bPos * 8 - bCnt;
  try {
    for (;;) {
      if (Math.ceil(consumed() / 8) >= src.length) return src.length > 0;
      const hdr = bits(3);
      if (hdr & 1) return false;
      const type = hdr >> 1;
      if (type === 0) {
        bits(bCnt & 7);
        const len = bits(16);
        const nlen = bits(16);
        if ((len ^ 0xffff) !== nlen) return false;
        bPos -= bCnt >> 3;
        bBuf = 0;
        bCnt = 0;
        bPos += len;
        if (bPos > bEnd) return false;
        continue;
      }
      if (type === 3) return false;
      let ll = fixedLLDec;
      let dd = fixedDDec;
      if (type === 2) {
        if (!readDynamicHeader() || consumed() > limit) return false;
        ll = llDec;
        dd = dDec;
      }
      for (;;) {
        if (consumed() > limit) return false;
        const s = decodeSym(ll);
        if (s === EOB) break;
        if (s > 256) {
          if (s > 285) return false;
          bits(LEN_EXTRA[s - 257]);
          const ds = decodeSym(dd);
          if (ds > 29) return false;
          bits(DIST_EXTRA[ds]);
        }
      }
      if (consumed() > limit) return false;
    }
  } catch {
    return false;
  }
}
