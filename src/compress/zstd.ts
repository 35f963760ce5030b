/**
 * Zstandard for EROFS pclusters (Z_EROFS_COMPRESSION_ZSTD): a "destsize" encoder on top of Node's
 * own zlib (Node >= 22.15 has zstd) and a strict decoder for the reader.
 *
 * On-disk rules (checked against the kernel's fs/erofs/decompressor_zstd.c and erofs_fs.h):
 *  - A pcluster holds one zstd frame (RFC 8878), right-aligned (0PADDING); the frame magic's first
 *    byte 0x28 is non-zero, as 0PADDING needs. The kernel decodes with zstd_decompress_stream until
 *    the extent's length is out; a frame that ends earlier is corruption ("unexpected end of stream").
 *  - struct z_erofs_zstd_cfgs: format must be 0; windowlog is the window log minus 10 and at most
 *    ilog2(Z_EROFS_ZSTD_MAX_DICT_SIZE) - 10 = 10 (1 MiB). The kernel's decompression stream is set up
 *    with that window as its maximum, so a frame whose window is larger is rejected
 *    (frameParameter_windowTooLarge). A single-segment frame's window is its content size.
 *  - There are no dictionaries: a frame naming a dictionary id fails (dictionary_wrong).
 *  - This reader is stricter than the kernel in one way, like its LZ4 and DEFLATE decoders: the frame
 *    must end exactly at the pcluster's end and (except for PARTIAL_REF extents, which use a prefix)
 *    decode to exactly the extent's length. mkfs.erofs and erofs-forge write exactly that.
 *
 * Encoder: zstd has no "compress as much as fits in N bytes" call, so, as mkfs.erofs does
 * (lib/compressor_libzstd.c), the input length is searched: compress a guess (4x the capacity), then
 * extrapolate from the ratio while it fits, bisect when it does not; stop when the frame is within
 * one byte of the capacity or the bounds meet. Every step is a function of (input, capacity, level,
 * window), so the output is reproducible for a given zstd library version.
 */
import * as zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';

/** Z_EROFS_ZSTD_MAX_DICT_SIZE = Z_EROFS_PCLUSTER_MAX_SIZE. */
export const Z_EROFS_ZSTD_MAX_DICT_SIZE = 1 << 20;
/** ZSTD_WINDOWLOG_ABSOLUTEMIN: the cfgs record stores windowLog minus this. */
export const ZSTD_WINDOWLOG_ABSOLUTEMIN = 10;
/** mkfs.erofs 1.9.3: levels up to 22 (0 = zstd's default), default ZSTD_CLEVEL_DEFAULT = 3. */
export const ZSTD_DEFAULT_LEVEL = 3;
export const ZSTD_MAX_LEVEL = 22;
/** zstd's Block_Maximum_Size. */
const ZSTD_BLOCKSIZE_MAX = 128 << 10;
const ZSTD_MAGIC = 0xfd2fb528;

/** The Node version that first has zlib.zstdCompressSync (and its decoder). */
export const ZSTD_NODE_MIN = '22.15';

type ZstdZlib = {
  zstdCompressSync?(buf: Uint8Array, opts: { params: Record<number, number>; maxOutputLength?: number }): Buffer;
  zstdDecompressSync?(buf: Uint8Array, opts: { params?: Record<number, number>; maxOutputLength?: number }): Buffer;
};
const nodeZstd = zlib as unknown as ZstdZlib;
const zc = zlib.constants as unknown as Record<string, number>;

/** Whether this Node has Zstandard in node:zlib (>= 22.15). */
export function nodeHasZstd(): boolean {
  return typeof nodeZstd.zstdCompressSync === 'function' && typeof nodeZstd.zstdDecompressSync === 'function';
}

export class ZstdFormatError extends Error {
  constructor(message: string) {
    super(`zstd: ${message}`);
    this.name = 'ZstdFormatError';
  }
}

export interface ZstdFrameInfo {
  /** Bytes of the frame (header, blocks, checksum). */
  frameSize: number;
  windowSize: number;
  /** Frame_Content_Size, or -1 when absent. */
  contentSize: number;
  /** Sum of the sizes of raw and RLE blocks plus an upper bound for compressed ones. */
  maxOutput: number;
}

