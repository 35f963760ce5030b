// Work done off the main thread: hashing a file, compressing one segment of a file. The same code
// runs in a worker or inline; results depend only on the job, never on which thread ran it.
import { contentHasher } from '../../fingerprint/compute.js';
import { SourceReader } from '../files/source-reader.js';
import { compressExtents, type ZResult } from '../files/zfile.js';
import { cacheKey, cacheGet, cachePut } from '../cache/cache.js';
import { makeCodec, type Codec, type CodecSpec } from '../../compress/codec.js';
import type { DataSource } from '../../source/tree.js';
import * as fs from 'node:fs';
import { UserError, errnoReason } from '../../errors.js';
import { WriteGather } from '../io/write-gather.js';
import { imageOfTemp } from '../io/output.js';

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
}

/** Compress one segment of a file (with a cache: look it up by content first, store it after). */
export type ZJob = { kind: 'z'; src: DataSource; path: string; size: number; start: number; length: number; params: ZJobParams; cacheDir?: string; algo?: 'sha256' | 'blake3' };

/** A segment the stat index knows: its entry's key and length, and its offset in the file. */
export interface IndexedSegment { key: string; bytes: number; start: number }

export type Job =
  | { kind: 'hash'; src: DataSource; path: string; size: number; algo: 'sha256' | 'blake3' }
  /**
   * Copy flat files into the image: each file's bytes [0, blockPart) to its `dataStart`, the rest
   * returned as its tail. Small files travel in batches: one round trip for many files.
   */
  | { kind: 'copy'; image: string; files: CopyItem[]; algo?: 'sha256' | 'blake3' }
  | ZJob
  /** Segments of unchanged files fetched from the cache in one round trip (see cache-index.ts). */
  | { kind: 'zindexed'; cacheDir: string; segs: IndexedSegment[] }
  /** Small files compressed in one round trip: each job runs as if sent alone, with its own outcome. */
  | { kind: 'zbatch'; jobs: ZJob[] };

/** How one job of a batch ended: its result, or its error as a worker reports one. */
export type BatchOutcome = { res: ZJobResult } | { error: string; stack?: string; user: boolean };

