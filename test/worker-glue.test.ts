// What a worker does around the codec in a compressed build, counted (never timed): the LZ4 codec
// reads its window in place and hands back one result object; compressExtents offers each step from
// the window without a view of it; held pclusters that lie one after another in a chunk and on the
// image go out as one piece; a batch's jobs share one ZParams; emptied held chunks are kept for reuse.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { makeCodec, type Codec } from '../src/compress/codec.js';
import { compressExtents, readFromBytes, type ZResult } from '../src/pipeline/files/zfile.js';
import { compressJob, zParamsFor } from '../src/pipeline/work/job-compress.js';
import { packResult, unpackResult } from '../src/pipeline/work/job-wire.js';
import { heldWriteJob, heldWriteCounts } from '../src/pipeline/work/held-results.js';
import type { ZJobParams, ZJobResult } from '../src/pipeline/work/job-types.js';
import { CHUNK_BYTES, KEEP_CHUNKS, chunkCounts, chunkRelease, chunkTake } from '../src/pipeline/files/held-chunks.js';

/** Text with some noise: many pclusters at 4 KiB, a few stored raw. */
function sample(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 7;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = i % 50_000 < 40_000 ? 97 + ((i * 5) % 11) + (x >>> 30) : x >>> 24;
  }
  return bytes;
}

test('lz4_compress_at_in_place_one_result: compressAt reads the window where the input lies, returns the same object each call, the bytes of compress()', () => {
  const codec = makeCodec({ name: 'lz4' }, 4096);
  const src = sample(200_000);
  const win = codec.window!(1 << 20, 4096);
  const at = 50_000;
  win.fill(0xee, 0, at);
  win.set(src, at);
  const r1 = codec.compressAt!(win, at, src.length, 4096);
  const got1 = { consumed: r1.consumed, data: r1.data.slice() };
  // In place: nothing was copied to the window's start (a copy would have put the input there).
  assert.ok(win.subarray(0, at).every((b) => b === 0xee), 'the window before the input untouched');
  const r2 = codec.compressAt!(win, at + got1.consumed, src.length - got1.consumed, 4096);
  assert.equal(r2, r1, 'one result object, rewritten');
  const got2 = { consumed: r2.consumed, data: r2.data.slice() };
  // The same as compress() on copies of the input.
  const other = makeCodec({ name: 'lz4' }, 4096);
  const e1 = other.compress(src.slice(), src.length, 4096);
  const first = e1.data.slice();
  assert.equal(got1.consumed, e1.consumed);
  assert.deepEqual(got1.data, first);
  const rest = src.slice(got1.consumed);
  const e2 = other.compress(rest, rest.length, 4096);
  assert.equal(got2.consumed, e2.consumed);
  assert.deepEqual(got2.data, e2.data.slice());
  // Input outside the window is copied in, with the same result.
  const r3 = codec.compressAt!(src, 0, src.length, 4096);
  assert.equal(r3.consumed, got1.consumed);
  assert.deepEqual(r3.data.slice(), first);
});

