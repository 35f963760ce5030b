// The reader's LZ4 entry point: a whole block decoded strictly, or (a partial reference, dedupe) the
// prefix of a block whose full size the sequence headers tell. Decoding runs in WebAssembly
// (lz4-wasm.ts), several times the speed of the TypeScript decoder, with the same rules.
import { lz4DecodeTransient } from './lz4-wasm.js';

/**
 * Decode `src` to exactly outLen bytes; with `partial`, decode the whole block (at most maxLen) and
 * keep outLen. With `transient` the result is a view valid only until the next LZ4 decode on this
 * thread (no allocation); otherwise a fresh copy.
 */
export function lz4Decompress(src: Uint8Array, outLen: number, partial: boolean, maxLen: number, transient = false): Uint8Array {
  let out: Uint8Array;
  if (!partial) {
    out = lz4DecodeTransient(src, outLen);
  } else {
    const full = lz4DecodedLength(src, maxLen);
    if (full < outLen) throw new Error(`stream decodes to ${full} bytes, less than the extent`);
    out = lz4DecodeTransient(src, full).subarray(0, outLen);
  }
  return transient ? out : out.slice();
}

/**
 * Decoded size of a whole LZ4 block, from its sequence headers (literal and match lengths), without
 * decoding it; fails past `cap`. The strict decoder then checks the block against that size.
 */
export function lz4DecodedLength(src: Uint8Array, cap: number): number {
  let ip = 0;
  let total = 0;
  const end = src.length;
  const run = (n: number): number => {
    let s: number;
    do {
      if (ip >= end) throw new Error('truncated LZ4 block');
      s = src[ip++];
      n += s;
    } while (s === 255);
    return n;
  };
  for (;;) {
    if (ip >= end) throw new Error('truncated LZ4 block');
    const token = src[ip++];
    let ll = token >> 4;
    if (ll === 15) ll = run(ll);
    ip += ll;
    total += ll;
    if (ip === end) return total;
    if (ip + 2 > end) throw new Error('truncated LZ4 block');
    ip += 2;
    let ml = token & 15;
    if (ml === 15) ml = run(ml);
    total += ml + 4;
    if (total > cap) throw new Error(`LZ4 block decodes to more than ${cap} bytes`);
  }
}
