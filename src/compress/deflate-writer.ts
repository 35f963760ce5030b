// The bit writer and the three block encoders (dynamic, fixed, stored) the destsize driver picks from.
import { NUM_LL, NUM_D, NUM_CL, FIXED_LL_CODE, FIXED_D_CODE } from './deflate-huffman.js';
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
  // views of the module's CODES and of wdynamic's input (WD_*), made again when the memory grows
  private viewBuf: ArrayBuffer | null = null;
  private codes = new Int32Array(0);
  private wdLL = new Uint8Array(0);
  private wdD = new Uint8Array(0);
  private wdCL = new Uint8Array(0);
  private wdRle = new Uint16Array(0);

  private bind(m: DeflateWasm): void {
    if (m.memory.buffer === this.viewBuf) return;
    const wd = m.wdPtr(); // first: it may grow the memory
    const buf = m.memory.buffer;
    this.codes = new Int32Array(buf, m.codesPtr(), 288 + 32);
    this.wdLL = new Uint8Array(buf, wd, NUM_LL);
    this.wdD = new Uint8Array(buf, wd + 288, NUM_D);
    this.wdCL = new Uint8Array(buf, wd + 320, NUM_CL);
    this.wdRle = new Uint16Array(buf, wd + 352, NUM_LL + NUM_D);
    this.viewBuf = buf;
  }

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
    this.bind(m);
    const codes = this.codes;
    codes.set(llCode.subarray(0, NUM_LL));
    codes.set(dCode.subarray(0, NUM_D), 288);
    void ts; // the module reads the tokens itself
    m.wtokens(from, k);
  }

  /**
   * A dynamic block's header (BFINAL, BTYPE=10, HLIT .. the last code length) for `code`, its
   * canonical codes set for writeCodedTokens: both in the module (wdynamic), from the code's lengths
   * and runs copied there (they were one JS-to-WebAssembly call per header field, and JS codes).
   */
  dynamicHeader(code: DynCode, final: boolean): void {
    const m = this.m!;
    this.bind(m);
    this.wdLL.set(code.llLen);
    this.wdD.set(code.dLen);
    this.wdCL.set(code.clLen);
    this.wdRle.set(code.rle);
    m.wdynamic(final ? 1 : 0, code.hlit, code.hdist, code.hclen, code.rleN);
  }

  /** tokens [from, k) and EOB under the codes the last dynamicHeader set */
  writeCodedTokens(from: number, k: number): void {
    this.m!.wtokens(from, k);
  }
}

/** A dynamic block (BTYPE=10) holding tokens [from, k) under `code`. */
export function writeDynamic(w: BitWriter, ts: TokenStore, from: number, k: number, code: DynCode, final: boolean): void {
  void ts; // the module reads the tokens itself
  w.dynamicHeader(code, final);
  w.writeCodedTokens(from, k);
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

/**
 * stored blocks of at most 65535 bytes; a non-final stored first block gets its pad bit 3 set. In a
 * new buffer, or at the start of `into` (when it is long enough) and a view of it.
 */
export function encodeStored(src: Uint8Array, len: number, into?: Uint8Array): Uint8Array {
  const nb = Math.max(1, Math.ceil(len / 65535));
  const out = into && into.length >= len + 5 * nb ? into.subarray(0, len + 5 * nb) : new Uint8Array(len + 5 * nb);
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
