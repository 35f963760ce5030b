// The cache lookup job: segments of unchanged files fetched from the cache by their stat-index keys.
import { cacheGet, openTrustedEntry, ENTRY_CHANGED } from '../cache/cache.js';
import { openTrustedImage, OLD_IMAGE_RUN } from '../cache/old-image.js';
import type { JobOf, JobResult } from './job-types.js';
import * as fs from 'node:fs';
import { close, kernelCopy } from '../../sys/libc.js';
import { UserError, errnoReason } from '../../errors.js';
import { imageOfTemp } from '../io/output.js';
import { outputFd } from './job-copy.js';
import { readBuffer } from './thread-buffers.js';

/**
 * Pclusters of cache entries copied into the image (see the 'kcopy' job): in the kernel, else through
 * a buffer. Every descriptor handed over is closed, whatever happens. Named entries (job.named) are
 * opened here and must still have the identity the index gave the writer their layout with; one
 * that does not fails the job with ENTRY_CHANGED (the build then starts over without such layouts:
 * build.ts).
 */
export function storedCopyJob(job: JobOf<'kcopy'>): JobResult {
  const keys = job.named ? job.named.keys.split(',') : [];
  const ids = job.named ? job.named.ids.split(',') : [];
  const opened: number[] = [];
  let old: number | undefined;
  try {
    const out = outputFd(job.image);
    const r = job.runs;
    for (let i = 0; i < r.length; i += 4) {
      let fd = r[i];
      const [at, len, pos] = [r[i + 1], r[i + 2], r[i + 3]];
      if (fd === OLD_IMAGE_RUN) {
        // The old image, if it is still the one the index's addresses are for (old-image.ts).
        if (old === undefined && (old = openTrustedImage(job.oldImage!)) === undefined) throw new Error(`${ENTRY_CHANGED}: the old image ${job.oldImage!.path}`);
        fd = old;
      } else if (fd < 0) {
        const k = -1 - fd;
        if (opened[k] === undefined) {
          const got = openTrustedEntry(job.named!.cacheDir, keys[k], ids[k]);
          if (got === undefined) throw new Error(`${ENTRY_CHANGED}: ${keys[k]}`);
          opened[k] = got;
        }
        fd = opened[k];
      }
      let done: number;
      try {
        done = Math.max(0, kernelCopy(fd, at, out, pos, len));
        const buf = readBuffer();
        while (done < len) {
          const n = Math.min(buf.length, len - done);
          let got = 0;
          for (let k; got < n && (k = fs.readSync(fd, buf, got, n - got, at + done + got)) > 0;) got += k;
          if (got < n) throw new Error(`cache entry shorter than its header says (${at + done + got} of ${at + len} bytes)`);
          for (let w = 0; w < n;) w += fs.writeSync(out, buf, w, n - w, pos + done + w);
          done += n;
        }
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('cache entry shorter')) throw e;
        throw new UserError(`${imageOfTemp(job.image)}: write failed: ${errnoReason(e)}`);
      }
    }
  } finally {
    for (const fd of job.close) {
      try { close(fd); } catch { /* nothing to do about it */ }
    }
    for (const fd of opened) if (fd !== undefined) fs.closeSync(fd);
    if (old !== undefined) fs.closeSync(old);
  }
  return { kind: 'kcopy' };
}

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
    return { kind: 'z', z: got.z, cache: 'hit', entry: got.head ? { key: s.key, bytes: got.bytes, id: got.id, head: got.head } : { key: s.key, bytes: got.bytes, id: got.id }, indexed: true } as const;
  });
  return { kind: 'zindexed', results };
}
