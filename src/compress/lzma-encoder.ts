/**
 * Our MicroLZMA encoder with native "destsize" (compress as much input as fits N bytes), written from
 * the LZMA format description. No maintained npm package exposes raw LZMA1 with a fixed output size:
 * lzma-native binds an xz 5.2.3 from 2017 (no MicroLZMA, raw LZMA1 always ends with an end marker,
 * asynchronous API), and @napi-rs/lzma (lzma-rust2) has only whole .lzma/.xz streams whose encoder
 * set-up (8 MiB dictionary at its fixed preset) costs ~29 ms per call, i.e. ~30 minutes for a 400 MB
 * tree at 4 KiB pclusters. So the encoder is ours:
 *
 *  - Match finder: binary trees over 4-byte hashes with exact 2-byte and hashed 3-byte heads
 *    (lzma-matchfinder.ts; liblzma's "bt4" and its depth and "nice" length per preset), distances
 *    below the dictionary size the image declares (z_erofs_lzma_cfgs.dict_size).
 *  - Parser: a price-based optimal parse per block (up to OPTS positions): every position keeps its
 *    cheapest path with the LZMA state and the four rep distances it leads to; literals, short reps,
 *    rep matches, normal matches and the combined steps literal+rep0, rep+literal+rep0 and
 *    match+literal+rep0 are priced with tables refreshed from the adaptive probabilities as often as
 *    liblzma refreshes its own. The parse follows liblzma 5.4.1's rules where they decide a choice
 *    (its bt4 hashes, bit prices, ties, refresh points; see the comments where each is kept), so the
 *    streams equal mkfs.erofs 1.9.3's byte for byte: on 1,597 points of a corpus sample at 4 KiB and
 *    383 at 64 KiB, levels 6 and 109, every stream was identical to lzma_microlzma_encoder's, but
 *    for incompressible input (below), which is stored raw either way.
 *  - Incompressible input: with -E dedupe only (one raw block per failed call), a stream that has
 *    gained nothing after INCOMPRESSIBLE_PROBE bytes ends. Otherwise it runs to the capacity as
 *    liblzma's does, and the caller stores all the input it consumed raw at once (linear work).
 *  - Range coder: decisions are encoded one by one; after each, the size the stream would have if it
 *    were flushed now is known exactly (bytes out + pending + 4), so the stream stops at the last
 *    decision that still fits the pcluster and is flushed there. No search over the input length.
 *  - MicroLZMA framing (see microlzma.ts): the range coder's first byte (always 0) becomes ~props.
 * The output is a pure function of (input, capacity, level, dictionary size).
 *
 * The encoder runs as WebAssembly (assembly/lzma.ts, one instance and memory per encoder); this
 * module sets it up and feeds it. It replaced a TypeScript encoder of the same algorithm, kept as the
 * tests' oracle (test/helpers/lzma-ts/): the streams are byte for byte the same, 2.5x faster.
 */
import { MATCH_LEN_MAX, type LzmaProps } from './lzma-model.js';
import { instantiateWasm } from './wasm.js';

/** mkfs.erofs 1.9.3 (liblzma presets): levels 0..9 and 100..109 ("extreme"), default 6. */
export const LZMA_DEFAULT_LEVEL = 6;
/** lc 3, lp 0, pb 2: liblzma's preset properties, which mkfs.erofs uses. */
export const LZMA_PROPS: LzmaProps = { lc: 3, lp: 0, pb: 2 };

/** The dictionary mkfs.erofs 1.9.3 declares: 4 x the largest pcluster, at least 32 KiB, at most 8 MiB. */
export function lzmaDefaultDictSize(pclusterMax: number): number {
  return Math.min(8 << 20, Math.max(32 << 10, 4 * pclusterMax));
}

export function lzmaLevelValid(level: number): boolean {
  return Number.isInteger(level) && ((level >= 0 && level <= 9) || (level >= 100 && level <= 109));
}

