// The writer encodes a compressed inode's map header and indexes straight into its metadata bytes
// (zMetaBytes), where each part was encoded into an array of its own and copied. Here: each encoder
// writes over stale bytes at an offset exactly what it returns on its own, touching nothing around
// it; and legacyMetaSize, now computed without a layout object, is the FULL layout's size.
import test from 'node:test';
import assert from 'node:assert/strict';
import { legacyMetaSize, lclusterIndexes, packExtents, type Extent, type ZParams } from '../src/pipeline/files/zfile.js';
import { compactLayout, encodeCompactIndexes, encodeFullIndexes, encodeMapHeader, zMetaLayout, lclusterCount, type MapHeader } from '../src/format/zmap.js';
import { makeCodec } from '../src/compress/codec.js';

const BS = 4096;
const SIZE = 21 * BS + 77;
const EXTENTS: Extent[] = [
  { la: 0, llen: 5 * BS, compressed: true, blocks: 2, blkaddr: 100 },
  { la: 5 * BS, llen: BS, compressed: false, blocks: 1, blkaddr: 102 },
  { la: 6 * BS, llen: 9 * BS + 300, compressed: true, blocks: 4, blkaddr: 103 },
  { la: 15 * BS + 300, llen: SIZE - 15 * BS - 300, compressed: true, blocks: 3, blkaddr: 107 },
];

/** `encode` into 0xee-filled bytes at offset 13: the same bytes as alone, the rest untouched. */
function sameInPlace(alone: Uint8Array, encode: (out: Uint8Array, at: number) => void, what: string): void {
  const out = new Uint8Array(alone.length + 30).fill(0xee);
  encode(out, 13);
  assert.deepEqual(out.subarray(13, 13 + alone.length), alone, what);
  assert.ok(out.subarray(0, 13).every((b) => b === 0xee) && out.subarray(13 + alone.length).every((b) => b === 0xee), `${what}: nothing around it`);
}

test('zmap_encoders_write_in_place_the_bytes_they_return', () => {
  const headers: MapHeader[] = [
    { kind: 'indexes', fragmentOff: 0, idataSize: 300, advise: 0x0b, algorithmType: [1, 0], clusterBits: 0 },
    { kind: 'indexes', fragmentOff: 0x12345678, idataSize: 0, advise: 0x20 | 0x01, algorithmType: [0, 2], clusterBits: 3 },
    { kind: 'fragment-inode', fragmentOff: 123456789n },
  ];
  for (const h of headers) sameInPlace(encodeMapHeader(h), (out, at) => encodeMapHeader(h, out, at), `header ${h.kind}`);
  const cols = packExtents(EXTENTS);
  for (const big of [false, true]) {
    const p: ZParams = { codec: makeCodec({ name: 'lz4' }, 4 * BS), blockSize: BS, pclusterSize: 4 * BS, big, ztailpacking: false };
    sameInPlace(encodeFullIndexes(lclusterIndexes(cols, SIZE, p)), (out, at) => encodeFullIndexes(lclusterIndexes(cols, SIZE, p), out, at), `full big=${big}`);
    const cp = { layout: compactLayout(8, lclusterCount(SIZE, BS), true), bigPcluster: big, lclusterbits: 12, startBlkaddr: 100 };
    sameInPlace(encodeCompactIndexes(lclusterIndexes(cols, SIZE, p), cp), (out, at) => encodeCompactIndexes(lclusterIndexes(cols, SIZE, p), cp, out, at), `compact big=${big}`);
  }
});

test('legacy_meta_size_is_the_full_layout_size', () => {
  for (const bs of [512, 4096, 16384]) {
    for (const size of [0, 1, bs - 1, bs, bs + 1, 100 * bs + 5, 1 << 30]) {
      assert.equal(legacyMetaSize(size, bs), zMetaLayout(0, lclusterCount(size, bs), 'full', 0).size, `${size}@${bs}`);
    }
  }
});
