// Prefetching the work of regular files: hash and compression jobs are submitted ahead of the writer,
// in the writer's order, within a bound on bytes in flight; the writer takes each file's results when
// it reaches the file.
import { SEGMENT_SIZE, type JobResult, type ZJob, type ZJobParams, type ZJobResult, type IndexedSegment } from './job-types.js';
import { jobError, type JobPool } from './pool.js';
import { dataOf, FilePaths, pathOf, type DataSource, type Inode } from '../../source/tree.js';
import * as fs from 'node:fs';
import type { Plan } from '../plan/plan.js';
import { DirDone } from '../plan/visit-order.js';
import { compressChoiceOf } from '../plan/compress-hints.js';
import type { BuildOptions } from '../options.js';
import { mayBeWorthCompressing, type ZParams, type ZResult } from '../files/zfile.js';
import { digestAlgorithm } from '../../fingerprint/compute.js';
import { CacheIndex, optionsKey, type IndexEntry, type Rec } from '../cache/cache-index.js';
import { entryHasIdentity, imageHead, resultOfHead } from '../cache/cache.js';
import { OldImageReader, trustedImage, type OldImage } from '../cache/old-image.js';
import { FlatIndex, type FlatPlace } from '../cache/flat-index.js';
import { ISLOT_SIZE } from '../../format/constants.js';

/** Every this many files laid out from index heads, the writer checks one entry's identity itself (see fromHead). */
const HEAD_PROBE_EVERY = 64;

let headLayouts = 0;
let imageLayouts = 0;
/** Segments this thread laid out from the old image's addresses, their pclusters copied from it (tests). */
export function segmentsFromImage(): number {
  return imageLayouts;
}
/** Segments this thread laid out from index heads, their pclusters copied unread (tests). */
export function segmentsFromHeads(): number {
  return headLayouts;
}

/** Segments whose entry a build found missing or damaged (and wrote anew), by key: see FileJobQueue.count. */
export type CacheOutcomes = Map<string, { cache: 'absent' | 'damaged'; indexed: boolean }>;

/** A flat file whose bytes the old image holds (FileJobQueue.flatInImage). */
export interface FlatInImage {
  at: FlatPlace;
  image: OldImage;
  reader: OldImageReader;
}

/** A flat file the writer placed: its record is made once its inode has its address (dirWritten). */
interface FlatPlaced {
  p: Inode;
  blockAt: number;
  part: number;
  /** Bytes of its inode and xattrs: an inline tail follows them. */
  inodeEnd: number;
}

export interface FileJobs {
  hash?: Promise<Uint8Array>;
  /** A file of one segment: its result. */
  segs?: Promise<ZResult>[];
  /** A file of several segments: their results one after another (see SegmentStream). */
  stream?: SegmentStream;
  /** --cache: the file's options key and path in the stat index, to note where the writer places it (FileJobQueue.placed). */
  rec?: { opts: string; path: string; img?: string };
}

/**
 * The segments of a multi-segment file, submitted a few ahead of the one the writer takes, so a
 * file of any size holds at most `ahead` segments in memory (a 10 GiB file once held all 640).
 */
export class SegmentStream {
  private sent = 0;
  private readonly pending = new Map<number, Promise<ZResult>>();

  constructor(
    readonly count: number,
    private readonly submit: (i: number) => Promise<ZResult>,
    private readonly ahead: number,
    /** Called after submitting, before the writer waits (a partial batch of fetches must go out). */
    private readonly flush: () => void,
    /** Called as the writer takes segment i (FileJobQueue counts the segments in flight). */
    private readonly taken?: (i: number) => void,
  ) {
    this.fill(0);
  }

  private fill(i: number): void {
    const to = Math.min(this.count, i + this.ahead);
    while (this.sent < to) {
      this.pending.set(this.sent, this.submit(this.sent));
      this.sent++;
    }
  }

  /** Segment i's result; segments are taken in order, each once. */
  get(i: number): Promise<ZResult> {
    this.fill(i + 1);
    const pr = this.pending.get(i)!;
    this.pending.delete(i);
    this.taken?.(i);
    this.flush();
    return pr;
  }
}

/**
 * Segments of a multi-segment file submitted ahead of the writer: one per worker (the next is sent
 * as the writer takes one). One more held another segment's result (up to 16 MiB) at the peak of a
 * build, which comes with the big files (bench corpus, -zlz4: peak 262-265 -> 244-245 MiB with the
 * pool's KEEP_BYTES halved).
 *
 * With -E dedupe one: the writer, which matches every segment against the pclusters written before
 * and compresses again the steps that moved, is the slower side (bench corpus, -zlz4hc, 2 workers:
 * 5.5 s of CPU on the main thread, 2.5-2.9 s on each worker), and a second segment's result waited
 * in the worker's message queue for it: ~10 MiB of pclusters at the peak.
 */
