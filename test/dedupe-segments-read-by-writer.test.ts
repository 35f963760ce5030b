// -E dedupe: a compression job no longer sends its segment's bytes back with its extents (each
// segment in flight was held twice, raw and compressed: -Ededupe -zlz4hc peaked at 338-359 MiB on the
// bench corpus); the writer reads the segment itself into one buffer it reuses (segment-bytes.ts),
// with the same checks as any read of the source.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { compressJob } from '../src/pipeline/work/job-compress.js';
import { SegmentBytes } from '../src/pipeline/files/segment-bytes.js';
import { parseCompressor } from '../src/compress/codec.js';
import { newInode, NO_XATTRS, type Inode } from '../src/source/tree.js';
import { UserError } from '../src/errors.js';

const BYTES = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));

function fileInode(p: string, st: fs.BigIntStats): Inode {
  return newInode({
    kind: 'reg', mode: Number(st.mode), uid: 0, gid: 0, mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    size: Number(st.size), rdevMajor: 0, rdevMinor: 0, xattrs: NO_XATTRS, links: 1,
    data: { type: 'path', path: Buffer.from(p), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs },
  }, path.basename(p), undefined);
}

test('dedupe_segments_read_by_writer: jobs return no segment bytes; the writer reads them into one buffer, refusing a changed file', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-segbytes-'));
  try {
    const f = path.join(d, 'f');
    fs.writeFileSync(f, BYTES);
    const st = fs.statSync(f, { bigint: true });
    const p = fileInode(f, st);
    const r = compressJob({
      kind: 'z', src: p.data!, path: f, size: BYTES.length, start: 0, length: BYTES.length,
      params: { codec: parseCompressor('lz4hc'), blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false, dedupe: true },
    });
    assert.equal(r.z.raw, undefined, 'no segment bytes in the result');
    assert.equal(r.z.extents.reduce((a, e) => a + e.llen, 0), BYTES.length);

    const seg = new SegmentBytes();
    const a = seg.read(p, 0, 200_000);
    assert.ok(Buffer.from(a).equals(BYTES.subarray(0, 200_000)));
    const b = seg.read(p, 200_000, 100_000);
    assert.ok(Buffer.from(b).equals(BYTES.subarray(200_000)));
    assert.equal(b.buffer, a.buffer, 'one buffer, reused');

    // Modified since the scan: refused by name, as the worker's read would be.
    fs.writeFileSync(f, Buffer.from(BYTES).fill(1, 0, 10));
    fs.utimesSync(f, new Date(0), new Date(0));
    assert.throws(() => seg.read(p, 0, 100), (e: unknown) => e instanceof UserError && /changed during build/.test(e.message));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
