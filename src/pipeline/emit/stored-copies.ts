// Pclusters left in cache entry files (ZResult.stored) are copied into the image by the workers, in
// the kernel, in batches: the writer only takes their blocks and queues the runs, so the copying
// (most of a cached rebuild's system time) is off the main thread.
import type { JobPool } from '../work/pool.js';
import type { ImageOutput } from '../io/output.js';
import { releaseEntryFd } from '../cache/entry-fds.js';
import type { StoredPayloads } from '../files/zfile.js';
import { OLD_IMAGE_RUN, type OldImage } from '../cache/old-image.js';

/**
 * A batch goes to a worker at this many runs or bytes: each message wakes a worker, which on a loaded
 * machine costs the main thread its time slice (64 runs: 108 messages on the corpus, 256: 27).
 */
const BATCH_RUNS = 256;
const BATCH_BYTES = 32 << 20;

export class StoredCopies {
  /** fd (or -1 - i: named entry i), offset in the entry, length, image offset per run. */
  private runs: number[] = [];
  private close: number[] = [];
  private bytes = 0;
  /** Entries the job opens itself (StoredPayloads.entry): keys, identities, and their numbers in this batch. */
  private keys: string[] = [];
  private ids: string[] = [];
  private named = new Map<string, number>();
  /** The old image some runs of this batch copy from. */
  private image?: OldImage;

  constructor(private readonly pool: JobPool, private readonly out: ImageOutput,
    private readonly copies: Promise<void>[], private readonly maxCopies: number, private readonly cacheDir = '') {}

  /** Queue `len` bytes at `at` of entry `st` for image offset `pos` (fresh blocks: nothing else writes there). */
  add(st: StoredPayloads, at: number, len: number, pos: number): void {
    let fd = st.fd;
    if (st.image) {
      this.image = st.image;
      fd = OLD_IMAGE_RUN;
    } else if (st.entry) {
      let k = this.named.get(st.entry.key);
      if (k === undefined) {
        this.named.set(st.entry.key, (k = this.keys.length));
        this.keys.push(st.entry.key);
        this.ids.push(st.entry.id);
      }
      fd = -1 - k;
    }
    this.out.ensureFits(pos + len);
    this.out.handOver(pos, pos + len);
    const r = this.runs;
    const n = r.length;
    if (n && r[n - 4] === fd && r[n - 3] + r[n - 2] === at && r[n - 1] + r[n - 2] === pos) r[n - 2] += len;
    else r.push(fd, at, len, pos);
    this.bytes += len;
  }

  /** The writer is done with entry `st` (its runs are queued): the job that copies them closes it. */
  done(st: StoredPayloads): void {
    if (st.fd >= 0) this.close.push(st.fd);
  }

  /** The batch is full: flushIfFull sends it. */
  get full(): boolean {
    return this.runs.length >= 4 * BATCH_RUNS || this.bytes >= BATCH_BYTES;
  }

  /** Send the batch when full; waits only when too many copies are in flight. */
  async flushIfFull(): Promise<void> {
    if (this.full) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.runs.length && !this.close.length) return;
    const job = {
      kind: 'kcopy' as const, image: this.out.tempPath, runs: Float64Array.from(this.runs), close: this.close,
      ...(this.keys.length ? { named: { cacheDir: this.cacheDir, keys: this.keys.join(','), ids: this.ids.join(',') } } : {}),
      ...(this.image ? { oldImage: this.image } : {}),
    };
    this.image = undefined;
    for (const fd of this.close) releaseEntryFd(fd);
    this.runs = [];
    this.close = [];
    if (this.keys.length) {
      this.keys = [];
      this.ids = [];
      this.named = new Map();
    }
    this.bytes = 0;
    const pr = this.pool.run(job).then(() => undefined);
    // Observed when awaited (drain, finishCopies); never an unhandled rejection meanwhile.
    pr.catch(() => {});
    this.copies.push(pr);
    while (this.copies.length >= this.maxCopies) {
      // Rather than wait idle for a worker, copy a batch still queued for one here (as flat.ts does).
      if (this.pool.runQueuedCopy()) {
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      await this.copies.shift();
    }
  }

  /** Everything queued is written (before blocks are taken back and written over). */
  async drain(): Promise<void> {
    await this.flush();
    await Promise.all(this.copies);
  }
}
