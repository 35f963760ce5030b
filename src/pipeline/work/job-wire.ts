// How jobs and results cross between threads: source paths as strings, copy batches as columns,
// compression results as columns of numbers with their buffers transferred.
import { extentsOf, type ZResult } from '../files/zfile.js';
import type { DataSource } from '../../source/tree.js';
import type { BatchOutcome, CopyItem, Job, JobResult, ZJob, ZJobParams, ZJobResult } from './job-types.js';
import { adoptEntryFd } from '../cache/entry-fds.js';
import { holdBuffers } from './held-results.js';

/**
 * Jobs cross to a worker with source paths as latin1 strings: a small Buffer is a view into Node's
 * 8 KiB allocation pool, and structured clone would copy the whole pool for every job.
 */
type WireSource = Exclude<DataSource, { type: 'path' }> | { type: 'path'; path: string; mtimeNs?: bigint; ctimeNs?: bigint };

function mapSources(job: Job, f: (s: DataSource) => DataSource): Job {
  if (job.kind === 'copy') return { ...job, files: job.files.map((c) => (c.src ? { ...c, src: f(c.src) } : c)) };
  if (job.kind === 'zindexed' || job.kind === 'kcopy' || job.kind === 'hwrite' || job.kind === 'list' || job.kind === 'vleaves') return job;
  if (job.kind === 'zbatch') return { ...job, jobs: job.jobs.map((j) => (j.src ? { ...j, src: f(j.src) } : j)) };
  return job.src ? { ...job, src: f(job.src) } : job;
}

/**
 * A batch of small files' compression jobs crosses as columns, like a copy batch: the parameters
 * once, the paths as one NUL-separated string, the numbers in one typed array. Structured clone of
 * 32 job objects, each with its parameters and two copies of its path, was most of the main
 * thread's postMessage time in a compressed build (bench corpus: ~300 batches, 3.2 MB cloned).
 */
interface ZBatchColumns {
  kind: 'zbatch-columns';
  params: ZJobParams;
  algo?: 'sha256' | 'blake3';
  cacheDir?: string;
  hold?: boolean;
  paths: string;
  /** size, start, length, mtimeSec (NaN: not known), mtimeNsec per job. */
  nums: Float64Array;
}

const ZCOLS = 5;

/** Columns for a batch of jobs that read their paths and share everything else; undefined otherwise. */
function toZColumns(job: Extract<Job, { kind: 'zbatch' }>): ZBatchColumns | undefined {
  const n = job.jobs.length;
  if (!n) return undefined;
  const j0 = job.jobs[0];
  const nums = new Float64Array(ZCOLS * n);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const j = job.jobs[i];
    if (j.src || j.params !== j0.params || j.algo !== j0.algo || j.cacheDir !== j0.cacheDir || j.hold !== j0.hold) return undefined;
    paths.push(j.path);
    const x = ZCOLS * i;
    nums[x] = j.size;
    nums[x + 1] = j.start;
    nums[x + 2] = j.length;
    nums[x + 3] = j.mtimeSec ?? NaN;
    nums[x + 4] = j.mtimeNsec ?? 0;
  }
  return {
    kind: 'zbatch-columns', params: j0.params, paths: paths.join('\0'), nums,
    ...(j0.algo ? { algo: j0.algo } : {}), ...(j0.cacheDir ? { cacheDir: j0.cacheDir } : {}), ...(j0.hold ? { hold: true } : {}),
  };
}

