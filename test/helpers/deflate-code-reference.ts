// The JS construction of DEFLATE dynamic-block codes that src/compress/deflate-code.ts replaced with
// WebAssembly (assembly/deflate.ts hbuild), kept as the reference its lengths, header and sizes are
// compared with (test/deflate-code.test.ts): the encoder's bytes depend on every one of them.
import { CL_ORDER, NUM_LL, NUM_D, NUM_CL } from '../../src/compress/deflate-huffman.js';

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
export class RefCode {
  readonly llLen = new Uint8Array(NUM_LL);
  readonly dLen = new Uint8Array(NUM_D);
  readonly clLen = new Uint8Array(NUM_CL);
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