const segmentsAhead = (workers: number, dedupe: boolean) => (dedupe ? 1 : workers);

/** Input bytes of compression jobs in flight (their results are held until written); cached entry bytes for indexed files. */
const MAX_INFLIGHT_BYTES = 16 << 20;
/** Files in flight, whatever their size. */
const MAX_INFLIGHT_FILES = 256;
/**
 * The bounds while the scan and the plan go on (the writer takes nothing yet): what the workers do
 * meanwhile is held until the writer starts. Measured on the bench corpus (-zlz4, 2 workers, loaded
 * machine): 16 MiB let 9-18 MiB be compressed before the writer started, 48 MiB 36-37 MiB, peak RSS
 * the same (292-316 MiB either way: the peak comes at the end of the build, not here).
 */
const SCAN_INFLIGHT_BYTES = 48 << 20;
const SCAN_INFLIGHT_FILES = 1024;
/** Indexed segments fetched per worker round trip, at most (and at most this many entry bytes). */
const BATCH_SEGS = 64;
const BATCH_BYTES = 4 << 20;

/**
 * Files at most this big are compressed in batches ('zbatch' jobs) of up to Z_BATCH_FILES / Z_BATCH_BYTES.
 * A batch is a message each way, which wakes a thread: 64 files / 2 MiB instead of 32 / 1 MiB halved
 * them (bench corpus, -zlz4, 2 workers: ~250 -> ~140 batches; main thread CPU 607 -> 579 ms, mean of 4
 * on a loaded machine; total CPU 2.55 -> 2.50 s).
 */
const Z_SMALL = 256 << 10;
const Z_BATCH_FILES = 64;
const Z_BATCH_BYTES = 2 << 20;

type Miss = { kind: 'miss'; miss: 'absent' | 'damaged' };

/** Stands for the per-file lists of what the stat index learns, without one: never written to. */
const NO_LIST: never[] = Object.freeze([]) as unknown as never[];

/**
 * Items gathered for one worker round trip ('zbatch': small files' jobs; 'zindexed': segments the
 * stat index knows). Each item's promise settles with its own outcome when the trip returns.
 */
class Gathered<I, R> {
  readonly items: I[] = [];
  readonly settle: { resolve: (r: R) => void; reject: (e: Error) => void }[] = [];
  /** The files with items here: the writer reaching one of them sends the trip at once. */
  readonly files = new Set<Inode>();
  bytes = 0;

  add(item: I, p: Inode, bytes: number): Promise<R> {
    const pr = new Promise<R>((resolve, reject) => this.settle.push({ resolve, reject }));
    this.items.push(item);
    this.files.add(p);
    this.bytes += bytes;
    return pr;
  }

  /** Settle every item from the trip's outcome: one result or error per item, or the trip's error. */
  settleWith(trip: Promise<(R | Error)[]>): void {
    trip.then(
      (rs) => rs.forEach((r, i) => (r instanceof Error ? this.settle[i].reject(r) : this.settle[i].resolve(r))),
      (e: Error) => { for (const s of this.settle) s.reject(e); },
    );
  }
}

export class FileJobQueue {
  /**
   * The files with jobs, in the writer's order: found by the scan one by one, or taken from the plan.
   * Those before `taken` are let go (undefined) once the writer has taken them, so that a written
   * inode is not kept to the end of the build by this list.
   */
  private files: (Inode | undefined)[] = [];
  private next = 0;
  private taken = 0;
  /** `batched`: segments fetched through 'zindexed' jobs. */
  private readonly inflight = new Map<Inode, { jobs: FileJobs; bytes: number; batched: number }>();
  private bytes = 0;
  /** --cache: segments reused (of which found through the stat index), missing, damaged. */
  readonly cacheStats = { hit: 0, indexed: 0, absent: 0, damaged: 0 };
  private readonly index?: CacheIndex;
  private readonly optsKey: string = '';
  private readonly params?: ZJobParams;
  /** --compress-hints: per-file parameters and their index keys, one object per (pcluster, algorithm). */
  private choice?: Plan['zChoice'];
  private readonly hinted = new Map<string, { params: ZJobParams; optsKey: string }>();
  private batch = new Gathered<IndexedSegment, ZJobResult | Miss>();
  private zbatch = new Gathered<ZJob, ZJobResult>();
  /** Files whose entries the index learns once their jobs are done. */
  private readonly recording: Promise<void>[] = [];
  /** Indexed segments sent to workers whose files the writer has not taken yet. */
  private sentAhead = 0;
  /** The fingerprint's digest, for every non-empty regular file (plan/xattrs.ts gatherXattrs stamps them all). */
  private readonly algo?: 'sha256' | 'blake3';
  /** Files may be found by the scan (compressed images; compress hints are matched as each is found). */
  readonly takesScan: boolean;
  /** --compress-hints: the choices of files found by the scan, until the plan's (the same) are known. */
  private scanChoice?: NonNullable<Plan['zChoice']>;
  private scanFed = false;
  private isPlanned = false;
  /**
   * Compression results stay in their workers, which write them once the writer has placed them
   * (held-results.ts): not where the writer needs the bytes (dedupe keys and -E dedupe, fragments),
   * nor with a cache (its entries come from files, see ZResult.stored).
   */
  private readonly hold: boolean;

