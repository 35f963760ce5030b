// Issue 15, finding 1: "ztailpacking with FULL indexes writes corrupt images". The inline decision sized
// the compressed metadata with COMPACT indexes while FULL ones were written (legacy-compress, or dedupe
// pointing back), so an inline tail crossed its block: fsck.erofs "invalid tail-packing pclustersize",
// kernel EUCLEAN. Each case here builds large zero runs followed by incompressible tails of many sizes
// (the tail that fits beside COMPACT indexes but not beside FULL ones among them), with both inode
// forms, large xattr bodies and fingerprints, big pclusters, deflate, block sizes 512 and 4096; every
// image must pass fsck.erofs 1.9.3, our verify, and read back on a kernel mount equal to its source.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { findTool, forge, needMount, needRoot, needTool, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { INODE_COMPRESSED_FULL } from '../src/format/constants.js';
import { decodeMapHeader, mapHeaderOffset, MAP_HEADER_SIZE } from '../src/format/zmap.js';

/** The build time given with -T: files with exactly this mtime get compact inodes, the others extended ones. */
const T = 1_600_000_000;
let dir = '';
const trees = new Map<number, { src: string; snap: TreeSnapshot }>();

/** zeros then `tail` incompressible bytes: the finding's file (1 MiB of zeros + 3,000 random bytes) and its neighbours. */
function zerosThenTail(zeros: number, tail: number, seed: string): Buffer {
  return Buffer.concat([Buffer.alloc(zeros), pseudoRandom(seed, tail)]);
}

async function makeTree(bs: number): Promise<{ src: string; snap: TreeSnapshot }> {
  const src = path.join(dir, `src-${bs}`);
  fs.mkdirSync(path.join(src, 'x'), { recursive: true });
  const tails = bs === 4096
    ? [1, 1000, 2000, 2900, 3000, 3100, 3500, 3900, 4000, 4095]
    : [1, 100, 300, 400, 480, 511, 3000];
  tails.forEach((tail, i) => {
    const f = path.join(src, `t-${tail}`);
    // 512-byte blocks: FULL indexes of 1 MiB (16 KiB) leave no room inline, so a shorter run there.
    fs.writeFileSync(f, zerosThenTail(bs === 4096 ? 1 << 20 : 8 << 10, tail, `tail-${tail}`));
    // Every other file keeps the build time as its mtime: a compact inode; the rest are extended.
    if (i % 2 === 0) fs.utimesSync(f, T, T);
  });
  // A copy: under dedupe every pcluster of it points back, so it needs FULL indexes.
  fs.copyFileSync(path.join(src, 't-3000'), path.join(src, 'x', 'copy-3000'));
  // Large xattr bodies push the inode's end (and so its indexes) towards the block's end.
  for (const [name, xsize, tail] of [['xa', 600, 2000], ['xb', 1500, 1000], ['xc', bs === 4096 ? 2500 : 200, 300]] as const) {
    const f = path.join(src, 'x', name);
    fs.writeFileSync(f, zerosThenTail(bs === 4096 ? 256 << 10 : 4 << 10, tail, name));
    run('setfattr', ['-n', 'user.big', '-v', '0x' + pseudoRandom(`${name}-x`, xsize).toString('hex'), f]);
  }
  return { src, snap: await snapshotTree(src) };
}

test.before(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-ztp-full-'));
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Case { bs: number; args: string[] }
const CASES: Case[] = [];
for (const e of ['ztailpacking,legacy-compress', 'ztailpacking,dedupe', 'ztailpacking,dedupe,legacy-compress', 'ztailpacking']) {
  for (const z of [['-zlz4'], ['-zlz4hc', '-C65536'], ['-zdeflate', '-C16384']]) {
    CASES.push({ bs: 4096, args: [...z, '-E', e] });
  }
}
for (const e of ['ztailpacking,legacy-compress', 'ztailpacking,dedupe', 'ztailpacking']) {
  for (const z of [['-zlz4'], ['-zlz4hc', '-C4096']]) CASES.push({ bs: 512, args: [...z, '-E', e] });
}

CASES.forEach(({ bs, args }, i) => {
  // Every other case stamps fingerprints too: 48 more bytes of xattr body on every file.
  const withFp = i % 2 === 1;
  const all = ['-b', String(bs), ...args, ...(withFp ? ['--xattr-inode-digest'] : [])];
  test(`ztailpacking with FULL indexes writes a good image: ${all.join(' ')}`, async (t) => {
    if (!needRoot(t) || !needMount(t)) return;
    const fsck = findTool('fsck.erofs');
    if (!needTool(t, fsck, 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    let tree = trees.get(bs);
    if (!tree) trees.set(bs, tree = await makeTree(bs));
    const img = path.join(dir, `case-${i}.img`);
    const b = forge(['build', '--quiet', '-T', String(T), '--mkfs-time', '-Uclear', ...all, img, tree.src]);
    assert.equal(b.status, 0, b.stderr);

    const f = run(fsck, [img]);
    assert.equal(f.status, 0, `fsck.erofs: ${f.stderr}${f.stdout}`);
    const v = forge(['verify', img]);
    assert.equal(v.status, 0, `verify: ${v.stdout}${v.stderr}`);

    // The combinations the finding is about did write FULL indexes with inline tails.
    const e = ErofsImage.open(img);
    let full = 0;
    let inlineTails = 0;
    let compact = 0;
    let extended = 0;
    try {
      e.walk((_p, ino) => {
        if (ino.kind !== 'reg') return;
        if (ino.datalayout === INODE_COMPRESSED_FULL) full++;
        if (ino.extended) extended++;
        else compact++;
        if (ino.datalayout === 1 || ino.datalayout === 3) {
          const z = decodeMapHeader(e.readAt(mapHeaderOffset(ino.iloc + ino.isize + ino.xattrSize), MAP_HEADER_SIZE, 'test'), 0);
          if (z.kind === 'indexes' && z.idataSize > 0) inlineTails++;
        }
      });
    } finally {
      e.close();
    }
    if (args.join(' ').match(/legacy-compress|dedupe/)) assert.ok(full > 0, 'FULL indexes written');
    // A big pcluster may take a whole zero run and the tail in one piece too large to inline.
    if (!args.includes('-C65536')) assert.ok(inlineTails > 0, 'some tails stay inline');
    assert.ok(compact > 0 && extended > 0, `both inode forms (${compact} compact, ${extended} extended)`);

    const mounted = await withMount(img, (m) => snapshotTree(m));
    assertSameTree(tree.snap, mounted, {
      ignoreMtimeOf: (p) => p.length === 0,
      ignoreXattr: (name) => name.startsWith('trusted.erofs.fingerprint'),
    });
  });
});
