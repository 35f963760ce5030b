// Proves the end-to-end test harness against the reference writer before any test trusts it: the
// tricky tree, built by erofs-utils 1.9.3's mkfs.erofs and mounted by the kernel, must snapshot exactly
// as its source; two copies created in different orders must snapshot identically; and the comparison
// must be able to fail. Run with EROFS_UTILS_BIN=/work/shared/tools/erofs-utils-1.9.3/bin (.ci/run
// sets it); as root, since the tree has device nodes, foreign owners and trusted.* xattrs.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { isMounted, loopDevicesOf, withMount } from './helpers/mount.js';
import {
  assertSameTree,
  compareTrees,
  keyOf,
  readdirRaw,
  showPath,
  snapshotTree,
  unquoteGetfattr,
  type TreeSnapshot,
} from './helpers/snapshot.js';
import { makeTrickyTree, type TrickyTree } from './helpers/tricky-tree.js';
import { debianTool, findTool, needMount, needRoot, needTool, needVersion, run, runOk } from './helpers/tools.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const temps: string[] = [];
function tempDir(base: string): string {
  const d = mkdtempSync(join(base, 'erofs-harness-'));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Built once, on first use: forward copy on disk (/tmp), reverse-order copy on tmpfs (/dev/shm). */
interface Fixture {
  a: TrickyTree;
  b: TrickyTree;
  snapA: TreeSnapshot;
  snapB: TreeSnapshot;
  dir: string;
}
let fixture: Promise<Fixture> | undefined;
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const dir = tempDir('/tmp');
    const a = makeTrickyTree(join(dir, 'src'));
    const b = makeTrickyTree(join(tempDir('/dev/shm'), 'src'), { reverse: true });
    return { a, b, dir, snapA: await snapshotTree(a.root), snapB: await snapshotTree(b.root) };
  })();
  return fixture;
}

/** mkfs.erofs 1.9.3 image of tree A at 4 KiB blocks (built once). */
let image: string | undefined;
function referenceImage(mkfs: string, f: Fixture): string {
  if (!image) {
    const img = join(f.dir, 'ref-4096.img');
    runOk(mkfs, ['--quiet', '-b4096', img, f.a.root]);
    image = img;
  }
  return image;
}

function gateMkfs(t: TestContext): string | null {
  const mkfs = findTool('mkfs.erofs');
  return needVersion(t, mkfs, '1.9', 'erofs-utils >= 1.9 mkfs.erofs (EROFS_UTILS_BIN)') ? mkfs : null;
}

