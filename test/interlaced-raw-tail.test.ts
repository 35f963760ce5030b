// Finding (integ8, option-matrix case -b 1024 -z lz4hc -C 1024 --chunksize 1024 -E ztailpacking,fragments
// -x -1 --ignore-mtime --workers 1, exposed by enc7's shallower LZ4HC search): the packed inode (the
// one inode that is both INTERLACED and ztailpacked) ended in a tail that did not compress, and it
// went inline raw: a PLAIN inline pcluster of fewer bytes than a block. A PLAIN pcluster of an
// INTERLACED inode is read rotated by its extent's offset in the block, from a whole block: the kernel
// (z_erofs_transform_plain) reads the first bytes from before the inline data, erofs-utils
// (z_erofs_decompress) from past it. The kernel read wrong bytes for /zero-tail/40k-9000; our verify
// said "interlaced pcluster is not one block". mkfs.erofs 1.9.3 does the same (its image of the tree
// below mounts with /c wrong). Now such a tail is stored as an interlaced block instead; a tail that
// compresses still goes inline (compressed pclusters are not rotated).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { assertFsckClean, forge, needMount } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';

test('interlaced_pcluster_raw_tail_not_inline: the packed inode\'s incompressible tail is an interlaced block, not a raw inline pcluster', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-interlaced-tail-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    // Packed in this order: the zeros and some random bytes compress into one block, the random
    // rest leaves a raw block and then fewer random bytes than a block, at an unaligned offset.
    fs.writeFileSync(path.join(src, 'a'), Buffer.concat([Buffer.alloc(5000), pseudoRandom('interlaced-a', 900)]));
    fs.writeFileSync(path.join(src, 'b'), Buffer.concat([Buffer.alloc(100), pseudoRandom('interlaced-b', 950)]));
    fs.writeFileSync(path.join(src, 'c'), pseudoRandom('interlaced-c', 999));
    const source = await snapshotTree(src, { skipRootMtime: true });
    const img = path.join(dir, 'out.img');
    const b = forge(['build', '--quiet', '-T0', '-Uclear', '-b', '1024', '-z', 'lz4hc', '-C', '1024',
      '-E', 'ztailpacking,fragments', '--workers', '1', img, src]);
    assert.equal(b.status, 0, b.stderr);

    const e = ErofsImage.open(img);
    try {
      assert.notEqual(e.sb.packedNid, 0n, 'a packed inode');
      const packed = e.inode(Number(e.sb.packedNid));
      const ext = [...compressedExtents(e, packed)];
      const last = ext[ext.length - 1]!;
      // The case: the packed inode ends in bytes that do not compress, at an unaligned offset.
      assert.ok(last.la % e.blockSize !== 0 && packed.size - last.la < e.blockSize, `tail at ${last.la} of ${packed.size}`);
      assert.equal(last.kind, 'plain', 'the tail does not compress');
      // The fix: stored as a whole interlaced block, not inline.
      assert.deepEqual({ inline: last.inline, interlaced: last.interlaced, plen: last.plen }, { inline: false, interlaced: true, plen: e.blockSize });
      for (const x of ext) assert.ok(!(x.kind === 'plain' && x.inline), `raw inline pcluster at ${x.la}`);
    } finally {
      e.close();
    }
    const v = forge(['verify', img]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assertFsckClean(t, img);
    if (!needMount(t)) return;
    assertSameTree(source, await withMount(img, (m) => snapshotTree(m, { skipRootMtime: true })), { ignoreMtimeOf: () => true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