test('compress_extents_steps_read_the_window_in_place: every step offered through compressAt on the codec window, no compress() call, the same extents and payloads', () => {
  const size = 600_000;
  const src = sample(size);
  const inner = makeCodec({ name: 'lz4' }, 4096);
  let win: Uint8Array | undefined;
  let viaAt = 0;
  let viaCompress = 0;
  let elsewhere = 0;
  const codec: Codec = {
    ...inner,
    window: (n, outCap) => (win = inner.window!(n, outCap)),
    compress(s, srcLen, cap) {
      viaCompress++;
      return inner.compress(s, srcLen, cap);
    },
    compressAt(buf, at, srcLen, cap) {
      viaAt++;
      if (buf !== win) elsewhere++;
      return inner.compressAt!(buf, at, srcLen, cap);
    },
  };
  const p = { blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
  const z = compressExtents(readFromBytes(src), size, { ...p, codec });
  assert.equal(viaCompress, 0, 'no step through compress()');
  assert.equal(elsewhere, 0, 'every step reads the window itself');
  assert.ok(viaAt > 20 && viaAt === z.extents.filter((e) => e.compressed).length + countRawSteps(z), `${viaAt} steps`);
  // The same as through compress() with a view per step (a codec without compressAt).
  const plain = makeCodec({ name: 'lz4' }, 4096);
  const y = compressExtents(readFromBytes(src), size, { ...p, codec: { ...plain, compressAt: undefined } });
  assert.deepEqual(z.extents, y.extents);
  assert.deepEqual(z.payloads.map((b) => Buffer.from(b!)), y.payloads.map((b) => Buffer.from(b!)));
});

/** Steps that stored their input raw: one per run of PLAIN extents (a run is one failed pcluster). */
function countRawSteps(z: ZResult): number {
  let n = 0;
  for (let i = 0; i < z.extents.length; i++) if (!z.extents[i].compressed && (i === 0 || z.extents[i - 1].compressed)) n++;
  return n;
}

test('held_writes_one_piece_per_stretch: consecutive pclusters of a held chunk placed one after another go out as one writev piece, the same bytes', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-glue-'));
  try {
    const size = 900_000;
    const file = path.join(d, 'f');
    fs.writeFileSync(file, sample(size));
    const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    const plain = compressJob({ kind: 'z', path: file, size, start: 0, length: size, params }).z;
    const held = compressJob({ kind: 'z', path: file, size, start: 0, length: size, params, hold: true }).z;
    const back = (unpackResult(structuredClone(packResult({ kind: 'z', z: held, hold: true })), 0) as ZJobResult).z;
    const pay = back.held!.pay;
    const n = pay.length / 3;
    assert.ok(n > 30);
    // Placed as the writer places a file's pclusters: one after another; then the second half moved
    // on by a block (two stretches on the image).
    const half = n >> 1;
    const runs: number[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      if (i === half) at += 4096;
      runs.push(back.held!.id, pay[3 * i], pay[3 * i + 1], pay[3 * i + 2], at);
      at += pay[3 * i + 2];
    }
    const image = path.join(d, 'img');
    fs.writeFileSync(image, new Uint8Array(0));
    const before = heldWriteCounts();
    heldWriteJob({ kind: 'hwrite', image, runs: Float64Array.from(runs), free: [back.held!.id] });
    const after = heldWriteCounts();
    // A stretch breaks where the image has a gap or the payloads change chunk (a result may begin in
    // the last chunk's rest): a few pieces, not one per pcluster.
    let stretches = 0;
    for (let i = 0; i < n; i++) {
      if (i === 0 || i === half || pay[3 * i] !== pay[3 * i - 3] || pay[3 * i + 1] !== pay[3 * i - 2] + pay[3 * i - 1]) stretches++;
    }
    assert.ok(stretches <= 2 + held.chunks!.length, `${stretches} stretches in ${held.chunks!.length} chunks`);
    assert.deepEqual({ writes: after.writes - before.writes, pieces: after.pieces - before.pieces }, { writes: 2, pieces: stretches },
      `one piece per stretch (was one per pcluster: ${n})`);
    const out = fs.readFileSync(image);
    let off = 0;
    plain.payloads.forEach((b, i) => {
      if (i === half) off += 4096;
      assert.deepEqual(out.subarray(off, off + b!.length), Buffer.from(b!), `pcluster ${i}`);
      off += b!.length;
    });
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('zparams_once_per_batch: the jobs of one parameters object share their ZParams (final piece or not); new parameters, new ZParams', () => {
  const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: true };
  const a = zParamsFor(params, true);
  assert.equal(zParamsFor(params, true), a);
  const b = zParamsFor(params, false);
  assert.notEqual(b, a);
  assert.equal(zParamsFor(params, false), b);
  assert.equal(a.ztailpacking, true, 'the final piece may go inline');
  assert.equal(b.ztailpacking, false, 'another may not');
  assert.equal(a.codec, b.codec, 'one codec');
  const again = { ...params };
  assert.notEqual(zParamsFor(again, true), a);
  assert.deepEqual({ ...zParamsFor(again, true), codec: null }, { ...a, codec: null });
});

test('held_chunks_eight_kept: a result of ten chunks let go leaves eight for reuse (was four), taken again before any new one', () => {
  const before = chunkCounts();
  const use: ArrayBuffer[] = [];
  // Whole-chunk payloads: each take fills a chunk (the current one's rest first).
  for (let i = 0; i < 11; i++) chunkTake(CHUNK_BYTES, use);
  const mid = chunkCounts();
  assert.ok(mid.live >= 10);
  chunkRelease(use);
  const after = chunkCounts();
  assert.equal(KEEP_CHUNKS, 8);
  assert.equal(after.spare, Math.min(KEEP_CHUNKS, before.spare + mid.live - 1), 'emptied chunks kept, up to eight');
  // Taken again: the kept ones, no new chunk (each was one of the result's).
  const again: ArrayBuffer[] = [];
  for (let i = 0; i < after.spare; i++) chunkTake(CHUNK_BYTES, again);
  assert.equal(again.length, after.spare);
  assert.ok(again.every((b) => use.includes(b)), 'reused, not new');
  chunkRelease(again);
});
