// The codecs behind `-z`, one narrow interface: compress as much input as fits a byte budget
// ("destsize", erofs-format.md §6). Each maps a user name to its on-disk algorithm id.
import { Lz4Scratch } from './lz4.js';
import { deflateDestSizeShared, deflateInputWindow, DEFLATE_DEFAULT_LEVEL, DEFLATE_MAX_LEVEL, type DeflateHint } from './deflate.js';
import { ZstdEncoder, nodeHasZstd, zstdDefaultWindowLog, ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL, ZSTD_NODE_MIN } from './zstd.js';
import { MicroLzmaEncoder, lzmaDefaultDictSize, lzmaLevelValid, LZMA_DEFAULT_LEVEL } from './lzma-encoder.js';
import { COMPRESSION_LZ4, COMPRESSION_DEFLATE, COMPRESSION_ZSTD, COMPRESSION_LZMA } from '../format/constants.js';
import { UserError } from '../errors.js';
import { DECODERS, type DecodeParams } from './decoders.js';

// The reader's side lives in decoders.ts (the reader loads no encoder); re-exported for the writers' tests.
export { algorithmName, decompress, type DecodeParams } from './decoders.js';

export interface DestSizeOut {
  consumed: number;
  /** The stream: data[0..length). Its first byte is never 0 (0PADDING finds the start by it). */
  data: Uint8Array;
}

export interface Codec {
  /** -z name. */
  name: string;
  /** On-disk algorithm (h_algorithmtype, available_compr_algs bit). */
  algorithm: number;
  level: number;
  /**
   * `probe`: the caller stores one raw block per call that gains nothing (-E dedupe), so an encoder
   * may give up early on input that gains nothing at first (lzma). Otherwise the output must be what
   * compressing to the capacity gives.
   */
  compress(src: Uint8Array, srcLen: number, capacity: number, probe?: boolean): DestSizeOut;
  /** Decode one stream of this algorithm, strictly (the reader's side; see decompress()). */
  decompress(stream: Uint8Array, p: DecodeParams): Uint8Array;
  /**
   * Optional: a buffer of at least n bytes that compress() reads in place (no copy) for outputs of
   * up to outCap bytes, valid until the next window() call. The data view returned by compress() is
   * valid until the next compress() call.
   */
  window?(n: number, outCap: number): Uint8Array;
  /**
   * Optional: compress(buf[at, at + srcLen), ...) without a view of the input (in place when buf is
   * the window), returning one object of the codec's own, rewritten by the next call (as its data
   * view is): the per-pcluster path of the workers (files/zfile.ts).
   */
  compressAt?(buf: Uint8Array, at: number, srcLen: number, capacity: number, probe?: boolean): DestSizeOut;
}

/**
 * Every -z algorithm name the CLI accepts, in the order mkfs.erofs lists them (test matrices and the
 * fuzzer iterate over this). Whether one can be built here is codecAvailable(name).
 */
export const COMPRESSORS = ['lz4', 'lz4hc', 'deflate', 'zstd', 'lzma'] as const;
export type CompressorName = (typeof COMPRESSORS)[number];

export interface CodecSpec {
  name: CompressorName;
  level?: number;
}

/** pclusterSize: the image's largest pcluster (-C), which sets zstd's window as mkfs.erofs does. */
type Factory = (level: number, pclusterSize: number) => Codec;

const registry = new Map<string, { algorithm: number; defaultLevel: number; levels: [number, number]; make: Factory }>();

export function registerCodec(name: string, algorithm: number, defaultLevel: number, levels: [number, number], make: Factory): void {
  registry.set(name, { algorithm, defaultLevel, levels, make });
}

function lz4Factory(name: string): Factory {
  return (level) => {
    const scratch = new Lz4Scratch();
    const out: DestSizeOut = { consumed: 0, data: new Uint8Array(0) };
    return {
      name, algorithm: COMPRESSION_LZ4, level,
      compress(src, srcLen, capacity) {
        const r = scratch.compress(src, srcLen, capacity, level);
        return { consumed: r.consumed, data: r.block };
      },
      compressAt(buf, at, srcLen, capacity) {
        out.consumed = scratch.compressAt(buf, at, srcLen, capacity, level);
        out.data = scratch.block();
        return out;
      },
      decompress: DECODERS[COMPRESSION_LZ4].decompress,
      window: (n, outCap) => scratch.window(n, outCap),
    };
  };
}

