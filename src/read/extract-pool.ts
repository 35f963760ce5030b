// Worker threads for extract: each decodes compressed files and writes them (data, then owner,
// xattrs, mode, times) into descriptors the main thread created, while the main thread goes on
// creating entries. The main thread stays synchronous (extract() is a plain call): it takes results
// with receiveMessageOnPort and sleeps on a shared counter the workers bump after each result.
import type * as WorkerThreads from 'node:worker_threads';
import type { Worker, MessagePort } from 'node:worker_threads';
const { availableParallelism, loadavg } = process.getBuiltinModule('node:os');
const module = process.getBuiltinModule('node:module');
const path = process.getBuiltinModule('node:path');
const { readFileSync } = process.getBuiltinModule('node:fs');
import * as sys from '../sys/libc.js';
import { UserError, CorruptImageError, UnsupportedFeatureError } from '../errors.js';
import type { ErofsImage, InodeInfo } from './image.js';
import type { RestoreRule } from './restore-rule.js';

/**
 * What a worker is asked: one file (descriptor open for writing, empty). Its path (for error
 * messages) goes as a latin1 string, one char per byte: a Buffer view would be cloned with the
 * whole 8 KiB pool slab it lives in, and those copies were most of a worker's garbage collection.
 */
export interface ExtractJob { seq: number; fd: number; nid: number; rel: string }
/** What it answers: done, or the error that file met (rebuilt as the same class here). */
export interface ExtractDone { seq: number; error?: WireError }
export interface WireError { name: string; message: string; rule?: string; where?: string }

export interface ExtractWorkerData {
  /** The image, reopened by the worker through /proc/self/fd (the very file we hold, whatever its path). */
  imagePath: string;
  port: MessagePort;
  /** [0]: bumped and notified after each answer. */
  signal: SharedArrayBuffer;
  /** [0]: bytes written so far (for the progress line). */
  bytes: SharedArrayBuffer;
  rule: RestoreRule;
  /** The main thread's compile cache directory, if any (extract-worker-entry.ts). */
  compileCache?: string;
}

/**
 * The directory given to module.enableCompileCache on this thread (getCompileCacheDir answers with
 * the per-release folder Node made inside it), for the worker to enable the same cache.
 */
