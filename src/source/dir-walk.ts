// The walk of a source directory, listing directories ahead of the main thread in walk threads.
// The main thread assembles the tree in its fixed visit order (dir-scanner.ts) and asks for each
// directory's listing in turn (take): ready if a walk thread listed it already, awaited if one is
// listing it, else listed right there. Walk threads take the directories found but not yet taken,
// the next in visit order first, in batches (one message each way per batch), at most AHEAD_DIRS
// listings ahead of the main thread. Every listing is made by the same function (dir-listing.ts),
// wherever it runs, so the tree cannot depend on which thread listed what, or when.
// Threads are started only once a tree proves big (WalkThreads.startAfterDirs directories listed): a
// small tree is walked before a thread would have started (~30 ms of CPU each); and only on cores
// the job workers leave free (walkThreadsFor). A build whose job workers have nothing to do before
// the plan (uncompressed, or with compress hints) lends them to the walk instead (WalkThreads.lister):
// running already, they cost no start-up, and with one worker on two cores the walk had no thread.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { listDirectory, isDirEntry, type ListContext, type Listing } from './dir-listing.js';
import { threadStarting } from '../sys/turbofan.js';

export interface WalkThreads {
  /** Walk threads to start (0: the main thread lists every directory). */
  threads: number;
  /** Directories listed by the main thread before the threads are started. */
  startAfterDirs: number;
  /**
   * Threads that are running already and idle during the walk (a build's job workers, when no file
   * work starts before the plan): directories are listed there, `threads` of them at once, instead
   * of in threads of the walk's own, which cost ~35 ms of CPU each to start.
   */
  lister?: Lister;
  /** With a lister: whether its threads are up (until then the main thread lists: it would only wait). */
  listerReady?: () => boolean;
}

/** Lists a batch of directories on another thread: [path, listing] for each [path, relPrefix]. */
export type Lister = (cx: ListContext, dirs: [string, string][]) => Promise<[string, Listing][]>;

/** No walk threads: the main thread lists every directory (a scan's default). */
export const NO_WALK_THREADS: WalkThreads = { threads: 0, startAfterDirs: 0 };

/**
 * Walk threads for a build whose `workers` job threads run beside the main thread: one per core
 * they leave free, at most 2. A walk thread takes ~100 ms of system calls off the main thread on the
 * bench corpus, but costs ~35 ms of CPU to start and more in messages (process CPU +90..180 ms): on
 * a core the workers need, that lengthens the build (measured on 2 cores, 2 workers).
 */
export function walkThreadsFor(workers: number): WalkThreads {
  return { threads: Math.max(0, Math.min(2, availableParallelism() - 1 - workers)), startAfterDirs: 64 };
}

/** Directories per message to a walk thread. */
const BATCH_DIRS = 8;
/** Listings made ahead of the main thread (done or under way), at most. */
const AHEAD_DIRS = 256;

export class DirWalk {
  private readonly ready = new Map<string, Listing>();
  /** Directories sent to a walk thread and not back yet; the main thread may be waiting for one. */
  private readonly claimed = new Map<string, { resolve: (l: Listing) => void; reject: (e: Error) => void } | null>();
  /** Every directory taken by the main thread or sent to a thread. */
  private readonly taken = new Set<string>();
  /** Directories found and not listed yet: [path, relPrefix], the next in visit order last. */
  private readonly stack: [string, string][] = [];
  /** Walk threads, or (with a lister) one token per batch that may be in flight. */
  private workers: (Worker | number)[] = [];
  private idle: (Worker | number)[] = [];
  private listedByMain = 0;
  private listedByThreads = 0;
  private ahead = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(private readonly cx: ListContext, private readonly opts: WalkThreads = NO_WALK_THREADS) {}

  /** The listing of `dir` (latin1 path), whose entries' relative paths start with `rel`. */
  take(dir: string, rel: string): Listing | Promise<Listing> {
    if (this.failure) throw this.failure;
    const r = this.ready.get(dir);
    if (r) {
      this.ready.delete(dir);
      this.ahead--;
      this.dispatch();
      return r;
    }
    if (this.claimed.has(dir)) return this.await(dir);
    this.taken.add(dir);
    const l = listDirectory(dir, rel, this.cx);
    this.found(dir, rel, l);
    if (++this.listedByMain >= this.opts.startAfterDirs && this.opts.threads && !this.workers.length && !this.closed
      && (this.opts.listerReady?.() ?? true)) this.start();
    this.dispatch();
    return l;
  }

