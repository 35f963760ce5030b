// The reader's LZ4 entry point: a whole block decoded strictly, or (a partial reference, dedupe) the
// prefix of a block whose full size the sequence headers tell.
import { lz4DecompressStrict } from './lz4.js';

/** Decode `src` to exactly outLen bytes; with `partial`, decode the whole block (at most maxLen) and keep outLen. */
export function lz4Decompress(src: Uint8Array, outLen: number, partial: boolean, maxLen: number): Uint8Array {
  if (!partial) return lz4DecompressStrict(src, outLen);
  const full = lz4DecodedLength(src, maxLen);
  if (full < outLen) throw new Error(`stream decodes to ${full} bytes, less than the extent`);
  return lz4DecompressStrict(src, full).subarray(0, outLen);
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