  /**
   * `zp`: the image's compression parameters (imageZParams), undefined for an uncompressed image.
   * `heads`: files the index keeps an entry layout for are laid out from it (see fromHead); false
   * when a build starts over because an entry was found changed (build.ts).
   */
  constructor(private readonly o: BuildOptions, private readonly pool: JobPool, readonly zp?: ZParams, heads = true,
    private readonly earlier?: CacheOutcomes, oldImage = false) {
    this.algo = o.fingerprint ? digestAlgorithm(o.fingerprint) : undefined;
    this.takesScan = !!zp;
    this.hold = !!zp && !o.compression!.dedupe && !zp.fragments && !o.cacheDir;
    if (zp) {
      this.params = { codec: o.compression!.codec, blockSize: zp.blockSize, pclusterSize: zp.pclusterSize, big: zp.big, ztailpacking: zp.ztailpacking,
        ...(zp.maxExtent !== undefined ? { maxExtent: zp.maxExtent } : {}),
        ...(zp.fragments ? { fragments: zp.allFragments ? 'all' as const : 'tail' as const } : {}),
        ...(zp.interlaced ? { interlaced: true } : {}),
        ...(o.compression!.dedupe ? { dedupe: true } : {}),
        // The codec is made for the image's largest pcluster (its window or dictionary then matches the config record).
        ...(zp.codecPcluster !== undefined && zp.codecPcluster !== zp.pclusterSize ? { codecPcluster: zp.codecPcluster } : {}) };
      if (o.cacheDir) {
        this.index = CacheIndex.load(o.cacheDir);
        this.optsKey = optionsKey({ ...this.params, segment: SEGMENT_SIZE });
        // Pclusters are left in entries only where the writer needs no bytes of them (see flush).
        this.heads = heads && !this.params.dedupe && !this.params.fragments;
        // The old image, when the index's addresses are its own and it is still as recorded (old-image.ts).
        if (this.heads && oldImage) this.image = trustedImage(o.cacheDir, this.index.imageToken);
        // Flat files' places, for the old image of that token (none without one: every flat file then
        // copied from the source, its place noted for the next build).
        if (!this.algo && !o.tarIndex) this.flatIndex = FlatIndex.load(o.cacheDir, this.image ? this.index.imageToken : undefined);
      }
    }
  }

  // Files of one directory come together: its path is made once for all of them.
  private readonly paths = new FilePaths();

  /** Whether regular file `p` gets jobs here (compress hints known, see planned). */
  private wants(p: Inode): boolean {
    if (p.kind !== 'reg' || p.size === 0) return false;
    // Flat files are copied by workers once their blocks are allocated (see the writer), not here;
    // so are files too small to gain from compression, which the writer would store flat anyway.
    if (!this.zp || !mayBeWorthCompressing(p.size, this.zp)) return false;
    // A compress hint of pcluster size 0: stored uncompressed.
    return this.choiceOf(p)?.pclusterSize !== 0;
  }

  private choiceOf(p: Inode): { pclusterSize: number; algorithm: number } | undefined {
    return this.choice ? this.choice.get(p) : this.scanChoice?.get(p);
  }

  /**
   * The scan found regular file `p` at its first name, in visit order (the writer's): its jobs start
   * now, within the bounds in flight, while the walk and the plan go on. Its compressed bytes do not
   * depend on the layout; where they go is decided when the writer takes them.
   */
  found(p: Inode): void {
    if (!this.takesScan) return;
    if (this.o.compression?.hints?.length && p.kind === 'reg') (this.scanChoice ??= new Map()).set(p, compressChoiceOf(p, this.o));
    if (!this.wants(p)) return;
    this.scanFed = true;
    this.files.push(p);
    this.pump();
  }

  /**
   * The plan is made: the files in its visit order. Those found by the scan must be exactly these (the
   * scan walks in the same order); otherwise, the plan's list is taken as it is.
   */
  planned(plan: Plan): void {
    this.choice = plan.zChoice;
    this.scanChoice = undefined;
    const files: Inode[] = [];
    for (const s of plan.steps) {
      if (s instanceof DirDone) continue;
      // Steps hold each inode once (hard links included).
      if (this.wants(s)) files.push(s);
      if (s.kind === 'reg' && s.size > 0 && !!s.ibody?.fingerprint !== !!this.algo) throw new Error(`${pathOf(s)}: fingerprint planned otherwise than its jobs hash`);
    }
    if (this.scanFed) {
      const same = files.length === this.files.length && files.every((p, i) => p === this.files[i]);
      if (!same) throw new Error('the scan found regular files in another order than the plan visits them');
    } else {
      this.files = files;
    }
    this.isPlanned = true;
    this.pump();
  }

