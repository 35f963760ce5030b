// The token store of the DEFLATE encoder: the LZ77 parser's tokens (deflate-lz77.ts) with the
// running statistics the destsize driver sizes codes from (both filled in WebAssembly); and a
// structural walk of untrusted streams for the strict inflater's error messages.
import {
  LEN_BASE, LEN_EXTRA, DIST_BASE, DIST_EXTRA, CL_ORDER, NUM_LL, NUM_D, NUM_CL, EOB, FIXED_LL_LEN, FIXED_D_LEN,
  Decoder, LL_AUX, D_AUX, SYM_XB, SYM_LEN_BASE,
} from './deflate-huffman.js';

/**
 * Tokens and their cumulative statistics: views of the DEFLATE module's memory (deflate-lz77.ts
 * makes them, and remakes them when the memory grows); valid until the next parse call.
 */
export class TokenStore {
  /**
   * The tokens, one u32 each (assembly/deflate.ts TOK): a literal is its byte; a match is its length
   * symbol (257..285) | distance symbol << 9 | its length's extra bits' value << 14 | its
   * distance's << 19. The symbol is tok[t] & 511 either way; tokSpan and tokXb read the rest.
   */
  tok = new Uint32Array(0);
  n = 0;
  /** cumulative statistics of the tokens (cumLL counts one EOB); the driver subtracts completed blocks */
  cumLL = new Int32Array(NUM_LL);
  cumD = new Int32Array(NUM_D);
  /** extra bits */
  cumXb = 0;
  /** data bits under the fixed code (without EOB) */
  cumFixed = 0;
  /** the block-split histograms (see Lz77Parser.splitPrice): the open block (b), the next
   *  candidate block (n), both (j); the price's doubles (eN, eJ) and counts (xb, fixed, matches) */
  bLL = new Int32Array(NUM_LL);
  bD = new Int32Array(NUM_D);
  nLL = new Int32Array(NUM_LL);
  nD = new Int32Array(NUM_D);
  jLL = new Int32Array(NUM_LL);
  jD = new Int32Array(NUM_D);
  priceE = new Float64Array(2);
  priceN = new Int32Array(3);
}

/** Input bytes token `v` covers. */
export function tokSpan(v: number): number {
  const s = v & 511;
  return s < 256 ? 1 : SYM_LEN_BASE[s] + ((v >>> 14) & 31);
}

/** Extra bits (length and distance) of match token `v`. */
export function tokXb(v: number): number {
  return SYM_XB[v & 511] + DIST_EXTRA[(v >>> 9) & 31];
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
