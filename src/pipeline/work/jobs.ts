// Work done off the main thread, one function per job kind: copying flat files (job-copy.ts),
// hashing a file (job-hash.ts), compressing a segment with its cache lookup (job-compress.ts),
// fetching indexed cache entries (job-cache.ts), hashing a sealed image's data blocks (job-verity.ts), and batches of small compression jobs. The same
// code runs in a worker or inline; results depend only on the job, never on which thread ran it.
import { UserError } from '../../errors.js';
import { copyJob } from './job-copy.js';
import { hashJob } from './job-hash.js';
import { compressJob } from './job-compress.js';
import { indexedJob, storedCopyJob } from './job-cache.js';
import { listDirectory } from '../../source/dir-listing.js';
import { leafDigestsJob } from './job-verity.js';
import { heldWriteJob } from './held-results.js';
import type { BatchOutcome, Job, JobOf, JobResult } from './job-types.js';

/** Small files compressed in one round trip: each job runs as if sent alone, with its own outcome. */
function batchJob(job: JobOf<'zbatch'>): JobResult {
  return {
    kind: 'zbatch',
    outcomes: job.jobs.map((j): BatchOutcome => {
      try {
        return { res: compressJob(j) };
      } catch (e) {
        return { error: (e as Error).message, stack: (e as Error).stack, user: e instanceof UserError };
      }
    }),
  };
}

const RUNNERS: { [K in Job['kind']]: (job: JobOf<K>) => JobResult } = {
  copy: copyJob,
  hash: hashJob,
  z: compressJob,
  zindexed: indexedJob,
  zbatch: batchJob,
  kcopy: storedCopyJob,
  hwrite: heldWriteJob,
  list: (job) => ({ kind: 'list', done: job.dirs.map(([dir, rel]) => [dir, listDirectory(dir, rel, job.cx)]) }),
  vleaves: leafDigestsJob,
};

export function runJob(job: Job): JobResult {
  return (RUNNERS[job.kind] as (job: Job) => JobResult)(job);
}
