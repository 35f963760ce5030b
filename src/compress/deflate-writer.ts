// The bit writer and the three block encoders (dynamic, fixed, stored) the destsize driver picks from.
import { CL_ORDER, NUM_LL, NUM_D, FIXED_LL_CODE, FIXED_D_CODE } from './deflate-huffman.js';
import type { DynCode } from './deflate-code.js';
import type { TokenStore } from './deflate-tokens.js';
import { type DeflateWasm, deflateWasm } from './deflate-lz77.js';

/**
 * The LSB-first bit writer of the DEFLATE module (assembly/deflate.ts): the output is in its memory,
 * the tokens are the parser's (TokenStore views of the same memory). reset() may grow that memory.
 */
export class BitWriter {
  private m: DeflateWasm | null = null;
  private out = 0;
  private codes: Int32Array | null = null;
  private codesBuf: ArrayBuffer | null = null;

  reset(capacity: number): void {
    const m = (this.m ??= deflateWasm());
    this.out = m.wreset(capacity);
  }

  put(v: number, n: number): void {
    this.m!.wput(v, n);
  }

  /** The bytes written, the last one padded with zero bits; the writer is empty afterwards. */
  flush(): Uint8Array {
    const m = this.m!;
    const n = m.wflush();
    return new Uint8Array(m.memory.buffer, this.out, n).slice();
  }

  /** flush() into dst (at least as long as the output): no new buffer per stream */
  flushInto(dst: Uint8Array): Uint8Array {
    const m = this.m!;
    const n = m.wflush();
    dst.set(new Uint8Array(m.memory.buffer, this.out, n));
    return dst.subarray(0, n);
  }

  /** tokens [from, k) and EOB with the given packed codes (see canonicalCodes) */
  writeTokens(ts: TokenStore, from: number, k: number, llCode: Int32Array, dCode: Int32Array): void {
    const m = this.m!;
    const buf = m.memory.buffer;
    if (this.codesBuf !== buf) {
      this.codes = new Int32Array(buf, m.codesPtr(), 288 + 32);
      this.codesBuf = buf;
    }
    const codes = this.codes!;
    codes.set(llCode.subarray(0, NUM_LL));
    codes.set(dCode.subarray(0, NUM_D), 288);
    void ts; // the module reads the tokens itself
    m.wtokens(from, k);
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