export type ZJobResult = {
  kind: 'z'; z: ZResult; cache?: 'hit' | 'absent' | 'damaged'; digest?: Uint8Array;
  /** With a cache: the segment's entry (its key in hex and length), unless it could not be stored. */
  entry?: { key: string; bytes: number };
  /** Found through the stat index, without reading the source. */
  indexed?: boolean;
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
  | { kind: 'zbatch'; outcomes: BatchOutcome[] };

const codecs = new Map<string, Codec>();
function codecFor(spec: CodecSpec, pclusterSize: number): Codec {
  const key = `${spec.name}:${spec.level ?? ''}:${pclusterSize}`;
  let c = codecs.get(key);
  if (!c) codecs.set(key, (c = makeCodec(spec, pclusterSize)));
  return c;
}

let readBuf: Buffer | undefined;
const ZEROS = Buffer.alloc(1 << 20);
/** Output descriptors by image path, kept open for the worker's life. */
const outputs = new Map<string, number>();

function outputFd(image: string): number {
  let fd = outputs.get(image);
  if (fd === undefined) {
    // A new image: earlier ones are finished, drop their descriptors.
    for (const old of outputs.values()) fs.closeSync(old);
    outputs.clear();
    outputs.set(image, (fd = fs.openSync(image, 'r+')));
  }
  return fd;
}

/** The whole segment a cached compression job keys and compresses (see zJob). */
let segBuf = new Uint8Array(0);

/** Source bytes copied, shared with the main thread for the progress line (set by the worker entry). */
let copiedBytes: BigInt64Array | undefined;
export function setCopyCounter(counter: BigInt64Array): void {
  copiedBytes = counter;
}

/** Data of consecutive small files in a copy batch usually sits back to back: one write for all. */
const gatherBuf = new Uint8Array(1 << 20);

function copyJob(job: Extract<Job, { kind: 'copy' }>): JobResult {
  const fd = outputFd(job.image);
  readBuf ??= Buffer.allocUnsafe(1 << 20);
  const tails = new Uint8Array(job.files.reduce((a, f) => a + f.size - f.blockPart, 0));
  const digests = job.algo ? new Uint8Array(32 * job.files.length) : undefined;
  const gather = new WriteGather((buf, position, start, end) => {
    try {
      for (let off = start; off < end;) off += fs.writeSync(fd, buf, off, end - off, position + (off - start));
    } catch (e) {
      throw new UserError(`${imageOfTemp(job.image)}: write failed: ${errnoReason(e)}`);
    }
  }, gatherBuf);
  let tailAt = 0;
  job.files.forEach((f, i) => {
    const src: DataSource = f.src ?? {
      type: 'path', path: Buffer.from(f.path, 'latin1'),
      mtimeNs: f.mtimeSec === undefined ? undefined : BigInt(f.mtimeSec) * 1_000_000_000n + BigInt(f.mtimeNsec ?? 0),
    };
    const r = new SourceReader({ data: src, path: f.path }, f.size);
    const h = contentHasher(job.algo);
    try {
      let pos = 0;
      for (;;) {
        const got = r.read(readBuf!, 0, readBuf!.length);
        if (got === 0) break;
        const chunk = readBuf!.subarray(0, got);
        h?.update(chunk);
        const toData = Math.max(0, Math.min(got, f.blockPart - pos));
        // All-zero runs stay holes in the image file; they read back as zeros.
        if (toData > 0 && (f.dense || !(chunk[0] === 0 && chunk.subarray(0, toData).equals(ZEROS.subarray(0, toData))))) {
          gather.write(chunk, f.dataStart + pos, 0, toData);
        }
        if (toData < got) tails.set(chunk.subarray(toData), tailAt + pos + toData - f.blockPart);
        pos += got;
        // Counted per chunk, so a large file moves the progress line while it is copied.
        if (copiedBytes) Atomics.add(copiedBytes, 0, BigInt(got));
      }
      r.finish();
    } finally {
      r.close();
    }
    tailAt += f.size - f.blockPart;
    if (h) digests!.set(h.digest(), 32 * i);
  });
  gather.flush();
  return { kind: 'copy', tails, digests };
}

export function runJob(job: Job): JobResult {
  // Test-only fault injection (test/hostile.test.ts; never set in real use): every job throws, or its worker thread dies.
  if (process.env.EROFS_FORGE_TEST_FAULT === 'worker-throw') throw new Error('injected fault (EROFS_FORGE_TEST_FAULT=worker-throw)');
  if (process.env.EROFS_FORGE_TEST_FAULT === 'worker-exit') process.exit(3);
  if (job.kind === 'copy') return copyJob(job);
  if (job.kind === 'zindexed') return indexedJob(job);
  if (job.kind === 'zbatch') {
    return {
      kind: 'zbatch',
      outcomes: job.jobs.map((j): BatchOutcome => {
        try {
          return { res: runJob(j) as ZJobResult };
        } catch (e) {
          return { error: (e as Error).message, stack: (e as Error).stack, user: e instanceof UserError };
        }
      }),
    };
  }
  const node = { data: job.src, path: job.path };
  if (job.kind === 'hash') {
    const h = contentHasher(job.algo);
    const r = new SourceReader(node, job.size);
    readBuf ??= Buffer.allocUnsafe(1 << 20);
    try {
      for (;;) {
        const n = r.read(readBuf, 0, readBuf.length);
        if (n === 0) break;
        h.update(readBuf.subarray(0, n));
      }
      r.finish();
    } finally {
      r.close();
    }
    return { kind: 'hash', digest: new Uint8Array(h.digest()) };
  }
  const p = job.params;
  const last = job.start + job.length === job.size;
  const zp = {
    codec: codecFor(p.codec, p.codecPcluster ?? p.pclusterSize), blockSize: p.blockSize, pclusterSize: p.pclusterSize, big: p.big, maxExtent: p.maxExtent,
    // Only the file's final piece may go inline, or to the packed inode (which then wins, as in mkfs.erofs).
    ztailpacking: p.ztailpacking && last && !p.fragments,
    fragments: p.fragments === 'tail' && last, allFragments: p.fragments === 'all', interlaced: p.interlaced,
  };
  const r = new SourceReader(node, job.length, job.start, job.size);
  const h = contentHasher(job.algo);
  try {
    if (!job.cacheDir) {
      const z = compressExtents((b, off, len) => r.read(b, off, len), job.length, zp, h ? (c) => { h.update(c); } : undefined);
      r.finish();
      for (const e of z.extents) e.la += job.start;
      return { kind: 'z', z, digest: h ? new Uint8Array(h.digest()) : undefined };
    }
    // With a cache the segment is read whole: its bytes are part of the key. One buffer per thread,
    // reused: nothing keeps a view of it past the job (payloads are copies), and a fresh 16 MiB per
    // segment stayed resident as garbage (cached rebuild on the content-keyed path: 334 MiB peak).
    if (segBuf.length < job.length) segBuf = new Uint8Array(job.length);
    const seg = segBuf.subarray(0, job.length);
    for (let got = 0; got < job.length;) got += r.read(seg, got, job.length - got);
    r.finish();
    h?.update(seg);
    const key = cacheKey({ ...p, ztailpacking: zp.ztailpacking, ...(p.fragments ? { fragmentsHere: zp.fragments } : {}), length: job.length }, seg).toString('hex');
    const hit = cacheGet(job.cacheDir, key);
    let z: ZResult;
    let bytes: number | undefined;
    if ('z' in hit) {
      ({ z, bytes } = hit);
    } else {
      let pos = 0;
      z = compressExtents((b, off, len) => { const n = Math.min(len, seg.length - pos); b.set(seg.subarray(pos, pos + n), off); pos += n; return n; }, job.length, zp);
      bytes = cachePut(job.cacheDir, key, z);
    }
    for (const e of z.extents) e.la += job.start;
    return {
      kind: 'z', z, cache: 'z' in hit ? 'hit' : hit.miss, digest: h ? new Uint8Array(h.digest()) : undefined,
      entry: bytes === undefined ? undefined : { key, bytes },
    };
  } finally {
    r.close();
  }
}

/**
 * Jobs cross to a worker with source paths as latin1 strings: a small Buffer is a view into Node's
 * 8 KiB allocation pool, and structured clone would copy the whole pool for every job.
 */
type WireSource = Exclude<DataSource, { type: 'path' }> | { type: 'path'; path: string; mtimeNs?: bigint; ctimeNs?: bigint };

function mapSources(job: Job, f: (s: DataSource) => DataSource): Job {
  if (job.kind === 'copy') return { ...job, files: job.files.map((c) => (c.src ? { ...c, src: f(c.src) } : c)) };
  if (job.kind === 'zindexed') return job;
  if (job.kind === 'zbatch') return { ...job, jobs: job.jobs.map((j) => ({ ...j, src: f(j.src) })) };
  return { ...job, src: f(job.src) };
}

/**
 * A copy batch of path-sourced files crosses as columns: one string of NUL-separated paths (NUL
 * cannot occur in a path) and typed arrays of numbers. Structured clone of 64 small objects cost
 * ~0.3 ms per batch; columns cost a few microseconds.
 */
interface CopyColumns {
  kind: 'copy-columns';
  image: string;
  algo?: 'sha256' | 'blake3';
  paths: string;
  /** size, dataStart, blockPart, mtimeSec, mtimeNsec, dense (0/1) per file (NaN: mtime not known). */
  nums: Float64Array;
}

const COLS = 6;

function toColumns(job: Extract<Job, { kind: 'copy' }>): CopyColumns | undefined {
  const n = job.files.length;
  const nums = new Float64Array(COLS * n);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = job.files[i];
    if (f.src) return undefined;
    paths.push(f.path);
    nums.set([f.size, f.dataStart, f.blockPart, f.mtimeSec ?? NaN, f.mtimeNsec ?? 0, f.dense ? 1 : 0], COLS * i);
  }
  return { kind: 'copy-columns', image: job.image, algo: job.algo, paths: paths.join('\0'), nums };
}

