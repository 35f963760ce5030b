// zstd and MicroLZMA: the strict decoders (what the kernel rejects is rejected) and the -z zstd
// encoder (kernel mount, fsck.erofs 1.9.3, our reader). The encoder needs Node >= 22.15 (zstd in
// node:zlib): on older Node those tests skip saying so and -z zstd must be refused with one line.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { zstdDecodeStrict, zstdFrameInfo, nodeHasZstd, ZstdFormatError, ZstdEncoder } from '../src/compress/zstd.js';
import { microLzmaDecode, LzmaFormatError } from '../src/compress/microlzma.js';
import { MicroLzmaEncoder, lzmaDefaultDictSize } from '../src/compress/lzma-encoder.js';
import { COMPRESSORS, codecAvailable, codecLevels, parseCompressor } from '../src/compress/codec.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';
import { UserError } from '../src/errors.js';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { findTool, forge, needMount, needRoot, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const NEEDS = 'erofs-utils 1.9.3 (set EROFS_UTILS_BIN to its bin directory)';

/** Skip (saying why) where this Node has no zstd encoder; CI runs Node 22/24/26, where it has. */
function needZstd(t: TestContext): boolean {
  if (nodeHasZstd()) return true;
  t.skip(`zstd encoding needs Node >= 22.15 (this is ${process.versions.node}); CI runs it on Node 22/24/26`);
  return false;
}

/** A zstd frame of one raw block: single segment, 1-byte content size (RFC 8878). */
function rawFrame(data: Uint8Array, opts: { fhd?: number; extra?: number[] } = {}): Uint8Array {
  const n = data.length;
  const bh = (n << 3) | 1; // last block, raw
  return Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, opts.fhd ?? 0x20, ...(opts.extra ?? [n]), bh & 0xff, (bh >> 8) & 0xff, bh >> 16, ...data]);
}

test('zstd frames: one frame, window within the image, no dictionary, exact length (partial: a prefix)', () => {
  const data = Buffer.from('zstd raw block for erofs-forge '.repeat(5)).subarray(0, 150);
  const f = rawFrame(data);
  assert.deepEqual(zstdFrameInfo(f), { frameSize: f.length, windowSize: 150, contentSize: 150, maxOutput: 150 });
  assert.equal(sha(zstdDecodeStrict(f, 150, 4096)), sha(data));
  assert.equal(sha(zstdDecodeStrict(f, 100, 4096, false, 1 << 20)), sha(data.subarray(0, 100)));
  const bad = (src: Uint8Array, len: number, win: number, re: RegExp) =>
    assert.throws(() => zstdDecodeStrict(src, len, win), (e: unknown) => e instanceof ZstdFormatError && re.test(e.message), String(re));
  // The kernel's stream is set up with the image's window as its maximum.
  bad(f, 150, 128, /window 150 larger than the image's 128/);
  bad(f, 149, 4096, /content size 150, extent 149/);
  bad(f, 151, 4096, /content size 150, extent 151/);
  bad(Uint8Array.from([...f, 0]), 150, 4096, /1 bytes after the frame/);
  bad(Uint8Array.from([...f, ...f]), 150, 4096, /bytes after the frame/);
  bad(f.subarray(0, f.length - 1), 150, 4096, /truncated block/);
  bad(rawFrame(data, { fhd: 0x21, extra: [7, 150] }), 150, 4096, /needs dictionary 7/);
  bad(rawFrame(data, { fhd: 0x28 }), 150, 4096, /reserved frame header bit/);
  bad(Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]), 0, 4096, /skippable frame/);
  bad(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfe, 0x20, 1, 1, 0, 0, 0]), 1, 4096, /bad magic/);
  const reserved = Uint8Array.from(f);
  reserved[6] |= 6; // block type 3
  bad(reserved, 150, 4096, /reserved block type/);
});