  /** A file's compression parameters: the image's, or those its compress hint gives. */
  private paramsOf(p: Inode): { params: ZJobParams; optsKey: string } {
    const c = this.choiceOf(p);
    if (!c) return { params: this.params!, optsKey: this.optsKey };
    const k = `${c.pclusterSize}:${c.algorithm}`;
    let h = this.hinted.get(k);
    if (!h) {
      const comp = this.o.compression!;
      const codec = c.algorithm === 0 ? comp.codec : comp.alternatives![c.algorithm - 1];
      const params: ZJobParams = { ...this.params!, codec, pclusterSize: c.pclusterSize, codecPcluster: this.zp!.codecPcluster ?? this.zp!.pclusterSize };
      h = { params, optsKey: this.index ? optionsKey({ ...params, segment: SEGMENT_SIZE }) : '' };
      this.hinted.set(k, h);
    }
    return h;
  }

  /**
   * Submit the jobs of the next files within the bounds. `force`: file `force` is the writer's next
   * and gets its jobs now, whatever is in flight (see take).
   */
  private pump(force?: Inode): void {
    const maxFiles = this.isPlanned ? MAX_INFLIGHT_FILES : SCAN_INFLIGHT_FILES;
    const maxBytes = this.isPlanned ? MAX_INFLIGHT_BYTES : SCAN_INFLIGHT_BYTES;
    // The segments of a long file the writer is taking count (see `bytes`): no file is submitted
    // beyond the bound meanwhile, unless it is the one the writer asks for.
    while (this.files.length && this.next < this.files.length && this.inflight.size < maxFiles
      && (this.bytes < maxBytes || this.files[this.next] === force)) {
      const p = this.files[this.next++]!;
      const path = this.paths.of(p);
      // Most of a rebuild: an unchanged file whose layout the index keeps (see fromImage, fromHead).
      if (this.heads && p.statId !== undefined && !p.data) {
        const jobs = (this.image && this.fromImage(p, path, p.statId)) || this.fromHead(p, path, p.statId);
        if (jobs) {
          this.inflight.set(p, { jobs, bytes: 0, batched: 0 });
          continue;
        }
      }
      const jobs: FileJobs = {};
      // The source is made only for a job that reads it: a file the stat index knows needs none
      // unless its entry turns out missing (a --cache rebuild made a path Buffer per file for nothing).
      let src: DataSource | undefined;
      const srcOf = (): DataSource => (src ??= dataOf(p));
      const fromPath = !p.data;
      const algo = this.algo;
      // The stat index: a file unchanged since it was recorded needs no read and no hash.
      // Not with -E dedupe: the writer needs every segment's bytes, which an indexed fetch does not read.
      const statId = this.index && fromPath && !this.params!.dedupe ? p.statId : undefined;
      const { params, optsKey } = this.paramsOf(p);
      const found = statId === undefined ? undefined : this.index!.lookup(optsKey, path, statId);
      const known: IndexEntry | undefined = found && (!algo || found.digests[algo]) && found.keys.length === Math.ceil(p.size / SEGMENT_SIZE) ? found : undefined;
      if (known && p.size <= SEGMENT_SIZE) {
        // Most of a rebuild: one promise and one callback per file (see indexedOne).
        const one = this.indexedOne(p, path, statId!, optsKey, params, known);
        one.rec = { opts: optsKey, path };
        this.inflight.set(p, { jobs: one, bytes: known.bytes[0], batched: 1 });
        this.bytes += known.bytes[0];
        continue;
      }
      const pathSrc = fromPath && p.size > SEGMENT_SIZE ? srcOf() : undefined;
      if (pathSrc?.type === 'path') {
        // Several jobs read this file: pin its ctime so all of them see the same bytes.
        try {
          pathSrc.ctimeNs = fs.statSync(pathSrc.path, { bigint: true }).ctimeNs;
        } catch { /* the jobs report the missing file */ }
      }
      // A file of one segment is hashed by its compression job from the very bytes it compresses, so
      // its fingerprint and its data always agree; larger files get a separate hash job.
      const oneSegment = p.size <= SEGMENT_SIZE;
      const knownDigest = known && algo ? new Uint8Array(Buffer.from(known.digests[algo]!, 'hex')) : undefined;
      if (algo && !oneSegment) {
        jobs.hash = knownDigest ? Promise.resolve(knownDigest)
          : handled(this.pool.run({ kind: 'hash', src: srcOf(), path, size: p.size, algo }).then((r: JobResult) => (r as { digest: Uint8Array }).digest));
      }
      const nSegs = Math.ceil(p.size / SEGMENT_SIZE);
      // What the stat index learns of the file: only with one (most builds make none of these per file).
      const recording = statId !== undefined;
      const keys: (string | undefined)[] = recording ? [] : NO_LIST;
      const sizes: number[] = recording ? [] : NO_LIST;
      const ids: (string | undefined)[] = recording ? [] : NO_LIST;
      let head: string | undefined;
      /** Each segment's completion (not its result: a long file's results must not stay referenced here). */
      const all: Promise<unknown>[] = recording ? [] : NO_LIST;
      const submit = (i: number): Promise<ZResult> => {
        const start = i * SEGMENT_SIZE;
        const length = Math.min(SEGMENT_SIZE, p.size - start);
        // A file of one segment read from its path: the worker makes its source from the path and
        // the scanned mtime (ZJob.src); a Buffer and three BigInts per file were made here for it.
        const job = (): ZJob => (oneSegment && fromPath ? {
          kind: 'z', path, mtimeSec: p.mtimeSec, mtimeNsec: p.mtimeNsec, size: p.size, start, length, algo,
          params, cacheDir: this.o.cacheDir, hold: this.hold,
        } : {
          kind: 'z', src: srcOf(), path, size: p.size, start, length, algo: oneSegment ? algo : undefined,
          params, cacheDir: this.o.cacheDir, hold: this.hold,
        });
        // A fetch for a file the writer has already taken is not "sent ahead" (see flush).
        if (known && !this.inflight.has(p) && i >= ahead) this.sentAhead--;
        const pr = known ? this.indexed({ key: known.keys[i], bytes: known.bytes[i], start, ...(known.ids[i] ? { id: known.ids[i] } : {}) }, job, p)
          : p.size <= Z_SMALL ? this.batched(job(), p) : this.pool.run(job()) as Promise<ZJobResult>;
        const z = handled(pr.then((res) => {
          this.count(res);
          if (res.digest) res.z.digest = res.digest;
          if (recording) {
            keys[i] = res.entry?.key;
            sizes[i] = res.entry?.bytes ?? 0;
            ids[i] = res.entry?.id;
            if (nSegs === 1) head = res.entry?.head;
          }
          return res.z;
        }));
        if (!recording) return z;
        // A failed segment is reported where the writer awaits it; its file is then not recorded.
        all.push(z.then(() => undefined, () => undefined));
        // Once every segment has its entry (and the file its digest), the index learns them.
        if (all.length === nSegs) {
          // jobs.hash is looked at once the segments are done (a one-segment file's is set after this).
          this.recording.push(Promise.all(all).then(() => jobs.hash).then((digest) => {
            if (keys.length !== nSegs || keys.some((k) => k === undefined)) return;
            this.index!.record(optsKey, path, statId, keys as string[], sizes, algo && digest ? { [algo]: Buffer.from(digest).toString('hex') } : {}, ids, head);
          }).catch(() => {}));
        }
        return z;
      };
      // In flight for this file: its segments submitted ahead (all of a one-segment file). Those of a
      // longer file count from when each is submitted until the writer takes it, not only until it
      // takes the file: the next files' results, held meanwhile behind all its segments, were
      // another 16 MiB of input at the peak of a build, with the big files.
      const ahead = nSegs === 1 ? 1 : segmentsAhead(this.pool.size, !!params.dedupe);
      let bytes = 0;
      if (nSegs === 1) {
        bytes = known ? known.bytes[0] : p.size;
        if (recording) jobs.rec = { opts: optsKey, path };
        jobs.segs = [submit(0)];
        if (algo) jobs.hash = handled(jobs.segs[0].then((z) => z.digest ?? knownDigest!));
      } else {
        const segBytes = (i: number): number => (known ? known.bytes[i] : Math.min(SEGMENT_SIZE, p.size - i * SEGMENT_SIZE));
        jobs.stream = new SegmentStream(nSegs, (i) => {
          this.bytes += segBytes(i);
          return submit(i);
        }, ahead, () => {
          if (this.batch.files.has(p)) this.flush();
        }, (i) => {
          this.bytes -= segBytes(i);
          this.pump();
        });
      }
      this.inflight.set(p, { jobs, bytes, batched: known ? Math.min(nSegs, ahead) : 0 });
      this.bytes += bytes;
    }
    // A partial batch goes out only when the writer is about to run out of segments sent ahead:
    // otherwise fetches would go one by one, each with a round trip, as workers outpace the writer.
    // Not while the scan goes on: the writer takes nothing yet, and a cached rebuild's first 64
    // files went out as 64 round trips of one segment each (the plan sends what is left).
    if (this.batch.items.length && this.sentAhead < BATCH_SEGS && this.isPlanned) this.flush();
    // Likewise a partial batch of small files, when the workers are about to run dry.
    if (this.zbatch.items.length && this.pool.backlog() < 2 * this.pool.size) this.flushZ();
  }