  /**
   * The listing of `dir`, under way on a walk thread. Meanwhile this thread lists directories found
   * and not yet sent, the next in visit order first, within the look-ahead: it would otherwise wait,
   * and the walk goes at the speed of every thread listing, not of the walk threads alone
   * (1,000,000-file tree, uncompressed: one job worker lists and the main thread mostly waited).
   */
  private async await(dir: string): Promise<Listing> {
    let settled = false;
    const pr = new Promise<Listing>((resolve, reject) => this.claimed.set(dir, {
      resolve: (l) => { settled = true; resolve(l); },
      reject: (e) => { settled = true; reject(e); },
    }));
    while (!settled && !this.closed && this.ahead < AHEAD_DIRS) {
      const d = this.next();
      if (!d) break;
      this.taken.add(d[0]);
      const l = listDirectory(d[0], d[1], this.cx);
      this.listedByMain++;
      this.found(d[0], d[1], l);
      this.ready.set(d[0], l);
      this.ahead++;
      this.dispatch();
      // The listing awaited comes in as a message: let it in before listing another.
      await new Promise<void>((r) => setImmediate(r));
    }
    return pr;
  }

  /** The next directory found and not yet listed or sent, in visit order. */
  private next(): [string, string] | undefined {
    while (this.stack.length) {
      const d = this.stack.pop()!;
      if (!this.taken.has(d[0])) return d;
    }
    return undefined;
  }

  /** Directories listed so far by the main thread and by walk threads. */
  get counts(): { main: number; threads: number } {
    return { main: this.listedByMain, threads: this.listedByThreads };
  }

  /** Stop the walk threads (at the end of the walk, or when it fails). */
  close(): void {
    this.closed = true;
    for (const w of this.workers) if (typeof w !== 'number') void w.terminate();
    this.workers = [];
    this.idle = [];
  }

  /** The subdirectories of a new listing become work for the threads, the first on top. */
  private found(dir: string, rel: string, l: Listing): void {
    if (!this.opts.threads) return;
    const end = l.errorAt ?? l.names.length;
    const subdirs: [string, string][] = [];
    // Relative paths (UTF-8) are only for matching exclusions.
    const excluding = this.cx.excludePaths.length > 0 || this.cx.excludeRegexes.length > 0;
    for (let i = 0; i < end; i++) {
      if (isDirEntry(l, i)) subdirs.push([dir + '/' + l.names[i], excluding ? rel + Buffer.from(l.names[i], 'latin1').toString('utf8') + '/' : '']);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) this.stack.push(subdirs[i]);
  }

  private start(): void {
    if (this.opts.lister) {
      for (let k = 0; k < this.opts.threads; k++) this.workers.push(k);
      this.idle = [...this.workers];
      return;
    }
    for (let k = 0; k < this.opts.threads; k++) {
      // V8's default flags until its first listing is back (sys/turbofan.ts): its modules are loaded.
      const started = threadStarting();
      const w = new Worker(new URL('./walk-worker.js', import.meta.url), { workerData: this.cx });
      w.unref();
      w.on('message', (done: [string, Listing][]) => { started(); this.received(w, done); });
      w.on('error', (e) => { started(); this.fail(new Error(`walk thread failed: ${e.message}`)); });
      w.on('exit', (code) => { started(); if (!this.closed) this.fail(new Error(`walk thread exited with code ${code}`)); });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  private received(w: Worker | number, done: [string, Listing][]): void {
    this.listedByThreads += done.length;
    for (const [dir, l] of done) {
      const waiter = this.claimed.get(dir);
      this.claimed.delete(dir);
      // Its subdirectories are found before anything else is sent: the threads stay on the path the main thread takes.
      const rel = this.relOf.get(dir)!;
      this.relOf.delete(dir);
      this.found(dir, rel, l);
      if (waiter) {
        this.ahead--;
        waiter.resolve(l);
      } else this.ready.set(dir, l);
    }
    if (!this.closed) {
      this.idle.push(w);
      this.dispatch();
    }
  }

  private readonly relOf = new Map<string, string>();

  private dispatch(): void {
    while (this.idle.length && this.ahead < AHEAD_DIRS) {
      const batch: [string, string][] = [];
      while (batch.length < BATCH_DIRS && this.ahead < AHEAD_DIRS && this.stack.length) {
        const d = this.stack.pop()!;
        if (this.taken.has(d[0])) continue;
        this.taken.add(d[0]);
        this.claimed.set(d[0], null);
        this.relOf.set(d[0], d[1]);
        this.ahead++;
        batch.push(d);
      }
      if (!batch.length) return;
      const w = this.idle.pop()!;
      if (typeof w !== 'number') w.postMessage(batch);
      else this.opts.lister!(this.cx, batch).then((done) => this.received(w, done), (e: Error) => this.fail(e));
    }
  }

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    for (const waiter of this.claimed.values()) waiter?.reject(e);
    this.close();
  }
}
