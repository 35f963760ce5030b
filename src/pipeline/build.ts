// build(): scan the source, plan the layout, write the image atomically.
import * as path from 'node:path';
import * as fs from 'node:fs';
import { scanDirectory, type ScanOptions } from '../source/dir-scanner.js';
import { heapForTreeOf } from './heap-growth.js';
import { turbofanOffNow } from '../sys/turbofan.js';
import { walkThreadsFor } from '../source/dir-walk.js';
import type { Inode } from '../source/tree.js';
import { plan, type Plan } from './plan/plan.js';
import { DirDone } from './plan/visit-order.js';
import { flatDataLayout } from '../format/inode.js';
import { emit, type BuildStats } from './emit/emit.js';
import { ImageOutput } from './io/output.js';
import { JobPool, type JobPoolOptions } from './work/pool.js';
import { FileJobQueue, type CacheOutcomes } from './work/file-jobs.js';
import { imageZParams } from './emit/context.js';
import type { BuildOptions } from './options.js';
import { closeAllEntryFds } from './cache/entry-fds.js';
import { ENTRY_CHANGED } from './cache/cache.js';
import { recordImage } from './cache/old-image.js';
import type { TarScanOptions, TarScan } from '../source/tar.js';
import type { LeafHasher } from '../verity/tree.js';
import { sharedLeaves } from './work/leaf-share.js';

export interface BuildSource {
  /** A directory to scan. */
  dir?: string;
  /** A tar archive (plain, gzip, or zstd where Node has it), or '-' for stdin, as `build --tar`. */
  tar?: string;
  /** With `tar`: whiteout conversion, spool directory, name resolver... (build time: o.timestamp). */
  tarOptions?: TarScanOptions;
  /** An already scanned tree (tests). */
  tree?: Inode;
  excludePaths?: string[];
  excludeRegexes?: RegExp[];
  /** With `dir`: each inode as the scan makes it, with its path (ScanOptions.onInode): compression starts meanwhile. */
  onInode?: ScanOptions['onInode'];
  /** With `dir`: hard links become separate inodes (ScanOptions.hardDereference). */
  hardDereference?: boolean;
}

export interface BuildResult extends BuildStats {
  image: string;
  seconds: number;
}

/**
 * Called with the finished image's temp file before it is moved into place (used to seal it):
 * `fd` is open for reading and writing, the filesystem takes its first `bytes` bytes; `leaves`
 * hashes ranges of its blocks for a dm-verity tree on the build's worker threads. A throw aborts
 * the build and no image is written.
 */
export type BeforeCommit = (image: { fd: number; bytes: number; leaves: LeafHasher }) => Promise<void> | void;

/** `poolOptions`: the worker pool's (tests inject worker faults through it). */
export async function buildImage(image: string, source: BuildSource, o: BuildOptions, beforeCommit?: BeforeCommit, poolOptions?: JobPoolOptions): Promise<BuildResult> {
  const t0 = process.hrtime.bigint();
  // Our modules are loaded: the launcher's choice of TurboFan applies from here (sys/turbofan.ts).
  turbofanOffNow();
  // Workers start once the build proves big enough to need them (inlineBudgetFor): files found by the
  // walk with more work than the main thread does in their start-up time, a walk of many directories
  // (which lends them directories to list), or a plan with more. A small build runs its jobs here and
  // starts none. A tar archive bigger than the budget starts them now (their start-up overlaps its
  // scan; stdin's size is not known: likewise). A tar index has no file data to copy, hash or
  // compress: its workers would only cost their start-up. A --cache build starts one, and more once
  // files to compress queue up (JobPoolOptions.grow): a rebuild's unchanged files need only cache
  // fetches and kernel copies. Not with compress hints, whose idle workers list directories (build.ts
  // lends them to the walk).
  // A sealed build that only copies starts one worker too (as poolSizeFor's unsealed one), and the
  // others, if any, only for the seal's leaf digests (see buildWith's beforeCommit).
  const grow = (o.cacheDir !== undefined && !!o.compression && !o.compression.hints?.length) || (!!beforeCommit && copiesOnly(o));
  const budget = inlineBudgetFor(o);
  const defer = source.tar === undefined || tarBytes(source.tar) <= budget;
  const newPool = () => new JobPool(poolSizeFor(o, !!beforeCommit), { ...(defer ? { inlineBudget: budget } : {}), ...poolOptions, lazy: !!o.tarIndex, grow });
  let pool = newPool();
  // --cache: warnings said once, should the build start over (below).
  const said = new Set<string>();
  const once = o.cacheDir === undefined ? o : { ...o, warn: (m: string) => { if (!said.has(m)) { said.add(m); o.warn(m); } } };
  const first: { outcomes?: CacheOutcomes } = {};
  try {
    try {
      return await buildWith(image, source, once, pool, t0, beforeCommit, first);
    } catch (e) {
      // A cache entry whose layout the stat index gave was found changed when its pclusters were to
      // be copied (cache.ts openTrustedEntry): the image so far is dropped and the build starts over
      // with every such entry fetched and checked (rare: the cache was written to by hand, or an
      // entry was replaced by another build). Its workers may still write into the dropped image.
      if (!(e instanceof Error && e.message.includes(ENTRY_CHANGED)) || o.cacheDir === undefined) throw e;
      await pool.close();
      closeAllEntryFds();
      restarts++;
      pool = newPool();
      // Entries the first attempt found missing or damaged were written anew: counted as it found them.
      return await buildWith(image, source, once, pool, t0, beforeCommit, { heads: false, earlier: first.outcomes });
    }
  } finally {
    await pool.close();
    closeAllEntryFds();
  }
}

