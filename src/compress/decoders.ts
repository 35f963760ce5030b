// The reader's side of each algorithm: strict decoders keyed by on-disk id. Kept apart from the
// encoders (codec.ts) so that reading an image loads no encoder: extract, ls and verify start faster
// (the encoders' modules were ~10 ms of an extract's start-up). The decoders of deflate, LZMA and
// zstd are loaded the first time a stream of theirs is met (require of an ES module, Node >= 22.12):
// an LZ4 or uncompressed image never loads them (fzstd alone builds its tables on load, ~9 ms).
const { createRequire } = process.getBuiltinModule('node:module');
import { COMPRESSION_LZ4, COMPRESSION_DEFLATE, COMPRESSION_ZSTD, COMPRESSION_LZMA } from '../format/constants.js';
import { lz4Decompress } from './lz4-decode.js';
import type * as Inflate from './deflate-inflate.js';
import type * as MicroLzma from './microlzma.js';
import type * as Zstd from './zstd.js';

// Names below are written from dist/src/<folder>/ (../compress/...): they resolve the same from the
// extract bundle (dist/src/cli/extract-cmd.bundle.js, scripts/bundle-extract.js).
const require = createRequire(import.meta.url);
let inflate: typeof Inflate | undefined;
let lzma: typeof MicroLzma | undefined;
let zstd: typeof Zstd | undefined;

/** What decoding one extent needs besides its stream. */
export interface DecodeParams {
  /** The extent's length: the stream must decode to exactly this many bytes, unless `partial`. */
  outLen: number;
  /** A partial reference (dedupe): the extent is a prefix of what the stream decodes to. */
  partial: boolean;
  /** Bound on a whole stream's output when `partial` (the kernel's largest extent). */
  maxLen: number;
  /** LZMA: dictionary size from the image's config record. */
  dictSize: number;
  /** zstd: largest window from the image's config record. */
  windowSize: number;
  /**
   * The caller uses the result before the next decode on this thread and keeps no view of it: a
   * decoder may then return a view into memory it reuses (LZ4 does), instead of a fresh buffer.
   */
  transient?: boolean;
}

/** Strict decoders keyed by on-disk id. */
export const DECODERS: Record<number, { name: string; decompress(stream: Uint8Array, p: DecodeParams): Uint8Array }> = {
  [COMPRESSION_LZ4]: { name: 'lz4', decompress: (s, p) => lz4Decompress(s, p.outLen, p.partial, p.maxLen, p.transient) },
  // The dictionary bounds match distances; a partial reference stops where the extent ends.
  [COMPRESSION_LZMA]: { name: 'lzma', decompress: (s, p) => (lzma ??= require('../compress/microlzma.js') as typeof MicroLzma).microLzmaDecode(s, p.outLen, p.dictSize, !p.partial) },
  [COMPRESSION_DEFLATE]: { name: 'deflate', decompress: (s, p) => {
    inflate ??= require('../compress/deflate-inflate.js') as typeof Inflate;
    return p.partial ? inflate.inflatePrefix(s, p.outLen, p.maxLen) : inflate.inflateStrict(s, p.outLen);
  } },
  [COMPRESSION_ZSTD]: { name: 'zstd', decompress: (s, p) => (zstd ??= require('../compress/zstd.js') as typeof Zstd).zstdDecodeStrict(s, p.outLen, p.windowSize, !p.partial, p.maxLen) },
};

/** The algorithm's name for messages ("lz4", "lzma", "deflate", "zstd"); undefined for unknown ids. */
export function algorithmName(algorithm: number): string | undefined {
  return DECODERS[algorithm]?.name;
}

/** Decode one stream of `algorithm`; throws on anything but a stream that gives exactly what p asks. */
export function decompress(algorithm: number, stream: Uint8Array, p: DecodeParams): Uint8Array {
  const d = DECODERS[algorithm];
  if (!d) throw new RangeError(`unknown compression algorithm ${algorithm}`);
  return d.decompress(stream, p);
}
