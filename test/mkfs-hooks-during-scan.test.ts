// Finding (issue 18): `erofs-forge mkfs` walked the whole source tree before building, to apply
// mkfs.erofs's per-file options (canned fs_config, file_contexts, --force-uid/gid, id offsets,
// --hard-dereference) to the finished tree, so none of the compression overlapped the walk as it does
// in `erofs-forge build`. The options are now applied by the scan as it makes each inode
// (ScanOptions.onInode, hardDereference), before its compression jobs start. The image must be the
// same bytes as applying them to the scanned tree; a hard-linked file takes the entry of the name
// mkfs.erofs fills it at first: a directory's entries are filled before its subdirectories' (lib/inode.c
// erofs_mkfs_import_localdir), not in depth-first order.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import type { Inode } from '../src/source/tree.js';
import { ErofsImage } from '../src/read/image.js';
import { FORGE_BIN, runOk } from './helpers/tools.js';
import { wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const WORDS = ['erofs', 'forge', 'scan', 'hook', 'inode', 'tail'];
const LABEL = Buffer.from('security.selinux');

/** A per-file hook of the kinds mkfs applies: owner by path, mode bits, an xattr on some files. */
function hook(n: Inode, rel: string): void {
  n.uid = (rel.startsWith('b') ? 1000 : 0) + rel.length;
  n.gid = (n.gid + 7) >>> 0;
  if (n.kind === 'reg') n.mode = (n.mode & 0o170000) | (rel.endsWith('1') ? 0o750 : 0o644);
  if (rel.includes('x')) n.xattrs = [...n.xattrs, { name: LABEL, value: Buffer.from(`u:object_r:${rel.length}:s0`) }];
}

test('mkfs per-file options applied during the scan: the same image as applied to the scanned tree, compressed and not', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-scan-hooks-'));
  try {
    const src = path.join(dir, 'src');
    for (const d of ['a', 'b/x', 'b/y', 'cx']) fs.mkdirSync(path.join(src, d), { recursive: true });
    let i = 0;
    for (const d of ['', 'a', 'b/x', 'b/y', 'cx']) {
      for (let k = 0; k < 4; k++) fs.writeFileSync(path.join(src, d, `f${k}x${k % 2}`), wordText(500 + 7919 * i++, i, WORDS, 40));
    }
    fs.symlinkSync('a/f0x0', path.join(src, 'link'));
    for (const compression of [undefined, { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: true, dedupe: false, legacyIndexes: false }]) {
      const o = () => defaultBuildOptions({ uuid: new Uint8Array(16), timestamp: 1700000000n, workers: 2, ...(compression ? { compression } : {}) });
      const before = path.join(dir, 'before.img');
      const tree = await scanDirectory(src, { xattrs: true, excludePaths: [], excludeRegexes: [] });
      const walk = (n: Inode, rel: string): void => {
        hook(n, rel);
        if (!n.entries) return;
        const { names, inodes } = n.entries;
        // Entries first, then subdirectories (the scan's order; no hard links here).
        inodes.forEach((c, k) => { if (c.kind !== 'dir') walk(c, rel ? `${rel}/${names[k]}` : names[k]); });
        inodes.forEach((c, k) => { if (c.kind === 'dir') walk(c, rel ? `${rel}/${names[k]}` : names[k]); });
      };
      walk(tree, '');
      await buildImage(before, { tree }, o());
      const after = path.join(dir, 'after.img');
      await buildImage(after, { dir: src, onInode: hook }, o());
      assert.equal(sha(after), sha(before), compression ? 'lz4hc' : 'uncompressed');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mkfs --fs-config-file: a hard-linked file takes the entry of its name in a directory before one in its subdirectory (mkfs.erofs fill order); --hard-dereference: each name its own', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-scan-hooks-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'd', 'x'), 'shared\n');
    // Depth-first, d/x comes first; mkfs.erofs fills the root's entries (zz) before d's.
    fs.linkSync(path.join(src, 'd', 'x'), path.join(src, 'zz'));
    const cfg = path.join(dir, 'fs_config');
    fs.writeFileSync(cfg, [' 0 0 755', 'system/d 0 0 755', 'system/d/x 111 0 644', 'system/zz 222 0 600'].join('\n') + '\n');
    const img = path.join(dir, 'out.img');
    for (const deref of [false, true]) {
      runOk(process.execPath, [FORGE_BIN, 'mkfs', '--quiet', '-T0', '-Uclear', '--mount-point', 'system', '--fs-config-file', cfg,
        ...(deref ? ['--hard-dereference'] : []), img, src]);
      const e = ErofsImage.open(img);
      try {
        const [x, zz] = [e.lookup('d/x'), e.lookup('zz')];
        if (deref) {
          assert.notEqual(x.nid, zz.nid);
          assert.deepEqual([x.uid, x.mode & 0o7777, x.nlink, zz.uid, zz.mode & 0o7777, zz.nlink], [111, 0o644, 1, 222, 0o600, 1]);
        } else {
          assert.equal(x.nid, zz.nid);
          assert.deepEqual([zz.uid, zz.mode & 0o7777, zz.nlink], [222, 0o600, 2]);
        }
      } finally {
        e.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