describe('harness helpers', () => {
  test('getfattr path unquoting: octal escapes and doubled backslashes become bytes', () => {
    assert.deepEqual(unquoteGetfattr('a\\012b\\134c\\\\d\\015\xff'), Buffer.from([0x61, 0x0a, 0x62, 0x5c, 0x63, 0x5c, 0x64, 0x0d, 0xff]));
    assert.equal(showPath(B('new\nline\\\xff')), 'new\\x0aline\\\\\\xff');
  });

  test('tricky tree: two copies created in opposite orders snapshot identically', async (t) => {
    if (!needRoot(t)) return;
    const f = await getFixture();
    assert.equal(f.snapA.entries.size, f.a.entryCount);
    assert.ok(f.a.entryCount > 3000, `only ${f.a.entryCount} entries`);
    // The kernel's readdir orders really differ (ext4 hashes names; tmpfs lists newest first), or this
    // proves nothing. (fs.readdirSync would show both sorted: libuv sorts scandir results.)
    for (const dir of ['names', 'big-dir', '']) {
      const order = (root: string): string[] => readdirRaw(join(root, dir)).map(keyOf);
      assert.notDeepEqual(order(f.a.root), order(f.b.root), `same readdir order in ${dir || '/'}`);
    }
    assertSameTree(f.snapA, f.snapB);

    // Spot checks that the tree holds what it promises (guards against a helper silently doing less).
    const e = (p: Buffer) => f.snapA.entries.get(keyOf(p))!;
    assert.equal(e(f.a.symlinks.long4095).target!.length, 4095);
    assert.deepEqual(e(f.a.devices[0]!.path).rdev, { major: 300, minor: 70000 });
    assert.equal(e(f.a.hardLinks[2]!).nlink, 3);
    assert.equal(e(f.a.hardLinks[2]!).linkGroup, keyOf(f.a.hardLinks[0]!));
    assert.equal(e(f.a.times.ns).mtimeNs, 1234567890_123456789n);
    assert.equal(e(f.a.times.pre1970).mtimeNs, -1234567890_500000000n);
    assert.equal(e(f.a.times.post2106).mtimeNs, 5000000000_000000001n);
    assert.equal(e(f.a.bigXattrFile).xattrs!.get('user.big')!.length, 2048);
    assert.equal(e(B('modes/f4755')).mode, 0o4755);
    assert.equal(e(B('owners/u70000')).uid, 70000);
    assert.ok(e(f.a.aclFile).xattrs!.has('system.posix_acl_access'));
    assert.ok(e(f.a.defaultAclDir).xattrs!.has('system.posix_acl_default'));
    assert.equal(e(f.a.socket).type, 'socket');
    assert.equal(e(f.a.fifo).type, 'fifo');
    assert.equal(e(f.a.bigDir).nlink, 2 + 6);
    for (const p of f.a.sharedXattr.files) assert.deepEqual(e(p).xattrs!.get(f.a.sharedXattr.name), f.a.sharedXattr.value);
  });

  test('mkfs.erofs 1.9.3 image mounted by the kernel is exactly the source tree', async (t) => {
    if (!needRoot(t) || !needMount(t)) return;
    const mkfs = gateMkfs(t);
    if (!mkfs) return;
    const f = await getFixture();
    const img = referenceImage(mkfs, f);
    const m = await withMount(img, (dir) => snapshotTree(dir));
    // mkfs.erofs >= 1.8 marks a directory holding an overlayfs whiteout (char 0:0) with an empty
    // trusted.overlay.origin xattr; that is the only thing it adds.
    const origin = m.entries.get(keyOf(f.a.whiteoutDir))!.xattrs!.get('trusted.overlay.origin');
    assert.deepEqual(origin, Buffer.alloc(0));
    assertSameTree(f.snapA, m, {
      ignoreXattr: (name, p) => name === 'trusted.overlay.origin' && p.equals(f.a.whiteoutDir),
    });
    // As an overlayfs lower layer the whiteout hides itself (and overlayfs hides trusted.overlay.*).
    const o = await withMount(img, (dir) => snapshotTree(dir, { xattrs: false }), { overlayLower: true });
    assert.equal(o.entries.has(keyOf(Buffer.concat([f.a.whiteoutDir, B('/wh')]))), false);
    assert.equal(o.entries.size, m.entries.size - 1);
    // Directory nlink on EROFS is 2 + subdirectories, as on ext4 and tmpfs (compared above for every
    // directory; stated here so the rule is visible).
    const root = m.entries.get('')!;
    const subdirs = [...m.entries.values()].filter((e) => e.type === 'dir' && e.path.length && !e.path.includes(0x2f)).length;
    assert.equal(root.nlink, 2 + subdirs);
  });

  test('Debian fsck.erofs 1.5 --extract keeps everything but xattrs, hard links and set-id bits of files', async (t) => {
    if (!needRoot(t)) return;
    const fsck = debianTool('fsck.erofs');
    if (!needTool(t, fsck, "Debian's fsck.erofs 1.5 (/usr/bin)")) return;
    const mkfs = gateMkfs(t);
    if (!mkfs) return;
    const f = await getFixture();
    const img = referenceImage(mkfs, f);
    const out = join(f.dir, 'fsck15-extract');
    const r = run(fsck, [`--extract=${out}`, img]);
    if (r.status !== 0) {
      // Finding, not failure: 1.5 cannot read every 1.9.3 image. Report it for whoever reads the log.
      t.diagnostic(`fsck.erofs 1.5 could not extract the 1.9.3 image: ${r.stderr.trim()}`);
      return;
    }
    const x = await snapshotTree(out);
    // What 1.5 loses (recorded in snapshot.ts's header comment):
    const lost = compareTrees(f.snapA, x);
    const kinds = new Set(lost.map((l) => /: (xattr|unexpected xattr|nlink|hard-link group|mode)/.exec(l)?.[1] ?? l));
    t.diagnostic(`fsck 1.5 extraction differs in ${lost.length} ways, kinds: ${[...kinds].join(', ')}`);
    assert.deepEqual([...kinds].sort(), ['hard-link group', 'mode', 'nlink', 'xattr']);
    for (const l of lost.filter((l) => /: mode /.test(l))) {
      const [, want, got] = /mode expected (\d+), got (\d+)$/.exec(l)!.map((v) => parseInt(v, 8));
      assert.ok(want! & 0o6000 && got === (want! & ~0o6000), `not just a lost set-id bit: ${l}`);
    }
    // ...and everything else it keeps exactly, nanosecond mtimes included.
    assertSameTree(f.snapA, x, { ignoreXattrs: true, ignoreHardLinks: true, fileModeMask: 0o1777 });
  });

  test('withMount: kernel refusal is a clear error and leaves no mount or loop device behind', async (t) => {
    if (!needRoot(t) || !needMount(t)) return;
    const dir = tempDir('/tmp');
    const bogus = join(dir, 'zeros.img');
    writeFileSync(bogus, Buffer.alloc(64 * 1024));
    let called = false;
    await assert.rejects(
      withMount(bogus, () => {
        called = true;
      }),
      /mounting .*zeros\.img as erofs failed[\s\S]*dmesg/,
    );
    assert.equal(called, false);
    assert.deepEqual(loopDevicesOf(bogus), []);

    // A callback that throws still unmounts and removes the mount point.
    const mkfs = gateMkfs(t);
    if (!mkfs) return;
    const img = referenceImage(mkfs, await getFixture());
    let mnt = '';
    await assert.rejects(
      withMount(img, (d) => {
        mnt = d;
        assert.ok(isMounted(d) && loopDevicesOf(img).length === 1);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(mnt !== '' && !isMounted(mnt) && !existsSync(mnt));
    assert.deepEqual(loopDevicesOf(img), []);
  });

  // Runs last: it damages tree B.
  test('compareTrees reports one changed byte, xattr value, mode bit and mtime nanosecond', async (t) => {
    if (!needRoot(t)) return;
    const f = await getFixture();
    const at = (p: string): Buffer => Buffer.concat([Buffer.from(f.b.root + '/'), B(p)]);
    const file = 'sizes/bs4096/size-04097';
    const before = f.snapB.entries.get(file)!;

    const fd = openSync(at(file), 'r+');
    writeSync(fd, Buffer.from([(readFileSync(at(file))[4096]! ^ 1) & 0xff]), 0, 1, 4096);
    closeSync(fd);
    const py = (code: string, ...args: string[]) => runOk('python3', ['-c', code, ...args]);
    // Put the file's mtime back so the only difference is its content.
    py('import os,sys; os.utime(bytes.fromhex(sys.argv[1]), ns=(int(sys.argv[2]),)*2)', at(file).toString('hex'), String(before.mtimeNs));
    py("import os,sys; os.setxattr(bytes.fromhex(sys.argv[1]), 'user.shared', b'the same value on twentY files')", at('shared/s07').toString('hex'));
    py('import os,sys; os.chmod(bytes.fromhex(sys.argv[1]), 0o641)', at('modes/f0640').toString('hex'));
    const t0 = f.snapB.entries.get('times/pre1970')!.mtimeNs!;
    py('import os,sys; os.utime(bytes.fromhex(sys.argv[1]), ns=(int(sys.argv[2]),)*2, follow_symlinks=False)', at('times/pre1970').toString('hex'), String(t0 + 1n));

    const diffs = compareTrees(f.snapA, await snapshotTree(f.b.root));
    assert.equal(diffs.length, 4, diffs.join('\n'));
    assert.match(diffs.find((l) => l.startsWith(`${file}:`)) ?? '', /content sha256/);
    assert.match(diffs.find((l) => l.startsWith('shared/s07:')) ?? '', /xattr user\.shared expected .* got 30 bytes/);
    assert.match(diffs.find((l) => l.startsWith('modes/f0640:')) ?? '', /mode expected 00640, got 00641/);
    assert.match(diffs.find((l) => l.startsWith('times/pre1970:')) ?? '', /mtime expected -1234567890\.500000000, got -1234567890\.499999999/);
    assert.throws(() => assertSameTree(f.snapA, { ...f.snapB, entries: new Map() }), /trees differ \(\d+ differences\)[\s\S]*and \d+ more/);
  });
});
