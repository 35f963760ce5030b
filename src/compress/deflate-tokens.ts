// The token store of the DEFLATE encoder: the LZ77 parser's tokens (deflate-lz77.ts) with the
// running statistics the destsize driver sizes codes from; and a structural walk of untrusted
// streams for the strict inflater's error messages.
import {
  LEN_BASE, LEN_EXTRA, DIST_BASE, DIST_EXTRA, CL_ORDER, NUM_LL, NUM_D, NUM_CL, EOB, FIXED_LL_LEN, FIXED_D_LEN,
  Decoder, LL_AUX, D_AUX,
} from './deflate-huffman.js';

/** Tokens and their cumulative statistics: grows, never shrinks; reset() before each stream. */
export class TokenStore {
  /** literal byte 0..255 or length symbol 257..285 */
  sym = new Uint16Array(1 << 14);
  /** match: length | distance << 9 (not written for literals) */
  val = new Uint32Array(1 << 14);
  /** distance symbol, 255 for a literal */
  dsym = new Uint8Array(1 << 14);
  /** extra bits (length + distance) */
  xb = new Uint8Array(1 << 14);
  n = 0;
  // cumulative statistics of all decoded tokens (cumLL counts one EOB); Int32Array (counts stay far
  // below 2^31): V8 keeps the increments in integer registers
  readonly cumLL = new Int32Array(NUM_LL);
  readonly cumD = new Int32Array(NUM_D);
  /** extra bits */
  cumXb = 0;
  /** data bits under the fixed code (without EOB) */
  cumFixed = 0;

  reset(): void {
    this.n = 0;
    this.cumLL.fill(0);
    this.cumD.fill(0);
    this.cumXb = 0;
    this.cumFixed = 0;
    this.cumLL[EOB] = 1;
  }

  ensure(n: number): void {
    if (this.sym.length >= n) return;
    const cap = Math.max(n, this.sym.length * 2);
    const s = new Uint16Array(cap);
    s.set(this.sym.subarray(0, this.n));
    this.sym = s;
    const v = new Uint32Array(cap);
    v.set(this.val.subarray(0, this.n));
    this.val = v;
    const d = new Uint8Array(cap);
    d.set(this.dsym.subarray(0, this.n));
    this.dsym = d;
    const x = new Uint8Array(cap);
    x.set(this.xb.subarray(0, this.n));
    this.xb = x;
  }
}

// The fixed-code tables: built once, only read afterwards.
const fixedLLDec = new Decoder(11, LL_AUX);
const fixedDDec = new Decoder(9, D_AUX);
fixedLLDec.init(FIXED_LL_LEN, 288);
fixedDDec.init(FIXED_D_LEN, 30);

export class ZlibOutputError extends Error {}

/** A bit reader for the structural walk. */
class BitReader {
  buf = 0;
  cnt = 0;
  pos = 0;
  src: Uint8Array = new Uint8Array(0);
  end = 0;

  /** Start at byte `pos` of src[0..end) with `cnt` bits already in `buf`. */
  set(src: Uint8Array, end: number, pos: number, buf: number, cnt: number): void {
    this.src = src;
    this.end = end;
    this.pos = pos;
    this.buf = buf;
    this.cnt = cnt;
  }

  need(n: number): void {
    while (this.cnt < n) {
      this.buf |= (this.pos < this.end ? this.src[this.pos] : 0) << this.cnt;
      this.pos++;
      this.cnt += 8;
    }
  }

  bits(n: number): number {
    this.need(n);
    const v = this.buf & ((1 << n) - 1);
    this.buf >>>= n;
    this.cnt -= n;
    return v;
  }

  decodeSym(d: Decoder): number {
    this.need(15);
    const e = d.table[this.buf & d.mask];
    if (e) {
      const l = e & 15;
      this.buf >>>= l;
      this.cnt -= l;
      return (e >> 4) & 511;
    }
    // canonical decode, one bit at a time (codes longer than the primary table)
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.buf & 1;
      this.buf >>>= 1;
      this.cnt--;
      const c = d.count[len];
      if (code - c < first) return d.sorted[index + (code - first)];
      index += c;
      first += c;
      first <<= 1;
      code <<= 1;
    }
    throw new ZlibOutputError('bad code');
  }
}

/** A decoder's working state: the dynamic block's tables, their scratch, the slow-path bit reader. */
export class DecoderState {
  readonly llDec = new Decoder(11, LL_AUX);
  readonly dDec = new Decoder(9, D_AUX);
  readonly clDec = new Decoder(7);
  readonly lens = new Uint8Array(NUM_LL + 2 + 32 + 140);
  readonly clScratch = new Uint8Array(NUM_CL);
  readonly br = new BitReader();