  /**
   * The jobs of an unchanged file of one segment the stat index knows: its entry fetched in the next
   * batch; its result counted, and its record carried over, in the one callback that hands the writer
   * its ZResult. The general path (submit) chained eight promises and four closures per file for the
   * same outcome (bench corpus: 6,400 such files of 17,219).
   */
  private indexedOne(p: Inode, path: string, statId: string, optsKey: string, params: ZJobParams, known: IndexEntry): FileJobs {
    const algo = this.algo;
    const id = known.ids[0];
    const seg: IndexedSegment = id ? { key: known.keys[0], bytes: known.bytes[0], start: 0, id } : { key: known.keys[0], bytes: known.bytes[0], start: 0 };
    this.pendingRecords++;
    const done = (res: ZJobResult): ZResult => {
      this.count(res);
      if (res.digest) res.z.digest = res.digest;
      const e = res.entry;
      // The digest the index vouched for, or the one computed from the bytes just compressed.
      const hex = algo ? (res.digest ? Buffer.from(res.digest).toString('hex') : known.digests[algo]) : undefined;
      if (e) this.index!.recordOne(optsKey, path, statId, e.key, e.bytes, algo && hex ? { [algo]: hex } : {}, e.id, e.head);
      this.recorded();
      return res.z;
    };
    const failed = (err: Error): never => {
      this.recorded();
      throw err;
    };
    const z = handled(this.batch.add(seg, p, seg.bytes).then((r): ZResult | Promise<ZResult> => {
      if (r.kind === 'z') return done(r);
      // The entry is gone or damaged: compressed again from the source, as if there were no index.
      const job: ZJob = { kind: 'z', src: dataOf(p), path, size: p.size, start: 0, length: p.size, algo, params, cacheDir: this.o.cacheDir };
      return (this.pool.run(job) as Promise<ZJobResult>).then((res) => done(r.miss === 'damaged' ? { ...res, cache: 'damaged' } : res));
    }).then(undefined, failed));
    if (this.batch.items.length >= BATCH_SEGS || this.batch.bytes >= BATCH_BYTES) this.flush();
    const jobs: FileJobs = { segs: [z] };
    if (algo) {
      const digest = new Uint8Array(Buffer.from(known.digests[algo]!, 'hex'));
      jobs.hash = handled(z.then((zr) => zr.digest ?? digest));
    }
    return jobs;
  }