registerCodec('lz4', COMPRESSION_LZ4, 0, [0, 0], lz4Factory('lz4'));
registerCodec('deflate', COMPRESSION_DEFLATE, DEFLATE_DEFAULT_LEVEL, [0, DEFLATE_MAX_LEVEL], (level) => {
  // deflateDestSize never reads the hint (output depends only on input, capacity and level); it
  // only records statistics, so sharing one across files is safe.
  const hint: DeflateHint = {};
  return {
    name: 'deflate', algorithm: COMPRESSION_DEFLATE, level,
    compress: (src, srcLen, capacity) => deflateDestSizeShared(src, srcLen, capacity, level, hint),
    decompress: DECODERS[COMPRESSION_DEFLATE].decompress,
    window: (n, outCap) => deflateInputWindow(n, outCap, level),
  };
});
registerCodec('lz4hc', COMPRESSION_LZ4, 9, [0, 12], lz4Factory('lz4hc'));
// zstd: mkfs.erofs 1.9.3 accepts levels 0..22 (0 = zstd's default), default 3; the window is the
// image's (zstdWindowLog). Node's zlib has zstd from 22.15 only.
registerCodec('zstd', COMPRESSION_ZSTD, ZSTD_DEFAULT_LEVEL, [0, ZSTD_MAX_LEVEL], (level, pclusterSize) => {
  const enc = new ZstdEncoder(level, zstdDefaultWindowLog(pclusterSize));
  return {
    name: 'zstd', algorithm: COMPRESSION_ZSTD, level,
    compress: (src, srcLen, capacity) => enc.compress(src, srcLen, capacity), decompress: DECODERS[COMPRESSION_ZSTD].decompress,
  };
});

// lzma (MicroLZMA): our own encoder (lzma-encoder.ts, WebAssembly reading its input in place); levels as mkfs.erofs 1.9.3's liblzma presets,
// 0..9 and 100..109 ("extreme"), default 6; dictionary 4 x the largest pcluster (32 KiB .. 8 MiB).
registerCodec('lzma', COMPRESSION_LZMA, LZMA_DEFAULT_LEVEL, [0, 109], (level, pclusterSize) => {
  const enc = new MicroLzmaEncoder(level, lzmaDefaultDictSize(pclusterSize));
  return {
    name: 'lzma', algorithm: COMPRESSION_LZMA, level,
    compress: (src, srcLen, capacity, probe) => enc.compress(src, srcLen, capacity, probe), decompress: DECODERS[COMPRESSION_LZMA].decompress,
    window: (n, outCap) => enc.window(n, outCap),
  };
});

/** Why an algorithm cannot be used on this Node, or null when it can. */
export function codecUnavailable(name: string): string | null {
  if (name === 'zstd' && !nodeHasZstd()) return `zstd needs Node >= ${ZSTD_NODE_MIN} (this is ${process.versions.node})`;
  return null;
}

export function codecAvailable(name: string): boolean {
  return registry.has(name) && codecUnavailable(name) === null;
}

/**
 * The levels -z NAME accepts (for option matrices): default, lowest, highest, and every valid level
 * (lzma's are 0..9 and 100..109).
 */
export function codecLevels(name: CompressorName): { default: number; min: number; max: number; valid(level: number): boolean } {
  const r = registry.get(name)!;
  return {
    default: r.defaultLevel, min: r.levels[0], max: r.levels[1],
    valid: (l) => Number.isInteger(l) && l >= r.levels[0] && l <= r.levels[1] && (name !== 'lzma' || lzmaLevelValid(l)),
  };
}

/** Parse a -z value: "lz4", "lz4hc,level=12", "deflate,level=6", "zstd,level=19" (also mkfs's old "lz4hc,12"). */
export function parseCompressor(v: string): CodecSpec {
  const [name, ...opts] = v.split(',');
  if (!(COMPRESSORS as readonly string[]).includes(name)) {
    throw new UserError(`-z ${v}: unknown algorithm (${COMPRESSORS.join(', ')})`);
  }
  const why = codecUnavailable(name);
  if (why) throw new UserError(`-z ${v}: ${why}`);
  const spec: CodecSpec = { name: name as CompressorName };
  for (const o of opts) {
    const m = /^(?:level=)?(\d+)$/.exec(o);
    if (!m) throw new UserError(`-z ${v}: unknown option "${o}"`);
    spec.level = Number(m[1]);
  }
  return spec;
}

export function makeCodec(spec: CodecSpec, pclusterSize: number): Codec {
  const r = registry.get(spec.name);
  if (!r) throw new UserError(`-z ${spec.name}: not available`);
  const level = spec.level ?? r.defaultLevel;
  if (level < r.levels[0] || level > r.levels[1] || (spec.name === 'lzma' && !lzmaLevelValid(level))) {
    const range = spec.name === 'lzma' ? '0..9 or 100..109' : `${r.levels[0]}..${r.levels[1]}`;
    throw new UserError(`-z ${spec.name}: level ${level} out of range ${range}`);
  }
  const why = codecUnavailable(spec.name);
  if (why) throw new UserError(`-z ${spec.name}: ${why}`);
  return r.make(level, pclusterSize);
}

export function codecAlgorithm(spec: CodecSpec): number {
  const r = registry.get(spec.name);
  if (!r) throw new UserError(`-z ${spec.name}: not available`);
  return r.algorithm;
}

