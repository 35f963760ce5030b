/**
 * LZ4 block codec (raw block format, no frame) written from the LZ4 block format description.
 *
 * - `lz4CompressDestSize`: "fixed output" compression as EROFS needs it: compress as much of the
 *   input as fits into `dst` as one valid LZ4 block and report how much input was consumed.
 *   level 0 = fast greedy hash parse ("lz4"), 1..12 = hash-chain levels ("lz4hc"):
 *   1..3 lazy parse, 4..9 near-optimal (price-based) parse, 10..12 the optimal parse with liblz4
 *   1.9.4's rules (LZ4HC_compress_optimal: prices, tie rules, skips, sufficient length), so a
 *   pcluster holds at least as much input as mkfs.erofs's (test/lz4hc-opt-vs-liblz4.test.ts). The encoder is assembly/lz4.ts, compiled to WebAssembly: 1.9-2.5x the
 *   speed of the same algorithm in TypeScript, with the same output bytes.
 * - `lz4DecompressStrict`: a decoder that rejects everything the Linux kernel's
 *   `LZ4_decompress_safe` rejects (plus offset 0) and requires the exact output size.
 *
 * Block rules kept by the encoder (the kernel reports violations as corruption):
 * MINMATCH 4; a match starts at least MFLIMIT (12) bytes before the end of the decoded block and
 * ends at least LASTLITERALS (5) bytes before it; offsets 1..65535, never before the block start;
 * the block ends with a literal-only sequence.
 */

import { instantiateWasm } from './wasm.js';

const MINMATCH = 4;
const MFLIMIT = 12;
const LASTLITERALS = 5;
const RUN_MASK = 15;
const ML_MASK = 15;
/** positions are i32 in the encoder's tables: at most the first MAX_INPUT bytes are looked at (a
 *  block can never cover more than ~255 * capacity bytes of input anyway) */
const MAX_INPUT = 0x3fff0000;

export interface DestSizeResult {
  /** input bytes represented by the block (a prefix of src) */
  consumed: number;
  /** block bytes written to dst */
  written: number;
}

export class Lz4FormatError extends Error {
  readonly reason: string;
  constructor(reason: string, detail?: string) {
    super(`invalid LZ4 block: ${reason}${detail ? ` (${detail})` : ''}`);
    this.name = 'Lz4FormatError';
    this.reason = reason;
  }
}

interface Lz4Exports extends WebAssembly.Exports {
  memory: WebAssembly.Memory;
  configure(inCap: number, outCap: number): number;
  outPtr(): number;
  compress(inOff: number, srcLen: number, cap: number, level: number): number;
  written: WebAssembly.Global;
}

/**
 * An encoder instance (its own WebAssembly memory: hash tables, chains, an input window and the
 * output block). One instance must not be used by two calls at the same time; instances are cheap
 * to keep (the tables cost memory only once used).
 */
export class Lz4Scratch {
  private readonly x = instantiateWasm<Lz4Exports>('lz4');
  private inCap = 0;
  private outCap = 0;
  private inPtr = 0;
  private readonly outPtr = this.x.outPtr();
  private mem = new Uint8Array(0);
  /** mem's buffer, and the window as last handed out (one view while the sizes hold, not one per file). */
  private memBuf: ArrayBufferLike = this.mem.buffer;
  private win = this.mem;

  /**
   * A buffer of at least n bytes inside the encoder's memory, for output blocks of up to outCap
   * bytes: compress views of it and no input is copied. It stays valid until the next window() call
   * with larger sizes.
   */
  window(n: number, outCap: number): Uint8Array {
    if (n > this.inCap || outCap > this.outCap || this.memBuf !== this.x.memory.buffer) {
      this.inCap = Math.max(n, this.inCap);
      this.outCap = Math.max(outCap, this.outCap);
      this.inPtr = this.x.configure(this.inCap, this.outCap);
      this.mem = new Uint8Array(this.x.memory.buffer);
      this.memBuf = this.mem.buffer;
      this.win = this.mem.subarray(this.inPtr, this.inPtr + this.inCap);
    }
    return this.win;
  }

  /**
   * Compress buf[at, at + srcLen) into at most cap bytes (read in place when it lies in the window):
   * the consumed count; the block is block() until the next call. No view of the input is made, nor
   * result object (the per-pcluster path, zfile.ts); compress() is this with a result.
   */
  compressAt(buf: Uint8Array, at: number, srcLen: number, cap: number, level: number): number {
    if (!(srcLen >= 0 && at >= 0 && at + srcLen <= buf.length) || srcLen !== Math.floor(srcLen)) {
      throw new RangeError(`lz4 compress: bad srcLen ${srcLen}`);
    }
    if (!(cap >= 0) || cap !== Math.floor(cap)) throw new RangeError(`lz4 compress: bad capacity ${cap}`);
    this.n = 0;
    if (cap === 0) return 0;
    if (srcLen > MAX_INPUT) srcLen = MAX_INPUT;
    let lv = Math.floor(level);
    if (!(lv >= 0)) lv = 0;
    if (lv > 12) lv = 12;
    const off = buf.byteOffset + at;
    let inOff: number;
    if (buf.buffer === this.memBuf && off >= this.inPtr && off + srcLen <= this.inPtr + this.inCap && cap <= this.outCap) {
      inOff = off - this.inPtr;
    } else {
      this.window(srcLen, cap).set(buf.subarray(at, at + srcLen));
      inOff = 0;
    }
    const consumed = this.x.compress(inOff, srcLen, cap, lv);
    this.n = this.x.written.value as number;
    return consumed;
  }

