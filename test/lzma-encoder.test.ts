// Our MicroLZMA encoder's work and output, without images (fast): what it costs on incompressible
// input, and that what it writes decodes back under the pedantic decoder.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MicroLzmaEncoder, lzmaDefaultDictSize, INCOMPRESSIBLE_PROBE } from '../src/compress/lzma-encoder.js';
import { microLzmaDecode } from '../src/compress/microlzma.js';
import { decompress } from '../src/compress/codec.js';
import { compressExtents, readFromBytes, type ZParams } from '../src/pipeline/files/zfile.js';
import { COMPRESSION_LZMA } from '../src/format/zmap.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('lzma: an incompressible 300 KB file at -C 1 MiB -b 1024 costs linear encoder work (it was re-encoded to the end for every raw block: 13 s)', () => {
  const size = 300_000;
  const src = pseudoRandom('lzma-incompressible', size);
  const pcluster = 1 << 20;
  const enc = new MicroLzmaEncoder(6, lzmaDefaultDictSize(pcluster));
  let calls = 0;
  const p: ZParams = {
    codec: { name: 'lzma', algorithm: COMPRESSION_LZMA, level: 6, compress: (s, n, cap) => { calls++; return enc.compress(s, n, cap); },
      decompress: (s, q) => decompress(COMPRESSION_LZMA, s, q) },
    blockSize: 1024, pclusterSize: pcluster, big: true, ztailpacking: false,
  };
  const z = compressExtents(readFromBytes(src), size, p);
  // Every block stored raw, the file's bytes as they are.
  assert.equal(z.extents.every((e) => !e.compressed), true);
  assert.equal(z.totalBlocks, Math.ceil(size / 1024));
  assert.equal(sha(Buffer.concat(z.payloads.map((b) => b!)).subarray(0, size)), sha(src));
  // At most one call per raw block (a call's consumed input is stored raw at once, as mkfs.erofs
  // does), each stopping after a probe's worth of input (was: the rest of the file, 45 million
  // positions in all).
  assert.ok(calls <= z.extents.length, `${calls} calls for ${z.extents.length} raw blocks`);
  assert.ok(enc.positionsExamined <= calls * (INCOMPRESSIBLE_PROBE + 4096), `${enc.positionsExamined} positions for ${calls} calls`);
  assert.ok(enc.positionsExamined <= 8 * size, `${enc.positionsExamined} positions for ${size} bytes`);
});

test('lzma: a stream stops at the probe only when it has gained nothing; compressible data after random data is still taken', () => {
  const text = Buffer.from('the optimal parse prices literals, reps and matches with the adaptive model '.repeat(2000));
  const rnd = pseudoRandom('lzma-probe', 20_000);
  const dict = lzmaDefaultDictSize(65536);
  const enc = new MicroLzmaEncoder(6, dict);
  // Random first: stops soon after the probe, with no gain (the caller stores a block raw).
  const a = Buffer.concat([rnd, text]);
  const ra = enc.compress(a, a.length, 65536);
  assert.ok(ra.consumed >= INCOMPRESSIBLE_PROBE && ra.consumed < INCOMPRESSIBLE_PROBE + 512, `${ra.consumed}`);
  assert.ok(ra.data.length >= ra.consumed);
  assert.equal(sha(microLzmaDecode(ra.data, ra.consumed, dict)), sha(a.subarray(0, ra.consumed)));
  // Text first, then random: the gain carries the stream through the random part to the end.
  const b = Buffer.concat([text.subarray(0, 60_000), rnd, text.subarray(0, 30_000)]);
  const rb = enc.compress(b, b.length, 65536);
  assert.equal(rb.consumed, b.length);
  assert.equal(sha(microLzmaDecode(rb.data, rb.consumed, dict)), sha(b));
  // Below the probe nothing changes: a 4 KiB pcluster of random data is full.
  const rc = enc.compress(rnd, rnd.length, 4096);
  assert.ok(rc.data.length > 4096 - 16 && rc.consumed < 4096, `${rc.consumed} -> ${rc.data.length}`);
});
