// Issue 15, finding 5: "verify rejects a clean mkfs.erofs 1.9.3 image that combines -E fragments with
// --xattr-inode-digest". With a packed inode and no COMPAT_PLAIN_XATTR_PFX, mkfs.erofs stores the long
// xattr prefix table (the fingerprint's name) in the packed inode's data; the reader now reads it there.
// Every image below is a clean mkfs.erofs 1.9.3 image (fsck.erofs agrees): verify must pass with every
// fingerprint verified, and `ls -R`, `cat` and our reader must give the source's names and bytes.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { findTool, forge, needVersion, run, runOk } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { verifyImages } from '../src/verify/verify.js';

let dir = '';
test.before(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-frag-digest-'));
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function text(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: Math.ceil(n / 12) + 1 }, (_, i) => `line ${seed}.${i}\n`).join('')).subarray(0, n);
}

/** Three trees: mixed sizes with links, many small files (all tails), one large file with a tail. */
const TREES: Record<string, (root: string) => void> = {
  mixed(root) {
    fs.mkdirSync(path.join(root, 'd', 'e'), { recursive: true });
    for (let i = 1; i <= 5; i++) {
      fs.writeFileSync(path.join(root, `r${i}`), pseudoRandom(`frag-r${i}`, i * 3000 + 17));
      fs.writeFileSync(path.join(root, 'd', `t${i}`), text(i * 5000 + 3, i));
    }
    fs.writeFileSync(path.join(root, 'd', 'e', 'same'), text(5003, 1));
    fs.writeFileSync(path.join(root, 'small'), 'small\n');
    fs.writeFileSync(path.join(root, 'empty'), '');
    fs.linkSync(path.join(root, 'r2'), path.join(root, 'd', 'hard'));
    fs.symlinkSync('d/t1', path.join(root, 'link'));
  },
  small(root) {
    for (let i = 1; i <= 40; i++) fs.writeFileSync(path.join(root, `f${i}`), text(i * 97, i));
  },
  large(root) {
    fs.writeFileSync(path.join(root, 'big'), Buffer.concat([text(300_000, 9), pseudoRandom('frag-big', 5000)]));
    fs.writeFileSync(path.join(root, 'big-copy'), Buffer.concat([text(300_000, 9), pseudoRandom('frag-big', 5000)]));
  },
};

const OPTIONS: string[][] = [
  ['-zlz4', '-Efragments'],
  ['-zlz4', '-Efragments,dedupe'],
  ['-zlz4', '-Efragments,ztailpacking'],
  ['-zlz4hc', '-C65536', '-Efragments'],
  ['-zlz4', '-Eall-fragments'],
  ['-zdeflate', '-Efragments'],
];

/** Source files by image path ("/d/t1"), and the sorted `ls -R` names. */
function sourceOf(root: string): { files: Map<string, string>; names: string[] } {
  const files = new Map<string, string>();
  const names: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const r = `${rel}/${n}`;
      names.push(r.slice(1));
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) files.set(r, createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(root, '');
  return { files, names: names.sort() };
}

for (const [treeName, make] of Object.entries(TREES)) {
  test(`verify passes clean mkfs.erofs 1.9.3 images made with -E fragments and --xattr-inode-digest: ${treeName} tree`, async (t) => {
    const mkfs = findTool('mkfs.erofs');
    if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    const fsck = findTool('fsck.erofs')!;
    const root = path.join(dir, treeName);
    fs.mkdirSync(root);
    make(root);
    const src = sourceOf(root);
    for (const [k, opts] of OPTIONS.entries()) {
      // The hidden default name and a visible one (a long prefix "trusted." + infix), in turn.
      const digest = k % 2 ? '--xattr-inode-digest=trusted.erofs.fingerprint' : '--xattr-inode-digest';
      const what = `${treeName}: ${[...opts, digest].join(' ')}`;
      const img = path.join(dir, `${treeName}-${k}.img`);
      runOk(mkfs, ['--quiet', ...opts, digest, '-T0', '-Uclear', img, root]);
      const f = run(fsck, [img]);
      assert.equal(f.status, 0, `${what}: fsck.erofs: ${f.stderr}`);

      const r = await verifyImages([img]);
      assert.deepEqual(r.problems, [], what);
      const n = [...src.files.keys()].filter((p) => fs.statSync(path.join(root, p)).size > 0).length;
      // Hard links count once: the inode, not the name.
      const inodes = treeName === 'mixed' ? n - 1 : n;
      assert.deepEqual([r.fingerprinted, r.verified], [inodes, inodes], what);

      const e = ErofsImage.open(img);
      try {
        for (const [p, sha] of src.files) {
          const h = createHash('sha256');
          for (const chunk of e.data(e.lookup(p))) h.update(chunk);
          assert.equal(h.digest('hex'), sha, `${what}: ${p}`);
        }
      } finally {
        e.close();
      }
      if (k > 1) continue;
      // The commands, on two of the images.
      const v = forge(['verify', img]);
      assert.equal(v.status, 0, `${what}: verify: ${v.stdout}${v.stderr}`);
      assert.match(v.stderr.toString(), new RegExp(`${inodes} fingerprinted \\(${inodes} verified\\).*: OK$`, 'm'), what);
      const ls = forge(['ls', '-R', img]);
      assert.equal(ls.status, 0, ls.stderr.toString());
      assert.deepEqual(ls.stdout.toString().trim().split('\n').sort(), src.names, `${what}: ls -R`);
      const one = [...src.files.keys()].find((p) => fs.statSync(path.join(root, p)).size > 1000)!;
      const c = forge(['cat', img, one]);
      assert.equal(c.status, 0, c.stderr.toString());
      assert.equal(createHash('sha256').update(c.stdout).digest('hex'), src.files.get(one), `${what}: cat ${one}`);
    }
  });
}