/** Walk the frame header and block headers of the zstd frame at the start of `src` (RFC 8878 §3.1.1). */
export function zstdFrameInfo(src: Uint8Array): ZstdFrameInfo {
  if (src.length < 6) throw new ZstdFormatError('frame shorter than its header');
  const magic = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  if ((magic & 0xfffffff0) === 0x184d2a50) throw new ZstdFormatError('skippable frame instead of a compressed frame');
  if (magic !== ZSTD_MAGIC) throw new ZstdFormatError(`bad magic 0x${magic.toString(16)}`);
  const fhd = src[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  if (fhd & 0x08) throw new ZstdFormatError('reserved frame header bit set');
  const checksum = (fhd >> 2) & 1;
  const dictFlag = fhd & 3;
  let p = 5;
  let windowSize = 0;
  if (!single) {
    const wd = src[p++];
    const wlog = 10 + (wd >> 3);
    windowSize = 2 ** wlog + (2 ** wlog / 8) * (wd & 7);
  }
  const dictBytes = [0, 1, 2, 4][dictFlag];
  if (p + dictBytes > src.length) throw new ZstdFormatError('truncated frame header');
  let dictId = 0;
  for (let k = 0; k < dictBytes; k++) dictId += src[p + k] * 2 ** (8 * k);
  p += dictBytes;
  // The kernel's decoder has no dictionaries loaded.
  if (dictId !== 0) throw new ZstdFormatError(`frame needs dictionary ${dictId}`);
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (p + fcsBytes > src.length) throw new ZstdFormatError('truncated frame header');
  let contentSize = -1;
  if (fcsBytes) {
    contentSize = 0;
    for (let k = 0; k < fcsBytes; k++) contentSize += src[p + k] * 2 ** (8 * k);
    if (fcsBytes === 2) contentSize += 256;
    p += fcsBytes;
  }
  if (single) windowSize = contentSize;
  const blockMax = Math.min(windowSize, ZSTD_BLOCKSIZE_MAX);
  let maxOutput = 0;
  for (;;) {
    if (p + 3 > src.length) throw new ZstdFormatError('truncated block header');
    const bh = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16);
    p += 3;
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw new ZstdFormatError('reserved block type');
    if (type === 1) {
      if (p + 1 > src.length) throw new ZstdFormatError('truncated RLE block');
      p += 1;
      maxOutput += size;
    } else {
      if (type === 2 && size > blockMax) throw new ZstdFormatError(`compressed block of ${size} bytes exceeds the block maximum ${blockMax}`);
      if (p + size > src.length) throw new ZstdFormatError('truncated block');
      p += size;
      maxOutput += type === 0 ? size : blockMax;
    }
    if (size > blockMax && type !== 2) throw new ZstdFormatError(`block of ${size} bytes exceeds the block maximum ${blockMax}`);
    if (last) break;
  }
  if (checksum) {
    if (p + 4 > src.length) throw new ZstdFormatError('truncated content checksum');
    p += 4;
  }
  return { frameSize: p, windowSize, contentSize, maxOutput };
}

/**
 * Decode the one zstd frame that fills `src` into `outLen` bytes (exact), or into at least `outLen`
 * bytes of which the first outLen are returned (partial: dedupe PARTIAL_REF, bounded by maxLen).
 * `maxWindow` is the image's dictionary size (from its cfgs record).
 */
