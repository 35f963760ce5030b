// A fixed set of worker threads running jobs; results come back as promises, consumed by the writer
// in its own fixed order, so the output never depends on scheduling.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import module from 'node:module';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { showPath } from '../../show-path.js';
import { fromWire, packResult, toWire, unpackResult, type WireResult } from './job-wire.js';
import { runJob } from './jobs.js';
import { fixMmapThreshold, trimMallocEvery } from '../../sys/malloc-threshold.js';
import { boundWorkerYoungGeneration } from './worker-heap.js';
import { threadStarting } from '../../sys/turbofan.js';
import type { Job, JobOf, JobResult } from './job-types.js';
import type { KernelCopyPath } from '../../sys/libc.js';
import type { ListContext, Listing } from '../../source/dir-listing.js';
import { closeOutputs, copyJob, setCopyCounter, setKernelCopy } from './job-copy.js';
import { storedCopyJob } from './job-cache.js';

interface Pending {
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
  /** The job, to say what failed ("compressing /path") should its worker fail. */
  job: Job;
}

function describeJob(job: Job): string {
  if (job.kind === 'zindexed') return `reading ${job.segs.length} cache entries`;
  if (job.kind === 'zbatch') {
    const more = job.jobs.length - 1;
    return `compressing ${showPath(job.jobs[0].path)}${more ? ` (and ${more} more file${more > 1 ? 's' : ''})` : ''}`;
  }
  if (job.kind === 'list') return `listing ${showPath(job.dirs[0][0])}${job.dirs.length > 1 ? ` (and ${job.dirs.length - 1} more)` : ''}`;
  if (job.kind === 'kcopy') return `copying ${job.runs.length / 4} cached pcluster runs into the image`;
  if (job.kind === 'hwrite') return `writing ${job.runs.length / 5} compressed pcluster runs into the image`;
  if (job.kind === 'vleaves') return `hashing blocks ${job.first}..${job.first + job.count - 1} of ${showPath(job.image)}`;
  if (job.kind === 'copy') {
    const more = job.files.length - 1;
    return `copying ${showPath(job.files[0].path)}${more ? ` (and ${more} more file${more > 1 ? 's' : ''})` : ''}`;
  }
  return `${job.kind === 'z' ? 'compressing' : 'hashing'} ${showPath(job.path)}`;
}

