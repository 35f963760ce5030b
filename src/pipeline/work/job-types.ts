// The jobs the workers run and what they return. Everything here crosses between threads (see
// job-wire.ts for how): plain data, no functions.
import type { ListContext, Listing } from '../../source/dir-listing.js';
import type { ZResult } from '../files/zfile.js';
import type { CodecSpec } from '../../compress/codec.js';
import type { DataSource } from '../../source/tree.js';
import type { LeafParams } from '../../verity/tree.js';

/**
 * Files are compressed in independent segments of this many bytes (as mkfs.erofs's multithreaded
 * mode does, 16 MiB), always, so the image never depends on the worker count.
 */
export const SEGMENT_SIZE = 16 << 20;

export interface ZJobParams {
  codec: CodecSpec;
  blockSize: number;
  pclusterSize: number;
  big: boolean;
  ztailpacking: boolean;
  maxExtent?: number;
  /** -E fragments ('tail') / all-fragments ('all'): see ZParams.fragments, allFragments. */
  fragments?: 'tail' | 'all';
  /** Stored pclusters INTERLACED (ZParams.interlaced). */
  interlaced?: boolean;
  /** ZParams.codecPcluster. */
  codecPcluster?: number;
  /** -E dedupe: ZParams.rawBlockSteps (the writer reads the segment's bytes itself, files/segment-bytes.ts). */
  dedupe?: boolean;
}

/** Compress one segment of a file (with a cache: look it up by content first, store it after). */
export type ZJob = {
  kind: 'z';
  /**
   * Absent for a file read from `path` itself with the mtime the scan saw (`mtimeSec`, `mtimeNsec`):
   * the common case, for which the main thread builds no source object (see zSourceOf).
   */
  src?: DataSource; mtimeSec?: number; mtimeNsec?: number;
  path: string; size: number; start: number; length: number; params: ZJobParams; cacheDir?: string; algo?: 'sha256' | 'blake3';
  /** The worker keeps the payloads and writes them where the writer places them (ZResult.held, held-results.ts). */
  hold?: boolean;
};

/**
 * Entries a 'kcopy' job opens itself (a run's descriptor -1 - i names entry i): keys and the
 * identities they must still have, each joined by ','.
 */
export interface NamedEntries { cacheDir: string; keys: string; ids: string }

/** A segment the stat index knows: its entry's key and length, and its offset in the file. */
export interface IndexedSegment {
  key: string; bytes: number; start: number;
  /** The entry file's identity when a build last verified it (see cacheGet's `trusted`). */
  id?: string;
}

export type Job =
  | { kind: 'hash'; src: DataSource; path: string; size: number; algo: 'sha256' | 'blake3' }
  /**
   * Copy flat files into the image: each file's bytes [0, blockPart) to its `dataStart`, the rest
   * returned as its tail. Small files travel in batches: one round trip for many files.
   */
  | { kind: 'copy'; image: string; files: CopyItem[]; algo?: 'sha256' | 'blake3' }
  | ZJob
  /** Segments of unchanged files fetched from the cache in one round trip (see cache-index.ts). */
  | { kind: 'zindexed'; cacheDir: string; segs: IndexedSegment[]; stored?: boolean }
  /** Small files compressed in one round trip: each job runs as if sent alone, with its own outcome. */
  | { kind: 'zbatch'; jobs: ZJob[] }
  /**
   * Pclusters left in cache entry files (ZResult.stored) copied into the image in the kernel: per run
   * the entry's descriptor, offset in it, length and image offset (4 numbers); the descriptors in
   * `close` are the worker's to close once done (or failed).
   */
  | { kind: 'kcopy'; image: string; runs: Float64Array; close: number[]; named?: NamedEntries; oldImage?: { path: string; id: string } }
  /**
   * Held payloads (ZResult.held) written into the image by the worker holding them: per run the held
   * id, buffer index, offset in it, length and image offset (5 numbers); then the ids in `free` let go.
   */
  | { kind: 'hwrite'; image: string; runs: Float64Array; free: number[] }
  /** Directories of a source tree listed for the walk ([path, relPrefix] each: see dir-walk.ts). */
  | { kind: 'list'; cx: ListContext; dirs: [string, string][] }
  /** --verity: the leaf digests of data blocks [first, first + count) of the finished image (verity/tree.ts leafDigests). */
  | { kind: 'vleaves'; image: string; p: LeafParams; first: number; count: number };

/** How one job of a batch ended: its result, or its error as a worker reports one. */
export type BatchOutcome = { res: ZJobResult } | { error: string; stack?: string; user: boolean };

export type ZJobResult = {
  kind: 'z'; z: ZResult; cache?: 'hit' | 'absent' | 'damaged'; digest?: Uint8Array;
  /** With a cache: the segment's entry (its key in hex and length, and its file's identity when read), unless it could not be stored. */
  entry?: { key: string; bytes: number; id?: string; head?: string };
  /** Found through the stat index, without reading the source. */
  indexed?: boolean;
  /** The job asked for its payloads to be held (see ZJob.hold): packed so by job-wire.ts. */
  hold?: boolean;
};

export interface CopyItem {
  /** Absent for a file read from `path` itself (the common case: nothing more to build or send). */
  src?: DataSource;
  /** The source path as a latin1 string of its bytes. */
  path: string;
  /** The mtime the scan saw (path sources): a file modified since is refused. */
  mtimeSec?: number;
  mtimeNsec?: number;
  size: number;
  dataStart: number;
  blockPart: number;
  /** Write zero runs too (the blocks are not known to be zero); otherwise they stay holes. */
  dense?: boolean;
}

export type JobResult =
  | { kind: 'hash'; digest: Uint8Array }
  /** The files' tails back to back, in job order; with `algo`, their digests (32 bytes each) likewise. */
  | { kind: 'copy'; tails: Uint8Array; digests?: Uint8Array }
  | ZJobResult
  /** One per segment asked, in order: the entry, or why there is none (the caller then runs a 'z' job). */
  | { kind: 'zindexed'; results: (ZJobResult | { kind: 'miss'; miss: 'absent' | 'damaged' })[] }
  | { kind: 'zbatch'; outcomes: BatchOutcome[] }
  | { kind: 'kcopy' }
  | { kind: 'hwrite' }
  | { kind: 'list'; done: [string, Listing][] }
  | { kind: 'vleaves'; digests: Uint8Array };

/** The job of one kind. */
export type JobOf<K extends Job['kind']> = Extract<Job, { kind: K }>;