// ---- level parameters --------------------------------------------------------------------------

export interface LevelParams {
  depth: number;
  nice: number;
}
/**
 * Match-finder depth (tree nodes walked per position) and "nice" length (a match this long is taken
 * as it is) by level. From 4 up they are liblzma's presets, which mkfs.erofs uses (bt4 trees, nice
 * 16/32/64, depth 16 + nice / 2; "extreme" 103/105 nice 192, the other extreme levels nice 273 and
 * depth 512). Levels 0..3 are liblzma's fast mode; here they are the same parser with shallow searches.
 */
export function levelParams(level: number): LevelParams {
  const l = level >= 100 ? level - 100 : level;
  const nice = l <= 3 ? [16, 16, 24, 32][l] : l === 4 ? 16 : l === 5 ? 32 : 64;
  const r = { nice, depth: l <= 3 ? [4, 8, 12, 16][l] : 16 + nice / 2 };
  if (level >= 100) {
    if (l === 3 || l === 5) {
      r.nice = 192;
      r.depth = 16 + 96;
    } else {
      r.nice = MATCH_LEN_MAX;
      r.depth = 512;
    }
  }
  return r;
}

/**
 * Input after which a stream that has gained nothing (flushed size >= input taken) ends, when the
 * caller asks for it (-E dedupe). That caller then stores one block raw and asks again one block
 * later: without this stop, each of those calls
 * re-encoded everything up to the pcluster's capacity, quadratic in the length of an incompressible
 * run at big pclusters (a 300 KB random file at -C 1 MiB -b 1024 took 13 s). It is at least the
 * largest block size, so the stream returned then is never kept, neither as a pcluster nor as an
 * inline tail (smaller than a block); at capacities up to it nothing changes.
 */
export const INCOMPRESSIBLE_PROBE = 4096;


export interface LzmaDestSizeOut {
  consumed: number;
  data: Uint8Array;
}

interface LzmaExports extends WebAssembly.Exports {
  memory: WebAssembly.Memory;
  configure(nice: number, depth: number, dict: number, lc: number, lp: number, pb: number, maxOut: number): number;
  outPtr(): number;
  compress(inOff: number, n: number, loaded: number, capacity: number, probe: number): number;
  written: WebAssembly.Global;
  positionsExamined: WebAssembly.Global;
}

/** Input copied ahead of the encoder when it is not in the window: the first call's share, and at least this per refill. */
const COPY_FIRST = 16 << 10;

/**
 * One encoder (its WebAssembly instance holds the match finder's tables, reused between calls; one
 * call at a time). compress() returns the MicroLZMA stream of the longest decision prefix that fits
 * `capacity` bytes.
 */
export class MicroLzmaEncoder {
  private readonly x: LzmaExports;
  private readonly p: LevelParams;
  private mem = new Uint8Array(0);
  private inPtr = 0;
  private outCap = 0;
  /** Bytes the window offers (the memory past inPtr may be longer). */
  private inCap = 0;
  // the input being copied in on demand (compress's src when it is not in the window)
  private feed: Uint8Array = new Uint8Array(0);
  private fed = 0;
  /** Where (past inPtr) it goes: after the window, whose bytes stay as they are. */
  private feedAt = 0;

  constructor(readonly level: number, readonly dictSize: number, readonly props: LzmaProps = LZMA_PROPS) {
    this.p = levelParams(level);
    this.x = instantiateWasm<LzmaExports>('lzma', { need: (end: number) => this.need(end) });
    this.setup(1 << 16);
  }

  /** Input positions the match finder has taken in, over all calls (work done: for tests and profiling). */
  get positionsExamined(): number {
    return this.x.positionsExamined.value as number;
  }

  /** Lay the memory out for outputs of up to outCap bytes (clears the match finder; the window moves). */
  private setup(outCap: number): void {
    this.outCap = outCap;
    const { lc, lp, pb } = this.props;
    this.inPtr = this.x.configure(this.p.nice, this.p.depth, this.dictSize, lc, lp, pb, outCap);
    this.inCap = 0;
    this.view();
  }

