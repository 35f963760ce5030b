// Finding (issue 18 point 5): with -E dedupe our images were up to 1.0077x mkfs.erofs 1.9.3's, because
// we shared only identical whole pclusters while mkfs.erofs also points extents into earlier
// pclusters when content repeats at another offset (across files or inside one): an extent that
// reads an earlier pcluster's output from its start, whole or a prefix of it (PARTIAL_REF), the
// extent before it cut short where the match starts. Here: content repeated shifted by a few bytes,
// reordered, and repeated inside a file, on lines with big pclusters, ztailpacking, fragments and
// fingerprints. Each image: no larger than mkfs.erofs 1.9.3's for the same line, fsck.erofs 1.9.3
// clean, our reader gives every file, the kernel mounts it equal to the source; the image does not
// depend on the worker count or the readdir order.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { assertFsckClean, findTool, forge, needMount, needRoot, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { mulberry32 } from './helpers/noise.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';
import { FEATURE_INCOMPAT_DEDUPE } from '../src/format/constants.js';

let dir = '';
let src = '';
let snap: TreeSnapshot;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const WORDS = ('the of and to in is for on that with error return value struct int char void const static '
  + 'config option default kernel device driver memory page block inode data extent pcluster').split(' ');

/** Text of words from a fixed seed, some lines numbered (compresses about as well as source code). */
function text(n: number, seed: number): Buffer {
  const rnd = mulberry32(seed);
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = WORDS[rnd() % WORDS.length] + (rnd() % 9 === 0 ? ` ${rnd() % 10000};\n` : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Files in creation order (`reverse`: the other way round, so readdir order differs). */
function makeTree(root: string, reverse = false): void {
  const base = text(400_000, 18_5);
  const rnd = pseudoRandom('dedupe-r', 40_000);
  const files: [string, Buffer][] = [
    ['a/base', base],
    // The same bytes a few bytes later, or earlier: whole pclusters of base never recur here.
    ['a/shift-6', Buffer.concat([Buffer.from('xyz123'), base.subarray(0, 300_000)])],
    ['b/shift-minus-13', base.subarray(13, 250_013)],
    // Pieces of base in another order, with bytes between them.
    ['b/reordered', Buffer.concat([base.subarray(200_000, 330_000), Buffer.from('QQQ'), base.subarray(50_000, 180_000)])],
    // Repeated inside one file, at an offset that is not a block multiple.
    ['c/self-repeat', Buffer.concat([text(90_000, 77), text(90_000, 77).subarray(1001)])],
    // Incompressible blocks repeated (shared only as whole stored blocks) and a short tail.
    ['c/random', Buffer.concat([rnd, rnd.subarray(4096), rnd.subarray(0, 777)])],
    ['c/small', base.subarray(1000, 3500)],
  ];
  if (reverse) files.reverse();
  for (const [name, data] of files) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), data);
  }
  // -T0 gives every inode time 0: so has the source, for the mounted tree to compare equal.
  for (const name of [...files.map(([n]) => n), 'a', 'b', 'c']) fs.utimesSync(path.join(root, name), 0, 0);
}

test.before(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xdedupe-'));
  src = path.join(dir, 'src');
  makeTree(src);
  snap = await snapshotTree(src, { skipRootMtime: true });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every file through our reader equals the source; returns how many extents are PARTIAL_REF. */
function readBack(img: string): number {
  const e = ErofsImage.open(img);
  try {
    assert.ok(e.sb.featureIncompat & FEATURE_INCOMPAT_DEDUPE, 'DEDUPE feature bit');
    let partial = 0;
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const want = fs.readFileSync(path.join(src, p.toString('latin1')));
      assert.equal(sha(e.readAll(ino)), sha(want), `${p}: bytes read back`);
      if (ino.datalayout === 1 || ino.datalayout === 3) for (const x of compressedExtents(e, ino)) if (x.partialRef) partial++;
    });
    return partial;
  } finally {
    e.close();
  }
}

const LINES = [
  '-zlz4 -C65536 -Ededupe',
  '-zlz4hc -C16384 -Ededupe,ztailpacking',
  '-zlz4hc -C65536 -Ededupe',
  '-zlz4hc,12 -C262144 -Ededupe --xattr-inode-digest',
  '-zlz4 -C65536 -Efragments,dedupe',
];

for (const line of LINES) {
  test(`dedupe: content repeated at shifted offsets shares earlier pclusters (${line}): <= mkfs.erofs 1.9.3, fsck, reader, kernel mount`, async (t) => {
    const img = path.join(dir, `${line.replace(/[^\w.=-]/g, '_')}.img`);
    const common = ['--quiet', '-T0', '-U', '6a1f4c3e-2b7d-4e9a-8c5f-0d1e2f3a4b5c'];
    const r = forge(['mkfs', ...common, ...line.split(' '), img, src]);
    assert.equal(r.status, 0, r.stderr);
    const partial = readBack(img);
    assert.ok(partial > 0, 'some extents read a prefix of an earlier pcluster (PARTIAL_REF)');
    assertFsckClean(t, img);
    const mkfs = findTool('mkfs.erofs');
    if (needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) {
      const ref = path.join(dir, 'ref.img');
      assert.equal(run(mkfs, [...common, ...line.split(' '), ref, src]).status, 0);
      const [ours, theirs] = [fs.statSync(img).size, fs.statSync(ref).size];
      t.diagnostic(`${line}: ${ours} / ${theirs} = ${(ours / theirs).toFixed(4)}`);
      assert.ok(ours <= theirs, `${ours} > mkfs.erofs 1.9.3's ${theirs}`);
    }
    if (!needRoot(t) || !needMount(t)) return;
    const mounted = await withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
    assertSameTree(snap, mounted, line.includes('--xattr-inode-digest') ? { ignoreXattr: (n) => n.startsWith('erofs.') || n.startsWith('trusted.erofs') } : {});
  });
}

test('dedupe: the image does not depend on the worker count or on the source\'s readdir order', () => {
  const other = path.join(dir, 'src-reversed');
  makeTree(other, true);
  for (const line of ['-zlz4hc -C65536 -Ededupe', '-zlz4 -C16384 -Efragments,dedupe,ztailpacking']) {
    const digests = new Set<string>();
    for (const [root, workers] of [[src, '1'], [src, '3'], [other, '2']] as const) {
      const img = path.join(dir, `det-${workers}.img`);
      const r = forge(['mkfs', '--quiet', '-T0', '-U', '6a1f4c3e-2b7d-4e9a-8c5f-0d1e2f3a4b5c', ...line.split(' '), `--workers=${workers}`, img, root]);
      assert.equal(r.status, 0, r.stderr);
      digests.add(sha(fs.readFileSync(img)));
    }
    assert.equal(digests.size, 1, line);
  }
});
