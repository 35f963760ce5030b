// Worker thread entry: runs jobs (see jobs.ts) and posts results back in the order asked.
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, transferables, fromWire, packResult, setCopyCounter, type WireJob } from './jobs.js';
import { UserError } from '../../errors.js';
import { giveSlabs } from '../files/slab-pool.js';

const counter = (workerData as { copied?: SharedArrayBuffer } | null)?.copied;
if (counter) setCopyCounter(new BigInt64Array(counter));

parentPort!.on('message', (msg: { id: number; job: WireJob } | { recycle: ArrayBuffer[] }) => {
  // Result buffers the main thread has written, back for reuse.
  if ('recycle' in msg) return giveSlabs(msg.recycle);
  try {
    const res = packResult(runJob(fromWire(msg.job)));
    parentPort!.postMessage({ id: msg.id, res }, transferables(res));
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message, stack: (e as Error).stack, user: e instanceof UserError });
  }
});
