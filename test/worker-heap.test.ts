// The worker threads' young generation (src/pipeline/work/worker-heap.ts): each worker had the main
// thread's two semi-spaces of up to 8 MiB, 16 MiB resident per worker at the peak of a build, for a
// thread whose bytes are outside the JavaScript heap. Bounded, a worker that allocates garbage all
// the time keeps a small young generation.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';

/**
 * The new space (MiB) of a worker that made 200 MiB of short-lived objects, made after the bound or
 * not: the median of 40 samples through the loop, not the size at the end. V8 shrinks the young
 * generation at a full GC when the allocation rate it measured (a time) looks low, which a loaded
 * machine can make it do (finding: the size at the end was below 8 MiB once in CI), and a sample can
 * catch a large object passing through the new space (2 -> 5.5 MiB for one sample when bounded).
 */
function workerNewSpaceMiB(bound: boolean): number {
  const mod = pathToFileURL(path.resolve(import.meta.dirname, '../src/pipeline/work/worker-heap.js')).href;
  const script = `
    import { Worker } from 'node:worker_threads';
    if (${bound}) (await import(${JSON.stringify(mod)})).boundWorkerYoungGeneration();
    const w = new Worker(\`
      const { parentPort } = process.getBuiltinModule('node:worker_threads');
      const v8 = process.getBuiltinModule('node:v8');
      const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      let keep = [];
      const seen = [];
      for (let i = 0; i < 2e6; i++) {
        keep.push({ i, s: 'x' + i, a: [i, i + 1] });
        if (keep.length > 50000) { keep = []; seen.push(newSpace()); }
      }
      seen.sort((a, b) => a - b);
      parentPort.postMessage(seen[seen.length >> 1]);\`, { eval: true });
    w.once('message', (n) => { console.log(n / 1048576); w.terminate(); });`;
  // The semi-space bound of bin/erofs-forge.js's #! line, as in a build.
  const r = spawnSync(process.execPath, ['--max-semi-space-size=8', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

test('worker_young_generation_bounded: workers made after boundWorkerYoungGeneration keep a young generation of <= 2 MiB', () => {
  // Unbounded, the worker grows toward the main thread's young generation (else the test could not
  // see a regression); the growth follows survival, so the best of three runs is taken.
  let unbounded = 0;
  for (let run = 0; run < 3 && unbounded < 8; run++) unbounded = Math.max(unbounded, workerNewSpaceMiB(false));
  assert.ok(unbounded >= 8, `unbounded, the worker's young generation reached only ${unbounded} MiB`);
  assert.ok(workerNewSpaceMiB(true) <= 2, 'bounded: two semi-spaces of 1 MiB');
});
