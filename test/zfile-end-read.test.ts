// compressExtents reads its input's final bytes asking for one byte more, so that a source reader at
// its file's planned end sees in that read that the file did not grow (SourceReader.read), instead of
// probing with a read of its own in finish(): one system call less per compressed file.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { compressExtents, readFromBytes, type ZParams } from '../src/pipeline/files/zfile.js';
import { makeCodec } from '../src/compress/codec.js';
import { compressJob } from '../src/pipeline/work/job-compress.js';

const zp = (): ZParams => ({ codec: makeCodec({ name: 'lz4' }, 4096), blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false });

test('compress_reads_ask_one_byte_past_the_end: the final read offers room for one byte more, and the result is unchanged', () => {
  for (const size of [1, 4095, 70_000, 1_300_000]) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 31) % 251);
    const asked: [number, number][] = [];
    let pos = 0;
    const inner = readFromBytes(bytes);
    const z = compressExtents((b, off, len) => {
      asked.push([pos, len]);
      const n = inner(b, off, len);
      pos += n;
      return n;
    }, size, zp());
    const [lastAt, lastLen] = asked[asked.length - 1];
    assert.equal(lastLen, size - lastAt + 1, `size ${size}: the last read asks for the rest and one byte`);
    const again = compressExtents(readFromBytes(bytes), size, zp());
    assert.deepEqual(z.extents, again.extents);
    assert.deepEqual(z.payloads.map((p) => p && Buffer.from(p).toString('hex')), again.payloads.map((p) => p && Buffer.from(p).toString('hex')));
  }
});

test('compress_reads_ask_one_byte_past_the_end: a file that grew is still refused', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-endread-'));
  try {
    const file = path.join(d, 'f');
    fs.writeFileSync(file, new Uint8Array(50_001).fill(3));
    const params = { codec: { name: 'lz4' as const }, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false };
    assert.throws(() => compressJob({ kind: 'z', path: file, size: 50_000, start: 0, length: 50_000, params }), /grew/);
    const z = compressJob({ kind: 'z', path: file, size: 50_001, start: 0, length: 50_001, params }).z;
    assert.equal(z.extents.reduce((a, e) => a + e.llen, 0), 50_001);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