/** The first pcluster of /a.txt in a mkfs.erofs 1.9.3 -zlzma image: its stream and extent length. */
function mkfsLzmaStream(t: TestContext): { stream: Uint8Array; llen: number; dict: number; data: Buffer } | null {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', `mkfs.erofs from ${NEEDS}`)) return null;
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-lzma-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const words = 'lzma range coder literal match rep distance erofs kernel pcluster '.split(' ');
  let x = 1;
  let s = '';
  while (s.length < 40_000) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += words[x % words.length] + ' ';
  }
  const data = Buffer.from(s);
  fs.writeFileSync(path.join(src, 'a.txt'), data);
  const img = path.join(dir, 'lzma.img');
  const r = run(mkfs, ['--quiet', '-T0', '-Uclear', '-zlzma', img, src]);
  assert.equal(r.status, 0, r.stderr);
  const e = ErofsImage.open(img);
  try {
    const ext = [...compressedExtents(e, e.lookup('/a.txt'))][0];
    assert.equal(ext.kind, 'compressed');
    const raw = e.readAt(ext.pa, ext.plen, 'test');
    let k = 0;
    while (raw[k] === 0) k++;
    return { stream: Uint8Array.from(raw.subarray(k)), llen: ext.llen, dict: 32 << 10, data };
  } finally {
    e.close();
  }
}

test('MicroLZMA decoding is as pedantic as the kernel: all input read, code 0, no match past the end', (t) => {
  const m = mkfsLzmaStream(t);
  if (!m) return;
  const { stream, llen, dict, data } = m;
  assert.equal(sha(microLzmaDecode(stream, llen, dict)), sha(data.subarray(0, llen)));
  // Partial decoding (dedupe PARTIAL_REF) stops at the extent's length.
  assert.equal(sha(microLzmaDecode(stream, llen - 100, dict, false)), sha(data.subarray(0, llen - 100)));
  const bad = (src: Uint8Array, len: number, d: number, re: RegExp) =>
    assert.throws(() => microLzmaDecode(src, len, d), (e: unknown) => e instanceof LzmaFormatError && re.test(e.message), String(re));
  bad(stream, llen - 100, dict, /input left after the extent|past the end of the extent|range coder not finished/);
  bad(stream, llen + 1, dict, /input ends before the output is complete/);
  bad(Uint8Array.from([...stream, 0]), llen, dict, /1 bytes of input left/);
  bad(stream.subarray(0, 4), llen, dict, /shorter than the range coder init/);
  // ~0x00 = 0xff: pb 5, beyond what xz-embedded accepts; lc + lp > 4 likewise (lc 4, lp 1: 0x0d).
  bad(Uint8Array.from([0x00, ...stream.subarray(1)]), llen, dict, /invalid properties byte 0xff/);
  bad(Uint8Array.from([~0x0d & 0xff, ...stream.subarray(1)]), llen, dict, /invalid properties byte 0xd/);
  // The image's dictionary (32 KiB) bounds every distance; a smaller one fails at the first farther match.
  bad(stream, llen, 64, /exceeds the dictionary size 64/);
});