function fromColumns(c: CopyColumns): Job {
  const files: CopyItem[] = c.paths.split('\0').map((path, i) => {
    const v = c.nums.subarray(COLS * i, COLS * i + COLS);
    return { path, size: v[0], dataStart: v[1], blockPart: v[2], mtimeSec: Number.isNaN(v[3]) ? undefined : v[3], mtimeNsec: v[4], dense: v[5] === 1 || undefined };
  });
  return { kind: 'copy', image: c.image, algo: c.algo, files };
}

/** What crosses to a worker. */
export type WireJob = Job | CopyColumns;

export function toWire(job: Job): WireJob {
  if (job.kind === 'copy') {
    const c = toColumns(job);
    if (c) return c;
  }
  return mapSources(job, (s) => (s.type === 'path' ? { ...s, path: s.path.toString('latin1') } as WireSource as DataSource : s));
}

export function fromWire(job: WireJob): Job {
  if (job.kind === 'copy-columns') return fromColumns(job);
  return mapSources(job, (s) => {
    const w = s as WireSource;
    return w.type === 'path' ? { ...w, path: Buffer.from(w.path, 'latin1') } : w;
  });
}

/**
 * Segments the stat index vouches for: each entry is read and checked, never trusted. One that is
 * gone or damaged comes back as a miss, and its file takes the content-keyed path.
 */
function indexedJob(job: Extract<Job, { kind: 'zindexed' }>): JobResult {
  const results = job.segs.map((s) => {
    const got = cacheGet(job.cacheDir, s.key, s.bytes);
    if (!('z' in got)) return { kind: 'miss', miss: got.miss } as const;
    for (const e of got.z.extents) e.la += s.start;
    return { kind: 'z', z: got.z, cache: 'hit', entry: { key: s.key, bytes: got.bytes }, indexed: true } as const;
  });
  return { kind: 'zindexed', results };
}

/**
 * A compression result as it crosses between threads: its extents and its payload views as columns
 * of numbers. Structured clone of an object per pcluster (two: the extent and the view), ~44,000 a
 * corpus build, cost the main thread more than the objects made here again.
 */
