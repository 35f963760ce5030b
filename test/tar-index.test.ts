// Tar index images (mkfs.erofs --tar=i) and headerballs (--tar=headerball), issue 18, and their seal
// (issue 19): the real lines (containerd, kata) run through mkfs.erofs 1.9.3 and through
// `erofs-forge mkfs` on the same tar on stdin, the tar appended as the caller does; both mounted by
// the kernel and compared with each other and with the tar's tree; fsck.erofs 1.9.3 clean; our reader
// reads the data from the appended tar; the combined file sealed with 512-byte verity blocks is what
// veritysetup writes and verifies.
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type CompareOptions } from './helpers/snapshot.js';
import { findTool, forge, needMount, needRoot, needTool, needVersion, run, runOk } from './helpers/tools.js';
import { noise } from './helpers/noise.js';

const MKFS = findTool('mkfs.erofs');
const FSCK = findTool('fsck.erofs');
const TAR = findTool('tar');
const SETFATTR = findTool('setfattr');
const VERITYSETUP = findTool('veritysetup') ?? (fs.existsSync('/usr/sbin/veritysetup') ? '/usr/sbin/veritysetup' : null);
const UUID = '3f1a4b2c-1d2e-4f30-8a4b-5c6d7e8f9012';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-tarindex-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const at = (name: string): string => path.join(work, name);

/**
 * The tree: xattrs (PAX SCHILY.xattr), hard links, a long name (PAX path), empty files, a file with a
 * zero run, nested directories, a symlink, times with nanoseconds; `aufs` adds OCI whiteouts.
 */
function makeTree(name: string, aufs: boolean): string {
  const root = at(name);
  fs.mkdirSync(path.join(root, 'd', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(root, 'opq'));
  const w = (p: string, b: Buffer | string) => fs.writeFileSync(path.join(root, p), b);
  w('hello', 'hello\n');
  w('big.bin', noise(70_001, 7));
  w('d/sub/f513', noise(513, 8));
  w('d/exact512', noise(512, 9));
  w('empty', '');
  w('zeros', Buffer.concat([noise(1000, 10), Buffer.alloc(20_000), noise(7, 11)]));
  w(`d/${'n'.repeat(180)}`, 'long name\n');
  w('opq/kept', 'kept\n');
  fs.linkSync(path.join(root, 'hello'), path.join(root, 'd', 'hardlink'));
  fs.symlinkSync('../hello', path.join(root, 'd', 'sym'));
  runOk(SETFATTR!, ['-n', 'user.note', '-v', 'value', path.join(root, 'hello')]);
  runOk(SETFATTR!, ['-n', 'trusted.overlay.x', '-v', 'y', path.join(root, 'd')]);
  if (aufs) {
    w('d/.wh.gone', '');
    w('opq/.wh..wh..opq', '');
  }
  fs.chmodSync(path.join(root, 'd', 'sub'), 0o750);
  fs.utimesSync(path.join(root, 'big.bin'), new Date(1_600_000_000_123), new Date(1_600_000_000_123));
  return root;
}

/** GNU tar's PAX archive of a tree (xattrs in SCHILY.xattr records), owned by root. */
function tarOf(src: string, name: string): string {
  const file = at(name);
  // --sort=name: the archive lists entries in name order (mkfs.erofs places inodes in archive order, we in name order).
  runOk(TAR!, ['--sort=name', '--xattrs', '--xattrs-include=*', '--format=pax', '--numeric-owner', '--owner=0', '--group=0', '-C', src, '-cf', file, '.']);
  return file;
}

/** The same archive without file data: headers only (what mkfs.erofs --tar=headerball reads). */
function headerball(tar: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    off += 512;
    if (h.every((b) => b === 0)) {
      out.push(h);
      continue;
    }
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]);
    const padded = Math.ceil(size / 512) * 512;
    out.push(h);
    // PAX records (and long names) stay; regular data goes.
    if (type !== '0' && type !== '7' && type !== '1') out.push(tar.subarray(off, off + padded));
    off += padded;
  }
  return Buffer.concat(out);
}

