// Finding (peak RSS of compressed builds): the segments of a long file counted against the bytes in
// flight only until the writer took the file; as it went on taking them one by one, the next files'
// jobs (another MAX_INFLIGHT_BYTES of input) were submitted at once, and their results were held
// behind all of the long file's segments (bench corpus, -zlz4: libLLVM, 7 segments). Now each segment
// counts from its submission until the writer takes it; the file the writer asks for gets its jobs
// whatever is in flight.
import test from 'node:test';
import assert from 'node:assert/strict';
import { FileJobQueue } from '../src/pipeline/work/file-jobs.js';
import type { JobPool } from '../src/pipeline/work/pool.js';
import type { Job } from '../src/pipeline/work/job-types.js';
import type { Plan } from '../src/pipeline/plan/plan.js';
import { imageZParams } from '../src/pipeline/emit/context.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { newInode, NO_XATTRS, type Inode } from '../src/source/tree.js';
import { SEGMENT_SIZE } from '../src/pipeline/work/job-types.js';

const SMALL = 4 << 20;

function file(name: string, size: number): Inode {
  return newInode({
    kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size, rdevMajor: 0, rdevMinor: 0,
    xattrs: NO_XATTRS, links: 1, data: { type: 'buffer', bytes: new Uint8Array(0) },
  }, name, undefined);
}

test('stream_segments_count_in_flight: no later file is submitted while a long file\'s segments fill the bound; the file asked for always gets its jobs', () => {
  const o = defaultBuildOptions({
    uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
    compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
  });
  // Jobs are recorded, never run: their results are not awaited here.
  const jobs: { path: string; start: number }[] = [];
  const pool = {
    size: 2,
    run: (job: Job) => {
      if (job.kind === 'z') jobs.push({ path: job.path, start: job.start });
      return new Promise(() => {});
    },
    backlog: () => 0,
  } as unknown as JobPool;
  const q = new FileJobQueue(o, pool, imageZParams(o), false);
  const big = file('big', 5 * SEGMENT_SIZE);
  const small = Array.from({ length: 12 }, (_, i) => file(`s${i}`, SMALL));
  const smallJobs = () => jobs.filter((j) => j.path.startsWith('s')).length;
  // The plan (16 MiB in flight): the big file's first two segments go.
  q.planned({ steps: [big, ...small] } as unknown as Plan);
  assert.equal(smallJobs(), 0);
  const f = q.take(big)!;
  // The writer takes segments 0..3: one is submitted for each, and no small file (before: 16 MiB of them at take).
  for (let i = 0; i < 4; i++) {
    assert.equal(smallJobs(), 0, `before segment ${i}`);
    void f.stream!.get(i);
  }
  assert.deepEqual(jobs.filter((j) => j.path === 'big').map((j) => j.start / SEGMENT_SIZE), [0, 1, 2, 3, 4]);
  assert.equal(smallJobs(), 0, 'segment 4 in flight');
  // The last segment taken: the next 16 MiB of small files go.
  void f.stream!.get(4);
  assert.equal(smallJobs(), 4);
  // Each small file taken makes room for the next.
  for (let i = 0; i < 4; i++) assert.ok(q.take(small[i])?.segs, `s${i} has its job`);
  assert.equal(smallJobs(), 8);

  // The file the writer asks for gets its jobs at once even when the bound is full (here: a long
  // file's segments that the writer has not taken).
  const q2 = new FileJobQueue(o, pool, imageZParams(o), false);
  const longs = [file('big2', 3 * SEGMENT_SIZE), file('big3', 3 * SEGMENT_SIZE)];
  const next = file('s-next', SMALL);
  const nextJobs = () => jobs.filter((j) => j.path === 's-next').length;
  for (const p of [...longs, next]) q2.found(p);
  assert.equal(nextJobs(), 0, 'beyond the bound');
  q2.planned({ steps: [...longs, next] } as unknown as Plan);
  for (const p of longs) q2.take(p);
  assert.equal(nextJobs(), 0, 'still beyond the bound');
  assert.ok(q2.take(next)?.segs, 'the next file has its job');
  assert.equal(nextJobs(), 1);
});
