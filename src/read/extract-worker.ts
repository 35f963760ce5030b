// Extract worker thread: writes the compressed files it is given (see extract-pool.ts).
import { workerData } from 'node:worker_threads';
import * as sys from '../sys/libc.js';
import { ErofsImage } from './image.js';
import { restoreFile, readAhead } from './extract.js';
import { errorToWire, type ExtractWorkerData, type ExtractJob, type ExtractDone } from './extract-pool.js';

const d = workerData as ExtractWorkerData;
const signal = new Int32Array(d.signal);
const bytes = new BigInt64Array(d.bytes);
// Every failure, opening included, goes back as an answer: the main thread is blocked in
// Atomics.wait and would not see a worker's 'error' event.
let img: ErofsImage | undefined;
let openError: ExtractDone['error'];
try {
  img = ErofsImage.open(d.imagePath);
  readAhead(img, 256 << 10);
} catch (e) {
  openError = errorToWire(e);
}
const onBytes = (n: number): void => { Atomics.add(bytes, 0, BigInt(n)); };

d.port.on('message', (job: ExtractJob) => {
  if (job.seq === -1) {
    // The end: close the image (our descriptor outlives this thread otherwise) and say so.
    img?.close();
    img = undefined;
    openError = { name: 'Error', message: 'extract worker closed' };
    d.port.postMessage({ seq: -1 } satisfies ExtractDone);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
    return;
  }
  // Made only for a message.
  const rel = (): Buffer => Buffer.from(job.rel, 'latin1');
  const done: ExtractDone = { seq: job.seq };
  try {
    if (!img) done.error = openError;
    else restoreFile(img, job.fd, img.inode(job.nid), d.rule, rel, onBytes);
  } catch (e) {
    done.error = errorToWire(e);
  } finally {
    try { sys.close(job.fd); } catch (e) { done.error ??= errorToWire(e); }
  }
  d.port.postMessage(done);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});
