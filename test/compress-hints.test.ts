// Several algorithms in one image, chosen per file by --compress-hints (issue 18 point 1, issue 20
// point 2): the hints file as mkfs.erofs reads it, each file's pcluster size and algorithm in its
// map header, one config record per algorithm, kernel mount equal to the source, fsck.erofs 1.9.3
// clean, our reader. mkfs.erofs 1.9.3 itself crashes (SIGSEGV) on any hint line with an algorithm
// index (it loads the hints before its algorithm list is set), so those images are compared with
// the source only; pcluster-only hints (Android's) are compared with mkfs.erofs's image too.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { assertFsckClean, findTool, forge, needMount, needRoot, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';
import { nodeHasZstd } from '../src/compress/zstd.js';
import { parseCompressHints, hintFor, posixEre } from '../src/pipeline/plan/compress-hints.js';
import { COMPRESSION_LZ4, COMPRESSION_LZMA, COMPRESSION_DEFLATE, COMPRESSION_ZSTD } from '../src/format/zmap.js';
import { UserError } from '../src/errors.js';
import { wordText } from './helpers/noise.js';

let dir = '';
let src = '';
let snap: TreeSnapshot;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const WORDS = 'hint regex pcluster algorithm lzma deflate lz4 zstd system lib bin etc'.split(' ');
const text = (n: number, seed: number): Buffer => wordText(n, seed, WORDS, 11);

