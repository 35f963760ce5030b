// The compression job: one segment of a file compressed into extents; with --cache, the cache looked
// up by the segment's content first, and the result stored after.
import { contentHasher } from '../../fingerprint/compute.js';
import { SourceReader } from '../files/source-reader.js';
import { compressExtents, readFromBytes, type ZParams, type ZResult } from '../files/zfile.js';
import { cacheKeyHash, cacheGet, cachePut } from '../cache/cache.js';
import { makeCodec, type Codec, type CodecSpec } from '../../compress/codec.js';
import { readBuffer, segmentBuffer } from './thread-buffers.js';
import { chunkRelease } from '../files/held-chunks.js';
import { runExpress } from './express.js';
import type { JobOf, ZJobParams, ZJobResult } from './job-types.js';
import type { DataSource } from '../../source/tree.js';

/**
 * Segments up to this long are read once, whole, into the thread's segment buffer (which then never
 * holds more); longer ones are read twice rather than held (see compressJob).
 */
export const WHOLE_SEGMENT_MAX = 1 << 20;

/** Codecs made once per thread, by algorithm, level and pcluster size. */
const codecs = new Map<string, Codec>();
function codecFor(spec: CodecSpec, pclusterSize: number): Codec {
  const key = `${spec.name}:${spec.level ?? ''}:${pclusterSize}`;
  let c = codecs.get(key);
  if (!c) codecs.set(key, (c = makeCodec(spec, pclusterSize)));
  return c;
}

/** Where a compression job reads: its source, or its path with the scanned mtime (ZJob.src). */
export function zSourceOf(job: JobOf<'z'>): DataSource {
  return job.src ?? {
    type: 'path', path: Buffer.from(job.path, 'latin1'),
    mtimeNs: job.mtimeSec === undefined ? undefined : BigInt(job.mtimeSec) * 1_000_000_000n + BigInt(job.mtimeNsec ?? 0),
  };
}

/**
 * The ZParams of a job's parameters, for a file's final piece or another: made once per parameters
 * object (the jobs of a batch share theirs), not per job with a codec looked up by a string key.
 */
let zpOf: { params: ZJobParams; last?: ZParams; other?: ZParams } | undefined;
export function zParamsFor(p: ZJobParams, last: boolean): ZParams {
  if (zpOf?.params !== p) zpOf = { params: p };
  const had = last ? zpOf.last : zpOf.other;
  if (had) return had;
  const zp: ZParams = {
    codec: codecFor(p.codec, p.codecPcluster ?? p.pclusterSize), blockSize: p.blockSize, pclusterSize: p.pclusterSize, big: p.big, maxExtent: p.maxExtent,
    // Only the file's final piece may go inline, or to the packed inode (which then wins, as in mkfs.erofs).
    ztailpacking: p.ztailpacking && last && !p.fragments,
    fragments: p.fragments === 'tail' && last, allFragments: p.fragments === 'all', interlaced: p.interlaced,
    rawBlockSteps: p.dedupe,
  };
  if (last) zpOf.last = zp;
  else zpOf.other = zp;
  return zp;
}

export function compressJob(job: JobOf<'z'>): ZJobResult {
  const p = job.params;
  const last = job.start + job.length === job.size;
  const zp = zParamsFor(p, last);
  const r = new SourceReader({ data: zSourceOf(job), path: job.path }, job.length, job.start, job.size);
  const h = contentHasher(job.algo);
  try {
    if (!job.cacheDir) {
      // A held result's payloads are assembled in the worker's held chunks (files/held-chunks.ts).
      // Before each read (every few MiB of a segment), the worker's express jobs (express.ts).
      const z = compressExtents((b, off, len) => { runExpress(); return r.read(b, off, len); }, job.length, zp, h ? (c) => { h.update(c); } : undefined, !!job.hold);
      try {
        r.finish();
      } catch (e) {
        // The file changed: its result is dropped, and its chunks are nobody's.
        if (z.chunks) chunkRelease(z.chunks);
        throw e;
      }
      if (job.start) for (const e of z.extents) e.la += job.start;
      const res: ZJobResult = { kind: 'z', z, digest: h ? new Uint8Array(h.digest()) : undefined };
      if (job.hold) res.hold = true;
      return res;
    }
    // With a cache the segment's bytes are part of the key: they are read before it is compressed.
    const keyHash = cacheKeyHash({ ...p, ztailpacking: zp.ztailpacking, ...(p.fragments ? { fragmentsHere: zp.fragments } : {}), length: job.length });
    let key: string;
    let seg: Uint8Array | undefined;
    if (job.length > WHOLE_SEGMENT_MAX && r.pinForReread(BigInt(Date.now()) * 1_000_000n)) {
      // A long segment is read twice, not held: through the thread's 1 MiB buffer for its key (and
      // fingerprint), then, on a miss, into the codec's window as without a cache. Its ctime pinned
      // (finish refuses a write in between), both reads see the same bytes. Held whole, 16 MiB per
      // worker stayed resident from the first long file on, and the long files come late in a tree
      // (corpus, first -zlz4hc build into an empty cache, 2 workers: ~25 MiB of its 291-304 MiB peak).
      const buf = readBuffer();
      for (let got = 0; got < job.length;) {
        const n = r.read(buf, 0, Math.min(buf.length, job.length - got));
        const piece = buf.subarray(0, n);
        keyHash.update(piece);
        h?.update(piece);
        got += n;
      }
      key = keyHash.digest('hex');
    } else {
      seg = segmentBuffer(job.length).subarray(0, job.length);
      for (let got = 0; got < job.length;) got += r.read(seg, got, job.length - got);
      h?.update(seg);
      key = keyHash.update(seg).digest('hex');
    }
    const hit = cacheGet(job.cacheDir, key);
    let z: ZResult;
    let bytes: number | undefined;
    let id: string | undefined;
    let head: string | undefined;
    if ('z' in hit) {
      r.finish();
      ({ z, bytes, id, head } = hit);
    } else {
      if (!seg) r.rewind();
      z = compressExtents(seg ? readFromBytes(seg) : (b, off, len) => r.read(b, off, len), job.length, zp);
      r.finish();
      bytes = cachePut(job.cacheDir, key, z);
    }
    for (const e of z.extents) e.la += job.start;
    return {
      kind: 'z', z, cache: 'z' in hit ? 'hit' : hit.miss, digest: h ? new Uint8Array(h.digest()) : undefined,
      entry: bytes === undefined ? undefined : { key, bytes, ...(id ? { id } : {}), ...(head ? { head } : {}) },
    };
  } finally {
    r.close();
  }
}