/** The error a job's failure in a worker becomes on the main thread. */
export function jobError(job: Job, error: string, stack: string | undefined, user: boolean | undefined): Error {
  if (user) return new UserError(error);
  // A bug, not a user error: say which job failed and keep the worker's own stack.
  const err = new Error(`worker thread failed ${describeJob(job)}: ${error}`);
  if (stack) err.stack = `Error: ${err.message}\n${stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/** Roughly how much work a job is: the bytes it reads (at least 1 per job for its round trip). */
function jobCost(job: Job): number {
  switch (job.kind) {
    case 'copy': return job.files.reduce((a, f) => a + f.size, 1);
    case 'zbatch': return job.jobs.reduce((a, j) => a + j.length, 1);
    case 'z': return job.length + 1;
    case 'hash': return job.size + 1;
    case 'zindexed': return job.segs.reduce((a, s) => a + s.bytes, 1);
    case 'list': return job.dirs.length;
    case 'vleaves': return job.count * job.p.dataBlockSize + 1;
    case 'hwrite': return 1;
    case 'kcopy': {
      let n = 1;
      for (let i = 2; i < job.runs.length; i += 4) n += job.runs[i];
      return n;
    }
  }
}

/** Result buffers handed back to a worker per message, at most (or this many bytes). */
const RECYCLE_BATCH = 16;
const RECYCLE_BYTES = 2 << 20;

/** Jobs sent ahead to each worker. */
const PER_WORKER_QUEUE = 8;
/**
 * Copy jobs sent ahead to each worker: fewer, so that batches wait on this thread, where it can run
 * them itself when it would otherwise wait (runQueuedCopy). Each is up to 4 MiB or 128 files.
 */
const PER_WORKER_COPIES = 3;

/** A failure injected into every job (tests): the job throws, or its worker thread exits with code 3. */
export type WorkerFault = 'throw' | 'exit';

export interface JobPoolOptions {
  /** Tests only: make the workers fail as a bug would, to check how a build reports it and cleans up. */
  fault?: WorkerFault;
  /** Tests only: the first way the workers try to copy file data in the kernel (see kernelCopy), to reach the fallbacks. */
  kernelCopy?: KernelCopyPath;
  /** Start the workers at the first job instead of now (a build that may have none: a tar index). */
  lazy?: boolean;
  /**
   * Start one worker, and the others only once compression work queues up (GROW_BYTES): a --cache
   * rebuild's unchanged files need only cache fetches and kernel copies, which one worker keeps up
   * with, and each worker more cost its start-up, its own JIT and GC (~100-130 ms of CPU).
   */
  grow?: boolean;
  /**
   * Start no worker while the work asked for stays within this many bytes of job cost (see jobCost):
   * jobs wait in the queue until the caller says how much is coming (expect) and then run on this
   * thread, or the workers start once the queued or expected work passes it. Undefined: the workers
   * start at once (or at the first job, `lazy`).
   */
  inlineBudget?: number;
  /** Tests: true runs every job on the calling thread (no worker ever starts), false ignores inlineBudget. */
  inline?: boolean;
}

/**
 * Bytes of compression and hashing input queued or running, past which a growing pool starts its next
 * worker: ~0.1 s of LZ4HC on one core, about what a worker costs to start and run.
 */
const GROW_BYTES = 8 << 20;

/**
 * The directory the main thread's module compile cache was turned on with (bin/erofs-forge.js
 * checked it is ours), for the workers: Node reports the versioned directory under it. Undefined
 * without a cache, or on releases that cannot say (before 22.8).
 */
function compileCacheBase(): string | undefined {
  // Typed here: the @types/node in use predates the call.
  const d = (module as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
  return d ? path.dirname(d) : undefined;
}

/** A worker's answer to a job, on its main port or its express lane. */
interface WorkerReply { id: number; res?: WireResult; error?: string; stack?: string; user?: boolean }

/** Settle the promise of a job (none: the pool failed and rejected it already) with worker `index`'s reply. */
function settle(p: Pending | undefined, m: WorkerReply, index: number): void {
  if (!p) return;
  if (m.error !== undefined) p.reject(jobError(p.job, m.error, m.stack, m.user));
  else p.resolve(unpackResult(m.res!, index));
}

export class JobPool {
  private workers: Worker[] = [];
  /** Per worker, this end of its express lane (see runOn). */
  private express: MessagePort[] = [];
  private queue: { id: number; job: Job }[] = [];
  private pending = new Map<number, Pending>();
  /** Job ids sent to each worker, oldest (the one it is running) first; results come back in order. */
  private inWorker = new Map<Worker, number[]>();
  /** Bytes of work queued in each worker, and each job's share (see jobCost). */
  private queuedBytes = new Map<Worker, number>();
  private costs = new Map<number, number>();

  private nextId = 1;
  private failure: Error | undefined;

  /** Source bytes the workers' copy jobs have written so far (for the progress line). */
  private readonly copied = new BigInt64Array(new SharedArrayBuffer(8));
  copiedBytes(): number {
    return Number(Atomics.load(this.copied, 0));
  }

  /** No worker started and none decided yet (JobPoolOptions.inlineBudget): jobs wait in the queue. */
  private deferred: boolean;
  /** Decided: every job runs on this thread (runHere). */
  private inline = false;
  /** Cost of the jobs asked for while deferred. */
  private deferredCost = 0;

  constructor(readonly size: number, private readonly opts: JobPoolOptions = {}) {
    // Injected faults (tests) must reach a worker.
    this.deferred = !opts.fault && (opts.inline === true || (opts.inline === undefined && opts.inlineBudget !== undefined));
    if (!opts.lazy && !this.deferred) this.start();
  }

  /** The work to come is too much for this thread alone: the workers start, and take the queue. */
  private undefer(): void {
    this.deferred = false;
    this.start();
    this.dispatch();
  }

  /**
   * The caller knows the work still to come (`bytes` of job cost, the files' data): within the
   * budget, every job (those queued and those to come) runs on this thread, and no worker starts;
   * beyond it, the workers start now.
   */
  expect(bytes: number): void {
    if (!this.deferred) return;
    if (this.opts.inline !== true && Math.max(bytes, this.deferredCost) > this.opts.inlineBudget!) return this.undefer();
    this.deferred = false;
    this.inline = true;
    const queued = this.queue;
    this.queue = [];
    for (const { id, job } of queued) {
      const p = this.pending.get(id)!;
      this.pending.delete(id);
      this.computeBytes -= this.computeCosts.get(id) ?? 0;
      this.computeCosts.delete(id);
      this.runHere(job).then(p.resolve, p.reject);
    }
  }

  /**
   * For a lister that would use the workers (the walk of a tree that proved big): the workers start
   * if they were deferred; whether they are up.
   */
  warm(): boolean {
    if (this.deferred && this.opts.inline !== true) this.undefer();
    return this.ready;
  }

  /** The job run on this thread, through the very code (and the same packing of its result) a worker runs. */
  private runHere(job: Job): Promise<JobResult> {
    setCopyCounter(this.copied);
    setKernelCopy(this.opts.kernelCopy ?? 'copy_file_range');
    let pr: Promise<JobResult>;
    try {
      pr = Promise.resolve(unpackResult(packResult(runJob(fromWire(toWire(unheld(job)))))));
    } catch (e) {
      const err = e as Error;
      pr = Promise.reject(jobError(job, err.message, err.stack, e instanceof UserError));
      // Reported where it is awaited, as a worker's failure is.
      pr.catch(() => {});
    }
    return pr;
  }

  /** Compression and hashing input queued or running (see GROW_BYTES). */
  private computeBytes = 0;

  /** Stops the arenas' trimming (malloc-threshold.ts), which runs while the pool does. */
  private stopTrim?: () => void;

  private start(): void {
    // Before the threads allocate: results cross between them (sys/malloc-threshold.ts).
    fixMmapThreshold();
    this.stopTrim = trimMallocEvery();
    boundWorkerYoungGeneration();
    const n = this.opts.grow ? 1 : this.size;
    for (let i = 0; i < n; i++) this.startWorker();
  }

  /** Workers started so far (a growing pool starts them as work comes: see JobPoolOptions.grow). */
  get started(): number {
    return this.workers.length;
  }

  /**
   * A growing pool whose workers are up: start more, up to `n` in all (at most its size), for work
   * that comes only now (a sealed build's leaf digests: see build.ts). Nothing while the pool is
   * deferred or runs its jobs on this thread.
   */
  startUpTo(n: number): void {
    if (this.closed || this.deferred || this.inline || !this.workers.length) return;
    while (this.workers.length < Math.min(n, this.size)) this.startWorker();
  }

  private startWorker(): void {
    const { opts } = this;
    const index = this.workers.length;
    const lane = new MessageChannel();
    // V8's default flags while it loads its modules (Node's code cache of its own is accepted then).
    const booted = threadStarting();
    const w = new Worker(new URL('./worker-boot.js', import.meta.url), {
      workerData: { copied: this.copied.buffer, fault: opts.fault, kernelCopy: opts.kernelCopy, compileCache: compileCacheBase(), express: lane.port2 },
      transferList: [lane.port2],
    });
    // Express results settle their own promises: they are not in the worker's FIFO (inWorker).
    lane.port1.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      settle(p, m, index);
    });
    // The worker keeps the process alive, not its lane.
    lane.port1.unref();
    this.express.push(lane.port1);
    w.on('message', (m: WorkerReply & { ready?: boolean }) => {
      if (m.ready) {
        booted();
        this.readyWorkers++;
        return;
      }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.inWorker.get(w)!.shift();
      this.queuedBytes.set(w, this.queuedBytes.get(w)! - (this.costs.get(m.id) ?? 0));
      this.costs.delete(m.id);
      const c = this.computeCosts.get(m.id);
      if (c !== undefined) {
        this.computeBytes -= c;
        this.computeCosts.delete(m.id);
      }
      this.dispatch();
      settle(p, m, index);
    });
    w.on('error', (e) => { booted(); this.fail(new Error(`worker thread failed${this.runningOn(w)}: ${e.message}`)); });
    w.on('exit', (code) => { booted(); if (code !== 0 && !this.closed) this.fail(new Error(`worker thread exited with code ${code}${this.runningOn(w)}`)); });
    this.workers.push(w);
    this.inWorker.set(w, []);
    this.queuedBytes.set(w, 0);
  }

  private closed = false;
  private readyWorkers = 0;

  /** Every worker has started (loaded its modules) and takes jobs at once. */
  get ready(): boolean {
    // Injected faults (tests) are for file jobs: such a pool takes no directories.
    return !this.opts.fault && this.workers.length > 0 && this.readyWorkers === this.workers.length;
  }

  /** Directories listed by the workers (a walk's lister, see dir-walk.ts). */
  list(cx: ListContext, dirs: [string, string][]): Promise<[string, Listing][]> {
    return this.run({ kind: 'list', cx, dirs }).then((r) => (r as { done: [string, Listing][] }).done);
  }

  /** " while compressing /path" for the job a worker is running, or "". */
  private runningOn(w: Worker): string {
    const id = this.inWorker.get(w)?.[0];
    const p = id === undefined ? undefined : this.pending.get(id);
    return p ? ` while ${describeJob(p.job)}` : '';
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Jobs waiting for a worker or in one: when low, the caller should send what it holds back. */
  backlog(): number {
    let n = this.queue.length;
    for (const ids of this.inWorker.values()) n += ids.length;
    return n;
  }

  run(job: Job): Promise<JobResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.inline) return this.runHere(job);
    if (!this.workers.length && !this.deferred) this.start();
    const id = this.nextId++;
    const pr = new Promise<JobResult>((resolve, reject) => this.pending.set(id, { resolve, reject, job }));
    // Unobserved rejections of prefetched jobs are reported where they are awaited.
    pr.catch(() => {});
    this.queue.push({ id, job });
    if (job.kind === 'z' || job.kind === 'zbatch' || job.kind === 'hash') {
      const c = jobCost(job);
      this.computeCosts.set(id, c);
      this.computeBytes += c;
      if (this.opts.grow && this.computeBytes > GROW_BYTES && this.workers.length < this.size && !this.deferred) this.startWorker();
    }
    if (this.deferred) {
      this.deferredCost += jobCost(job);
      if (this.opts.inline !== true && this.deferredCost > this.opts.inlineBudget!) this.undefer();
      return pr;
    }
    this.dispatch();
    return pr;
  }

  /**
   * Run `job` on worker `index` itself (held payloads are written by the worker holding them: see
   * held-results.ts), through its express lane: the worker takes it before the next of the jobs sent
   * to it already (up to PER_WORKER_QUEUE), or at once when idle. Behind them, the buffers it lets go
   * stayed held for as long as those jobs took: 13-24 MiB of written pclusters at the peak of a
   * -zlz4 build of the bench corpus. It takes no room from the jobs sent ahead.
   */
  runOn(index: number, job: Job): Promise<JobResult> {
    if (this.failure) return Promise.reject(this.failure);
    const lane = this.express[index];
    if (!lane) return Promise.reject(new Error(`no worker ${index}`));
    const id = this.nextId++;
    const pr = new Promise<JobResult>((resolve, reject) => this.pending.set(id, { resolve, reject, job }));
    pr.catch(() => {});
    lane.postMessage({ id, job: toWire(job) });
    return pr;
  }

  /** Per job id: its share of computeBytes. */
  private computeCosts = new Map<number, number>();

  private dispatch(): void {
    // Each job goes to the worker with the least work queued (in bytes to read), among those with
    // room. Results are taken in submission order, so filling one worker's queue first (as a plain
    // free-slot list did), or counting jobs whatever their size, left the other idle.
    let i = 0;
    while (i < this.queue.length) {
      let w: Worker | undefined;
      let least = Infinity;
      const job = this.queue[i].job;
      // Copies of cached pclusters ('kcopy') likewise: the writer runs those left queued when it would wait.
      const room = job.kind === 'copy' || job.kind === 'kcopy' ? PER_WORKER_COPIES : PER_WORKER_QUEUE;
      // A copy that hashes nothing is all the kernel's work, under the image file's lock: a second
      // worker on it only waits for the first, spinning (see poolSizeFor in build.ts). Such copies
      // go to the first worker only; jobs queued behind them still go to the others meanwhile.
      const kernelCopy = job.kind === 'copy' && !job.algo;
      const candidates = kernelCopy ? Math.min(1, this.workers.length) : this.workers.length;
      for (let k = 0; k < candidates; k++) {
        const c = this.workers[k];
        const b = this.queuedBytes.get(c)!;
        if (this.inWorker.get(c)!.length < room && b < least) { least = b; w = c; }
      }
      if (!w) {
        if (kernelCopy) {
          i++;
          continue;
        }
        break;
      }
      const item = this.queue.splice(i, 1)[0];
      const cost = jobCost(item.job);
      this.costs.set(item.id, cost);
      this.queuedBytes.set(w, this.queuedBytes.get(w)! + cost);
      this.inWorker.get(w)!.push(item.id);
      w.postMessage({ id: item.id, job: toWire(item.job) });
    }
  }

  /**
   * Run the newest copy job still waiting for a worker here, on the calling thread, and settle its
   * promise; false if none waits. The writer calls this instead of waiting idle for a worker: with
   * one worker, the main thread otherwise sat out the copying that follows the plan (bench corpus,
   * uncompressed: ~0.4 s of copies after ~0.15 s of writing metadata). The job runs the very code a
   * worker runs, so the image cannot depend on where it ran.
   */
  runQueuedCopy(): boolean {
    // Injected faults (tests) must reach a worker.
    if (this.failure || this.opts.fault) return false;
    let i = this.queue.length - 1;
    while (i >= 0 && this.queue[i].job.kind !== 'copy' && this.queue[i].job.kind !== 'kcopy') i--;
    if (i < 0) return false;
    const { id, job } = this.queue.splice(i, 1)[0];
    const p = this.pending.get(id);
    this.pending.delete(id);
    setCopyCounter(this.copied);
    setKernelCopy(this.opts.kernelCopy ?? 'copy_file_range');
    let res: JobResult;
    try {
      // A --cache rebuild's pclusters too ('kcopy'): with one worker copying them and the flat files,
      // the writer sat idle for a quarter of its time (bench corpus, nothing changed).
      res = job.kind === 'kcopy' ? storedCopyJob(job) : copyJob(job as JobOf<'copy'>);
    } catch (e) {
      const err = e as Error;
      p?.reject(jobError(job, err.message, err.stack, e instanceof UserError));
      return true;
    }
    p?.resolve(res);
    return true;
  }

  private recycled: ArrayBuffer[] = [];
  private recycledBytes = 0;

  /**
   * Hand result buffers back to the workers for reuse (slab-pool.ts), in batches. They are
   * transferred, so every view of them on this thread is dead from here on.
   */
  recycle(bufs: ArrayBuffer[]): void {
    // Results made on this thread (runHere) are left to the GC: a buffer recycled twice would not be
    // detached by its first transfer here, and two results could then be given it.
    if (!this.workers.length) return;
    for (const b of bufs) {
      if (b.byteLength === 0 || this.recycled.includes(b)) continue;
      this.recycled.push(b);
      this.recycledBytes += b.byteLength;
    }
    if (this.recycled.length < RECYCLE_BATCH && this.recycledBytes < RECYCLE_BYTES) return;
    // To the worker with the least work queued: a worker busy with a long job (hashing a 10 GiB
    // file) reads no messages, and buffers sent to it would wait there, resident, until it is done.
    let w = this.workers[0];
    for (const c of this.workers) if (this.queuedBytes.get(c)! < this.queuedBytes.get(w)!) w = c;
    const list = this.recycled;
    this.recycled = [];
    this.recycledBytes = 0;
    if (!this.closed && w) w.postMessage({ recycle: list }, list);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTrim?.();
    // The image descriptor runQueuedCopy opened on this thread.
    closeOutputs();
    for (const lane of this.express) lane.close();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * A job run on this thread keeps no payloads to write later (ZJob.hold): no worker would hold them,
 * so its result carries the bytes and the writer writes them itself.
 */
function unheld(job: Job): Job {
  if (job.kind === 'z') return job.hold ? { ...job, hold: false } : job;
  if (job.kind === 'zbatch') return job.jobs.some((j) => j.hold) ? { ...job, jobs: job.jobs.map((j) => (j.hold ? { ...j, hold: false } : j)) } : job;
  return job;
}
