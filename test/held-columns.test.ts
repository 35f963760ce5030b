// A held result's extents stay columns from the worker's message to the writer (ZResult.cols): the
// map the writer encodes from them is the one it encodes from extent objects, and a step that edits
// extents (the inline tail refused) gets the same objects back.
import test from 'node:test';
import assert from 'node:assert/strict';
import { packResult, unpackResult, type ZBatchResultColumns } from '../src/pipeline/work/job-wire.js';
import { takeSlab } from '../src/pipeline/files/slab-pool.js';
import { extentsOf, packExtents, uninlineTail, zMetaBytes, zMetaLayoutOf, type Extent, type ZParams, type ZResult } from '../src/pipeline/files/zfile.js';
import { makeCodec } from '../src/compress/codec.js';
import type { JobResult, ZJobResult } from '../src/pipeline/work/job-types.js';

const bs = 4096;

function heldResult(): { z: ZResult; extents: Extent[] } {
  const slab = takeSlab(3 * bs);
  const extents: Extent[] = [
    { la: 0, llen: 9000, compressed: true, blocks: 1, blkaddr: 0 },
    { la: 9000, llen: 8192, compressed: false, blocks: 1, blkaddr: 0 },
    { la: 17192, llen: 30000, compressed: true, blocks: 1, blkaddr: 0 },
    { la: 47192, llen: 100, compressed: true, blocks: 0, blkaddr: 0 },
  ];
  const z: ZResult = {
    extents: extents.map((e) => ({ ...e })),
    payloads: [slab.subarray(0, bs), slab.subarray(bs, 2 * bs), slab.subarray(2 * bs, 3 * bs), undefined],
    inline: new Uint8Array([1, 2, 3]), inlineRaw: new Uint8Array(100).fill(7), totalBlocks: 3, slabs: [slab.buffer as ArrayBuffer],
  };
  return { z, extents };
}

function crossed(z: ZResult): ZResult {
  const wire = packResult({ kind: 'zbatch', outcomes: [{ res: { kind: 'z', z, hold: true } }] });
  const back = unpackResult(structuredClone(wire), 0) as Extract<JobResult, { kind: 'zbatch' }>;
  return (back.outcomes[0] as { res: { z: ZResult } }).res.z;
}

test('held_result_extents_cross_as_columns_and_encode_the_same_map', () => {
  const { z, extents } = heldResult();
  const got = crossed(z);
  assert.equal(got.extents.length, 0, 'no extent objects made for a held result');
  assert.ok(got.cols instanceof Float64Array);
  // Placed as the writer does (blkaddr written into the columns) and as objects: the same map bytes.
  const blks = [40, 41, 42, 0];
  for (let k = 0; k < 4; k++) got.cols![5 * k + 4] = blks[k];
  const objs: ZResult = { extents: extents.map((e, k) => ({ ...e, blkaddr: blks[k] })), payloads: [], inline: got.inline, totalBlocks: 3 };
  const zp: ZParams = { codec: makeCodec({ name: 'lz4' }, bs), blockSize: bs, pclusterSize: bs, big: false, ztailpacking: true };
  const size = 47292;
  for (const form of ['compact', 'full'] as const) {
    const l = zMetaLayoutOf(got, size, zp, 64, form);
    const fromCols = zMetaBytes(got, size, zp, l);
    assert.deepEqual(fromCols, zMetaBytes(objs, size, zp, zMetaLayoutOf(objs, size, zp, 64, form)), form);
  }
  // Objects again where a step edits extents: the same as the worker's, with a payload slot each.
  assert.deepEqual(extentsOf(got), objs.extents);
  assert.equal(got.cols, undefined);
  assert.equal(got.payloads.length, 4);
});

test('held_result_inline_tail_refused_from_columns_becomes_a_block', () => {
  const { z } = heldResult();
  const got = crossed(z);
  const zp: ZParams = { codec: makeCodec({ name: 'lz4' }, bs), blockSize: bs, pclusterSize: bs, big: false, ztailpacking: true };
  uninlineTail(got, zp);
  assert.equal(got.cols, undefined);
  assert.equal(got.inline, undefined);
  assert.deepEqual(packExtents(got.extents).slice(0, 15), packExtents(z.extents).slice(0, 15));
  const last = got.extents[got.extents.length - 1];
  assert.deepEqual([last.la, last.llen, last.blocks], [47192, 100, 1]);
  assert.equal(got.payloads.length, got.extents.length);
  assert.equal(got.payloads[3]!.length, bs);
});

test('small_files_results_cross_as_batch_columns_and_unpack_the_same', () => {
  const mk = (i: number): { res: ZJobResult } => {
    const { z } = heldResult();
    if (i === 1) {
      z.inline = undefined;
      z.inlineRaw = undefined;
      z.extents.pop();
      z.payloads.pop();
    }
    return { res: { kind: 'z', z, hold: true, ...(i === 2 ? { digest: new Uint8Array(32).fill(i) } : {}) } };
  };
  const wire = packResult({ kind: 'zbatch', outcomes: [mk(0), mk(1), mk(2)] });
  assert.equal(wire.kind, 'zbatch-columns', 'three arrays, no object per file');
  const c = structuredClone(wire) as ZBatchResultColumns;
  assert.deepEqual(Object.keys(c).sort(), ['bytes', 'cols', 'heads', 'kind']);
  const back = unpackResult(c, 1) as Extract<JobResult, { kind: 'zbatch' }>;
  assert.equal(back.kind, 'zbatch');
  const zs = back.outcomes.map((o) => (o as { res: ZJobResult }).res);
  const { extents } = heldResult();
  for (const [i, r] of zs.entries()) {
    const want = i === 1 ? extents.slice(0, 3) : extents;
    assert.deepEqual(extentsOf({ ...r.z }), want, `result ${i}: extents`);
    assert.equal(r.z.held!.worker, 1);
    assert.equal(r.z.totalBlocks, 3);
    assert.deepEqual(r.z.inline, i === 1 ? undefined : new Uint8Array([1, 2, 3]));
    assert.deepEqual(r.z.inlineRaw, i === 1 ? undefined : new Uint8Array(100).fill(7));
    assert.deepEqual(r.digest, i === 2 ? new Uint8Array(32).fill(2) : undefined);
  }
  // An outcome the columns do not carry (an error, a cache entry): the batch crosses as objects.
  const withError = packResult({ kind: 'zbatch', outcomes: [mk(0), { error: 'gone', user: true }] });
  assert.equal(withError.kind, 'zbatch');
  const withEntry = packResult({ kind: 'zbatch', outcomes: [{ res: { ...mk(0).res, entry: { key: 'k', bytes: 1 } } }] });
  assert.equal(withEntry.kind, 'zbatch');
});
