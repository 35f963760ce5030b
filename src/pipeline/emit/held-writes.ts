// Pclusters held by the workers that compressed them (ZResult.held): the writer takes their blocks
// and queues the runs per worker; each worker writes its own, in batches ('hwrite' jobs), and lets
// the held buffers go. The compressed bytes never cross to the main thread (work/held-results.ts).
import type { JobPool } from '../work/pool.js';
import type { ImageOutput } from '../io/output.js';
import type { HeldPayloads } from '../files/zfile.js';

/**
 * A worker's batch goes out at this many bytes or results: each message wakes the worker and costs
 * the main thread a post; what is queued here is held by the worker meanwhile (memory).
 */
const BATCH_BYTES = 2 << 20;
const BATCH_RESULTS = 256;

interface Batch {
  /** held id, buffer index, offset, length, image offset per run. */
  runs: number[];
  free: number[];
  bytes: number;
}

/** Batches sent and not yet written, at most (the writer waits for the oldest beyond). */
const MAX_IN_FLIGHT = 16;

export class HeldWrites {
  private readonly batches: Batch[] = [];
  /**
   * Batches sent, oldest first. Not the flat copies' list (EmitContext.copies): a full one makes the
   * writer copy flat files itself (flushCopies), and these filled it (bench corpus, -zlz4: the main
   * thread opened 4,142 files instead of 1,837).
   */
  private readonly sent: Promise<void>[] = [];

  constructor(private readonly pool: JobPool, private readonly out: ImageOutput) {}

  private batchOf(worker: number): Batch {
    return (this.batches[worker] ??= { runs: [], free: [], bytes: 0 });
  }

  /** Queue payload `k` of `h` for image offset `pos` (fresh blocks: nothing else writes there). */
  add(h: HeldPayloads, k: number, pos: number): void {
    const len = h.pay[3 * k + 2];
    const buf = h.pay[3 * k];
    const off = h.pay[3 * k + 1];
    this.out.ensureFits(pos + len);
    this.out.handOver(pos, pos + len);
    const b = this.batchOf(h.worker);
    const r = b.runs;
    const n = r.length;
    if (n && r[n - 5] === h.id && r[n - 4] === buf && r[n - 3] + r[n - 2] === off && r[n - 1] + r[n - 2] === pos) r[n - 2] += len;
    else r.push(h.id, buf, off, len, pos);
    b.bytes += len;
  }

  /**
   * The writer is done with `h` (its runs are queued, or it is not written at all): its worker lets
   * it go after writing. A promise only when a batch went out and too many are in flight.
   */
  done(h: HeldPayloads): Promise<void> | undefined {
    const b = this.batchOf(h.worker);
    b.free.push(h.id);
    if (b.bytes >= BATCH_BYTES || b.free.length >= BATCH_RESULTS) return this.send(h.worker);
    return undefined;
  }

  private send(worker: number): Promise<void> | undefined {
    const b = this.batches[worker];
    if (!b || (!b.runs.length && !b.free.length)) return undefined;
    this.batches[worker] = { runs: [], free: [], bytes: 0 };
    const pr = this.pool.runOn(worker, { kind: 'hwrite', image: this.out.tempPath, runs: Float64Array.from(b.runs), free: b.free }).then(() => undefined);
    // Observed when awaited (drain); never an unhandled rejection meanwhile.
    pr.catch(() => {});
    this.sent.push(pr);
    return this.sent.length >= MAX_IN_FLIGHT ? this.sent.shift() : undefined;
  }

  /** Send every batch now, whatever its size (the writer has nothing more for them). */
  sendAll(): void {
    for (let w = 0; w < this.batches.length; w++) {
      const wait = this.send(w);
      if (wait) this.sent.unshift(wait);
    }
  }

  /** Everything queued is written (before blocks are taken back and written over, and at the end). */
  async drain(): Promise<void> {
    this.sendAll();
    const all = this.sent.splice(0);
    await Promise.all(all);
  }
}