let restarts = 0;
/** Builds started over because a cache entry laid out from the index had changed (tests). */
export function cacheRestarts(): number {
  return restarts;
}

/**
 * Worker threads for a build: --workers, except for a build whose only file work is copying flat
 * files into the image (uncompressed, no fingerprints, no seal to hash): one. Every copy writes the
 * same image file, and the kernel takes that file's lock for each write, so a second copier waits
 * for the first, spinning (corpus, 2 workers: rwsem_spin_on_owner was the workers' top kernel
 * symbol), and costs its start-up for nothing (~70 ms of CPU). The main thread still copies beside
 * the one worker when it would otherwise wait (JobPool.runQueuedCopy).
 */
export function poolSizeFor(o: BuildOptions, sealing: boolean): number {
  return copiesOnly(o) && !sealing ? Math.min(o.workers, 1) : o.workers;
}

/** The build's only file work is copying flat files (see poolSizeFor). */
function copiesOnly(o: BuildOptions): boolean {
  return !o.compression && !o.fingerprint && !o.chunks;
}

/**
 * `attempt`: `heads` and `earlier` for the FileJobQueue (a build started over: no heads, and the
 * first attempt's outcomes); `outcomes` is set to this attempt's.
 */
async function buildWith(image: string, source: BuildSource, o: BuildOptions, pool: JobPool, t0: bigint, beforeCommit: BeforeCommit | undefined,
  attempt: { heads?: boolean; earlier?: CacheOutcomes; outcomes?: CacheOutcomes }): Promise<BuildResult> {
  const startMs = Date.now();
  // IMAGE first: a target that cannot hold an image is refused before the source is read.
  const out = new ImageOutput(image, o.warn);
  let cleanup: (() => void) | undefined;
  try {
    let tree = source.tree;
    if (!tree && source.tar !== undefined) {
      const scan = await scanTarSource(source.tar, o, source.tarOptions);
      tree = scan.tree;
      cleanup = scan.cleanup;
    }
    let jobs: FileJobQueue | undefined;
    if (!tree) {
      // Compression jobs start as the walk finds the files (in the writer's order), not after the plan.
      // An image written in place (a device) cannot be a source of its own pclusters.
      jobs = new FileJobQueue(o, pool, imageZParams(o), attempt.heads ?? true, attempt.earlier, !out.isDevice);
      attempt.outcomes = jobs.outcomes;
      const found = jobs.takesScan ? jobs : undefined;
      const scan: ScanOptions = {
        xattrs: o.xattrTolerance >= 0,
        excludePaths: source.excludePaths ?? [],
        excludeRegexes: source.excludeRegexes ?? [],
        outputPath: path.resolve(out.finalPath),
        warn: o.warn,
        statIds: o.cacheDir !== undefined,
        progress: (n) => {
          heapForTreeOf(n);
          o.progress?.({ phase: 'scan', files: n, totalFiles: 0, bytes: 0, totalBytes: 0 });
        },
        onFile: found && ((p) => found.found(p)),
        onInode: source.onInode,
        hardDereference: source.hardDereference,
        readdirOrder: o.readdirOrder,
        // A --cache rebuild's workers are idle during the walk too (unchanged files need nothing of
        // them before the writer): they list directories beside the main thread.
        walkThreads: o.walkThreads ?? ((found && o.cacheDir === undefined) || !o.workers ? walkThreadsFor(o.workers) : {
          // No file work starts before the plan: the job workers, idle until then, list directories
          // (two batches each in flight, so none waits for the main thread to send the next).
          threads: 2 * (beforeCommit && copiesOnly(o) ? 1 : pool.size), startAfterDirs: walkThreadsFor(o.workers).startAfterDirs,
          lister: (cx, dirs) => pool.list(cx, dirs), listerReady: () => pool.warm(),
        }),
      };
      tree = await scanDirectory(source.dir!, scan);
    }
    const p = plan(tree, o);
    // The file work is known now: a small build runs it here, without starting a worker.
    pool.expect(fileWork(p));
    out.expect(leastImageBytes(p, o));
    out.create();
    // A tree scanned here is this build's alone: the writer lets it go as it goes.
    const stats = await emit(p, o, out, pool, jobs, !source.tree);
    if (beforeCommit) {
      // The workers are idle by now: the tree's leaves (most of sealing's work) are hashed there, and
      // here when the build left this thread a core. A sealed build that only copied ran one worker
      // (grow): the others it may have start now (the salt, from block 0, costs nothing meanwhile);
      // this thread is one of the o.workers threads that hash the leaves.
      if (copiesOnly(o)) pool.startUpTo(o.workers - 1);
      const fd = out.descriptor();
      const leaves: LeafHasher = sharedLeaves(pool, out.tempPath, fd, out.target, pool.started < o.workers);
      await beforeCommit({ fd, bytes: stats.imageBytes, leaves });
    }
    out.commit();
    // --cache: the image in place is the next build's source of unchanged files' pclusters (old-image.ts).
    if (jobs && o.cacheDir !== undefined && !out.isDevice && o.compression) recordImage(o.cacheDir, jobs.imageToken, out.finalPath, startMs);
    return { ...stats, image, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } catch (e) {
    // A device written to is left without a valid image: the error says how far the writing got.
    const left = out.abort();
    if (left && e instanceof Error && !e.message.includes(left)) e.message += `; ${left}`;
    throw e;
  } finally {
    cleanup?.();
  }
}

/**
 * Scan a tar archive for a build with options `o` (both `build --tar` and `mkfs --tar` come here).
 * The root (without a '.' entry) and missing parent directories get the build time, as in
 * mkfs.erofs; the clock `o.now` is frozen so that they equal the superblock time exactly. With
 * `opts.index` (--tar=i, --tar=headerball) the image becomes an index of the archive (o.tarIndex).
 */
export async function scanTarSource(input: string, o: BuildOptions, opts: TarScanOptions = {}): Promise<TarScan> {
  const now = o.now();
  o.now = () => now;
  const buildTime = o.timestamp !== undefined ? { sec: o.timestamp, nsec: 0 }
    : o.sourceDateEpoch !== undefined ? { sec: o.sourceDateEpoch, nsec: 0 } : now;
  // The tar reader is loaded only when used.
  const { scanTar } = await import('../source/tar.js');
  const scan = await scanTar(input, { warn: o.warn, buildTime, ...opts });
  if (scan.index && opts.index) o.tarIndex = { mode: opts.index, offsets: scan.index.offsets, archiveBytes: scan.index.bytes };
  return scan;
}

/** The size of a tar archive given as a file (Infinity for stdin, or one that cannot be read: the scan reports it). */
function tarBytes(tar: string): number {
  if (tar === '-') return Infinity;
  try {
    return fs.statSync(tar).size;
  } catch {
    return Infinity;
  }
}

/**
 * Work (bytes of file data, plus FILE_COST per file) past which a build starts its workers
 * (JobPool.inlineBudget); within it, its jobs run on the main thread. A worker costs ~60 ms of CPU
 * to start (Node's own start of a thread is ~40 ms of it; our bundled modules the rest) and its
 * first results come 60-100 ms after it is asked for, on an idle machine; the budget is what the main thread does in ~80 ms on
 * one core, per kind of work. Measured here (build of a corpus directory run on the main thread,
 * CPU per MB of file data after the fixed costs): copies ~3 ms/MB (+ ~30 us a file), fingerprints
 * ~5-10, lz4 ~10, lz4hc ~25, zstd ~35, deflate ~60, lzma ~200. A build within its budget then costs
 * less CPU, and on 2 cores less time, than one that starts its workers (usr/share/doc, 3.6 MB, -zlz4:
 * 45 against 220 ms of CPU; usr/include/linux, 763 files, uncompressed: 80 against 190).
 */
export function inlineBudgetFor(o: BuildOptions): number {
  const c = o.compression?.codec.name;
  if (!c) return o.fingerprint || o.chunks ? 8 << 20 : 32 << 20;
  return INLINE_BYTES[c] ?? 512 << 10;
}

const INLINE_BYTES: Record<string, number> = { lz4: 8 << 20, lz4hc: 3 << 20, zstd: 2 << 20, deflate: 1 << 20, lzma: 384 << 10 };

/**
 * What a file costs its jobs beyond its bytes, in bytes of data: opening it and a system call or two
 * (~20-30 us, what ~8 KiB cost to copy), its share of a batch's message.
 */
const FILE_COST = 8 << 10;

/** The work of the plan's file jobs, in bytes (inlineBudgetFor): its regular files' data, each inode once. */
function fileWork(p: Plan): number {
  let bytes = 0;
  for (const st of p.steps) if (!(st instanceof DirDone) && st.kind === 'reg' && st.size > 0) bytes += st.size + FILE_COST;
  return bytes;
}

/**
 * A lower bound of the image size known before writing, so that a device too small for it is
 * refused untouched: the superblock area plus, without compression, the whole blocks of every
 * regular file's data (a tail may go inline; compressed data has no bound below). Not a size
 * formula: the size is what emit() allocates; this only has to stay below it.
 */
function leastImageBytes(p: Plan, o: BuildOptions): number {
  let bytes = p.metaStart;
  // Index images hold no file data.
  if (!o.compression && !o.tarIndex) {
    for (const st of p.steps) {
      if (!(st instanceof DirDone) && st.kind === 'reg') bytes += flatDataLayout(st.size, p.blockSize, true).blocks * p.blockSize;
    }
  }
  return bytes;
}
