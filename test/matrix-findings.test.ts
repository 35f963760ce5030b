// Bad images the option matrix (test/matrix/) found, each pinned by a small test named after it.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { canMount, forge, findTool, inCI, needVersion, run } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { verifyImages } from '../src/verify/verify.js';

test('matrix finding: -x -1 with fingerprints drops the source xattrs but still stamps every file (image was unverifiable)', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-x-1-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'hello\n');
    fs.writeFileSync(path.join(src, 'empty'), '');
    const xa = run('setfattr', ['-n', 'user.a', '-v', 'b', path.join(src, 'f')]);
    const haveUserXattr = xa.status === 0;
    for (const scheme of ['sha256', 'blake3']) {
      const img = path.join(dir, `${scheme}.img`);
      const r = forge(['build', '--quiet', '-T0', '-Uclear', '-x', '-1', '--fingerprint', scheme, img, src]);
      assert.equal(r.status, 0, r.stderr);
      const e = ErofsImage.open(img);
      try {
        const names = e.xattrs(e.lookup('/f')).map((x) => `${x.name.toString()}${x.hidden ? ' (hidden)' : ''}`);
        assert.deepEqual(names, ['erofs.fingerprint.v1 (hidden)'], `${scheme}: only the fingerprint${haveUserXattr ? ', user.a dropped' : ''}`);
        assert.deepEqual(e.xattrs(e.lookup('/empty')), [], 'an empty file carries none');
      } finally {
        e.close();
      }
      const v = await verifyImages([img]);
      assert.ok(v.ok, `${scheme}: ${v.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    }
    // mkfs.erofs 1.9.3 agrees: -x -1 keeps the digest xattr.
    const mkfs = findTool('mkfs.erofs');
    if (!needVersion(t, mkfs, '1.9', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    const ref = path.join(dir, 'mkfs.img');
    const m = run(mkfs, ['-x', '-1', '--xattr-inode-digest=erofs.fingerprint.v1', '-T0', '-Uclear', ref, src]);
    assert.equal(m.status, 0, m.stderr);
    const e = ErofsImage.open(ref);
    try {
      assert.equal(e.xattrs(e.lookup('/f')).length, 1, 'mkfs.erofs: the digest only');
    } finally {
      e.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('matrix finding: lz4 pclusters over 256 blocks are refused (Linux: "too large lz4 pclusterblks"); 256 blocks mount', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-lz4-blks-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'z'), Buffer.concat([Buffer.alloc(700_000), Buffer.from('tail')]));
    for (const [b, c] of [[512, 1 << 20], [1024, 1 << 20], [2048, 1 << 20], [2048, 257 * 2048], [512, 257 * 512]]) {
      for (const z of ['lz4', 'lz4hc']) {
        const img = path.join(dir, 'r.img');
        const r = forge(['build', '--quiet', '-b', String(b), '-z', z, '-C', String(c), img, src]);
        assert.equal(r.status, 1, `-b ${b} -z ${z} -C ${c}`);
        assert.equal(r.stderr, `erofs-forge: -C ${c}: Linux does not mount lz4 pclusters of more than 256 blocks; with -b ${b} use -C ${256 * b} or less\n`);
        assert.ok(!fs.existsSync(img), 'no image');
      }
    }
    // deflate has no such limit; lz4 at 256 blocks of every size mounts.
    const ok: [string, number, number][] = [['deflate', 1024, 1 << 20], ['lz4', 512, 256 * 512], ['lz4hc', 2048, 256 * 2048], ['lz4', 4096, 1 << 20]];
    for (const [z, b, c] of ok) {
      const img = path.join(dir, `${z}-${b}.img`);
      const r = forge(['build', '--quiet', '-b', String(b), '-z', z, '-C', String(c), img, src]);
      assert.equal(r.status, 0, r.stderr);
      if (process.getuid?.() === 0 && canMount().ok) {
        await withMount(img, (m) => assert.ok(fs.readFileSync(path.join(m, 'z')).equals(fs.readFileSync(path.join(src, 'z'))), `${z} -b ${b} -C ${c}`));
      } else if (inCI()) {
        assert.fail('CI must mount');
      } else {
        t.diagnostic('mount skipped (not root or no EROFS)');
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('matrix finding: a lookback over 2047 lclusters is written as 2047, never with the CBLKCNT bit (1 MiB of zeros at -b 512)', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-d0-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const body = Buffer.concat([Buffer.alloc(1 << 20), pseudoRandom('d0 tail', 3000)]);
    fs.writeFileSync(path.join(src, 'f'), body);
    for (const extra of [[], ['-E', 'legacy-compress']]) {
      const img = path.join(dir, 'd0.img');
      const r = forge(['build', '--quiet', '-b', '512', '-z', 'lz4', '-C', '65536', ...extra, img, src]);
      assert.equal(r.status, 0, r.stderr);
      // Our reader reads delta[0] 2048 as CBLKCNT in lcluster 2048 and called the image corrupt.
      const e = ErofsImage.open(img);
      try {
        const got = Buffer.concat([...e.data(e.lookup('/f'))].map((c) => Buffer.from(c)));
        assert.ok(got.equals(body), `reader ${extra.join(' ')}`);
      } finally {
        e.close();
      }
      const v = await verifyImages([img]);
      assert.ok(v.ok, v.problems.map((p) => p.message).join('; '));
      const fsck = findTool('fsck.erofs');
      if (needVersion(t, fsck, '1.9', 'fsck.erofs 1.9.3')) {
        const f = run(fsck, ['--extract', img]);
        assert.equal(f.status, 0, f.stderr);
      }
      if (process.getuid?.() === 0 && canMount().ok) {
        await withMount(img, (m) => assert.ok(fs.readFileSync(path.join(m, 'f')).equals(body), 'mount'));
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
