// The strict inflater (reader side): a raw DEFLATE stream must decode to exactly the extent's length
// and end exactly at the end of its pcluster bytes.
import * as zlib from 'node:zlib';
import { endsOnBlockBoundary } from './deflate-tokens.js';

export type DeflateFormatReason =
  | 'truncated' // input ended inside a block
  | 'missing-final-block' // every block complete, but none had BFINAL set
  | 'output-too-long' // decodes to more than outLen bytes
  | 'output-too-short' // final block reached before outLen bytes
  | 'trailing-data' // bytes left after the final block
  | 'corrupt'; // zlib rejected the stream (bad block type, code, distance, ...)

export class DeflateFormatError extends Error {
  readonly reason: DeflateFormatReason;
  constructor(reason: DeflateFormatReason, message: string) {
    super(`DEFLATE: ${message}`);
    this.name = 'DeflateFormatError';
    this.reason = reason;
  }
}

/**
 * Inflate raw DEFLATE that must decode to exactly outLen bytes and end with its final block exactly
 * at the end of `src` (EROFS right-aligns the stream in its pcluster, so nothing may follow).
 * Uses node:zlib (the kernel's inflate). Throws DeflateFormatError with a stable `reason`.
 */
export function inflateStrict(src: Uint8Array, outLen: number): Uint8Array {
  if (!Number.isInteger(outLen) || outLen < 0) throw new RangeError(`outLen ${outLen} must be a non-negative integer`);
  let out: Buffer;
  let used: number;
  try {
    const r = zlib.inflateRawSync(src, { windowBits: 15, maxOutputLength: Math.max(1, outLen), info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    out = r.buffer;
    used = r.engine.bytesWritten;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw new DeflateFormatError('output-too-long', `stream decodes to more than ${outLen} bytes`);
    if (err.code === 'Z_BUF_ERROR') {
      const complete = endsOnBlockBoundary(src);
      if (complete) throw new DeflateFormatError('missing-final-block', 'all blocks end but none is marked final (BFINAL)');
      throw new DeflateFormatError('truncated', 'stream ends inside a block');
    }
    throw new DeflateFormatError('corrupt', err.message);
  }
  if (out.length > outLen) throw new DeflateFormatError('output-too-long', `stream decodes to ${out.length} bytes, expected ${outLen}`);
  if (out.length < outLen) throw new DeflateFormatError('output-too-short', `stream decodes to ${out.length} bytes, expected ${outLen}`);
  if (used !== src.length) throw new DeflateFormatError('trailing-data', `${src.length - used} bytes after the final block`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * Inflate a whole stream of at most maxLen bytes and keep its first outLen (a partial reference:
 * the extent is a prefix of what the pcluster decodes to; erofs-utils decodes it whole, too).
 */
export function inflatePrefix(src: Uint8Array, outLen: number, maxLen: number): Uint8Array {
  const all = zlib.inflateRawSync(src, { maxOutputLength: maxLen });
  if (all.length < outLen) throw new Error(`stream decodes to ${all.length} bytes, less than the extent`);
  return all.subarray(0, outLen);
}
