// Finding (issue 21, GC cost): the writer made an object per lcluster for the index encoders (and
// a DataView per FULL index), its largest allocation in a -zlz4 build of the bench corpus (~13 of
// ~160 MiB sampled on the main thread). lclusterIndexes now fills two objects anew at each at(), and
// encodeFullIndex writes bytes directly. Here: the entries are reused, and the FULL and COMPACT
// bytes are those of the same entries given as separate objects; encodeFullIndex's bytes are those
// of the DataView encoding, blkaddr above 2^31 included.
import test from 'node:test';
import assert from 'node:assert/strict';
import { lclusterIndexes, packExtents, type Extent, type ZParams } from '../src/pipeline/files/zfile.js';
import { compactLayout, encodeCompactIndexes, encodeFullIndex, encodeFullIndexes, LCLUSTER_TYPE_NONHEAD, type LclusterIndex } from '../src/format/zmap.js';
import { makeCodec } from '../src/compress/codec.js';

const BS = 4096;

function params(big: boolean): ZParams {
  return { codec: makeCodec({ name: 'lz4' }, 4 * BS), blockSize: BS, pclusterSize: 4 * BS, big, ztailpacking: false };
}

// A file of 40 lclusters and a partial last block: pclusters of 1-4 blocks, a stored block, a
// PARTIAL_REF extent, and extents starting inside lclusters.
const SIZE = 39 * BS + 100;
const EXTENTS: Extent[] = [
  { la: 0, llen: 5 * BS, compressed: true, blocks: 2, blkaddr: 100 },
  { la: 5 * BS, llen: BS, compressed: false, blocks: 1, blkaddr: 102 },
  { la: 6 * BS, llen: 9 * BS + 300, compressed: true, blocks: 4, blkaddr: 103 },
  { la: 15 * BS + 300, llen: 6 * BS, compressed: true, blocks: 1, blkaddr: 0x80000001, partial: true },
  { la: 21 * BS + 300, llen: SIZE - 21 * BS - 300 - 2 * BS, compressed: true, blocks: 3, blkaddr: 107 },
  { la: SIZE - 2 * BS, llen: 2 * BS, compressed: false, blocks: 2, blkaddr: 110 },
];

test('lcluster_entries_reused: the same bytes as from an object per lcluster', () => {
  for (const big of [false, true]) {
    const p = params(big);
    const cols = packExtents(EXTENTS);
    const xs = lclusterIndexes(cols, SIZE, p);
    const copies: LclusterIndex[] = [];
    const seen = new Set<LclusterIndex>();
    for (let i = 0; i < xs.length; i++) {
      const x = xs.at(i);
      seen.add(x);
      copies.push({ ...x });
    }
    assert.equal(seen.size, 2, 'one head object and one NONHEAD object, filled anew');
    assert.ok(copies.some((x) => x.type === LCLUSTER_TYPE_NONHEAD) && copies.some((x) => x.type !== LCLUSTER_TYPE_NONHEAD));
    assert.deepEqual(encodeFullIndexes(lclusterIndexes(cols, SIZE, p)), encodeFullIndexes(copies));
    if (big) continue;
    const layout = compactLayout(8, copies.length, true);
    const cp = { layout, bigPcluster: big, lclusterbits: 12, startBlkaddr: 100 };
    assert.deepEqual(encodeCompactIndexes(lclusterIndexes(cols, SIZE, p), cp), encodeCompactIndexes(copies, cp));
  }
  // encodeFullIndex against the DataView encoding it replaced.
  const cases: LclusterIndex[] = [
    { type: 0, clusterofs: 4095, blkaddr: 0xfffffffe, partialRef: false },
    { type: 1, clusterofs: 17, blkaddr: 0x80000001, partialRef: true },
    { type: LCLUSTER_TYPE_NONHEAD, delta0: 0x800 | 3, delta1: 65535 },
  ];
  for (const x of cases) {
    const got = new Uint8Array(10).fill(0xaa);
    encodeFullIndex(x, got, 1);
    const want = new Uint8Array(10).fill(0xaa);
    const v = new DataView(want.buffer, 1, 8);
    if (x.type === LCLUSTER_TYPE_NONHEAD) {
      v.setUint16(0, LCLUSTER_TYPE_NONHEAD, true);
      v.setUint16(2, 0, true);
      v.setUint16(4, x.delta0, true);
      v.setUint16(6, x.delta1, true);
    } else {
      v.setUint16(0, x.type | (x.partialRef ? 0x8000 : 0), true);
      v.setUint16(2, x.clusterofs, true);
      v.setUint32(4, x.blkaddr, true);
    }
    assert.deepEqual(got, want, JSON.stringify(x));
  }
});
