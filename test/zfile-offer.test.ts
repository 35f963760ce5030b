// How compressExtents feeds the compressor, as mkfs.erofs 1.9.3 lib/compress.c does, counted in
// compressor calls and bytes offered (never time): what one pcluster is offered, and what is stored
// raw when a pcluster saves no block.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { makeCodec, type Codec } from '../src/compress/codec.js';
import { compressExtents, readFromBytes, type ZParams, type ZResult } from '../src/pipeline/files/zfile.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Counted { codec: Codec; offered: number[]; consumed: number[] }

function counted(name: 'deflate' | 'lz4hc' | 'lzma', pcluster: number): Counted {
  const inner = makeCodec({ name }, pcluster);
  const c: Counted = { offered: [], consumed: [], codec: inner };
  c.codec = {
    ...inner,
    compress(src, srcLen, cap) {
      const r = inner.compress(src, srcLen, cap);
      c.offered.push(srcLen);
      c.consumed.push(r.consumed);
      return r;
    },
    // The in-place call, where the codec has one (lz4hc), counted likewise.
    compressAt: inner.compressAt && ((buf, at, srcLen, cap) => {
      const r = inner.compressAt!(buf, at, srcLen, cap);
      c.offered.push(srcLen);
      c.consumed.push(r.consumed);
      return r;
    }),
  };
  return c;
}

function run(src: Uint8Array, p: ZParams): ZResult {
  return compressExtents(readFromBytes(src), src.length, p);
}

for (const [name, pcluster, bs] of [['deflate', 1 << 20, 1024], ['lz4hc', 1 << 18, 1024], ['lzma', 1 << 20, 1024], ['deflate', 65536, 4096], ['lz4hc', 65536, 4096]] as const) {
  test(`incompressible input is stored raw as far as the compressor consumed it, in one call (${name} -C ${pcluster} -b ${bs}; was one raw block per call, the rest re-encoded each time)`, () => {
    const size = 300_000;
    const src = pseudoRandom(`zfile-raw-${name}`, size);
    const c = counted(name, pcluster);
    const z = run(src, { codec: c.codec, blockSize: bs, pclusterSize: pcluster, big: true, ztailpacking: false });
    // Every block PLAIN, one block per extent, the file's bytes as they are.
    assert.ok(z.extents.every((e) => !e.compressed && e.blocks === 1 && e.llen === Math.min(bs, size - e.la)));
    assert.equal(z.totalBlocks, Math.ceil(size / bs));
    assert.equal(sha(Buffer.concat(z.payloads.map((b) => b!)).subarray(0, size)), sha(src));
    // mkfs.erofs write_uncompressed_extents: max(1, floor(consumed / bs)) raw blocks per failed pcluster.
    let la = 0;
    for (let i = 0; i < c.consumed.length; i++) {
      const blocks = Math.max(1, Math.floor(c.consumed[i] / bs));
      la = Math.min(size, la + blocks * bs);
    }
    assert.equal(la, size, 'the raw runs cover the file');
    // Bytes offered in all: about the file once per pcluster's worth consumed, not once per block.
    const offered = c.offered.reduce((a, b) => a + b, 0);
    assert.ok(c.offered.length <= Math.ceil(size / Math.min(pcluster, 4096)) + 2, `${c.offered.length} calls`);
    if (name !== 'lzma') assert.ok(c.offered.length <= Math.ceil(size / pcluster) + 2, `${c.offered.length} calls for ${size} bytes at -C ${pcluster}`);
    assert.ok(offered <= (c.offered.length * size), `${offered} bytes offered`);
  });
}

test('a raw run stops where the compressor stopped: compressible data after random data is still compressed', () => {
  const bs = 4096;
  const rnd = pseudoRandom('zfile-raw-mixed', 3 * 65536);
  const text = Buffer.from('each pcluster is offered the rest of the input and keeps what fits '.repeat(4000));
  const src = Buffer.concat([rnd, text]);
  const c = counted('deflate', 65536);
  const z = run(src, { codec: c.codec, blockSize: bs, pclusterSize: 65536, big: true, ztailpacking: false });
  const rawBytes = z.extents.filter((e) => !e.compressed).reduce((a, e) => a + e.llen, 0);
  assert.ok(rawBytes >= rnd.length - 65536 && rawBytes <= rnd.length + 65536, `${rawBytes} raw bytes`);
  assert.ok(z.extents.some((e) => e.compressed && e.la >= rnd.length - 65536));
  assert.ok(z.totalBlocks * bs < rnd.length + text.length / 10);
});

test('each pcluster is offered 8000 KiB of input whatever -C (mkfs.erofs offers its whole queue, 4000..8000 KiB; was max(256 KiB, 64 x pcluster), at most 4 MiB)', () => {
  const size = 9 << 20;
  const src = Buffer.alloc(size, 0x61);
  for (let i = 0; i < size; i += 1000) src[i] = 0x30 + ((i / 1000) % 10);
  for (const pcluster of [4096, 16384, 65536]) {
    const c = counted('lz4hc', pcluster);
    const z = run(src, { codec: c.codec, blockSize: 4096, pclusterSize: pcluster, big: true, ztailpacking: false });
    assert.equal(c.offered[0], 8000 << 10, `-C ${pcluster}: first offer`);
    // Every offer is min(rest, 4 MiB), a function of the position alone.
    assert.equal(c.offered.length, z.extents.length);
    z.extents.forEach((e, i) => assert.equal(c.offered[i], Math.min(size - e.la, 8000 << 10), `-C ${pcluster}: offer ${i} at ${e.la}`));
  }
});

test('input_window_one_and_a_half_offers: a 16 MiB segment is read through a window of 12,000 KiB (was 16,000, resident in each worker to the end of a build), every offer the source bytes at its position', () => {
  const size = 16 << 20;
  const src = Buffer.alloc(size, 0x61);
  for (let i = 0; i < size; i += 997) src[i] = 0x30 + ((i / 997) % 10);
  const inner = makeCodec({ name: 'lz4' }, 4096);
  const windows: number[] = [];
  const bad: string[] = [];
  let pos = 0;
  const codec: Codec = {
    ...inner,
    window: (n: number, outCap: number) => {
      windows.push(n);
      return inner.window!(n, outCap);
    },
    compress(s, srcLen, cap) {
      if (srcLen !== Math.min(size - pos, 8000 << 10)) bad.push(`offer of ${srcLen} at ${pos}`);
      else if (sha(s.subarray(0, srcLen)) !== sha(src.subarray(pos, pos + srcLen))) bad.push(`other bytes offered at ${pos}`);
      const r = inner.compress(s, srcLen, cap);
      pos += r.consumed;
      return r;
    },
    compressAt(buf, at, srcLen, cap) {
      if (srcLen !== Math.min(size - pos, 8000 << 10)) bad.push(`offer of ${srcLen} at ${pos}`);
      else if (sha(buf.subarray(at, at + srcLen)) !== sha(src.subarray(pos, pos + srcLen))) bad.push(`other bytes offered at ${pos}`);
      const r = inner.compressAt!(buf, at, srcLen, cap);
      pos += r.consumed;
      return r;
    },
  };
  const z = run(src, { codec, blockSize: 4096, pclusterSize: 4096, big: true, ztailpacking: false });
  assert.deepEqual(bad, []);
  assert.equal(pos, size, 'all of it compressed');
  assert.ok(z.extents.length > 1);
  assert.deepEqual(windows, [12000 << 10]);
});
