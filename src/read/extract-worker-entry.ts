// Entry of an extract worker thread: the compile cache the main thread uses (bin/erofs-forge.js) is
// not inherited by threads, so it is enabled here before the worker's modules are loaded.
import module from 'node:module';
import { workerData } from 'node:worker_threads';

// Node >= 22.1 (the types installed may be older).
const m = module as { enableCompileCache?: (dir: string) => unknown };
const dir = (workerData as { compileCache?: string }).compileCache;
if (dir && m.enableCompileCache) m.enableCompileCache(dir);
await import('./extract-worker.js');
