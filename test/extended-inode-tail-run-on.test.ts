// Finding (issue 18 point 5): with extended (64-byte) inodes — real timestamps, or ids over 65535 —
// a file whose whole data is a tail of 4,033-4,064 bytes no longer fits one block with its inode.
// mkfs.erofs 1.9.3 still inlines it: it puts the inode at offset 4064 of a metadata block that has
// no address yet, the inode runs on into the next block and the tail follows it there (only the tail
// must stay within one block). erofs-forge stored such tails in blocks of their own: one 4 KiB block
// more per file (systemd-repart, Yocto and Buildroot lzma lines on a /usr tree). The fix places
// metadata by mkfs's buffer-manager rules (src/pipeline/plan/buffer-blocks.ts).
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
import { INODE_FLAT_INLINE } from '../src/format/constants.js';

const BUILD_TIME = 1700000000;
/** Files dated before the build time: their inodes must be extended. */
const FILE_TIME = 1600000000;
/**
 * Tail-only files of these sizes follow a 4,000-byte one (inode + tail: 4,064 bytes of a new block),
 * which follows a one-block file (its data block ends the image: no mapped block may grow).
 */
const TAILS = [4033, 4040, 4048, 4056, 4064];

/** The tree; returns, per line, the files that must come out with extended inodes and inline tails. */
function makeTree(root: string): { all: string[]; bigIds: string[] } {
  const rnd = mulberry32(4033);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => 32 + (rnd() % 95)));
  const all: string[] = [];
  const bigIds: string[] = [];
  TAILS.forEach((n, i) => {
    const dir = path.join(root, `d${i}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, '0'), bytes(4096));
    fs.writeFileSync(path.join(dir, 'a'), bytes(4000));
    fs.writeFileSync(path.join(dir, 'b'), bytes(n));
    all.push(`d${i}/b`);
    // Ids over 65535 make an inode extended whatever the times.
    if (i % 2) {
      for (const f of ['0', 'a', 'b']) fs.chownSync(path.join(dir, f), 70000 + i, 70100 + i);
      bigIds.push(`d${i}/b`);
    }
    for (const f of ['0', 'a', 'b', '']) fs.utimesSync(path.join(dir, f), FILE_TIME, FILE_TIME);
  });
  return { all, bigIds };
}

test('extended inodes with 4,033-4,064-byte tails: inlined by running on as mkfs.erofs 1.9.3 does, image no larger than its', async (t) => {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-runon-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const { all, bigIds } = makeTree(src);
    const source = await snapshotTree(src, { skipRootMtime: true });
    // Without -T the files keep their (older) times: every inode is extended. With -T every inode
    // takes that time: only ids over 65535 make one extended.
    const lines: [string[], string[]][] = [
      [['--quiet', '-U', 'clear'], all],
      [['--quiet', '-T', String(BUILD_TIME), '-U', 'clear'], bigIds],
    ];
    for (const [line, runOn] of lines) {
      const { ref, ours } = buildPairNoLarger(t, mkfs, line, dir, src);

      // The cause, asserted on both images: each such tail is inline after its extended inode.
      for (const img of [ref, ours]) {
        const e = ErofsImage.open(img);
        try {
          for (const p of runOn) {
            const ino = e.lookup(p);
            assert.ok(ino.extended, `${line.join(' ')}: ${p}: extended inode in ${path.basename(img)}`);
            assert.equal(ino.datalayout, INODE_FLAT_INLINE, `${line.join(' ')}: ${p}: tail inline in ${path.basename(img)}`);
          }
        } finally {
          e.close();
        }
      }

      assertFsckClean(t, ours);
      if (!needMount(t)) return;
      assertSameTree(source, await withMount(ours, (m) => snapshotTree(m, { skipRootMtime: true })), line.includes('-T') ? { ignoreMtimeOf: () => true } : {});
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