  /**
   * An unchanged file of one segment whose entry layout the index keeps (with the identity the entry
   * had when a build verified it): its result made here, without a round trip to a worker, its
   * pclusters left in the entry for the copy job, which opens the entry and checks that identity
   * first (a changed entry makes the build start over without layouts: build.ts). Its record is
   * carried over as loaded.
   */
  private fromHead(p: Inode, path: string, statId: string): FileJobs | undefined {
    const optsKey = this.optsKeyOf(p);
    const r = this.index!.peekHead(optsKey, path, statId);
    if (!this.layable(p, r)) return undefined;
    const key = r.keys;
    const id = r.ids;
    // A cache copied or restored whole (every entry another inode) is found here, before any layout
    // depends on it: heads are then not used for the rest of the build (their entries are fetched and
    // checked as before). An entry changed otherwise is found by the copy job (the build starts over).
    if (this.headFiles++ % HEAD_PROBE_EVERY === 0 && !entryHasIdentity(this.o.cacheDir!, key, id)) {
      this.heads = false;
      return undefined;
    }
    const z = resultOfHead(r.heads, key, id);
    if (!z) return undefined;
    headLayouts++;
    return this.laidOut(r, z, { opts: optsKey, path });
  }

  private optsKeyOf(p: Inode): string {
    return this.choiceOf(p) ? this.paramsOf(p).optsKey : this.optsKey;
  }

  /** A one-segment file can be laid out from record `r` (fromHead, fromImage): it has the digest the build stamps. */
  private layable(p: Inode, r: Readonly<Rec> | undefined): r is Readonly<Rec> {
    return !!r && (!this.algo || !!r[this.algo]) && p.size <= SEGMENT_SIZE;
  }

  /** A file laid out here from its record (fromHead, fromImage): counted, the record kept as loaded, the digest the record's. */
  private laidOut(r: Readonly<Rec>, z: ZResult, rec: NonNullable<FileJobs['rec']>): FileJobs {
    this.cacheStats.hit++;
    this.cacheStats.indexed++;
    this.index!.keep(rec.opts, rec.path, r);
    const jobs: FileJobs = { segs: [Promise.resolve(z)], rec };
    if (this.algo) jobs.hash = Promise.resolve(new Uint8Array(Buffer.from(r[this.algo]!, 'hex')));
    return jobs;
  }