function fromZColumns(c: ZBatchColumns): Job {
  const jobs: ZJob[] = c.paths.split('\0').map((path, i) => {
    const x = ZCOLS * i;
    const v = c.nums;
    const j: ZJob = { kind: 'z', path, size: v[x], start: v[x + 1], length: v[x + 2], params: c.params, algo: c.algo, cacheDir: c.cacheDir, hold: c.hold };
    if (!Number.isNaN(v[x + 3])) {
      j.mtimeSec = v[x + 3];
      j.mtimeNsec = v[x + 4];
    }
    return j;
  });
  return { kind: 'zbatch', jobs };
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
export type WireJob = Job | CopyColumns | ZBatchColumns;

export function toWire(job: Job): WireJob {
  if (job.kind === 'copy') {
    const c = toColumns(job);
    if (c) return c;
  }
  if (job.kind === 'zbatch') {
    const c = toZColumns(job);
    if (c) return c;
  }
  return mapSources(job, (s) => (s.type === 'path' ? { ...s, path: s.path.toString('latin1') } as WireSource as DataSource : s));
}

export function fromWire(job: WireJob): Job {
  if (job.kind === 'copy-columns') return fromColumns(job);
  if (job.kind === 'zbatch-columns') return fromZColumns(job);
  return mapSources(job, (s) => {
    const w = s as WireSource;
    return w.type === 'path' ? { ...w, path: Buffer.from(w.path, 'latin1') } : w;
  });
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
  /** The payloads stay in the worker under this id (held-results.ts); `pay` indexes its buffers, `bufs` is empty. */
  held?: number;
  inline?: Uint8Array;
  inlineRaw?: Uint8Array;
  fragment?: Uint8Array;
  totalBlocks: number;
  digest?: Uint8Array;
  raw?: Uint8Array;
  stored?: ZResult['stored'];
}

/**
 * `cols`, from `at`: room for the result's columns (8 numbers per extent). Every result of a job
 * result shares one array (views of it): structured clone makes one buffer per message on the
 * receiving side, where two typed arrays per result made two ArrayBuffers per file (bench corpus:
 * ~35,000 on the main thread, each a backing store for its GC to sweep).
 */
function packZ(z: ZResult, hold: boolean, cols: Float64Array, at: number): PackedZ {
  const n = z.extents.length;
  const ext = cols.subarray(at, at + 5 * n);
  const pay = cols.subarray(at + 5 * n, at + 8 * n);
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
  // Payloads in held chunks (files/held-chunks.ts) never cross: moving a chunk would take it from under other results.
  if (z.chunks?.length && !hold) throw new Error('a result in held chunks packed to cross threads');
  if (hold && bufs.length) {
    const held = holdBuffers(bufs, nSlabs);
    return { packed: true, ext, pay, bufs: [], nSlabs: 0, held, inline: z.inline, inlineRaw: z.inlineRaw, fragment: z.fragment, totalBlocks: z.totalBlocks, digest: z.digest, raw: z.raw, stored: z.stored };
  }
  return { packed: true, ext, pay, bufs, nSlabs, inline: z.inline, inlineRaw: z.inlineRaw, fragment: z.fragment, totalBlocks: z.totalBlocks, digest: z.digest, raw: z.raw, stored: z.stored };
}

function unpackZ(w: PackedZ, worker: number): ZResult {
  const z: ZResult = { extents: [], cols: w.ext, payloads: [], totalBlocks: w.totalBlocks };
  if (w.held !== undefined) {
    // Its payloads stay in the worker: the extents stay columns (ZResult.cols), placed and indexed so.
    if (worker < 0) throw new Error('a held result from no worker');
    z.held = { worker, id: w.held, pay: w.pay };
  } else {
    const n = extentsOf(z).length;
    const payloads = z.payloads;
    for (let i = 0; i < n; i++) {
      const k = w.pay[3 * i];
      if (k >= 0) payloads[i] = new Uint8Array(w.bufs[k], w.pay[3 * i + 1], w.pay[3 * i + 2]);
    }
    if (w.nSlabs) z.slabs = w.bufs.slice(0, w.nSlabs);
  }
  if (w.inline) z.inline = w.inline;
  if (w.inlineRaw) z.inlineRaw = w.inlineRaw;
  if (w.digest) z.digest = w.digest;
  if (w.fragment) z.fragment = w.fragment;
  if (w.raw) z.raw = w.raw;
  if (w.stored) {
    z.stored = w.stored;
    adoptEntryFd(w.stored.fd);
  }
  return z;
}

/** Every compression result inside a job result. */
function zResultsOf(res: JobResult): ZJobResult[] {
  if (res.kind === 'z') return [res];
  if (res.kind === 'zbatch') return res.outcomes.flatMap((o) => ('res' in o ? [o.res] : []));
  if (res.kind === 'zindexed') return res.results.filter((r): r is ZJobResult => r.kind === 'z');
  return [];
}

/**
 * A batch of small files' results as columns: per result 6 numbers (extent count, held id or -1,
 * total blocks, and the lengths of its inline, inlineRaw and digest bytes, -1 for none), the
 * extents' columns as packZ lays them, and those bytes back to back. Structured clone of a few
 * objects per file (the outcome, the result, PackedZ with its two views) cost the main thread
 * ~8 us per file to deserialize; this is three arrays per batch. Only for results with nothing else
 * (no payload buffers crossing, cache fields, fragments or raw bytes); a batch with any other
 * outcome crosses as objects.
 */
export interface ZBatchResultColumns {
  kind: 'zbatch-columns';
  heads: Float64Array;
  cols: Float64Array;
  bytes: Uint8Array;
}

/** What crosses back from a worker. */
export type WireResult = JobResult | ZBatchResultColumns;

const ZHEAD = 6;

/** A packed result the batch columns can carry (see ZBatchResultColumns). */
function columnable(r: ZJobResult): boolean {
  const z = r.z as ZResult | PackedZ;
  return 'packed' in z && z.bufs.length === 0 && !z.fragment && !z.raw && !z.stored && !z.digest
    && r.cache === undefined && r.entry === undefined && !r.indexed;
}

function toBatchColumns(res: Extract<JobResult, { kind: 'zbatch' }>, cols: Float64Array): ZBatchResultColumns | undefined {
  const n = res.outcomes.length;
  let nbytes = 0;
  for (const o of res.outcomes) {
    if (!('res' in o) || !columnable(o.res)) return undefined;
    const z = o.res.z as unknown as PackedZ;
    nbytes += (z.inline?.length ?? 0) + (z.inlineRaw?.length ?? 0) + (o.res.digest?.length ?? 0);
  }
  const heads = new Float64Array(ZHEAD * n);
  const bytes = new Uint8Array(nbytes);
  let at = 0;
  const put = (b: Uint8Array | undefined): number => {
    if (!b) return -1;
    bytes.set(b, at);
    at += b.length;
    return b.length;
  };
  for (let i = 0; i < n; i++) {
    const r = (res.outcomes[i] as { res: ZJobResult }).res;
    const z = r.z as unknown as PackedZ;
    const h = ZHEAD * i;
    heads[h] = z.ext.length / 5;
    heads[h + 1] = z.held ?? -1;
    heads[h + 2] = z.totalBlocks;
    heads[h + 3] = put(z.inline);
    heads[h + 4] = put(z.inlineRaw);
    heads[h + 5] = put(r.digest);
  }
  return { kind: 'zbatch-columns', heads, cols, bytes };
}

function fromBatchColumns(c: ZBatchResultColumns, worker: number): JobResult {
  const { heads, cols, bytes } = c;
  const n = heads.length / ZHEAD;
  const outcomes: BatchOutcome[] = new Array(n);
  let at = 0;
  let bat = 0;
  const take = (len: number): Uint8Array | undefined => {
    if (len < 0) return undefined;
    const v = bytes.subarray(bat, bat + len);
    bat += len;
    return v;
  };
  for (let i = 0; i < n; i++) {
    const h = ZHEAD * i;
    const m = heads[h];
    const w: PackedZ = {
      packed: true, ext: cols.subarray(at, at + 5 * m), pay: cols.subarray(at + 5 * m, at + 8 * m), bufs: [], nSlabs: 0,
      totalBlocks: heads[h + 2], inline: take(heads[h + 3]), inlineRaw: take(heads[h + 4]),
    };
    if (heads[h + 1] >= 0) w.held = heads[h + 1];
    at += 8 * m;
    const digest = take(heads[h + 5]);
    const r: ZJobResult = { kind: 'z', z: unpackZ(w, worker) };
    if (digest) r.digest = digest;
    outcomes[i] = { res: r };
  }
  return { kind: 'zbatch', outcomes };
}

/** A worker's result made ready to post (compression results packed, see PackedZ); changes `res`. */
export function packResult(res: JobResult): WireResult {
  const rs = zResultsOf(res);
  let total = 0;
  for (const r of rs) total += 8 * r.z.extents.length;
  const cols = new Float64Array(total);
  let at = 0;
  for (const r of rs) {
    const n = r.z.extents.length;
    (r as { z: ZResult | PackedZ }).z = packZ(r.z, !!r.hold, cols, at);
    at += 8 * n;
    delete r.hold;
  }
  return (res.kind === 'zbatch' && toBatchColumns(res, cols)) || res;
}

/** The inverse of packResult, on the receiving thread; `worker`: the index of the worker it came from (held results name it). */
export function unpackResult(res: WireResult, worker = -1): JobResult {
  if (res.kind === 'zbatch-columns') return fromBatchColumns(res, worker);
  for (const r of zResultsOf(res)) {
    const z = r.z as ZResult | PackedZ;
    if ('packed' in z) r.z = unpackZ(z, worker);
  }
  return res;
}

/** Buffers a result can hand over without copying (before or after packResult). */
export function transferables(res: WireResult): ArrayBuffer[] {
  if (res.kind === 'zbatch-columns') return [];
  if (res.kind === 'copy') return [res.tails.buffer, res.digests?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  if (res.kind === 'hash' || res.kind === 'kcopy' || res.kind === 'hwrite') return [];
  if (res.kind === 'vleaves') return res.digests.buffer instanceof ArrayBuffer ? [res.digests.buffer] : [];
  if (res.kind === 'list') return res.done.map(([, l]) => l.num.buffer as ArrayBuffer);
  const out = new Set<ArrayBuffer>();
  const results = res.kind === 'zindexed' ? res.results
    : res.kind === 'zbatch' ? res.outcomes.flatMap((o) => ('res' in o ? [o.res] : [])) : [res];
  for (const r of results) {
    if (r.kind !== 'z') continue;
    const z = r.z as ZResult | PackedZ;
    if (z.raw && z.raw.buffer instanceof ArrayBuffer) out.add(z.raw.buffer);
    if ('packed' in z) {
      for (const b of z.bufs) if (b instanceof ArrayBuffer) out.add(b);
      continue;
    }
    for (const p of z.payloads) if (p && p.buffer instanceof ArrayBuffer) out.add(p.buffer);
    for (const b of z.slabs ?? []) out.add(b);
  }
  return [...out];
}