export function zstdDecodeStrict(src: Uint8Array, outLen: number, maxWindow: number, exact = true, maxLen = outLen): Uint8Array {
  const info = zstdFrameInfo(src);
  if (info.windowSize > maxWindow) throw new ZstdFormatError(`frame window ${info.windowSize} larger than the image's ${maxWindow}`);
  if (info.frameSize !== src.length) throw new ZstdFormatError(`${src.length - info.frameSize} bytes after the frame`);
  const cap = exact ? outLen : maxLen;
  if (info.contentSize >= 0) {
    if (exact ? info.contentSize !== outLen : info.contentSize < outLen || info.contentSize > cap) {
      throw new ZstdFormatError(`frame content size ${info.contentSize}, extent ${outLen} bytes`);
    }
  }
  let out: Uint8Array;
  if (nodeHasZstd()) {
    try {
      out = nodeZstd.zstdDecompressSync!(src, {
        maxOutputLength: Math.max(1, cap),
        params: { [zc.ZSTD_d_windowLogMax]: Math.max(10, Math.ceil(Math.log2(Math.max(maxWindow, 1024)))) },
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE') throw new ZstdFormatError(`frame decodes to more than ${cap} bytes`);
      throw new ZstdFormatError(err.message);
    }
  } else {
    // Node < 22.15: fzstd, given only frames whose output is bounded up front (it allocates the
    // content size, or grows by block otherwise).
    if (info.contentSize < 0 && info.maxOutput > cap + ZSTD_BLOCKSIZE_MAX) {
      throw new ZstdFormatError(`frame without a content size that may decode to ${info.maxOutput} bytes (decoding it needs Node >= ${ZSTD_NODE_MIN})`);
    }
    try {
      out = fzstdDecompress(src);
    } catch (e) {
      throw new ZstdFormatError((e as Error).message);
    }
  }
  if (exact && out.length !== outLen) throw new ZstdFormatError(`frame decodes to ${out.length} bytes, expected ${outLen}`);
  if (!exact && out.length < outLen) throw new ZstdFormatError(`frame decodes to ${out.length} bytes, less than the extent's ${outLen}`);
  return out.length === outLen ? out : out.subarray(0, outLen);
}

// ---- encoder --------------------------------------------------------------------------------

export interface ZstdDestSizeOut {
  consumed: number;
  data: Uint8Array;
}

/** The window log mkfs.erofs uses: ilog2(min(1 MiB, 8 x largest pcluster)). */
export function zstdDefaultWindowLog(pclusterMax: number): number {
  return Math.floor(Math.log2(Math.min(Z_EROFS_ZSTD_MAX_DICT_SIZE, pclusterMax * 8)));
}

/**
 * The parts of a node:zlib stream that processChunkSync (behind zstdCompressSync) drives: the native
 * handle's writeSync and the [availOut, availIn] pair it leaves in _writeState. Internal to Node, so
 * checked at run time; where they are missing, each trial is a zstdCompressSync call.
 */
interface ZstdStream {
  _handle?: { writeSync(flush: number, src: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void; reset(): void };
  _writeState?: Uint32Array;
  on(ev: 'error', f: (e: Error) => void): unknown;
  close(): void;
}

/**
 * One zstd compression context for the life of an encoder, each trial a fresh frame in it: what
 * zstdCompressSync does, call for call (writeSync with ZSTD_e_end over output chunks of
 * Z_DEFAULT_CHUNK bytes), without its per-call costs. zstdCompressSync makes and closes a native
 * context per call (its memory was given back late: a worker carried tens of MiB of them) and a new
 * 16 KiB output Buffer, left to a GC that V8 starts only after ~64 MiB of such buffers per thread:
 * peak RSS 327 MiB on the bench corpus at -zzstd, 2 workers. A trial that outgrows the capacity
 * stops there (its frame is not needed, only that it does not fit) and the context is reset
 * (ZSTD_reset_session_only): the next frame starts as in a new context, so the bytes are those of
 * zstdCompressSync (test: zstd-lzma.test.ts).
 */
class ZstdContext {
  private readonly stream: ZstdStream;
  private failure: Error | undefined;
  private readonly chunk = zlib.constants.Z_DEFAULT_CHUNK;
  /** Two output buffers: the frame that fits best so far stays in one while the next trial writes the other. */
  private bufs: [Uint8Array, Uint8Array];

  constructor(params: Record<number, number>) {
    this.stream = (zlib as unknown as { createZstdCompress(o: object): ZstdStream }).createZstdCompress({ params });
    // The handle reports errors through the stream; processChunkSync listens the same way.
    this.stream.on('error', (e) => { this.failure = e; });
    this.bufs = [new Uint8Array(0), new Uint8Array(0)];
  }

  static usable(s: unknown): boolean {
    const z = s as ZstdStream;
    return typeof z._handle?.writeSync === 'function' && typeof z._handle.reset === 'function' && z._writeState instanceof Uint32Array;
  }

  /** src's frame in a buffer of its own (valid until the trial after next), or null when it is longer than `capacity`. */
  frame(src: Uint8Array, capacity: number): Uint8Array | null {
    // A stream that failed once is closed (no handle): it stays failed.
    if (this.failure) throw this.failure;
    const h = this.stream._handle!;
    const state = this.stream._writeState!;
    // The call that crosses the capacity writes at most one chunk.
    const need = capacity + this.chunk;
    if (this.bufs[1].length < need) this.bufs[1] = new Uint8Array(need);
    const out = this.bufs[1];
    let inOff = 0;
    let inLen = src.length;
    let n = 0;
    for (;;) {
      h.writeSync(ZSTD_E_END, src, inOff, inLen, out, n, this.chunk);
      if (this.failure) throw this.failure;
      const availOut = state[0];
      const availIn = state[1];
      n += this.chunk - availOut;
      if (n > capacity) {
        if (availOut === 0) h.reset(); // the frame is not finished: start the next one afresh
        return null;
      }
      if (availOut !== 0) break;
      inOff += inLen - availIn;
      inLen = availIn;
    }
    this.bufs = [this.bufs[1], this.bufs[0]];
    return this.bufs[0].subarray(0, n);
  }

  close(): void {
    this.stream.close();
  }
}

/** ZSTD_e_end, the finish flush of zstdCompressSync. */
const ZSTD_E_END = 2;

/**
 * The longest prefix of src[0, srcLen) whose zstd frame fits `capacity` bytes, searched as
 * mkfs.erofs does (see the header). Needs Node >= 22.15.
 */
export class ZstdEncoder {
  private readonly params: Record<number, number>;
  private readonly ctx?: ZstdContext;
  /** Compressions run by the last call (for benchmarks). */
  trials = 0;
  totalTrials = 0;

  /** `fresh` (tests): a zstdCompressSync call per trial, as before the reused context. */
  constructor(readonly level: number, readonly windowLog: number, fresh = false) {
    if (!nodeHasZstd()) throw new Error(`zstd needs Node >= ${ZSTD_NODE_MIN} (this is ${process.versions.node})`);
    this.params = {
      [zc.ZSTD_c_compressionLevel]: level,
      [zc.ZSTD_c_windowLog]: windowLog,
      [zc.ZSTD_c_checksumFlag]: 0,
      [zc.ZSTD_c_contentSizeFlag]: 1,
    };
    if (!fresh && zc.ZSTD_e_end === ZSTD_E_END) {
      const ctx = new ZstdContext(this.params);
      if (ZstdContext.usable((ctx as unknown as { stream: unknown }).stream)) this.ctx = ctx;
      else ctx.close();
    }
  }

  /** The frame of src[0, n), or null when it is longer than `capacity`. */
  private frame(src: Uint8Array, n: number, capacity: number): Uint8Array | null {
    this.trials++;
    if (this.ctx) return this.ctx.frame(src.subarray(0, n), capacity);
    const f = nodeZstd.zstdCompressSync!(src.subarray(0, n), { params: this.params });
    return f.length <= capacity ? f : null;
  }

  compress(src: Uint8Array, srcLen: number, capacity: number): ZstdDestSizeOut {
    this.trials = 0;
    let l = 0; // longest input known to fit
    let best: Uint8Array = EMPTY;
    let r = srcLen + 1; // shortest input known not to fit
    let m = capacity * 4;
    for (;;) {
      m = Math.min(Math.max(m, l + 1), r - 1);
      const f = this.frame(src, m, capacity);
      if (f) {
        l = m;
        best = f;
        if (r <= l + 1 || f.length + 1 >= capacity) break;
        m = Math.floor((capacity * m) / f.length);
      } else {
        r = m;
        if (r <= l + 1) break;
        m = Math.floor((l + r) / 2);
      }
    }
    this.totalTrials += this.trials;
    return { consumed: l, data: best };
  }
}

const EMPTY = new Uint8Array(0);