  /**
   * An unchanged file of one segment whose place in the old image the index keeps: its result made
   * here, its pclusters copied from the old image (the copy job opens it and checks its identity
   * first; a changed image makes the build start over without it: build.ts). Its record is carried
   * over as loaded.
   */
  private fromImage(p: Inode, path: string, statId: string): FileJobs | undefined {
    const optsKey = this.optsKeyOf(p);
    const r = this.index!.peekImage(optsKey, path, statId);
    if (!this.layable(p, r)) return undefined;
    const z = resultOfHead(r.img, this.image!);
    if (!z) return undefined;
    imageLayouts++;
    return this.laidOut(r, z, { opts: optsKey, path, img: r.img });
  }

  /** The old image pclusters of unchanged files are copied from (old-image.ts), if trusted. */
  private image?: OldImage;

  /** The writer placed file `f`'s pclusters (of one segment) in this build's image: the index learns where. */
  placed(f: FileJobs, z: ZResult, blockSize: number): void {
    if (!f.rec || !this.index) return;
    // Laid out from the old image and placed at the same address, side by side (most of an unchanged
    // rebuild): the old image's head holds (no string made per file).
    const old = f.rec.img;
    const xs = z.extents;
    if (old && xs.length && old.startsWith(`h1:${z.totalBlocks}:${xs[0].blkaddr * blockSize}:${blockSize}:`)
      && xs[xs.length - 1].blkaddr + xs[xs.length - 1].blocks - xs[0].blkaddr === z.totalBlocks && !z.inline && !z.inlineRaw && !z.fragment) {
      this.index.placed(f.rec.opts, f.rec.path, old);
      return;
    }
    const h = imageHead(z, blockSize);
    if (h) this.index.placed(f.rec.opts, f.rec.path, h);
  }

  /**
   * Flat file `p`, unchanged since a build placed it in the old image (same stat identity, see
   * flat-index.ts): where its bytes lie there, and the reader of the old image for its tail;
   * undefined otherwise (it is then copied from the source). Not with fingerprints (flat-index.ts
   * keeps no digests: such files are read and hashed).
   */
  flatInImage(p: Inode): FlatInImage | undefined {
    if (!this.flatIndex || !this.image || p.statId === undefined || p.data) return undefined;
    const at = this.flatIndex.get(p.statId);
    if (!at || at.part > p.size) return undefined;
    // Opened once, with the identity checked: an image changed since the build started is not read.
    if (this.reader === undefined) this.reader = OldImageReader.open(this.image) ?? null;
    if (!this.reader) return undefined;
    return { at, image: this.image, reader: this.reader };
  }

  private reader?: OldImageReader | null;
  /** --cache without fingerprints: flat files' places in the old image, and in this build's (flat-index.ts). */
  private flatIndex?: FlatIndex;
  /** Flat files placed, by directory (their inodes get addresses when it is written: dirWritten). */
  private readonly flats = new Map<Inode, FlatPlaced[]>();

  /**
   * The writer placed flat file `p`: `part` bytes in blocks from byte `blockAt`, the rest inline after
   * its inode and xattrs (`inodeEnd` bytes) or in a block of its own. Where its tail lies is known
   * once its directory is written (dirWritten).
   */
  placedFlat(p: Inode, blockAt: number, part: number, inodeEnd: number): void {
    if (!this.flatIndex || p.statId === undefined || p.data || !p.parent || !this.index!.trustsStat(p.statId)) return;
    let l = this.flats.get(p.parent);
    if (!l) this.flats.set(p.parent, (l = []));
    l.push({ p, blockAt: part ? blockAt : 0, part, inodeEnd });
  }

  /**
   * Directory `d` is written: its entries' inodes have their addresses, so the flat index learns
   * where the inline tails of its flat files lie (and lets go of their inodes).
   */
  dirWritten(d: Inode): void {
    const l = this.flats.get(d);
    if (!l) return;
    this.flats.delete(d);
    for (const f of l) {
      const p = f.p;
      // (A hard link's inode gets its address with its first directory's entries.)
      if (p.nid < 0) continue;
      this.flatIndex!.set(p.statId!, { blockAt: f.blockAt, part: f.part, tailAt: f.part < p.size ? p.nid * ISLOT_SIZE + f.inodeEnd : 0 });
    }
  }

  /** The old image's reader closed (the writer is done with it, or the build failed). */
  release(): void {
    this.reader?.close();
    this.reader = undefined;
  }

  /** The image token the saved index has ('' none): recorded with the image once it is in place (old-image.ts). */
  get imageToken(): string {
    return this.index?.savedToken ?? '';
  }

  private headFiles = 0;
  /** Files are laid out from index heads (see fromHead); turned off by a failed probe. */
  private heads = false;

  /** Entries this build found missing or damaged (and wrote anew), for a build that starts over (build.ts). */
  readonly outcomes: CacheOutcomes = new Map();

