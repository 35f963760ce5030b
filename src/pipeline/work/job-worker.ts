// Worker thread entry: runs jobs (see jobs.ts) and posts results back in the order asked.
import { parentPort, workerData } from 'node:worker_threads';
import { runJob } from './jobs.js';
import { transferables, fromWire, packResult, type WireJob } from './job-wire.js';
import { setCopyCounter, setKernelCopy } from './job-copy.js';
import { UserError } from '../../errors.js';
import { giveSlabs } from '../files/slab-pool.js';
import type { WorkerFault } from './pool.js';
import type { KernelCopyPath } from '../../sys/libc.js';

const data = workerData as { copied?: SharedArrayBuffer; fault?: WorkerFault; kernelCopy?: KernelCopyPath } | null;
if (data?.copied) setCopyCounter(new BigInt64Array(data.copied));
if (data?.kernelCopy) setKernelCopy(data.kernelCopy);
const fault = data?.fault;

// Up and ready for jobs (the walk sends directories only to workers that are: see JobPool.ready).
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (msg: { id: number; job: WireJob } | { recycle: ArrayBuffer[] }) => {
  // Result buffers the main thread has written, back for reuse.
  if ('recycle' in msg) return giveSlabs(msg.recycle);
  try {
    // JobPoolOptions.fault (tests): the job fails, or the thread dies, as a bug in job code would.
    if (fault === 'exit') process.exit(3);
    if (fault === 'throw') throw new Error('injected fault (JobPoolOptions.fault)');
    const res = packResult(runJob(fromWire(msg.job)));
    parentPort!.postMessage({ id: msg.id, res }, transferables(res));
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message, stack: (e as Error).stack, user: e instanceof UserError });
  }
});
