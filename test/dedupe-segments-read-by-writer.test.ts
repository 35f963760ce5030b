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
import { makeCodec, parseCompressor } from '../src/compress/codec.js';
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

    // dedupe_segment_read_into_encoder_window: with an encoder that reads its input in place, the
    // segment is read into its window (no buffer of its own besides it), and the steps compressed
    // from it (extent-dedupe.ts) are encoded in place: the same stream as from a copy.
    const codec = makeCodec(parseCompressor('lz4hc'), 4096);
    const fresh = new SegmentBytes();
    const c = fresh.read(p, 0, 250_000, { codec, outCap: 4096 });
    assert.ok(Buffer.from(c).equals(BYTES.subarray(0, 250_000)));
    assert.equal(c.buffer, codec.window!(250_000, 4096).buffer, 'read into the encoder window');
    assert.equal((fresh as unknown as { buf: Uint8Array }).buf.length, 0, 'no buffer of its own');
    const inPlace = codec.compress(c, c.length, 4096);
    const want = { consumed: inPlace.consumed, data: inPlace.data.slice() };
    const copied = makeCodec(parseCompressor('lz4hc'), 4096).compress(Uint8Array.from(BYTES.subarray(0, 250_000)), 250_000, 4096);
    assert.equal(want.consumed, copied.consumed);
    assert.ok(Buffer.from(want.data).equals(Buffer.from(copied.data)));
    assert.ok(Buffer.from(c).equals(BYTES.subarray(0, 250_000)), 'the window unchanged by encoding it');

    // Modified since the scan: refused by name, as the worker's read would be.
    fs.writeFileSync(f, Buffer.from(BYTES).fill(1, 0, 10));
    fs.utimesSync(f, new Date(0), new Date(0));
    assert.throws(() => seg.read(p, 0, 100), (e: unknown) => e instanceof UserError && /changed during build/.test(e.message));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