test.before(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-hints-'));
  src = path.join(dir, 'src');
  const files: [string, Buffer][] = [
    ['lib/libc.so.6', text(90_000, 1)],
    ['lib/libm.so', text(30_000, 2)],
    ['bin/sh', text(50_000, 3)],
    ['etc/big.conf', text(200_000, 4)],
    ['etc/small.conf', text(700, 5)],
    ['app/base.apk', text(40_000, 6)],
    ['app/random.bin', pseudoRandom('hints-r', 30_000)],
    ['other', text(20_000, 7)],
    ['lib/copy-of-bin-sh', text(50_000, 3)],
  ];
  for (const [name, data] of files) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), data);
  }
  snap = await snapshotTree(src, { skipRootMtime: true });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('compress hints file: mkfs.erofs tokens, comments, first match wins, errors name the line', () => {
  const warns: string[] = [];
  const { hints, maxPclusterSize } = parseCompressHints([
    '# comment', '',
    '4096     1 .*\\.so.*$',
    '0 ^app/.*\\.apk$',
    '131072   2 etc/',
    '16384\tbin/ sh',
    '5000 1 never',
    '8192 1 with  two  spaces',
  ].join('\n') + '\n', 'h', 4096, 3, (m) => warns.push(m));
  assert.deepEqual(hints.map((h) => [h.pclusterSize, h.algorithm, h.source]), [
    [4096, 1, '.*\\.so.*$'], [0, 0, '^app/.*\\.apk$'], [131072, 2, 'etc/'],
    // "16384 bin/ sh": "bin/" is read as the algorithm field (atoi: 0), the pattern is "sh" (as mkfs.erofs).
    [16384, 0, 'sh'], [8192, 1, 'with  two  spaces'],
  ]);
  assert.equal(maxPclusterSize, 131072);
  assert.match(warns.join('\n'), /invalid physical clustersize 5000 at line 7/);
  assert.equal(hintFor(hints, 'lib/libc.so.6')?.algorithm, 1);
  assert.equal(hintFor(hints, 'app/base.apk')?.pclusterSize, 0);
  assert.equal(hintFor(hints, 'usr/etc/x')?.pclusterSize, 131072, 'unanchored');
  assert.equal(hintFor(hints, 'usr/lib/doc'), undefined);
  const bad = (body: string, re: RegExp) => assert.throws(() => parseCompressHints(body, 'h', 4096, 2, () => {}), (e: Error) => e instanceof UserError && re.test(e.message));
  bad('4096\n', /^h: cannot find a match pattern at line 1$/);
  bad('# x\n4096 2 .*\n', /^h: invalid compressing configuration "2" at line 2$/);
  bad('4096 1 ([\n', /^h line 1: invalid regex \(\[/);
  assert.ok(posixEre('^[[:digit:]]+[[:alpha:]_]$', 'x').test('12a'));
  assert.ok(!posixEre('^[[:digit:]]+$', 'x').test('12a'));
});

interface Case { name: string; z: string; hints: string; args: string[]; expect: Record<string, { alg: number; pcluster: number }> }

const LZ4HC_LZMA_DEFLATE: Case = {
  name: 'lz4hc,12:lzma:deflate',
  z: 'lz4hc,12:lzma:deflate',
  hints: '4096 1 .*\\.so.*$\n0 \\.apk$\n65536 2 ^etc/\n16384 ^bin/\n',
  args: ['-C', '16384'],
  expect: {
    'lib/libc.so.6': { alg: COMPRESSION_LZMA, pcluster: 4096 },
    'lib/libm.so': { alg: COMPRESSION_LZMA, pcluster: 4096 },
    'etc/big.conf': { alg: COMPRESSION_DEFLATE, pcluster: 65536 },
    'bin/sh': { alg: COMPRESSION_LZ4, pcluster: 16384 },
    other: { alg: COMPRESSION_LZ4, pcluster: 16384 },
    'app/base.apk': { alg: -1, pcluster: 0 },
  },
};

const CASES: Case[] = [
  LZ4HC_LZMA_DEFLATE,
  { ...LZ4HC_LZMA_DEFLATE, name: 'lz4hc,12:lzma:deflate -b 512 -E fragments,dedupe', args: ['-b', '512', '-C', '16384', '-E', 'fragments,dedupe'] },
  { ...LZ4HC_LZMA_DEFLATE, name: 'lz4hc,12:lzma:deflate -E ztailpacking --xattr-inode-digest', args: ['-C', '16384', '-E', 'ztailpacking', '--xattr-inode-digest'] },
  {
    name: 'zstd:lz4 (records in algorithm id order, not -z order)',
    z: 'zstd:lz4',
    hints: '8192 1 ^lib/\n',
    args: ['-C', '32768'],
    expect: { 'lib/libc.so.6': { alg: COMPRESSION_LZ4, pcluster: 8192 }, 'etc/big.conf': { alg: COMPRESSION_ZSTD, pcluster: 32768 } },
  },
];

for (const c of CASES) {
  test(`compress hints: build -z ${c.name}: each file's algorithm and pcluster, fsck.erofs 1.9.3, kernel mount`, async (t: TestContext) => {
    if (c.z.includes('zstd') && !nodeHasZstd()) {
      t.skip(`zstd encoding needs Node >= 22.15 (this is ${process.versions.node})`);
      return;
    }
    const hintsFile = path.join(dir, `hints-${CASES.indexOf(c)}.txt`);
    fs.writeFileSync(hintsFile, c.hints);
    const img = path.join(dir, `hints-${CASES.indexOf(c)}.img`);
    const r = forge(['build', '--quiet', '-T0', '--mkfs-time', '-Uclear', '-z', c.z, '--compress-hints', hintsFile, ...c.args, img, src]);
    assert.equal(r.status, 0, r.stderr);
    const e = ErofsImage.open(img);
    try {
      const algs = new Set(c.z.split(':').map((s) => ({ lz4: 0, lz4hc: 0, lzma: 1, deflate: 2, zstd: 3 })[s.split(',')[0] as 'lz4']));
      assert.equal(e.sb.u1, [...algs].reduce((a, x) => a | (1 << x), 0), 'available_compr_algs: every -z algorithm');
      for (const [p, want] of Object.entries(c.expect)) {
        const ino = e.lookup(p);
        if (want.pcluster === 0) {
          assert.ok(ino.datalayout === 0 || ino.datalayout === 2, `${p}: stored uncompressed`);
          continue;
        }
        assert.ok(ino.datalayout === 1 || ino.datalayout === 3, `${p}: compressed`);
        const xs = [...compressedExtents(e, ino)];
        const z = xs.filter((x) => x.kind === 'compressed');
        // With fragments a file whose stream fits one pcluster is all in the packed inode.
        if (c.args.join(' ').includes('fragments') && xs.every((x) => x.kind === 'fragment')) continue;
        assert.ok(z.length > 0, `${p}: has compressed extents`);
        for (const x of z) {
          assert.equal(x.algorithm, want.alg, `${p}: algorithm`);
          assert.ok(x.plen <= want.pcluster, `${p}: pcluster ${x.plen} <= ${want.pcluster}`);
        }
        if (want.pcluster > Number(c.args[c.args.indexOf('-b') + 1] ?? 4096)) {
          assert.ok(z.some((x) => x.plen > (c.args.includes('-b') ? 512 : 4096)), `${p}: big pclusters used`);
        }
      }
      e.walk((p, ino) => {
        if (ino.kind === 'reg') assert.equal(sha(e.readAll(ino)), sha(fs.readFileSync(path.join(src, p.toString('latin1')))), `${p}: read back`);
      });
    } finally {
      e.close();
    }
    assertFsckClean(t, img);
    if (!needRoot(t) || !needMount(t)) return;
    const mounted = await withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
    assertSameTree(snap, mounted, c.args.includes('--xattr-inode-digest') ? { ignoreXattr: (n) => n.startsWith('erofs.') } : {});
  });
}

test('compress hints: Android\'s line shape (-z lz4hc,9 --compress-hints FILE -C 65536) against mkfs.erofs 1.9.3', async (t) => {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const hintsFile = path.join(dir, 'android-hints.txt');
  fs.writeFileSync(hintsFile, '4096 .*\\.so(\\.[0-9]+)*$\n0 .*\\.apk$\n16384 ^bin/\n');
  const line = (img: string) => ['-z', 'lz4hc,9', '--compress-hints', hintsFile, '-b', '4096', '-T', '1700000000', '-U', '6b3c8e5e-7c1b-4d0e-9f3a-2a8e4c6d7f10', '-C', '65536', '--quiet', img, src];
  const ours = path.join(dir, 'android-ours.img');
  const ref = path.join(dir, 'android-ref.img');
  const o = forge(['mkfs', ...line(ours)]);
  assert.equal(o.status, 0, o.stderr);
  assert.equal(run(mkfs, line(ref)).status, 0);
  // Same choices as mkfs.erofs: per file the same layout (compressed or not) and the same largest pcluster.
  const shape = (img: string) => {
    const e = ErofsImage.open(img);
    const out: Record<string, string> = {};
    try {
      e.walk((p, ino) => {
        if (ino.kind !== 'reg') return;
        const z = ino.datalayout === 1 || ino.datalayout === 3;
        out[p.toString()] = z ? `z${Math.max(...[...compressedExtents(e, ino)].map((x) => (x.kind === 'compressed' ? x.plen : 0)))}` : 'flat';
      });
    } finally {
      e.close();
    }
    return out;
  };
  const so = shape(ours);
  const sr = shape(ref);
  assert.deepEqual(Object.keys(so).sort(), Object.keys(sr).sort());
  assert.equal(so['app/base.apk'], 'flat');
  assert.equal(sr['app/base.apk'], 'flat');
  assert.equal(so['lib/libc.so.6'], 'z4096');
  assert.equal(sr['lib/libc.so.6'], 'z4096');
  const f = run(findTool('fsck.erofs')!, [ours]);
  assert.equal(f.status, 0, f.stderr);
  if (!needRoot(t) || !needMount(t)) return;
  const a = await withMount(ours, (d) => snapshotTree(d, { skipRootMtime: true }));
  const b = await withMount(ref, (d) => snapshotTree(d, { skipRootMtime: true }));
  assertSameTree(b, a);
  assertSameTree(snap, a, { ignoreMtimeOf: () => true });
});

test('compress hints: refused with one line (bad index, missing file, hints without -z)', () => {
  const hintsFile = path.join(dir, 'bad-hints.txt');
  fs.writeFileSync(hintsFile, '4096 3 .*\n');
  const img = path.join(dir, 'bad.img');
  for (const [args, re] of [
    [['build', '-z', 'lz4:lzma', '--compress-hints', hintsFile, img, src], /^erofs-forge: .*bad-hints\.txt: invalid compressing configuration "3" at line 1$/],
    [['build', '-z', 'lz4', '--compress-hints', path.join(dir, 'nope'), img, src], /^erofs-forge: --compress-hints .*nope: ENOENT$/],
    [['build', '--compress-hints', hintsFile, img, src], /^erofs-forge: --compress-hints needs -z/],
    [['mkfs', '-zlz4:lzma', `--compress-hints=${hintsFile}`, img, src], /invalid compressing configuration "3" at line 1$/],
  ] as const) {
    const r = forge(args);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.ok(!fs.existsSync(img));
  }
});