  /** Bytes written by the last compressAt. */
  private n = 0;

  /** The block of the last compressAt (a view valid until the next call). */
  block(): Uint8Array {
    return this.mem.subarray(this.outPtr, this.outPtr + this.n);
  }

  /** Compress src[0, srcLen) into at most cap bytes; returns the consumed count and a view of the
   *  block (valid until the next call). */
  compress(src: Uint8Array, srcLen: number, cap: number, level: number): { consumed: number; block: Uint8Array } {
    const consumed = this.compressAt(src, 0, srcLen, cap, level);
    return { consumed, block: this.block() };
  }
}

let defaultScratch: Lz4Scratch | null = null;

/**
 * Compress as much of src[0..srcLen) as fits into dst (capacity = dst.length bytes) as ONE valid
 * LZ4 block (like LZ4_compress_destSize / LZ4_compress_HC_destSize). level 0 = fast, 1..12 = HC
 * levels (9 is lz4hc's default). Returns bytes consumed and written; the block decodes to
 * exactly src[0..consumed). With a zero-capacity dst nothing is written (consumed 0). At most
 * the first ~1 GiB of src is looked at per call. Levels outside 0..12 are clamped.
 */
export function lz4CompressDestSize(
  src: Uint8Array,
  srcLen: number,
  dst: Uint8Array,
  level: number,
  scratch?: Lz4Scratch,
): DestSizeResult {
  const S = scratch ?? (defaultScratch ??= new Lz4Scratch());
  const r = S.compress(src, srcLen, dst.length, level);
  dst.set(r.block);
  return { consumed: r.consumed, written: r.block.length };
}

/** Worst-case compressed size of n input bytes (all literals). */
export function lz4CompressBound(n: number): number {
  return n + ((n / 255) | 0) + 16;
}

function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, op: number): void {
  if (n > 32) {
    dst.set(src.subarray(from, from + n), op);
  } else {
    for (let i = 0; i < n; i++) dst[op + i] = src[from + i];
  }
}

/**
 * Strict decoder mirroring the Linux kernel's LZ4_decompress_safe checks, with the output
 * required to be exactly outLen bytes. Reasons: empty-input, truncated-input, trailing-input,
 * output-overflow, output-short, match-in-mflimit, match-in-lastliterals, offset-zero,
 * offset-before-start.
 */
export function lz4DecompressStrict(src: Uint8Array, outLen: number, out?: Uint8Array): Uint8Array {
  if (!(outLen >= 0) || outLen !== Math.floor(outLen)) throw new RangeError(`bad outLen ${outLen}`);
  const o = out ?? new Uint8Array(outLen);
  if (o.length < outLen) throw new RangeError('output buffer smaller than outLen');
  const iend = src.length;
  if (iend === 0) throw new Lz4FormatError('empty-input');
  if (outLen === 0) {
    if (iend === 1 && src[0] === 0) return o.subarray(0, 0);
    throw new Lz4FormatError(src[0] >> 4 !== 0 ? 'output-overflow' : 'trailing-input');
  }
  let ip = 0;
  let op = 0;
  for (;;) {
    if (ip >= iend) throw new Lz4FormatError('truncated-input');
    const token = src[ip++];
    let ll = token >>> 4;
    if (ll === RUN_MASK) {
      let s: number;
      do {
        if (ip >= iend) throw new Lz4FormatError('truncated-input');
        s = src[ip++];
        ll += s;
      } while (s === 255);
    }
    const litEnd = op + ll;
    if (litEnd > outLen - MFLIMIT || ip + ll > iend - (2 + 1 + LASTLITERALS)) {
      // this must be the last sequence: literals only, consuming the input exactly
      if (litEnd > outLen) throw new Lz4FormatError('output-overflow', `${litEnd} > ${outLen}`);
      if (ip + ll > iend) throw new Lz4FormatError('truncated-input');
      if (ip + ll !== iend) {
        if (litEnd === outLen) throw new Lz4FormatError('trailing-input');
        if (litEnd > outLen - MFLIMIT) throw new Lz4FormatError('match-in-mflimit', `match at ${litEnd}`);
        throw new Lz4FormatError('truncated-input');
      }
      copyBytes(src, ip, ll, o, op);
      op = litEnd;
      if (op !== outLen) throw new Lz4FormatError('output-short', `${op} < ${outLen}`);
      return o.subarray(0, outLen);
    }
    copyBytes(src, ip, ll, o, op);
    ip += ll;
    op = litEnd;
    const off = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (off === 0) throw new Lz4FormatError('offset-zero');
    if (off > op) throw new Lz4FormatError('offset-before-start', `offset ${off} at ${op}`);
    let ml = token & ML_MASK;
    if (ml === ML_MASK) {
      let s: number;
      do {
        s = src[ip++];
        if (ip > iend - LASTLITERALS) throw new Lz4FormatError('truncated-input');
        ml += s;
      } while (s === 255);
    }
    ml += MINMATCH;
    const end = op + ml;
    if (end > outLen - LASTLITERALS) throw new Lz4FormatError('match-in-lastliterals', `match ends at ${end}`);
    let r = op - off;
    if (ml > 32 && off >= ml) {
      o.copyWithin(op, r, r + ml);
      op = end;
    } else {
      while (op < end) o[op++] = o[r++];
    }
  }
}
