// Finding (issue 18 point 5, size grid line -zlz4hc,12 -C16384 -Eztailpacking on a /usr tree, one
// block over mkfs.erofs 1.9.3): a compressed file's inline tail (ztailpacking) was stored in a block of
// its own whenever inode + map header + indexes + tail came to more than one block. mkfs.erofs 1.9.3
// decides by its buffer manager instead: the item may run on across a block boundary, only the tail
// must stay within one block, so a large file's tail goes into the block where its indexes end. Such a
// tail cost erofs-forge a block (all.html, scalar and two .pyc files of the tree: 4 blocks, of which
// the placement of the items around them won back 3). The fix asks the allocator whether the tail fits
// by mkfs's rule (BufferBlocks.fitsInline) and drops it to a block only when mkfs would.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { assertFsckClean, findTool, needMount, needVersion } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { buildPairNoLarger } from './helpers/mkfs-pair.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { mulberry32 } from './helpers/noise.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';

/** Zeros enough for ~2,050 lclusters: COMPACT indexes of just over a block. */
const ZEROS = 8_400_000;
/** Random bytes at the end: the last pcluster, a compressed tail of about this size. */
const TAILS = [1200, 1500, 1800];

test('a compressed inline tail after inode + indexes of more than a block: inlined where the indexes end, as mkfs.erofs 1.9.3 does, image no larger than its', async (t) => {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-ztail-runon-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const rnd = mulberry32(18);
    const zeros = Buffer.alloc(ZEROS);
    TAILS.forEach((n, i) => {
      const tail = Buffer.from(Array.from({ length: n }, () => rnd() & 255));
      fs.writeFileSync(path.join(src, `f${i}`), Buffer.concat([zeros, tail]));
    });
    const source = await snapshotTree(src, { skipRootMtime: true });
    for (const z of [['-zlz4hc,12', '-C16384'], ['-zlz4', '-C16384']]) {
      const line = ['--quiet', ...z, '-Eztailpacking', '-T0', '-U', 'clear'];
      const { ref, ours } = buildPairNoLarger(t, mkfs, line, dir, src);

      // The cause, asserted on both images: each tail is inline, after an item that crosses a block boundary.
      for (const img of [ref, ours]) {
        const e = ErofsImage.open(img);
        try {
          for (let i = 0; i < TAILS.length; i++) {
            const ino = e.lookup(`f${i}`);
            const tail = [...compressedExtents(e, ino)].find((x) => x.inline);
            const where = `${line.join(' ')}: f${i} in ${path.basename(img)}`;
            assert.ok(tail, `${where}: tail inline`);
            assert.ok(tail.pa - ino.iloc > e.blockSize, `${where}: inode and indexes (${tail.pa - ino.iloc} B) over a block`);
            assert.ok(Math.floor(tail.pa / e.blockSize) === Math.floor((tail.pa + tail.plen - 1) / e.blockSize), `${where}: tail within one block`);
          }
        } finally {
          e.close();
        }
      }

      assertFsckClean(t, ours);
      if (!needMount(t)) return;
      assertSameTree(source, await withMount(ours, (m) => snapshotTree(m, { skipRootMtime: true })), { ignoreMtimeOf: () => true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