function compileCacheBase(): string | undefined {
  const d = (module as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
  return d && path.basename(d).startsWith(process.version) ? path.dirname(d) : d;
}

/**
 * One core stays with the main thread (it creates every entry); a worker is started only for a core
 * nobody else wants: cores minus how busy the machine is, rounded. A worker costs CPU of its own (its
 * start-up, its own JIT compilation, a message per file: the LZ4 corpus took 0.88 s of CPU on one
 * thread, 1.11 s with a worker), which pays back in wall time only on an idle core. How busy: the
 * 1-minute load average, unless fewer threads are runnable right now (`runnable`, this one included):
 * the average lags a minute behind, so a run of ours that just ended kept the next one from its worker
 * (bench:extract's back-to-back runs held it at 1.5-1.6 on 2 cores: the LZ4 corpus took 0.61 s instead
 * of 0.49, fsck.erofs 0.52). At most 4, at most one fewer than cores, possibly none.
 */
export function defaultExtractWorkers(cores = availableParallelism(), load1 = loadavg()[0], runnable: number | null = runnableNow()): number {
  const busy = runnable === null ? load1 : Math.min(load1, Math.max(0, runnable - 1));
  const idle = Math.floor(cores - busy + 0.5);
  return Math.max(0, Math.min(4, cores - 1, idle));
}

/**
 * Threads runnable on the machine now: /proc/loadavg's fourth field ("running/total", the kernel's
 * nr_running at the moment of reading); null where it cannot be read.
 */
export function runnableNow(): number | null {
  try {
    const m = /^\S+ \S+ \S+ (\d+)\//.exec(readFileSync('/proc/loadavg', 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function errorToWire(e: unknown): WireError {
  const err = e as Error & { rule?: string; where?: string };
  if (err instanceof CorruptImageError) return { name: 'CorruptImageError', message: err.message, rule: err.rule, where: err.where };
  if (err instanceof UserError || err instanceof UnsupportedFeatureError) return { name: err.name, message: err.message };
  return { name: 'Error', message: err && err.stack ? err.stack : String(e) };
}

function errorFromWire(w: WireError): Error {
  if (w.name === 'CorruptImageError') {
    const e = new CorruptImageError(w.rule ?? '', w.where);
    e.message = w.message;
    return e;
  }
  if (w.name === 'UserError') return new UserError(w.message);
  if (w.name === 'UnsupportedFeatureError') return new UnsupportedFeatureError(w.message);
  return new Error(`extract worker failed: ${w.message}`);
}

// node:worker_threads is loaded with the first pool: most extracts (any image under 16 MiB, any on a
// busy machine) start none, and loading it cost ~3 ms of each one's start-up.
const require = module.createRequire(import.meta.url);
let wt: typeof WorkerThreads | undefined;
const workerThreads = (): typeof WorkerThreads => (wt ??= require('node:worker_threads') as typeof WorkerThreads);
const receiveMessageOnPort = (port: MessagePort): ReturnType<typeof WorkerThreads.receiveMessageOnPort> => workerThreads().receiveMessageOnPort(port);

/** Files in flight at most (each holds a descriptor), and decoded bytes queued per worker. */
const MAX_IN_FLIGHT = 256;
const MAX_QUEUED_BYTES = 64 << 20;

export class ExtractPool {
  private readonly workers: { w: Worker; port: MessagePort; queued: number }[] = [];
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly bytes = new BigInt64Array(new SharedArrayBuffer(8));
  /** seq -> [worker index, size, fd] of each file in flight. */
  private readonly inFlight = new Map<number, [number, number, number]>();
  private seq = 0;
  private failure: { seq: number; error: Error } | undefined;
  private closed = false;

  constructor(img: ErofsImage, n: number, rule: RestoreRule) {
    const { Worker, MessageChannel } = workerThreads();
    for (let i = 0; i < n; i++) {
      const { port1, port2 } = new MessageChannel();
      const data: ExtractWorkerData = {
        imagePath: `/proc/self/fd/${img.imageFd}`, port: port2, signal: this.signal.buffer as SharedArrayBuffer,
        bytes: this.bytes.buffer as SharedArrayBuffer, rule,
        compileCache: compileCacheBase(),
      };
      // From dist/src/<folder>/: the same file from the extract bundle (scripts/bundle-extract.js).
      const w = new Worker(new URL('../read/extract-worker-entry.js', import.meta.url), { workerData: data, transferList: [port2] });
      w.unref();
      // A worker that dies (out of memory, a bug) fails every file it held.
      w.on('error', (e) => this.failAll(i, e));
      this.workers.push({ w, port: port1, queued: 0 });
    }
  }

  bytesWritten(): number {
    return Number(Atomics.load(this.bytes, 0));
  }

  /**
   * Bytes handed over and not yet written by the least loaded worker (after taking the answers that
   * came in): above a few MiB the main thread would only wait at the end, so it writes the next file itself.
   */
  backlog(): number {
    this.poll();
    let least = Infinity;
    for (const w of this.workers) if (w.queued < least) least = w.queued;
    return least;
  }

  /** Hand over a file: the worker writes it and closes `fd`. Throws the first failure seen so far. */
  submit(fd: number, ino: InodeInfo, rel: Buffer): void {
    if (this.failure) { sys.close(fd); this.throwFailure(); }
    while (this.inFlight.size >= MAX_IN_FLIGHT || this.workers.every((x) => x.queued >= MAX_QUEUED_BYTES)) this.waitOne();
    let k = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.workers[i].queued < this.workers[k].queued) k = i;
    const seq = this.seq++;
    const cost = ino.size + 4096;
    this.workers[k].queued += cost;
    this.inFlight.set(seq, [k, cost, fd]);
    const job: ExtractJob = { seq, fd, nid: ino.nid, rel: rel.toString('latin1') };
    this.workers[k].port.postMessage(job);
    this.poll();
    if (this.failure) this.throwFailure();
  }

  /** Wait for every file in flight; throw the first failure in walk order. */
  finish(): void {
    while (this.inFlight.size) this.waitOne();
    if (this.failure) this.throwFailure();
  }

  /** finish() without throwing, then stop the workers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.inFlight.size && !this.dead) this.waitOne();
    // Each worker closes its image descriptor and says so (descriptors are the process's: ending
    // the thread would not close it); then the threads end.
    let acks = 0;
    for (const { port } of this.workers) port.postMessage({ seq: -1, fd: -1, nid: -1, rel: '' } satisfies ExtractJob);
    for (let tries = 0; acks < this.workers.length && tries < 50 && !this.dead; tries++) {
      const s = Atomics.load(this.signal, 0);
      let got = false;
      for (const { port } of this.workers) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) { got = true; if ((m.message as ExtractDone).seq === -1) acks++; }
      }
      if (!got && acks < this.workers.length) Atomics.wait(this.signal, 0, s, 100);
    }
    for (const { w, port } of this.workers) { port.close(); void w.terminate(); }
  }

  private dead = false;

  private throwFailure(): never {
    throw this.failure!.error;
  }

  private take(m: ExtractDone): void {
    const f = this.inFlight.get(m.seq);
    if (!f) return;
    this.inFlight.delete(m.seq);
    this.workers[f[0]].queued -= f[1];
    if (m.error && (!this.failure || m.seq < this.failure.seq)) this.failure = { seq: m.seq, error: errorFromWire(m.error) };
  }

  private poll(): boolean {
    let got = false;
    for (const { port } of this.workers) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        this.take(m.message as ExtractDone);
        got = true;
      }
    }
    return got;
  }

  private waitOne(): void {
    const s = Atomics.load(this.signal, 0);
    if (this.poll()) return;
    // Woken by a worker's answer; the timeout only guards against a worker that died silently.
    if (Atomics.wait(this.signal, 0, s, 1000) === 'timed-out' && !this.poll()) this.checkAlive();
  }

  /** A worker that exited cannot answer: its files fail (and their descriptors are closed here). */
  private checkAlive(): void {
    for (let i = 0; i < this.workers.length; i++) {
      if (this.workers[i].w.threadId === -1) this.failAll(i, new Error('worker thread exited'));
    }
  }

  private failAll(i: number, e: Error): void {
    this.dead = true;
    for (const [seq, [k, , fd]] of [...this.inFlight]) {
      if (k !== i) continue;
      this.inFlight.delete(seq);
      try { sys.close(fd); } catch { /* the worker may have closed it */ }
      if (!this.failure || seq < this.failure.seq) this.failure = { seq, error: new Error(`extract worker failed: ${e.message}`) };
    }
  }
}
