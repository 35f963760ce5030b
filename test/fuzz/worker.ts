// Fuzz worker thread: installs the allocation guard, then runs cases sent by the pool (test/fuzz/pool.ts)
// one at a time in its own scratch directory and posts each CaseResult back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { installAllocationGuard } from './alloc-guard.js';
import type { RunOptions, CaseResult } from './run-case.js';

export interface CaseRequest {
  id: number;
  image: Uint8Array;
  opts: RunOptions;
}

export interface CaseReply {
  id: number;
  result: CaseResult;
}

// `node --test dist/test/` also runs this file on its own (no parentPort): then it does nothing.
if (parentPort) await serve();

async function serve(): Promise<void> {
  installAllocationGuard();
  const { runCase } = await import('./run-case.js');
  const base: string = (workerData as { dir: string }).dir;
  fs.mkdirSync(base, { recursive: true });
  parentPort!.on('message', async (req: CaseRequest) => {
    const caseDir = path.join(base, 'case');
    clear(caseDir);
    fs.mkdirSync(caseDir);
    const file = path.join(caseDir, 'img');
    fs.writeFileSync(file, req.image);
    const result = await runCase(file, caseDir, req.opts);
    clear(caseDir);
    parentPort!.postMessage({ id: req.id, result } satisfies CaseReply);
  });
}

function clear(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // Extracted directories with mode 0 (as a non-root user): open them up and retry.
    fs.chmodSync(dir, 0o700);
    for (const n of fs.readdirSync(dir)) {
      const p = path.join(dir, n);
      if (fs.lstatSync(p).isDirectory()) clear(p);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