function ready(t: TestContext): boolean {
  return needVersion(t, MKFS, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')
    && needTool(t, FSCK, 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')
    && needTool(t, TAR, 'GNU tar') && needTool(t, SETFATTR, 'setfattr (apt-get install attr)')
    && needRoot(t) && needMount(t);
}

interface Line {
  name: string;
  args: string[];
  aufs: boolean;
  headerball?: boolean;
  /** Fixed -U and -T: the two images must be byte-identical. */
  identical: boolean;
}

const LINES: Line[] = [
  // containerd GenerateTarIndexAndAppendTar (internal/erofsutils/mount.go).
  { name: 'containerd --tar=i --aufs --quiet -U', args: ['--tar=i', '--aufs', '--quiet', '-U', UUID], aufs: true, identical: false },
  // with containerd's recommended mkfs_options.
  { name: 'containerd --tar=i --aufs --quiet -T0 --mkfs-time -U', args: ['--tar=i', '--aufs', '--quiet', '-T0', '--mkfs-time', '-U', UUID], aufs: true, identical: true },
  // kata / confidential containers (no -U: random UUIDs, compared mounted only).
  { name: 'kata --tar=i -T0 --mkfs-time', args: ['--tar=i', '-T0', '--mkfs-time'], aufs: false, identical: false },
  { name: 'kata --tar=0 -T0 -U (all-time)', args: ['--tar=0', '-T0', '-U', UUID], aufs: false, identical: true },
  { name: '--tar=headerball -T0 --mkfs-time -U', args: ['--tar=headerball', '-T0', '--mkfs-time', '-U', UUID], aufs: false, headerball: true, identical: true },
];

describe('tar index lines: mkfs.erofs 1.9.3 and erofs-forge mkfs, tar appended', () => {
  for (const l of LINES) {
    test(l.name, async (t) => {
      if (!ready(t)) return;
      const slug = l.name.replace(/[^a-z0-9]+/gi, '-');
      const src = makeTree(`src-${slug}`, l.aufs);
      const tarFile = tarOf(src, `${slug}.tar`);
      const tar = fs.readFileSync(tarFile);
      const input = l.headerball ? headerball(tar) : tar;
      const ref = at(`${slug}.ref`);
      const ours = at(`${slug}.ours`);
      const r1 = run(MKFS!, [...l.args, ref], { input });
      const r2 = forge(['mkfs', ...l.args, ours], { input });
      assert.equal(r1.status, 0, r1.stderr);
      assert.equal(r2.status, r1.status, `same exit status: ${r2.stderr}`);
      if (l.identical) assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(ref)), 'byte-identical to mkfs.erofs 1.9.3');
      // The caller appends the tar (cat layer.tar >> layer.erofs); a headerball has nothing to append.
      if (!l.headerball) {
        fs.appendFileSync(ref, tar);
        fs.appendFileSync(ours, tar);
      }
      for (const img of [ref, ours]) {
        const f = run(FSCK!, [img]);
        assert.equal(f.status, 0, `fsck.erofs ${path.basename(img)}: ${f.stderr}${f.stdout}`);
      }
      const snapRef = await withMount(ref, (d) => snapshotTree(d, { skipRootMtime: true }));
      const snapOurs = await withMount(ours, (d) => snapshotTree(d, { skipRootMtime: true }));
      const cmp: CompareOptions = { ignoreMtimeOf: (p) => p.length === 0 };
      // Without -T, mkfs.erofs drops the nanoseconds of mtimes in the build's second (compact
      // inodes); erofs-forge keeps them (README "Nanoseconds kept").
      const fixedT = l.args.some((a) => a.startsWith('-T'));
      assertSameTree(snapRef, snapOurs, { ...cmp, mtimeSecondsOnly: !fixedT });
      if (l.headerball) {
        // Headers only: every file is there with its size, reading zeros.
        const e = snapOurs.entries.get('big.bin')!;
        assert.equal(e.size, 70_001n);
        await withMount(ours, (d) => assert.ok(fs.readFileSync(path.join(d, 'big.bin')).equals(Buffer.alloc(70_001))));
        return;
      }
      if (!l.aufs) {
        // The tar's tree, bytes, modes, owners, times (the root is the archive's '.'), links, xattrs.
        // -T without --mkfs-time gives every file the time -T names (mkfs.erofs --all-time).
        const allTime = fixedT && !l.args.includes('--mkfs-time');
        const snapSrc = await snapshotTree(src, { skipRootMtime: true });
        assertSameTree(snapSrc, snapOurs, allTime ? { ignoreMtimeOf: () => true } : cmp);
        if (allTime) assert.equal(snapOurs.entries.get('hello')!.mtimeNs, 0n);
      } else {
        assert.equal(snapOurs.entries.get('d/gone')?.type, 'chr', 'aufs whiteout became a 0:0 char device');
      }
      // Our reader reads the data where it lies: in the appended tar.
      const v = forge(['verify', ours]);
      assert.equal(v.status, 0, v.stderr + v.stdout.toString());
      assert.equal(forge(['cat', ours, 'zeros']).stdout.equals(fs.readFileSync(path.join(src, 'zeros'))), true);
      if (!l.aufs) {
        const out = at(`${slug}.x`);
        runOk(process.execPath, [path.join(process.cwd(), 'bin', 'erofs-forge.js'), 'extract', ours, out]);
        const snapX = await snapshotTree(out, { skipRootMtime: true });
        const allTime = fixedT && !l.args.includes('--mkfs-time');
        assertSameTree(await snapshotTree(src, { skipRootMtime: true }), snapX, { ignoreMtimeOf: (p) => allTime || p.length === 0 });
      }
      // Without its tar, the image names what is missing.
      const bare = at(`${slug}.bare`);
      fs.writeFileSync(bare, fs.readFileSync(ours).subarray(0, fs.readFileSync(ours).length - tar.length));
      const vb = forge(['verify', bare]);
      assert.notEqual(vb.status, 0);
      assert.match(vb.stdout.toString() + vb.stderr, /needs its tar appended/);
    });
  }

  test('index lines erofs-forge refuses, with one line and mkfs.erofs\'s status 1', (t) => {
    if (!needTool(t, TAR, 'GNU tar')) return;
    const tar = fs.readFileSync(tarOf(makeTree('src-refused', false), 'refused.tar'));
    for (const [args, re] of [
      [['--tar=i', '-zlz4'], /^mkfs\.erofs: -z with --tar=i: file data stays in the tar, uncompressed\n$/],
      [['--tar=i', '--chunksize=4096'], /^mkfs\.erofs: --chunksize with --tar=i: /],
      [['--tar=headerball', '--xattr-inode-digest'], /^mkfs\.erofs: --xattr-inode-digest with --tar=headerball: /],
    ] as const) {
      const r = forge(['mkfs', ...args, at('refused.img')], { input: tar });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr.replace(/^[^:]*mkfs[^:]*:/, 'mkfs.erofs:'), re);
      assert.equal(fs.existsSync(at('refused.img')), false, 'no partial output');
    }
    // A sparse member's bytes are not stored as they read: there is nothing to point the index at.
    const sp = at('sparse-src');
    fs.mkdirSync(sp);
    const fd = fs.openSync(path.join(sp, 'holes'), 'w');
    fs.writeSync(fd, 'x', 1 << 20);
    fs.closeSync(fd);
    const sparseTar = at('sparse.tar');
    runOk(TAR!, ['-S', '--format=pax', '-C', sp, '-cf', sparseTar, '.']);
    const r = forge(['mkfs', '--tar=i', at('refused.img')], { input: fs.readFileSync(sparseTar) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^[^\n]*: <stdin>: (\.\/)?holes \(member at offset \d+\): sparse members cannot be indexed \(--tar=i\); use a full image \(--tar=f\)\n$/);
    assert.equal(fs.existsSync(at('refused.img')), false, 'no partial output');
  });
});