interface PackedZ {
  packed: true;
  /** la, llen, compressed (0/1), blocks, blkaddr per extent. */
  ext: Float64Array;
  /** Per extent: index in `bufs` (-1: no payload), byte offset, length. */
  pay: Float64Array;
  bufs: ArrayBuffer[];
  /** How many of `bufs` (the first ones) are the result's slabs. */
  nSlabs: number;
  inline?: Uint8Array;
  inlineRaw?: Uint8Array;
  fragment?: Uint8Array;
  totalBlocks: number;
  digest?: Uint8Array;
}

function packZ(z: ZResult): PackedZ {
  const n = z.extents.length;
  const ext = new Float64Array(5 * n);
  const pay = new Float64Array(3 * n);
  const bufs: ArrayBuffer[] = [...(z.slabs ?? [])];
  const nSlabs = bufs.length;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const e = z.extents[i];
    ext[5 * i] = e.la;
    ext[5 * i + 1] = e.llen;
    ext[5 * i + 2] = e.fragment ? 2 : e.compressed ? 1 : 0;
    ext[5 * i + 3] = e.blocks;
    ext[5 * i + 4] = e.blkaddr;
    const v = z.payloads[i];
    if (!v) {
      pay[3 * i] = -1;
      continue;
    }
    const b = v.buffer as ArrayBuffer;
    if (last < 0 || bufs[last] !== b) {
      last = bufs.indexOf(b);
      if (last < 0) last = bufs.push(b) - 1;
    }
    pay[3 * i] = last;
    pay[3 * i + 1] = v.byteOffset;
    pay[3 * i + 2] = v.length;
  }
  return { packed: true, ext, pay, bufs, nSlabs, inline: z.inline, inlineRaw: z.inlineRaw, fragment: z.fragment, totalBlocks: z.totalBlocks, digest: z.digest };
}

function unpackZ(w: PackedZ): ZResult {
  const n = w.ext.length / 5;
  const extents = new Array(n);
  const payloads: (Uint8Array | undefined)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = 5 * i;
    extents[i] = { la: w.ext[x], llen: w.ext[x + 1], compressed: w.ext[x + 2] !== 0, blocks: w.ext[x + 3], blkaddr: w.ext[x + 4] };
    if (w.ext[x + 2] === 2) extents[i].fragment = true;
    const k = w.pay[3 * i];
    payloads[i] = k < 0 ? undefined : new Uint8Array(w.bufs[k], w.pay[3 * i + 1], w.pay[3 * i + 2]);
  }
  const z: ZResult = { extents, payloads, totalBlocks: w.totalBlocks, inline: w.inline, inlineRaw: w.inlineRaw, digest: w.digest };
  if (w.fragment) z.fragment = w.fragment;
  if (w.nSlabs) z.slabs = w.bufs.slice(0, w.nSlabs);
  return z;
}

/** Every compression result inside a job result. */
function zResultsOf(res: JobResult): ZJobResult[] {
  if (res.kind === 'z') return [res];
  if (res.kind === 'zbatch') return res.outcomes.flatMap((o) => ('res' in o ? [o.res] : []));
  if (res.kind === 'zindexed') return res.results.filter((r): r is ZJobResult => r.kind === 'z');
  return [];
}

/** A worker's result made ready to post (compression results packed, see PackedZ); changes `res`. */
export function packResult(res: JobResult): JobResult {
  for (const r of zResultsOf(res)) (r as { z: ZResult | PackedZ }).z = packZ(r.z);
  return res;
}

/** The inverse of packResult, on the receiving thread. */
export function unpackResult(res: JobResult): JobResult {
  for (const r of zResultsOf(res)) {
    const z = r.z as ZResult | PackedZ;
    if ('packed' in z) r.z = unpackZ(z);
  }
  return res;
}

/** Buffers a result can hand over without copying (before or after packResult). */
export function transferables(res: JobResult): ArrayBuffer[] {
  if (res.kind === 'copy') return [res.tails.buffer, res.digests?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  if (res.kind === 'hash') return [];
  const out = new Set<ArrayBuffer>();
  const results = res.kind === 'zindexed' ? res.results
    : res.kind === 'zbatch' ? res.outcomes.flatMap((o) => ('res' in o ? [o.res] : [])) : [res];
  for (const r of results) {
    if (r.kind !== 'z') continue;
    const z = r.z as ZResult | PackedZ;
    if ('packed' in z) {
      for (const b of z.bufs) if (b instanceof ArrayBuffer) out.add(b);
      continue;
    }
    for (const p of z.payloads) if (p && p.buffer instanceof ArrayBuffer) out.add(p.buffer);
    for (const b of z.slabs ?? []) out.add(b);
  }
  return [...out];
}