  private view(): void {
    if (this.mem.buffer !== this.x.memory.buffer) this.mem = new Uint8Array(this.x.memory.buffer);
  }

  /** Make the memory reach inPtr + n. */
  private reserve(n: number): void {
    // (+16: the encoder compares 8 bytes at a time and may read a few past the input)
    const need = this.inPtr + n + 16 - this.x.memory.buffer.byteLength;
    if (need > 0) this.x.memory.grow(Math.ceil(need / 65536));
    this.view();
  }

  /**
   * A buffer of at least n bytes inside the encoder's memory, for outputs of up to outCap bytes:
   * compress views of it and no input is copied. Valid until the next window() call with larger sizes.
   */
  window(n: number, outCap: number): Uint8Array {
    if (outCap > this.outCap) this.setup(outCap);
    if (n > this.inCap) {
      this.reserve(n);
      this.inCap = n;
    }
    this.view();
    return this.mem.subarray(this.inPtr, this.inPtr + this.inCap);
  }

  /** The encoder asks for the input up to `end`: copy it (and more, so that refills stay few). */
  private need(end: number): number {
    const to = Math.min(this.feed.length, Math.max(end, 2 * this.fed, this.fed + COPY_FIRST));
    if (to > this.fed) {
      this.reserve(this.feedAt + to);
      this.mem.set(this.feed.subarray(this.fed, to), this.inPtr + this.feedAt + this.fed);
      this.fed = to;
    }
    return this.fed;
  }

  /**
   * `probe`: stop at INCOMPRESSIBLE_PROBE when nothing is gained yet (only for callers that store one
   * raw block per failed call, -E dedupe). Without it the stream runs to the capacity, as
   * lzma_microlzma_encoder does: input that gains nothing in its first 4 KiB may still gain a block
   * by the pcluster's end (a .ps.gz of gzip stored blocks, a PNG's later chunks).
   */
  compress(src: Uint8Array, srcLen: number, capacity: number, probe = false): LzmaDestSizeOut {
    if (!(srcLen >= 0 && srcLen <= src.length) || srcLen !== Math.floor(srcLen)) throw new RangeError(`lzma compress: bad srcLen ${srcLen}`);
    if (!(capacity >= 0) || capacity !== Math.floor(capacity)) throw new RangeError(`lzma compress: bad capacity ${capacity}`);
    if (capacity < 6 || srcLen === 0) return { consumed: 0, data: new Uint8Array(0) };
    if (capacity > this.outCap) {
      // (the window moves: input in it is taken out first)
      if (src.buffer === this.x.memory.buffer) src = src.slice(0, srcLen);
      this.setup(capacity);
    }
    this.view();
    let consumed: number;
    if (src.buffer === this.mem.buffer && src.byteOffset >= this.inPtr && src.byteOffset + srcLen <= this.inPtr + this.inCap) {
      consumed = this.x.compress(src.byteOffset - this.inPtr, srcLen, srcLen, capacity, probe ? 1 : 0);
    } else {
      // Not in the window: copied in as the encoder advances (it may stop long before srcLen).
      this.feed = src.subarray(0, srcLen);
      this.fed = 0;
      this.feedAt = (this.inCap + 15) & ~15;
      this.need(Math.min(srcLen, capacity + COPY_FIRST));
      try {
        consumed = this.x.compress(this.feedAt, srcLen, this.fed, capacity, probe ? 1 : 0);
      } finally {
        this.feed = new Uint8Array(0);
      }
    }
    if (consumed === 0) return { consumed: 0, data: new Uint8Array(0) };
    this.view();
    const out = this.x.outPtr();
    return { consumed, data: this.mem.slice(out, out + (this.x.written.value as number)) };
  }
}