test('every -z name the CLI lists parses; zstd is refused with one line where Node lacks it', () => {
  assert.deepEqual([...COMPRESSORS], ['lz4', 'lz4hc', 'deflate', 'zstd', 'lzma']);
  // mkfs.erofs 1.9.3's defaults and ranges.
  const z = codecLevels('zstd');
  assert.deepEqual([z.default, z.min, z.max], [3, 0, 22]);
  const l = codecLevels('lzma');
  assert.deepEqual([l.default, l.min, l.max], [6, 0, 109]);
  assert.deepEqual([0, 9, 10, 99, 100, 109, 110].map((v) => l.valid(v)), [true, true, false, false, true, true, false]);
  for (const n of COMPRESSORS) {
    if (codecAvailable(n)) assert.equal(parseCompressor(`${n},level=${n === 'lz4' ? 0 : 1}`).name, n);
  }
  if (!nodeHasZstd()) {
    assert.throws(() => parseCompressor('zstd'), (e: unknown) => e instanceof UserError && /^-z zstd: zstd needs Node >= 22\.15 \(this is /.test(e.message));
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-zstd-'));
    try {
      fs.writeFileSync(path.join(dir, 'f'), 'x');
      const img = path.join(dir, 'o.img');
      const r = forge(['build', '-zzstd', img, dir]);
      assert.notEqual(r.status, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /zstd needs Node >= 22\.15/);
      assert.equal(fs.existsSync(img), false, 'no partial output');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.throws(() => parseCompressor('zstd,level=x'), UserError);
  // mkfs.erofs 1.9.3's LZMA levels: 0..9 and 100..109; the build refuses others in one line.
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-lzma-'));
  try {
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    for (const bad of ['lzma,10', 'lzma,level=99', 'lzma,110']) {
      const r = forge(['build', `-z${bad}`, path.join(dir, 'o.img'), dir]);
      assert.notEqual(r.status, 0, bad);
      assert.match(r.stderr, /^erofs-forge: -z lzma: level \d+ out of range 0\.\.9 or 100\.\.109\n$/, bad);
      assert.equal(fs.existsSync(path.join(dir, 'o.img')), false);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('MicroLZMA encoder: the longest decision prefix that fits, decoded back by the pedantic decoder', () => {
  const text = Buffer.from('microlzma encoder range coder optimal parse pcluster kernel erofs '.repeat(3000));
  const src = Buffer.concat([text.subarray(0, 70_000), pseudoRandom('lzma-enc', 30_000), Buffer.alloc(50_000), text.subarray(5, 40_000)]);
  for (const [cap, level] of [[4096, 6], [4096, 0], [16384, 9], [65536, 106]]) {
    const dict = lzmaDefaultDictSize(cap);
    const enc = new MicroLzmaEncoder(level, dict);
    let pos = 0;
    let chunks = 0;
    while (pos < src.length) {
      const s = src.subarray(pos);
      const r = enc.compress(s, s.length, cap);
      assert.ok(r.consumed > 0 && r.data.length <= cap, `cap ${cap} level ${level} at ${pos}: ${r.data.length} bytes for ${r.consumed}`);
      // ~(lc 3, lp 0, pb 2 = 0x5d): the first byte is never 0 (0PADDING).
      assert.equal(r.data[0], 0xa2);
      assert.equal(sha(microLzmaDecode(r.data, r.consumed, dict)), sha(s.subarray(0, r.consumed)), `round trip at ${pos}`);
      // The stream ends before the input only when it is full (within a few bytes), incompressible
      // input too (no probe was asked for, as liblzma's encoder runs to the capacity).
      if (r.consumed < s.length) {
        assert.ok(r.data.length > cap - 16, `stream of ${r.data.length} bytes for ${r.consumed} stopped early for ${cap}`);
      }
      // The same call gives the same bytes (no state kept between calls).
      assert.equal(sha(enc.compress(s, s.length, cap).data), sha(r.data));
      pos += r.consumed;
      chunks++;
    }
    if (cap <= 16384) assert.ok(chunks >= 2, `${chunks} chunks`);
  }
  // Zeros compress far: 1 MiB of zeros fits one 4 KiB pcluster.
  const z = new MicroLzmaEncoder(6, 32 << 10).compress(Buffer.alloc(1 << 20), 1 << 20, 4096);
  assert.equal(z.consumed, 1 << 20);
  assert.equal(microLzmaDecode(z.data, z.consumed, 32 << 10).every((b) => b === 0), true);
});

test('zstd destsize: the longest prefix whose frame fits, decoded back exactly', (t) => {
  if (!needZstd(t)) return;
  const text = Buffer.from('erofs zstd destsize search over the input length '.repeat(4000));
  const src = Buffer.concat([text.subarray(0, 60_000), pseudoRandom('zstd-ds', 20_000), text.subarray(0, 100_000)]);
  const enc = new ZstdEncoder(3, 15);
  for (const cap of [4096, 16384, 65536]) {
    for (const off of [0, 50_000, 60_000]) {
      const s = src.subarray(off);
      const r = enc.compress(s, s.length, cap);
      assert.ok(r.data.length <= cap && r.consumed > 0, `cap ${cap} off ${off}: ${r.data.length} bytes for ${r.consumed}`);
      assert.equal(r.data[0], 0x28, 'frame magic (non-zero first byte)');
      assert.equal(sha(zstdDecodeStrict(r.data, r.consumed, 1 << 15)), sha(s.subarray(0, r.consumed)));
      // Not much more would have fitted: one more KiB of input no longer fits or the frame is full.
      if (r.consumed < s.length) {
        const again = enc.compress(s, r.consumed, cap);
        assert.equal(again.consumed, r.consumed, 'the same prefix when offered exactly it');
      }
    }
  }
});

test('zstd encoder with one reused context: the same frames as a zstdCompressSync call per trial (peak RSS at -zzstd)', (t) => {
  if (!needZstd(t)) return;
  // Trials that outgrow the capacity stop early and reset the context mid-frame; the next frame must
  // still be a fresh context's. Text, noise, zeros and a mix, at 4 KiB and 64 KiB pclusters and two levels.
  const text = Buffer.from('erofs pcluster reused zstd context frame after frame '.repeat(3000));
  const src = Buffer.concat([text.subarray(0, 70_000), pseudoRandom('zstd-reuse', 90_000), Buffer.alloc(50_000), text.subarray(0, 40_000)]);
  for (const [level, wlog] of [[3, 15], [12, 17]]) {
    const reused = new ZstdEncoder(level, wlog);
    const fresh = new ZstdEncoder(level, wlog, true);
    for (const cap of [4096, 65536]) {
      for (let off = 0; off < src.length - 1000; off += cap === 4096 ? 19_973 : 67_111) {
        const s = src.subarray(off);
        const a = reused.compress(s, s.length, cap);
        const b = fresh.compress(s, s.length, cap);
        assert.equal(a.consumed, b.consumed, `level ${level} cap ${cap} off ${off}`);
        assert.equal(sha(a.data), sha(b.data), `level ${level} cap ${cap} off ${off}`);
        assert.equal(reused.trials, fresh.trials);
      }
    }
  }
});

for (const alg of ['zstd', 'lzma'] as const) test(`-z ${alg} images: kernel mount, fsck.erofs 1.9.3 and our reader agree with the source`, async (t) => {
  if ((alg === 'zstd' && !needZstd(t)) || !needRoot(t) || !needMount(t)) return;
  const fsck = findTool('fsck.erofs');
  if (!needVersion(t, fsck, '1.9', `fsck.erofs from ${NEEDS}`)) return;
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-zstd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  const text = Buffer.from('zstd pcluster kernel mount erofs-forge fingerprint '.repeat(2000));
  fs.writeFileSync(path.join(src, 'text'), text);
  fs.writeFileSync(path.join(src, 'd', 'text-copy'), text);
  fs.writeFileSync(path.join(src, 'random'), pseudoRandom('zstd-img', 30_000));
  fs.writeFileSync(path.join(src, 'mixed'), Buffer.concat([text.subarray(0, 30_000), pseudoRandom('zstd-mix', 9000), text.subarray(0, 12_345)]));
  fs.writeFileSync(path.join(src, 'tiny'), 'tiny zstd file\n');
  for (const n of [4095, 4097, 8193]) fs.writeFileSync(path.join(src, `t-${n}`), text.subarray(7, 7 + n));
  const snap = await snapshotTree(src, { xattrs: false });
  const runs = alg === 'zstd'
    ? [['-zzstd'], ['-zzstd,22', '-C65536', '-Eztailpacking'], ['-zzstd,level=1', '-C16384', '-Ededupe,ztailpacking', '--xattr-inode-digest']]
    : [['-zlzma'], ['-zlzma,9', '-C65536', '-Eztailpacking'], ['-zlzma,level=109', '-C16384', '-Ededupe,ztailpacking', '--xattr-inode-digest'], ['-zlzma,0', '-b1024']];
  for (const args of runs) {
    const img = path.join(dir, 'z.img');
    const r = forge(['build', '--quiet', '-T0', '--mkfs-time', '-Uclear', ...args, img, src]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    const mounted = await withMount(img, (m) => snapshotTree(m, { xattrs: false }));
    assertSameTree(snap, mounted, { ignoreXattrs: true, ignoreMtimeOf: (p) => p.length === 0 });
    const f = run(fsck, [...(args.includes('--xattr-inode-digest') ? ['--xattr-inode-digest'] : []), img]);
    assert.equal(f.status, 0, `fsck.erofs ${args.join(' ')}: ${f.stderr}${f.stdout}`);
    const v = forge(['verify', img]);
    assert.equal(v.status, 0, `verify ${args.join(' ')}: ${v.stderr}`);
    const e = ErofsImage.open(img);
    try {
      const ino = e.lookup('/text');
      assert.ok(ino.datalayout === 1 || ino.datalayout === 3, 'compressed');
      assert.ok([...compressedExtents(e, ino)].some((x) => x.kind === 'compressed' && x.algorithm === (alg === 'zstd' ? 3 : 1)), `${alg} extents`);
    } finally {
      e.close();
    }
  }
});
