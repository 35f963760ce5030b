// A walk thread: lists the directories the main thread sends (dir-walk.ts), a batch per message,
// and sends their listings back in one message.
import { parentPort, workerData } from 'node:worker_threads';
import { listDirectory, type ListContext, type Listing } from './dir-listing.js';

const cx = workerData as ListContext;
parentPort!.on('message', (dirs: [string, string][]) => {
  const done: [string, Listing][] = [];
  const transfer: ArrayBuffer[] = [];
  for (const [dir, rel] of dirs) {
    const l = listDirectory(dir, rel, cx);
    done.push([dir, l]);
    transfer.push(l.num.buffer as ArrayBuffer);
  }
  parentPort!.postMessage(done, transfer);
});
