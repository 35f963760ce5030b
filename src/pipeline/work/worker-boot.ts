// A job worker's entry: the module compile cache the main thread uses (bin/erofs-forge.js turns it on
// for the main thread only; a worker thread compiled its ~70 modules from source at every build),
// then the worker itself. The cache must be on before job-worker.js is loaded: its imports are
// compiled as they are linked.
import module from 'node:module';
import { workerData } from 'node:worker_threads';

const dir = (workerData as { compileCache?: string } | null)?.compileCache;
// Typed here: the @types/node in use predates the call. Node releases without it start as before.
const enable = (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
if (dir && enable) enable(dir);
await import('./job-worker.js');
