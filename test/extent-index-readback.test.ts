// Finding (issue 21, peak RSS): the -E dedupe extent index kept a copy of every pcluster's
// decompressed bytes for the whole build (605-690 MiB peak on the bench corpus, -zlz4hc). It now
// keeps them only while their segment is written, and reads a pcluster back from the image (a stored
// block as it is, a stream decoded) when a later match needs it. Here: the same matches as with the
// bytes in memory, found through read-backs, with nothing but a small cache kept.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ExtentIndex } from '../src/pipeline/emit/extent-dedupe.js';
import { makeCodec } from '../src/compress/codec.js';
import { COMPRESSION_LZ4 } from '../src/format/constants.js';
import type { Extent } from '../src/pipeline/files/zfile.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

test('extent index: written pclusters are read back from the image (stored and LZ4), matching as when kept in memory', () => {
  const bs = 4096;
  const image = new Uint8Array(64 * bs);
  const reads: number[] = [];
  const ix = new ExtentIndex(bs, (buf, pos) => {
    reads.push(pos);
    buf.set(image.subarray(pos, pos + buf.length));
    return buf.length;
  }, { blockSize: bs, dictSize: 0, windowSize: 0 });
  // A stored block at block 3, and an LZ4 pcluster (0PADDING: right-aligned) at block 10 holding
  // 3 blocks' worth of compressible text.
  const stored = new Uint8Array(pseudoRandom('stored', bs));
  const text = Buffer.from('extent index read back from the image; '.repeat(400)).subarray(0, 3 * bs);
  const r = makeCodec({ name: 'lz4hc' }, bs).compress(text, text.length, bs);
  assert.equal(r.consumed, text.length, 'the text fits one pcluster');
  image.set(stored, 3 * bs);
  image.set(r.data, 11 * bs - r.data.length);
  const e1: Extent = { la: 0, llen: bs, compressed: false, blocks: 1, blkaddr: 3 };
  const e2: Extent = { la: bs, llen: text.length, compressed: true, blocks: 1, blkaddr: 10 };
  // Views of a segment buffer, as the writer gives them; the buffer is wiped once sealed.
  const seg = new Uint8Array(bs + text.length);
  seg.set(stored, 0);
  seg.set(text, bs);
  ix.insert(seg.subarray(0, bs), e1, true, COMPRESSION_LZ4);
  ix.insert(seg.subarray(bs), e2, false, COMPRESSION_LZ4);
  ix.seal();
  seg.fill(0);
  assert.equal(ix.loads, 0);
  // Input with the stored block at offset 100 and the text (less its last 7 bytes) after it.
  const buf = new Uint8Array(100 + bs + text.length - 7);
  buf.set(pseudoRandom('lead', 100), 0);
  buf.set(stored, 100);
  buf.set(text.subarray(0, text.length - 7), 100 + bs);
  const m1 = ix.matchForward(buf, 0, 200, buf.length, COMPRESSION_LZ4);
  assert.ok(m1, 'the stored block is found');
  assert.equal(m1.at, 100);
  assert.equal(m1.length, bs);
  assert.equal(m1.item.ext, e1);
  const m2 = ix.matchForward(buf, 100 + bs, 100 + bs + 10, buf.length, COMPRESSION_LZ4);
  assert.ok(m2, 'the LZ4 pcluster is found, decoded from the image');
  assert.equal(m2.at, 100 + bs);
  assert.equal(m2.length, text.length - 7, 'a prefix of its output');
  assert.equal(m2.item.ext, e2);
  assert.deepEqual(reads, [3 * bs, 10 * bs]);
  // Used again: served from the cache, not read again.
  assert.ok(ix.matchForward(buf, 100 + bs, 100 + bs, buf.length, COMPRESSION_LZ4));
  assert.equal(ix.loads, 2);
  assert.equal(reads.length, 2);
});
