// A --cache compression job keys a segment by all of its bytes before compressing it. A long
// segment is read twice (for its key, then into the codec's window on a miss), its file's ctime
// pinned between the reads, rather than held whole in a per-thread buffer: 16 MiB per worker stayed
// resident from the first long file of a build on.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { compressJob, WHOLE_SEGMENT_MAX } from '../src/pipeline/work/job-compress.js';
import { segmentBufferBytes } from '../src/pipeline/work/thread-buffers.js';
import { SourceReader } from '../src/pipeline/files/source-reader.js';
import type { ZJob, ZJobParams, ZJobResult } from '../src/pipeline/work/job-types.js';

function sample(size: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = 7;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = i % 30_000 < 24_000 ? 97 + ((i * 7) % 13) + (x >>> 30) : x >>> 24;
  }
  return b;
}

/** Wait until the file's ctime is more than a second old (pinForReread's racy margin). */
function ageCtime(file: string): void {
  const c = fs.statSync(file, { bigint: true }).ctimeNs;
  const ms = Number((c + 1_100_000_000n) / 1_000_000n) - Date.now();
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };

test('cached_long_segment_not_held_whole: keyed and compressed from two reads, the thread buffer stays at most WHOLE_SEGMENT_MAX', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-longseg-'));
  try {
    const size = 3 * WHOLE_SEGMENT_MAX + 12_345;
    const bytes = sample(size);
    const file = path.join(d, 'f');
    fs.writeFileSync(file, bytes);
    ageCtime(file);
    const st = fs.statSync(file, { bigint: true });
    const cacheDir = path.join(d, 'cache');
    const fromPath: ZJob = {
      kind: 'z', path: file, mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      size, start: 0, length: size, params, cacheDir, algo: 'sha256',
    };
    const a = compressJob(fromPath) as ZJobResult;
    assert.equal(a.cache, 'absent');
    assert.ok(segmentBufferBytes() <= WHOLE_SEGMENT_MAX, `segment buffer ${segmentBufferBytes()} bytes`);
    assert.deepEqual(Buffer.from(a.digest!), createHash('sha256').update(bytes).digest());
    // The same bytes read whole (a source in memory): the same key, found in the cache, the same pclusters.
    const b = compressJob({ kind: 'z', src: { type: 'buffer', bytes }, path: file, size, start: 0, length: size, params, cacheDir, algo: 'sha256' }) as ZJobResult;
    assert.equal(b.cache, 'hit');
    assert.equal(b.entry!.key, a.entry!.key);
    assert.deepEqual(b.z.extents, a.z.extents);
    assert.deepEqual(b.z.payloads.map((p) => Buffer.from(p!)), a.z.payloads.map((p) => Buffer.from(p!)));
    assert.deepEqual(Buffer.from(b.digest!), Buffer.from(a.digest!));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('reread_refuses_a_write_between_the_reads: a pinned file written to fails at finish; a file changed within a second is not pinned', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-reread-'));
  try {
    const size = 100_000;
    const file = path.join(d, 'f');
    fs.writeFileSync(file, sample(size));
    const src = () => ({ type: 'path' as const, path: Buffer.from(file), mtimeNs: fs.statSync(file, { bigint: true }).mtimeNs });
    const now = () => BigInt(Date.now()) * 1_000_000n;
    // Just written: racy, not pinned.
    const fresh = new SourceReader({ data: src(), path: file }, size);
    assert.equal(fresh.pinForReread(now()), false);
    fresh.close();
    ageCtime(file);
    const r = new SourceReader({ data: src(), path: file }, size);
    try {
      assert.equal(r.pinForReread(now()), true);
      const buf = new Uint8Array(size);
      assert.equal(r.read(buf, 0, size), size);
      // Written between the reads (same size, its mtime put back as far as futimes can).
      const st = fs.statSync(file);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, new Uint8Array([1]), 0, 1, 10);
      fs.futimesSync(fd, st.atime, st.mtime);
      fs.closeSync(fd);
      r.rewind();
      assert.equal(r.read(buf, 0, size), size);
      assert.throws(() => r.finish(), /changed during build/);
    } finally {
      r.close();
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
