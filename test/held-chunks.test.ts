// A held compression result (work/held-results.ts) assembles its pclusters in place in the worker's
// held chunks (files/held-chunks.ts): no slab of its own, no copy at the end, the same bytes as a
// result that crosses threads, and its chunks reused once the writer lets it go.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { compressJob } from '../src/pipeline/work/job-compress.js';
import { packResult, unpackResult } from '../src/pipeline/work/job-wire.js';
import { heldWriteJob } from '../src/pipeline/work/held-results.js';
import { CHUNK_BYTES, chunkCounts } from '../src/pipeline/files/held-chunks.js';
import type { ZJob, ZJobParams, ZJobResult } from '../src/pipeline/work/job-types.js';
import type { ZResult } from '../src/pipeline/files/zfile.js';

test('held_results_assembled_in_chunks: payloads in place in reused chunks, the same bytes as a crossing result', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-chunks-'));
  try {
    // Compressible text with some noise: many pclusters, some stored raw.
    const size = 700_000;
    const bytes = new Uint8Array(size);
    let x = 1;
    for (let i = 0; i < size; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[i] = i % 50_000 < 40_000 ? 97 + ((i * 7) % 13) + (x >>> 30) : x >>> 24;
    }
    const file = path.join(d, 'f');
    fs.writeFileSync(file, bytes);
    const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    const job = (hold: boolean): ZJob => ({ kind: 'z', path: file, size, start: 0, length: size, params, hold });

    const plain = compressJob(job(false)).z;
    const before = chunkCounts();
    const held = compressJob(job(true)).z;
    assert.equal(held.slabs, undefined, 'no slab of its own');
    assert.ok(held.chunks && held.chunks.length >= 1);
    assert.equal(held.payloads.length, plain.payloads.length);
    for (let i = 0; i < held.payloads.length; i++) {
      const v = held.payloads[i]!;
      assert.equal(v.buffer.byteLength, CHUNK_BYTES, 'a view of a chunk');
      assert.ok(held.chunks.includes(v.buffer as ArrayBuffer));
      assert.deepEqual(v, plain.payloads[i], `pcluster ${i}: the same bytes`);
    }
    assert.deepEqual(held.extents, plain.extents);

    // Held, written where placed, let go: the chunks are free for the next results.
    const wire = packResult({ kind: 'z', z: held, hold: true });
    const back = (unpackResult(structuredClone(wire), 0) as ZJobResult).z as ZResult;
    const id = back.held!.id;
    const image = path.join(d, 'img');
    fs.writeFileSync(image, new Uint8Array(0));
    const runs: number[] = [];
    let at = 0;
    // A held result's extents come as columns (ZResult.cols): one run per pcluster payload.
    for (let i = 0; i < back.held!.pay.length / 3; i++) {
      const p = back.held!.pay;
      runs.push(id, p[3 * i], p[3 * i + 1], p[3 * i + 2], at);
      at += p[3 * i + 2];
    }
    heldWriteJob({ kind: 'hwrite', image, runs: Float64Array.from(runs), free: [id] });
    const out = fs.readFileSync(image);
    let off = 0;
    for (const p of plain.payloads) {
      assert.deepEqual(out.subarray(off, off + p!.length), Buffer.from(p!));
      off += p!.length;
    }
    const after = chunkCounts();
    // Only the chunk still being filled stays in use, counted by no result.
    assert.equal(after.refs, before.refs);
    assert.ok(after.live <= Math.max(before.live, 1), `chunks in use after release: ${after.live}`);
    const again = compressJob(job(true)).z;
    assert.ok(again.chunks!.every((b) => b.byteLength === CHUNK_BYTES));
    assert.ok(chunkCounts().live <= after.live + again.chunks!.length);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('held_chunks_let_go_when_the_job_fails: a file that changed drops its chunks', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-chunks-'));
  try {
    const size = 200_000;
    const file = path.join(d, 'f');
    fs.writeFileSync(file, new Uint8Array(size).fill(7));
    const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    // Planned shorter than it is: the file "grew", the job fails after compressing.
    const before = chunkCounts();
    assert.throws(() => compressJob({ kind: 'z', path: file, size: size - 10, start: 0, length: size - 10, params, hold: true }), /grew/);
    assert.equal(chunkCounts().refs, before.refs, 'no chunk still counted for the failed job');
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('payloads_written_whole_over_stale_memory: padding and the ends of short raw blocks are zeros whatever the chunk or arena held', async () => {
  const { lz4DecompressStrict } = await import('../src/compress/lz4.js');
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-chunks-'));
  try {
    const params: ZJobParams = { codec: { name: 'lz4' }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    // Noise first: the chunks and the scratch arena are left full of non-zero bytes.
    const noise = new Uint8Array(3 << 20);
    let x = 7;
    for (let i = 0; i < noise.length; i++) { x = (x * 1103515245 + 12345) >>> 0; noise[i] = (x >>> 24) | 1; }
    const nf = path.join(d, 'noise');
    fs.writeFileSync(path.join(d, 'img'), new Uint8Array(0));
    fs.writeFileSync(nf, noise);
    for (const hold of [true, false]) {
      const r = compressJob({ kind: 'z', path: nf, size: noise.length, start: 0, length: noise.length, params, hold });
      if (hold) {
        const back = (unpackResult(structuredClone(packResult(r)), 0) as ZJobResult).z as ZResult;
        heldWriteJob({ kind: 'hwrite', image: path.join(d, 'img'), runs: new Float64Array(0), free: [back.held!.id] });
      }
    }
    // Then text (compressed pclusters, padded) ending in noise (raw blocks, the last one short).
    const text = new TextEncoder().encode('stale bytes must never reach the image; '.repeat(3000));
    const tail = noise.subarray(0, 10_000);
    const data = new Uint8Array(text.length + tail.length);
    data.set(text);
    data.set(tail, text.length);
    const f = path.join(d, 'f');
    fs.writeFileSync(f, data);
    for (const hold of [true, false]) {
      const z = compressJob({ kind: 'z', path: f, size: data.length, start: 0, length: data.length, params, hold }).z;
      let raw = 0;
      z.extents.forEach((e, i) => {
        const p = z.payloads[i]!;
        if (e.compressed) {
          const start = p.findIndex((b) => b !== 0);
          assert.deepEqual(lz4DecompressStrict(p.subarray(start), e.llen), data.subarray(e.la, e.la + e.llen), `hold ${hold}: pcluster ${i} decodes from its first non-zero byte`);
        } else {
          raw++;
          assert.deepEqual(p.subarray(0, e.llen), data.subarray(e.la, e.la + e.llen));
          assert.ok(p.subarray(e.llen).every((b) => b === 0), `hold ${hold}: raw block ${i} ends in zeros`);
        }
      });
      assert.ok(raw > 0 && z.extents.at(-1)!.llen < 4096 && !z.extents.at(-1)!.compressed, 'the case is covered: a short raw block last');
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
