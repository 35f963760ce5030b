// Finding (issue 21, peak RSS of -E dedupe): a file of several segments had one segment per worker
// submitted ahead of the one the writer takes. With -E dedupe the writer is the slower side (it
// matches every segment against the pclusters written before): a second segment's result waited in
// the worker's message queue for it, ~10 MiB of pclusters at the peak of the bench corpus. Here: with
// -E dedupe one segment ahead, without it one per worker, as segments are taken.
import test from 'node:test';
import assert from 'node:assert/strict';
import { FileJobQueue } from '../src/pipeline/work/file-jobs.js';
import type { JobPool } from '../src/pipeline/work/pool.js';
import type { Job } from '../src/pipeline/work/job-types.js';
import { imageZParams } from '../src/pipeline/emit/context.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { newInode, NO_XATTRS } from '../src/source/tree.js';
import { SEGMENT_SIZE } from '../src/pipeline/work/job-types.js';

function submittedAhead(dedupe: boolean): number[] {
  const o = defaultBuildOptions({
    uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
    compression: { codec: parseCompressor('lz4hc'), pclusterSize: 4096, ztailpacking: false, dedupe, legacyIndexes: false },
  });
  const starts: number[] = [];
  // Jobs are recorded, never run: their results are not awaited here.
  const pool = {
    size: 2,
    run: (job: Job) => {
      if (job.kind === 'z') starts.push(job.start);
      return new Promise(() => {});
    },
    backlog: () => 0,
  } as unknown as JobPool;
  const q = new FileJobQueue(o, pool, imageZParams(o), false);
  const size = 5 * SEGMENT_SIZE;
  const p = newInode({
    kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size, rdevMajor: 0, rdevMinor: 0,
    xattrs: NO_XATTRS, links: 1, data: { type: 'buffer', bytes: new Uint8Array(0) },
  }, 'big', undefined);
  q.found(p);
  const counts = [starts.length];
  const f = q.take(p)!;
  for (let i = 0; i < 3; i++) {
    void f.stream!.get(i);
    // Submitted past the segment taken.
    counts.push(starts.length - (i + 1));
  }
  return counts;
}

test('dedupe_one_segment_ahead: -E dedupe submits one segment ahead of the writer, others one per worker', () => {
  assert.deepEqual(submittedAhead(true), [1, 1, 1, 1]);
  assert.deepEqual(submittedAhead(false), [2, 2, 2, 2]);
});
