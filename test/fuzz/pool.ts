// Worker threads running fuzz cases with a watchdog: a case that does not answer within the watchdog
// time is a hang (the worker is terminated and replaced); a worker that dies (out of memory, a crash
// outside any case's try) is a bug of the case it was running.
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import type { CaseResult, RunOptions } from './run-case.js';
import type { CaseReply } from './worker.js';

interface Slot {
  worker: Worker;
  busy: boolean;
  dir: string;
}

interface Pending {
  resolve: (r: CaseResult) => void;
  timer: NodeJS.Timeout;
  slot: Slot;
}

export class CasePool {
  private slots: Slot[] = [];
  private waiting: (() => void)[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private spawned = 0;

  constructor(readonly size: number, private readonly baseDir: string, private readonly watchdogMs: number) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(path.join(baseDir, `w${i}`)));
  }

  private spawn(dir: string): Slot {
    this.spawned++;
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { dir },
      resourceLimits: { maxOldGenerationSizeMb: 768, maxYoungGenerationSizeMb: 64 },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    const slot: Slot = { worker, busy: false, dir };
    worker.on('message', (m: CaseReply) => this.finish(m.id, m.result));
    worker.on('error', (e) => this.died(slot, `worker died: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`, e.stack ?? ''));
    worker.on('exit', (code) => { if (code !== 0) this.died(slot, `worker exited with code ${code}`, ''); });
    worker.unref();
    return slot;
  }

  private finish(id: number, result: CaseResult): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.slot.busy = false;
    p.resolve(result);
    this.waiting.shift()?.();
  }

  private died(slot: Slot, message: string, stack: string): void {
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.replace(slot);
      this.finish(id, { bug: { phase: 'worker', kind: 'exception', name: 'WorkerDied', message, stack }, typed: [], ms: {}, clean: false });
    }
  }

  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => {});
    void slot.worker.terminate();
    this.slots[i] = this.spawn(slot.dir);
  }

  /** Run one case image; resolves with its result (never rejects). */
  async run(image: Uint8Array, opts: RunOptions): Promise<CaseResult> {
    let slot = this.slots.find((s) => !s.busy);
    while (!slot) {
      await new Promise<void>((r) => this.waiting.push(r));
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    const id = this.nextId++;
    const s = slot;
    return new Promise<CaseResult>((resolve) => {
      const timer = setTimeout(() => {
        this.replace(s);
        this.finish(id, { bug: { phase: 'watchdog', kind: 'slow', name: 'Hang', message: `no answer within ${this.watchdogMs} ms`, stack: '' }, typed: [], ms: {}, clean: false });
      }, this.watchdogMs);
      this.pending.set(id, { resolve, timer, slot: s });
      s.worker.postMessage({ id, image, opts });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
