// DEFLATE's Huffman side (RFC 1951 3.2): the length/distance tables, the fixed code, canonical code
// assignment, length-limited code construction for dynamic blocks (DynCode) and the table-driven
// decoder (Decoder). Scratch arrays here are reused by each call and carry nothing between calls.

// ---------------------------------------------------------------------------------------------
// RFC 1951 tables

export const LEN_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
export const LEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
export const DIST_BASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
export const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
/** order in which code-length code lengths are sent */
export const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export const NUM_LL = 286; // literal/length symbols that may be coded (286, 287 are invalid)
export const NUM_D = 30;
export const NUM_CL = 19;
export const EOB = 256;

/** fixed (BTYPE=01) code lengths */
export const FIXED_LL_LEN = new Uint8Array(288);
export const FIXED_D_LEN = new Uint8Array(30).fill(5);
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

export const FIXED_LL_CODE = new Int32Array(288);
export const FIXED_D_CODE = new Int32Array(30);
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
export class DynCode {
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
// Decoding tables

/** canonical Huffman decoder: a primary table (entry = sym << 4 | len, 0 = longer code) + slow path */
export class Decoder {
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
export const LL_AUX = new Int32Array(288);
export const D_AUX = new Int32Array(32);
for (let i = 0; i < 29; i++) LL_AUX[257 + i] = (LEN_EXTRA[i] << 13) | (LEN_BASE[i] << 17);
for (let i = 0; i < 30; i++) D_AUX[i] = (DIST_EXTRA[i] << 13) | (DIST_BASE[i] << 17);