describe('sealing a tar index image (512-byte blocks)', () => {
  test('seal covers the image and its appended tar; veritysetup agrees; 4096-byte verity blocks refused', async (t) => {
    if (!ready(t) || !needTool(t, VERITYSETUP, 'veritysetup (apt-get install cryptsetup-bin)')) return;
    const src = makeTree('src-seal', false);
    const tar = fs.readFileSync(tarOf(src, 'seal.tar'));
    const img = at('seal.img');
    assert.equal(forge(['mkfs', '--tar=i', '-T0', '--mkfs-time', '--quiet', '-U', UUID, img], { input: tar }).status, 0);
    const indexBytes = fs.statSync(img).size;
    fs.appendFileSync(img, tar);
    const combined = fs.readFileSync(img);

    const big = forge(['seal', '--verity-data-block-size', '4096', img]);
    assert.equal(big.status, 1);
    assert.equal(big.stderr, 'erofs-forge: --verity-data-block-size 4096: larger than the image\'s block size 512\n');
    assert.ok(fs.readFileSync(img).equals(combined), 'a refused seal leaves the file as it was');

    const s = forge(['seal', '--json', img]);
    assert.equal(s.status, 0, s.stderr);
    const v = (JSON.parse(s.stdout.toString()) as { verity: Record<string, string | number> }).verity;
    assert.equal(v.dataBlockSize, 512);
    assert.equal(Number(v.dataBlocks) * 512, indexBytes + tar.length, 'the seal covers the index and the whole tar');
    // veritysetup format on a copy of the data with the same parameters writes the same tree and root.
    const copy = at('seal.copy');
    fs.writeFileSync(copy, combined);
    const out = runOk(VERITYSETUP!, ['format', '--hash=sha256', '--data-block-size=512', `--hash-block-size=${v.hashBlockSize}`,
      `--data-blocks=${v.dataBlocks}`, `--salt=${v.salt}`, `--uuid=${v.uuid}`, `--hash-offset=${v.hashOffset}`, copy, copy]).stdout.toString();
    assert.match(out, new RegExp(`Root hash:\\s+${v.rootHash}`));
    assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(img)), 'byte-identical to veritysetup format');
    assert.equal(run(VERITYSETUP!, ['verify', img, img, String(v.rootHash), `--hash-offset=${v.hashOffset}`]).status, 0);
    const ver = forge(['verify', '--root-hash', String(v.rootHash), img]);
    assert.equal(ver.status, 0, ver.stderr + ver.stdout.toString());
    // Sealing again recomputes the same seal over the same data (the old seal is found, not sealed over).
    const again = forge(['seal', '--json', img]);
    assert.equal((JSON.parse(again.stdout.toString()) as { verity: { rootHash: string } }).verity.rootHash, v.rootHash);
    // A flipped byte in a tar member's data fails both checkers; ours names the file.
    const bad = at('seal.bad');
    const b = fs.readFileSync(img);
    const pos = indexBytes + tar.indexOf(fs.readFileSync(path.join(src, 'big.bin')).subarray(0, 64)) + 100;
    b[pos] ^= 0x5a;
    fs.writeFileSync(bad, b);
    assert.notEqual(run(VERITYSETUP!, ['verify', bad, bad, String(v.rootHash), `--hash-offset=${v.hashOffset}`]).status, 0);
    const vb = forge(['verify', '--root-hash', String(v.rootHash), bad]);
    assert.notEqual(vb.status, 0);
    // The sealed file still mounts (the tree lies after the tar) and equals the source.
    const snap = await withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
    assertSameTree(await snapshotTree(src, { skipRootMtime: true }), snap, { ignoreMtimeOf: (p) => p.length === 0 });
  });
});
