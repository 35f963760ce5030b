// Worker thread entry: runs jobs (see jobs.ts) and posts results back in the order asked.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { runJob } from './jobs.js';
import { transferables, fromWire, packResult, type WireJob } from './job-wire.js';
import { setCopyCounter, setKernelCopy } from './job-copy.js';
import { UserError } from '../../errors.js';
import { giveSlabs } from '../files/slab-pool.js';
import { runExpress, setExpressPoll } from './express.js';
import type { WorkerFault } from './pool.js';
import type { KernelCopyPath } from '../../sys/libc.js';

const data = workerData as { copied?: SharedArrayBuffer; fault?: WorkerFault; kernelCopy?: KernelCopyPath; express?: MessagePort } | null;
if (data?.copied) setCopyCounter(new BigInt64Array(data.copied));
if (data?.kernelCopy) setKernelCopy(data.kernelCopy);
const fault = data?.fault;

// Up and ready for jobs (the walk sends directories only to workers that are: see JobPool.ready).
parentPort!.postMessage({ ready: true });

/** Run a job and post its result (or error) on `port`. */
function serve(port: MessagePort, msg: { id: number; job: WireJob }): void {
  try {
    // JobPoolOptions.fault (tests): the job fails, or the thread dies, as a bug in job code would.
    if (fault === 'exit') process.exit(3);
    if (fault === 'throw') throw new Error('injected fault (JobPoolOptions.fault)');
    const res = packResult(runJob(fromWire(msg.job)));
    port.postMessage({ id: msg.id, res }, transferables(res));
  } catch (e) {
    port.postMessage({ id: msg.id, error: (e as Error).message, stack: (e as Error).stack, user: e instanceof UserError });
  }
}

// The express lane (JobPool.runOn): its jobs run when they come if the thread is idle, else before
// the next job of the main queue.
const express = data?.express;
if (express) {
  express.on('message', (msg: { id: number; job: WireJob }) => serve(express, msg));
  setExpressPoll(() => {
    for (let m = receiveMessageOnPort(express); m; m = receiveMessageOnPort(express)) serve(express, m.message as { id: number; job: WireJob });
  });
}

parentPort!.on('message', (msg: { id: number; job: WireJob } | { recycle: ArrayBuffer[] }) => {
  runExpress();
  // Result buffers the main thread has written, back for reuse.
  if ('recycle' in msg) return giveSlabs(msg.recycle);
  serve(parentPort!, msg);
});
