// The hash job: a file's content digest, for its fingerprint.
import { contentHasher } from '../../fingerprint/compute.js';
import { SourceReader } from '../files/source-reader.js';
import { readBuffer } from './thread-buffers.js';
import type { JobOf, JobResult } from './job-types.js';

/** Digest a whole file (read once; compression jobs digest the segments they read themselves). */
export function hashJob(job: JobOf<'hash'>): JobResult {
  const h = contentHasher(job.algo);
  const r = new SourceReader({ data: job.src, path: job.path }, job.size);
  const readBuf = readBuffer();
  try {
    for (;;) {
      const n = r.read(readBuf, 0, readBuf.length);
      if (n === 0) break;
      h.update(readBuf.subarray(0, n));
    }
    r.finish();
  } finally {
    r.close();
  }
  return { kind: 'hash', digest: new Uint8Array(h.digest()) };
}
