// Issue 18 point 5: on a rootfs-like tree, erofs-forge's mkfs-compatible command writes images no
// larger than mkfs.erofs 1.9.3 for the same line. The tree is generated from a fixed seed (text
// files, structured binaries, incompressible blobs, sizes from tens of bytes to a few hundred KiB)
// so the sizes are the same on every machine. The full grid on real trees: bench/size-grid.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { FORGE_BIN, findTool, needVersion, runOk } from './helpers/tools.js';
import { mulberry32, noise } from './helpers/noise.js';
import { compressExtents, readFromBytes } from '../src/pipeline/files/zfile.js';
import { makeCodec } from '../src/compress/codec.js';
import { lz4DecompressStrict } from '../src/compress/lz4.js';

const WORDS = ('the of and to in is for on that with as by this are from be or at an it not which have '
  + 'error return value struct int char void unsigned const static if else while size_t buffer file path '
  + 'config option default enable disable module kernel device driver memory page block inode data').split(' ');

/** A text file: lines of words, some repeated from earlier lines as real sources and docs repeat. */
function textFile(rnd: () => number, n: number): Buffer {
  const lines: string[] = [];
  let len = 0;
  while (len < n) {
    let line: string;
    if (lines.length > 4 && rnd() % 4 === 0) {
      line = lines[lines.length - 1 - (rnd() % Math.min(lines.length, 40))];
    } else {
      const w: string[] = [];
      for (let k = 2 + (rnd() % 10); k > 0; k--) w.push(WORDS[rnd() % WORDS.length]);
      line = ' '.repeat(2 * (rnd() % 4)) + w.join(' ') + (rnd() % 3 === 0 ? ` ${rnd() % 100000};` : '');
    }
    lines.push(line);
    len += line.length + 1;
  }
  return Buffer.from(lines.join('\n')).subarray(0, n);
}

/** A binary-like file: little-endian records with small fields, a string table and random runs. */
function binaryFile(rnd: () => number, n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let o = 0;
  while (o < n) {
    const kind = rnd() % 5;
    const m = Math.min(n - o, 64 + (rnd() % 2048));
    if (kind === 0) noise(m, seed + o).copy(b, o);
    else if (kind === 1) b.write(textFile(rnd, m).toString('latin1'), o, 'latin1');
    else {
      for (let i = 0; i + 8 <= m; i += 8) {
        b.writeUInt32LE(0x400000 + (o + i) * 4 + (rnd() % 64), o + i);
        b.writeUInt32LE(rnd() % (kind === 2 ? 16 : 4096), o + i + 4);
      }
    }
    o += m;
  }
  return b;
}

function makeTree(root: string): void {
  const rnd = mulberry32(18_5);
  for (let d = 0; d < 12; d++) {
    const dir = path.join(root, `usr/share/d${d}`, d % 3 === 0 ? 'sub' : '');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 30; f++) {
      // log-uniform sizes, 32 B .. ~300 KiB
      const n = Math.floor(32 * Math.pow(2, (rnd() % 1300) / 100));
      const kind = rnd() % 10;
      const data = kind < 6 ? textFile(rnd, n) : kind < 9 ? binaryFile(rnd, n, d * 100 + f) : noise(n, d * 1000 + f);
      fs.writeFileSync(path.join(dir, `f${f}${kind < 6 ? '.txt' : '.bin'}`), data);
    }
  }
}

const LINES = [
  '-zlz4 -C16384 -Eztailpacking',
  '-zlz4 -C65536',
  '-zlz4hc -C16384 -Eztailpacking',
  '-zlz4hc -C65536 -Eztailpacking',
  '-zlz4hc,12 -C65536',
  '-zlz4hc -C262144',
];

test('mkfs images of a rootfs-like tree are no larger than mkfs.erofs 1.9.3 for the same line', (t) => {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3')) return;
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-size-'));
  try {
    const src = path.join(dir, 'src');
    makeTree(src);
    const common = ['--quiet', '-T0', '-U', '6a1f4c3e-2b7d-4e9a-8c5f-0d1e2f3a4b5c', '--workers=1'];
    const rows: string[] = [];
    for (const line of LINES) {
      const a = path.join(dir, 'ref.img');
      const b = path.join(dir, 'forge.img');
      runOk(mkfs, [...common, ...line.split(' '), a, src]);
      runOk(process.execPath, [FORGE_BIN, 'mkfs', ...common, ...line.split(' '), b, src]);
      const sa = fs.statSync(a).size;
      const sb = fs.statSync(b).size;
      rows.push(`${line}: ${sb} / ${sa} = ${(sb / sa).toFixed(4)}`);
    }
    for (const r of rows) t.diagnostic(r);
    const over = rows.filter((r) => Number(r.split('= ')[1]) > 1);
    assert.deepEqual(over, [], `larger than mkfs.erofs 1.9.3:\n${rows.join('\n')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ztailpacking: a last pcluster whose stream spills into a block is compressed again into the blocks below it, the rest inlined (mkfs.erofs tryrecompress_trailing)', () => {
  const bs = 4096;
  const text = textFile(mulberry32(21), 60_000);
  for (const [name, level] of [['lz4', 0], ['lz4hc', 9]] as const) {
    const codec = makeCodec({ name, level }, 16384);
    // a length whose stream ends less than 1 KiB into its last block: the trimmed form saves a block
    let data = text;
    let whole = codec.compress(data, data.length, 16384);
    for (let n = 20_000; n < 60_000; n += 500) {
      data = text.subarray(0, n);
      whole = codec.compress(data, data.length, 16384);
      if (whole.consumed === n && whole.data.length > bs && whole.data.length % bs < 1024) break;
    }
    assert.equal(whole.consumed, data.length, 'the file fits one pcluster');
    const untrimmed = Math.ceil(whole.data.length / bs);
    assert.ok(whole.data.length % bs !== 0 && untrimmed >= 2);
    const z = compressExtents(readFromBytes(data), data.length, { codec, blockSize: bs, pclusterSize: 16384, big: true, ztailpacking: true });
    assert.equal(z.extents.length, 2, name);
    const [head, tail] = z.extents;
    assert.ok(head.compressed && head.blocks === untrimmed - 1, `${name}: ${head.blocks} blocks, was ${untrimmed}`);
    assert.ok(tail.blocks === 0 && z.inline !== undefined && head.llen + tail.llen === data.length);
    assert.ok(head.blocks * bs + z.inline.length < untrimmed * bs, `${name}: smaller than before`);
    // the pcluster (0PADDING: the stream ends at its last byte) and the inline tail decode to the file
    const p = z.payloads[0]!;
    let s0 = 0;
    while (p[s0] === 0) s0++;
    const out = Buffer.from(lz4DecompressStrict(p.subarray(s0), head.llen));
    const rest = tail.compressed ? Buffer.from(lz4DecompressStrict(z.inline, tail.llen)) : Buffer.from(z.inline);
    assert.ok(Buffer.concat([out, rest]).equals(data), `${name}: decodes to the file`);
  }
});
