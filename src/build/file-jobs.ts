// Prefetching the work of regular files: hash and compression jobs are submitted ahead of the writer,
// in the writer's order, within a bound on bytes in flight; the writer takes each file's results when
// it reaches the file.
import { SEGMENT_SIZE, type JobResult } from './jobs.js';
import type { JobPool } from './pool.js';
import { dataOf } from '../source/tree.js';
import * as fs from 'node:fs';
import { DirDone, type InodePlan, type Plan } from './plan.js';
import type { BuildOptions } from './options.js';
import type { ZParams, ZResult } from './zfile.js';
import { digestAlgorithm } from '../fingerprint/compute.js';

export interface FileJobs {
  hash?: Promise<Uint8Array>;
  segs?: Promise<ZResult>[];
}

/** Input bytes of compression jobs in flight (their results are held until written). */
const MAX_INFLIGHT_BYTES = 32 << 20;
/** Files in flight, whatever their size. */
const MAX_INFLIGHT_FILES = 256;

export class FileJobQueue {
  private readonly files: InodePlan[];
  private next = 0;
  private readonly inflight = new Map<InodePlan, { jobs: FileJobs; bytes: number }>();
  private bytes = 0;
  readonly cacheStats = { hit: 0, absent: 0, damaged: 0 };

  constructor(plan: Plan, private readonly o: BuildOptions, private readonly pool: JobPool, private readonly zp?: ZParams) {
    this.files = [];
    const seen = new Set<InodePlan>();
    for (const s of plan.steps) {
      if (s instanceof DirDone) continue;
      const p = s;
      if (p.node.kind !== 'reg' || p.size === 0 || seen.has(p)) continue;
      // Flat files are copied by workers once their blocks are allocated (see the writer), not here.
      if (!zp) continue;
      seen.add(p);
      this.files.push(p);
    }
  }

  private pump(): void {
    while (this.files.length && this.next < this.files.length && this.inflight.size < MAX_INFLIGHT_FILES
      && (this.bytes < MAX_INFLIGHT_BYTES || this.inflight.size === 0)) {
      const p = this.files[this.next++];
      const jobs: FileJobs = {};
      const src = dataOf(p.node);
      if (src.type === 'path' && p.size > SEGMENT_SIZE) {
        // Several jobs read this file: pin its ctime so all of them see the same bytes.
        try {
          src.ctimeNs = fs.statSync(src.path, { bigint: true }).ctimeNs;
        } catch { /* the jobs report the missing file */ }
      }
      // A file of one segment is hashed by its compression job from the very bytes it compresses, so
      // its fingerprint and its data always agree; larger files get a separate hash job.
      const oneSegment = !!this.zp && p.size <= SEGMENT_SIZE;
      const algo = p.fingerprint ? digestAlgorithm(this.o.fingerprint!) : undefined;
      if (p.fingerprint && !oneSegment) {
        jobs.hash = handled(this.pool.run({ kind: 'hash', src, path: p.node.path, size: p.size, algo: digestAlgorithm(this.o.fingerprint!) })
          .then((r: JobResult) => (r as { digest: Uint8Array }).digest));
      }
      let bytes = 0;
      if (this.zp) {
        const zp = this.zp;
        jobs.segs = [];
        for (let start = 0; start < p.size; start += SEGMENT_SIZE) {
          const length = Math.min(SEGMENT_SIZE, p.size - start);
          jobs.segs.push(handled(this.pool.run({
            kind: 'z', src, path: p.node.path, size: p.size, start, length, algo: oneSegment ? algo : undefined,
            params: { codec: this.o.compression!.codec, blockSize: zp.blockSize, pclusterSize: zp.pclusterSize, big: zp.big, ztailpacking: zp.ztailpacking },
            cacheDir: this.o.cacheDir,
          }).then((r: JobResult) => {
            const res = r as { z: ZResult; cache?: 'hit' | 'absent' | 'damaged'; digest?: Uint8Array };
            if (res.cache) this.cacheStats[res.cache]++;
            if (res.digest) res.z.digest = res.digest;
            return res.z;
          })));
        }
        if (oneSegment && algo) jobs.hash = handled(jobs.segs[0].then((z) => z.digest!));
        bytes = p.size;
      }
      this.inflight.set(p, { jobs, bytes });
      this.bytes += bytes;
    }
  }

  /** The jobs of `p` (undefined when it needs none); frees its place for the next files. */
  take(p: InodePlan): FileJobs | undefined {
    this.pump();
    const f = this.inflight.get(p);
    if (!f) return undefined;
    this.inflight.delete(p);
    this.bytes -= f.bytes;
    this.pump();
    return f.jobs;
  }
}

/**
 * Mark a prefetched job's promise as handled: if it fails before the writer reaches its file (a file
 * that disappeared, say), the failure is reported where the writer awaits it, not as an unhandled
 * rejection that kills the process and leaves the temp file behind.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Concatenate the segments of one file (extents already carry file offsets). */
export function mergeSegments(parts: ZResult[]): ZResult {
  if (parts.length === 1) return parts[0];
  const last = parts[parts.length - 1];
  return {
    extents: parts.flatMap((z) => z.extents),
    payloads: parts.flatMap((z) => z.payloads),
    inline: last.inline,
    inlineRaw: last.inlineRaw,
    totalBlocks: parts.reduce((a, z) => a + z.totalBlocks, 0),
  };
}