  /** Read a dynamic block header at the bit reader into llDec/dDec; false if malformed. */
  readDynamicHeader(): boolean {
    const { br, clScratch, lens } = this;
    const hlit = br.bits(5) + 257;
    const hdist = br.bits(5) + 1;
    const hclen = br.bits(4) + 4;
    if (hlit > 286 || hdist > 30) return false;
    clScratch.fill(0);
    for (let i = 0; i < hclen; i++) clScratch[CL_ORDER[i]] = br.bits(3);
    this.clDec.init(clScratch, NUM_CL);
    const total = hlit + hdist;
    for (let i = 0; i < total; ) {
      const s = br.decodeSym(this.clDec);
      if (s < 16) lens[i++] = s;
      else if (s === 16) {
        if (i === 0) return false;
        const p = lens[i - 1];
        for (let r = 3 + br.bits(2); r > 0; r--) lens[i++] = p;
      } else if (s === 17) for (let r = 3 + br.bits(3); r > 0; r--) lens[i++] = 0;
      else for (let r = 11 + br.bits(7); r > 0; r--) lens[i++] = 0;
      if (i > total) return false;
    }
    this.llDec.init(lens.subarray(0, hlit), hlit);
    this.dDec.init(lens.subarray(hlit, total), hdist);
    return true;
  }
}

// length 3..258 -> length symbol 257..285, and its extra bits
const LEN_SYM = new Uint16Array(259);
const LEN_XB = new Uint8Array(259);
for (let s = 0; s < 29; s++) {
  for (let l = LEN_BASE[s]; l < LEN_BASE[s] + (1 << LEN_EXTRA[s]) && l <= 258; l++) {
    LEN_SYM[l] = 257 + s;
    LEN_XB[l] = LEN_EXTRA[s];
  }
}
LEN_SYM[258] = 285;
LEN_XB[258] = 0;
// distance 1..32768 -> distance symbol: distances <= 256 directly, larger ones by (d - 1) >> 7
const DIST_SYM_LO = new Uint8Array(257);
const DIST_SYM_HI = new Uint8Array(256);
for (let s = 0; s < 30; s++) {
  for (let d = DIST_BASE[s]; d < DIST_BASE[s] + (1 << DIST_EXTRA[s]); d++) {
    if (d <= 256) DIST_SYM_LO[d] = s;
    else DIST_SYM_HI[(d - 1) >> 7] = s;
  }
}

/**
 * Append LZ77 tokens (a literal is its byte; a match is length | distance << 9) to the store and
 * its cumulative statistics.
 */
export function appendTokens(ts: TokenStore, tok: Uint32Array): void {
  const m = tok.length;
  ts.ensure(ts.n + m);
  const sym = ts.sym;
  const val = ts.val;
  const dsy = ts.dsym;
  const xbs = ts.xb;
  const hl = ts.cumLL;
  const hd = ts.cumD;
  let k = ts.n;
  let xbits = ts.cumXb;
  let fixed = ts.cumFixed;
  for (let i = 0; i < m; i++) {
    const t = tok[i];
    if (t < 256) {
      sym[k++] = t;
      hl[t]++;
      fixed += t < 144 ? 8 : 9;
      continue;
    }
    const len = t & 511;
    const dist = t >>> 9;
    const s = LEN_SYM[len];
    const ds = dist <= 256 ? DIST_SYM_LO[dist] : DIST_SYM_HI[(dist - 1) >> 7];
    const x = LEN_XB[len] + DIST_EXTRA[ds];
    sym[k] = s;
    val[k] = t;
    dsy[k] = ds;
    xbs[k] = x;
    k++;
    hl[s]++;
    hd[ds]++;
    xbits += x;
    fixed += (s < 280 ? 7 : 8) + 5 + x;
  }
  ts.n = k;
  ts.cumXb = xbits;
  ts.cumFixed = fixed;
}

/**
 * Error-path helper: true if `src` is a sequence of complete non-final blocks (what a sync-flushed
 * stream without BFINAL looks like), as far as a structural walk can tell.
 */
export function endsOnBlockBoundary(src: Uint8Array, st: DecoderState = new DecoderState()): boolean {
  const br = st.br;
  br.set(src, src.length, 0, 0, 0);
  const limit = src.length * 8;
  const consumed = () => br.pos * 8 - br.cnt;
  try {
    for (;;) {
      if (Math.ceil(consumed() / 8) >= src.length) return src.length > 0;
      const hdr = br.bits(3);
      if (hdr & 1) return false;
      const type = hdr >> 1;
      if (type === 0) {
        br.bits(br.cnt & 7);
        const len = br.bits(16);
        const nlen = br.bits(16);
        if ((len ^ 0xffff) !== nlen) return false;
        br.pos -= br.cnt >> 3;
        br.buf = 0;
        br.cnt = 0;
        br.pos += len;
        if (br.pos > br.end) return false;
        continue;
      }
      if (type === 3) return false;
      let ll = fixedLLDec;
      let dd = fixedDDec;
      if (type === 2) {
        if (!st.readDynamicHeader() || consumed() > limit) return false;
        ll = st.llDec;
        dd = st.dDec;
      }
      for (;;) {
        if (consumed() > limit) return false;
        const s = br.decodeSym(ll);
        if (s === EOB) break;
        if (s > 256) {
          if (s > 285) return false;
          br.bits(LEN_EXTRA[s - 257]);
          const ds = br.decodeSym(dd);
          if (ds > 29) return false;
          br.bits(DIST_EXTRA[ds]);
        }
      }
      if (consumed() > limit) return false;
    }
  } catch {
    return false;
  }
}
