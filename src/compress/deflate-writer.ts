// The bit writer and the three block encoders (dynamic, fixed, stored) the destsize driver picks from.
import { LEN_BASE, LEN_EXTRA, DIST_BASE, DIST_EXTRA, CL_ORDER, EOB, FIXED_LL_CODE, FIXED_D_CODE, type DynCode } from './deflate-huffman.js';
import type { TokenStore } from './deflate-tokens.js';

/** An LSB-first bit writer into a buffer that grows to the capacity asked for (with 16 bytes of slack). */
export class BitWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private acc = 0;
  private cnt = 0;

  reset(capacity: number): void {
    if (this.buf.length < capacity + 16) {
      this.buf = new Uint8Array(capacity + 16);
      this.view = new DataView(this.buf.buffer);
    }
    this.pos = 0;
    this.acc = 0;
    this.cnt = 0;
  }

  put(v: number, n: number): void {
    this.acc |= v << this.cnt;
    this.cnt += n;
    while (this.cnt >= 8) {
      this.buf[this.pos++] = this.acc;
      this.acc >>= 8;
      this.cnt -= 8;
    }
  }

  /** The bytes written, the last one padded with zero bits; the writer is empty afterwards. */
  flush(): Uint8Array {
    if (this.cnt > 0) {
      this.buf[this.pos++] = this.acc;
      this.acc = 0;
      this.cnt = 0;
    }
    return this.buf.slice(0, this.pos);
  }

  /** tokens [from, k) and EOB with the given packed codes (see canonicalCodes) */
  writeTokens(ts: TokenStore, from: number, k: number, llCode: Int32Array, dCode: Int32Array): void {
    const buf = this.buf;
    const dv = this.view;
    const sym = ts.sym;
    const val = ts.val;
    const dsy = ts.dsym;
    let p = this.pos;
    let acc = this.acc;
    let cnt = this.cnt;
    let f = 0;
    // Invariant: cnt < 16 before each step, and a step adds at most 15 bits (a code <= 15, length
    // extra <= 5, distance extra <= 13), so acc stays below 2^31; whole 16-bit units are stored at
    // once, without a branch: the two bytes are always stored (the buffer has slack) and p, acc and
    // cnt advance by (cnt & 16), which is 16 exactly when cnt >= 16 (cnt < 31)
    for (let t = from; t < k; t++) {
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
    this.pos = p;
    this.acc = acc;
    this.cnt = cnt;
    const e = llCode[EOB];
    this.put(e & 0xffff, e >> 16);
  }
}

/** A dynamic block (BTYPE=10) holding tokens [from, k) under `code`. */
export function writeDynamic(w: BitWriter, ts: TokenStore, from: number, k: number, code: DynCode, final: boolean): void {
  code.finish();
  w.put(final ? 1 : 0, 1); // BFINAL
  w.put(2, 2); // BTYPE = dynamic
  w.put(code.hlit - 257, 5);
  w.put(code.hdist - 1, 5);
  w.put(code.hclen - 4, 4);
  for (let i = 0; i < code.hclen; i++) w.put(code.clLen[CL_ORDER[i]], 3);
  for (let i = 0; i < code.rleN; i++) {
    const v = code.rle[i];
    const s = v & 255;
    const c = code.clCode[s];
    w.put(c & 0xffff, c >> 16);
    if (s === 16) w.put(v >> 8, 2);
    else if (s === 17) w.put(v >> 8, 3);
    else if (s === 18) w.put(v >> 8, 7);
  }
  w.writeTokens(ts, from, k, code.llCode, code.dCode);
}

/** A fixed-code block (BTYPE=01) holding tokens [from, k). */
export function writeFixed(w: BitWriter, ts: TokenStore, from: number, k: number, final: boolean): void {
  w.put(final ? 1 : 0, 1);
  w.put(1, 2);
  w.writeTokens(ts, from, k, FIXED_LL_CODE, FIXED_D_CODE);
}

/** One final dynamic block (BTYPE=10) holding tokens [0, k) under `code`. */
export function encodeDynamic(w: BitWriter, ts: TokenStore, k: number, code: DynCode): Uint8Array {
  writeDynamic(w, ts, 0, k, code, true);
  return w.flush();
}

/** One final fixed-code block (BTYPE=01) holding tokens [0, k). */
export function encodeFixed(w: BitWriter, ts: TokenStore, k: number): Uint8Array {
  writeFixed(w, ts, 0, k, true);
  return w.flush();
}

/**
 * The byte libdeflate/erofs-utils (and we) put first when a stream starts with a non-final stored
 * block: BFINAL=0, BTYPE=00 are bits 0..2; bits 3..7 are the padding up to the byte boundary that
 * RFC 1951 (3.2.4) says is ignored (zlib: BYTEBITS() drops them unread), so setting bit 3 leaves the
 * stream identical for an inflater while making the first byte non-zero for EROFS 0PADDING.
 */
export const STORED_PAD_BIT = 1 << 3;

/** stored blocks of at most 65535 bytes; a non-final stored first block gets its pad bit 3 set */
export function encodeStored(src: Uint8Array, len: number): Uint8Array {
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
export function storedFit(srcLen: number, capacity: number): number {
  let best = -1;
  for (let b = 1; 5 * b <= capacity; b++) {
    const n = Math.min(srcLen, 65535 * b, capacity - 5 * b);
    if (n > best) best = n;
    if (65535 * b >= srcLen || 65535 * b >= capacity - 5 * b) break;
  }
  return best;
}
