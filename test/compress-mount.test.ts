// Compressed images the kernel decodes: every algorithm × pcluster size × ztailpacking over
// incompressible, zero, text, tiny and block-boundary files, mounted and compared with the source;
// fsck.erofs (Debian 1.5) on the LZ4 ones; dedupe and legacy indexes; our reader agrees.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { debianTool, forge, needMount, needRoot, needTool, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { wordText } from './helpers/noise.js';

let dir = '';
let src = '';
let snap: TreeSnapshot;

const WORDS = 'erofs page cache share fingerprint image kernel block inode extent cluster lz4 deflate zeros the a of'.split(' ');
const text = (n: number, seed: number): Buffer => wordText(n, seed, WORDS, 7);

test.before(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-z-'));
  src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sizes'), { recursive: true });
  fs.writeFileSync(path.join(src, 'random-300k'), pseudoRandom('z-random', 300_000));
  fs.writeFileSync(path.join(src, 'zeros-2m'), Buffer.alloc(2 << 20));
  fs.writeFileSync(path.join(src, 'text-1m'), text(1 << 20, 1));
  fs.writeFileSync(path.join(src, 'mixed'), Buffer.concat([text(70_000, 2), pseudoRandom('z-mixed', 50_000), Buffer.alloc(90_000), text(33_333, 3)]));
  fs.writeFileSync(path.join(src, 'tiny-1'), 'x');
  fs.writeFileSync(path.join(src, 'tiny-100'), text(100, 4));
  fs.writeFileSync(path.join(src, 'empty'), '');
  for (const n of [4095, 4096, 4097, 8191, 8192, 8193, 12289, 16383, 16384, 65537]) {
    fs.writeFileSync(path.join(src, 'sizes', `text-${n}`), text(n, n));
    fs.writeFileSync(path.join(src, 'sizes', `zero-${n}`), Buffer.alloc(n));
  }
  fs.copyFileSync(path.join(src, 'text-1m'), path.join(src, 'text-1m-copy'));
  fs.symlinkSync('text-1m', path.join(src, 'link'));
  snap = await snapshotTree(src, { xattrs: false });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function build(name: string, args: string[]): string {
  const img = path.join(dir, `${name}.img`);
  const r = forge(['build', '--quiet', '-T0', '--mkfs-time', '-Uclear', '-x', '-1', ...args, img, src]);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return img;
}

/** Every file read back with our reader equals the source. */
function readerAgrees(img: string): number {
  const e = ErofsImage.open(img);
  let compressed = 0;
  try {
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      if (ino.datalayout === 1 || ino.datalayout === 3) compressed++;
      const h = createHash('sha256');
      for (const c of e.data(ino)) h.update(c);
      assert.equal(h.digest('hex'), snap.entries.get(p.toString('latin1'))?.sha256, `reader: ${p}`);
    });
  } finally {
    e.close();
  }
  return compressed;
}

const ALGOS = ['lz4', 'lz4hc', 'deflate'];
const PCLUSTERS = [4096, 16384, 65536, 1 << 20];

for (const alg of ALGOS) {
  for (const c of PCLUSTERS) {
    for (const zt of [false, true]) {
      const args = [`-z${alg}`, '-C', String(c), ...(zt ? ['-E', 'ztailpacking'] : [])];
      test(`mount ${args.join(' ')}`, async (t) => {
        if (!needRoot(t) || !needMount(t)) return;
        const img = build(`${alg}-${c}-${zt}`, args);
        const mounted = await withMount(img, (m) => snapshotTree(m, { xattrs: false }));
        assertSameTree(snap, mounted, { ignoreXattrs: true, ignoreMtimeOf: (p) => p.length === 0 });
        assert.ok(readerAgrees(img) >= 4, 'compressible files are stored compressed');
        if (alg !== 'deflate' && c === 4096) {
          const fsck = debianTool('fsck.erofs');
          if (needTool(t, fsck, "Debian's fsck.erofs (erofs-utils)")) {
            const r = run(fsck, [img]);
            assert.equal(r.status, 0, `fsck.erofs 1.5: ${r.stderr}${r.stdout}`);
          }
        }
      });
    }
  }
}

test('dedupe stores identical pclusters once; legacy-compress writes FULL indexes', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  const plain = fs.statSync(build('nodedupe', ['-zlz4hc'])).size;
  const dd = build('dedupe', ['-zlz4hc', '-E', 'dedupe']);
  assert.ok(fs.statSync(dd).size < plain, `dedupe ${fs.statSync(dd).size} >= ${plain}`);
  const legacy = build('legacy', ['-zlz4', '-E', 'legacy-compress']);
  for (const img of [dd, legacy]) {
    const mounted = await withMount(img, (m) => snapshotTree(m, { xattrs: false }));
    assertSameTree(snap, mounted, { ignoreXattrs: true, ignoreMtimeOf: (p) => p.length === 0 });
    readerAgrees(img);
  }
  const e = ErofsImage.open(legacy);
  try {
    assert.equal(e.lookup('/text-1m').datalayout, 1, 'FULL indexes');
  } finally {
    e.close();
  }
});

// Issue 21: LZ4HC levels 4..8 search as level 9 does (an output change of this stop); each such level
// in combination with the options where a pcluster's output is used again (tails inline, dedupe of
// whole and partial pclusters, fragments, FULL indexes), mounted and compared with the source.
const LEVELS_4_8_LINES: string[][] = [
  ['-zlz4hc,4', '-C', '16384', '-E', 'ztailpacking,dedupe'],
  ['-zlz4hc,6', '-C', '65536', '-E', 'ztailpacking,fragments'],
  ['-zlz4hc,8', '-C', '4096', '-E', 'legacy-compress,dedupe'],
];
test('lz4hc_levels_4_8_mount_in_combination: levels 4, 6 and 8 with ztailpacking, dedupe, fragments and FULL indexes mount equal to the source', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  for (const args of LEVELS_4_8_LINES) {
    const img = build(args.join('_').replace(/[^a-z0-9_,]/gi, ''), args);
    const mounted = await withMount(img, (m) => snapshotTree(m, { xattrs: false }));
    assertSameTree(snap, mounted, { ignoreXattrs: true, ignoreMtimeOf: (p) => p.length === 0 });
    assert.ok(readerAgrees(img) >= 4, `${args.join(' ')}: compressible files are stored compressed`);
  }
});
