// Work done off the main thread: hashing a file, compressing one segment of a file. The same code
// runs in a worker or inline; results depend only on the job, never on which thread ran it.
import { createHash } from 'node:crypto';
import { blake3 } from '@noble/hashes/blake3.js';
import { SourceReader } from './source-reader.js';
import { compressExtents, type ZResult } from './zfile.js';
import { makeCodec, type Codec, type CodecSpec } from '../compress/codec.js';
import type { DataSource } from '../source/tree.js';

/**
 * Files are compressed in independent segments of this many bytes (as mkfs.erofs's multithreaded
 * mode does, 16 MiB), always, so the image never depends on the worker count.
 */
export const SEGMENT_SIZE = 16 << 20;

export interface ZJobParams {
  codec: CodecSpec;
  blockSize: number;
  pclusterSize: number;
  big: boolean;
  ztailpacking: boolean;
}

export type Job =
  | { kind: 'hash'; src: DataSource; path: Buffer; size: number; algo: 'sha256' | 'blake3' }
  | { kind: 'z'; src: DataSource; path: Buffer; size: number; start: number; length: number; params: ZJobParams };

export type JobResult =
  | { kind: 'hash'; digest: Uint8Array }
  | { kind: 'z'; z: ZResult };

const codecs = new Map<string, Codec>();
function codecFor(spec: CodecSpec): Codec {
  const key = `${spec.name}:${spec.level ?? ''}`;
  let c = codecs.get(key);
  if (!c) codecs.set(key, (c = makeCodec(spec)));
  return c;
}

let readBuf: Buffer | undefined;

export function runJob(job: Job): JobResult {
  const node = { data: job.src, path: job.path };
  if (job.kind === 'hash') {
    const h = job.algo === 'sha256' ? createHash('sha256') : blake3.create();
    const r = new SourceReader(node, job.size);
    readBuf ??= Buffer.allocUnsafe(1 << 20);
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
  const p = job.params;
  const last = job.start + job.length === job.size;
  const r = new SourceReader(node, job.length, job.start, job.size);
  try {
    const z = compressExtents((b, off, len) => r.read(b, off, len), job.length, {
      codec: codecFor(p.codec), blockSize: p.blockSize, pclusterSize: p.pclusterSize, big: p.big,
      // Only the file's final piece may go inline.
      ztailpacking: p.ztailpacking && last,
    });
    r.finish();
    for (const e of z.extents) e.la += job.start;
    return { kind: 'z', z };
  } finally {
    r.close();
  }
}

/** Buffers a result can hand over without copying. */
export function transferables(res: JobResult): ArrayBuffer[] {
  if (res.kind === 'hash') return [];
  const out = new Set<ArrayBuffer>();
  for (const p of res.z.payloads) if (p && p.buffer instanceof ArrayBuffer) out.add(p.buffer);
  return [...out];
}
