// The cache lookup job: segments of unchanged files fetched from the cache by their stat-index keys.
import { cacheGet } from '../cache/cache.js';
import type { JobOf, JobResult } from './job-types.js';

/**
 * Segments the stat index vouches for: each entry is read and checked, never trusted. One that is
 * gone or damaged comes back as a miss, and its file takes the content-keyed path. With `stored`,
 * an entry whose identity is the one the index vouches for is left in its file (see cacheGet).
 */
export function indexedJob(job: JobOf<'zindexed'>): JobResult {
  const results = job.segs.map((s) => {
    const got = cacheGet(job.cacheDir, s.key, s.bytes, job.stored ? s.id : undefined);
    if (!('z' in got)) return { kind: 'miss', miss: got.miss } as const;
    for (const e of got.z.extents) e.la += s.start;
    return { kind: 'z', z: got.z, cache: 'hit', entry: { key: s.key, bytes: got.bytes, id: got.id }, indexed: true } as const;
  });
  return { kind: 'zindexed', results };
}