  /**
   * Count a segment's outcome. A build started over (build.ts) counts what the first attempt found
   * for an entry it wrote anew, where it would otherwise count that new entry as a hit.
   */
  private count(res: ZJobResult): void {
    const key = res.entry?.key;
    const was = key !== undefined ? this.earlier?.get(key) : undefined;
    if (was) {
      this.cacheStats[was.cache]++;
      if (was.indexed) this.cacheStats.indexed++;
      return;
    }
    if (res.cache) this.cacheStats[res.cache]++;
    if (res.indexed) this.cacheStats.indexed++;
    if (key !== undefined && (res.cache === 'absent' || res.cache === 'damaged')) this.outcomes.set(key, { cache: res.cache, indexed: !!res.indexed });
  }

  /** Files of indexedOne whose records are not settled yet; saveIndex waits for them. */
  private pendingRecords = 0;
  private allRecorded?: () => void;

  private recorded(): void {
    if (--this.pendingRecords === 0) this.allRecorded?.();
  }

  /** Queue a small file's compression job for a batched round trip; its outcome is its own. */
  private batched(job: ZJob, p: Inode): Promise<ZJobResult> {
    const pr = this.zbatch.add(job, p, job.length);
    if (this.zbatch.items.length >= Z_BATCH_FILES || this.zbatch.bytes >= Z_BATCH_BYTES) this.flushZ();
    return pr;
  }

  private flushZ(): void {
    const b = this.zbatch;
    this.zbatch = new Gathered();
    // A job that failed rejects its own file's promise only, with the error it would have had alone.
    const outcomes = this.pool.run({ kind: 'zbatch', jobs: b.items })
      .then((r) => (r as Extract<JobResult, { kind: 'zbatch' }>).outcomes);
    b.settleWith(outcomes.then((os) => os.map((x, i) => ('res' in x ? x.res : jobError(b.items[i], x.error, x.stack, x.user)))));
  }

  /**
   * Queue one indexed segment for a batched round trip. Its entry gone or damaged, the segment is
   * compressed again by `job` (the content-keyed path), as if there were no index.
   */
  private indexed(seg: IndexedSegment, job: () => ZJob, p: Inode): Promise<ZJobResult> {
    const pr = this.batch.add(seg, p, seg.bytes).then(async (r) => {
      if (r.kind === 'z') return r;
      const res = await this.pool.run(job()) as ZJobResult;
      return r.miss === 'damaged' ? { ...res, cache: 'damaged' as const } : res;
    });
    if (this.batch.items.length >= BATCH_SEGS || this.batch.bytes >= BATCH_BYTES) this.flush();
    return pr;
  }

  private flush(): void {
    const b = this.batch;
    this.batch = new Gathered();
    this.sentAhead += b.items.length;
    // Pclusters left in entry files are copied into the image unread: not where the writer needs
    // their bytes (dedupe keys, -E dedupe, fragments).
    const stored = !this.params!.dedupe && !this.params!.fragments;
    b.settleWith(this.pool.run({ kind: 'zindexed', cacheDir: this.o.cacheDir!, segs: b.items, stored })
      .then((r) => (r as Extract<JobResult, { kind: 'zindexed' }>).results));
  }

  /** The jobs of `p` (undefined when it needs none); frees its place for the next files. */
  take(p: Inode): FileJobs | undefined {
    this.pump(p);
    const f = this.inflight.get(p);
    if (!f) return undefined;
    // The writer needs this file now: its batch cannot wait to fill up.
    if (this.batch.files.has(p)) this.flush();
    if (this.zbatch.files.has(p)) this.flushZ();
    this.inflight.delete(p);
    this.bytes -= f.bytes;
    this.sentAhead -= f.batched;
    // Files sent and no longer in flight have been taken: the list need not hold them.
    while (this.taken < this.next && !this.inflight.has(this.files[this.taken]!)) this.files[this.taken++] = undefined;
    this.pump();
    return f.jobs;
  }

  /** At the end of a successful build: the stat index keeps what this build learned. */
  async saveIndex(): Promise<void> {
    if (!this.index) return;
    await Promise.all(this.recording);
    if (this.pendingRecords > 0) await new Promise<void>((r) => (this.allRecorded = r));
    this.release();
    // Every directory is written by now: the flat files left are those whose copies came back after
    // their directory was written (their inodes had addresses all along).
    for (const d of [...this.flats.keys()]) this.dirWritten(d);
    // New flat places are this image's: the index is saved under a new token, which they go with.
    if (this.flatIndex?.changed) this.index.touch();
    this.index.save();
    if (this.flatIndex?.changed || this.index.savedToken !== this.index.imageToken) this.flatIndex?.save(this.o.cacheDir!, this.index.savedToken);
  }
}

/**
 * Mark a prefetched job's promise as handled: if it fails before the writer reaches its file (a file
 * that disappeared, say), the failure is reported where the writer awaits it, not as an unhandled
 * rejection that kills the process and leaves the temp file behind.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
