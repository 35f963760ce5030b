// extract never writes outside its target directory. A valid image with escaping symlinks (absolute and
// relative) and a hard link is extracted as it is (links created, never followed); crafted images, made
// by editing dirents of that image in place (names "..", names with "/", a name used twice so a
// directory would follow a symlink of the same name, hard links to directories and to the root), fail
// with one clean line, and nothing appears outside the target.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { forge, findTool, needMount, needRoot, needVersion, runOk } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { snapshotTree, assertSameTree } from './helpers/snapshot.js';
import * as sys from '../src/sys/libc.js';
import { ErofsImage } from '../src/read/image.js';
import { decodeDirBlock } from '../src/format/dirent.js';
import { INODE_FLAT_INLINE, INODE_FLAT_PLAIN, FT_DIR, S_IFDIR } from '../src/format/constants.js';
import { fixChecksum } from './fuzz/mutate.js';

interface Entry {
  name: string;
  nid: number;
  /** Absolute offsets of the dirent and of its name. */
  dirent: number;
  nameOff: number;
  nameLen: number;
}

/** The entries of a (flat) directory of `image`, with where each lies in the image file. */
function entries(image: string, dir: string): Entry[] {
  const img = ErofsImage.open(image);
  try {
    const ino = img.lookup(dir);
    const bs = img.blockSize;
    assert.ok(ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE);
    const blockBytes = ino.datalayout === INODE_FLAT_INLINE ? Math.floor(ino.size / bs) * bs : ino.size;
    const at = (off: number) => (off < blockBytes ? ino.u * bs + off : ino.iloc + ino.isize + ino.xattrSize + (off - blockBytes));
    const out: Entry[] = [];
    for (let off = 0; off < ino.size; off += bs) {
      const len = Math.min(bs, ino.size - off);
      const block = Buffer.from(img.readAt(at(off), len, 'test'));
      const list = decodeDirBlock(block, len, 'test');
      list.forEach((e, k) => {
        const nameoff = block.readUInt16LE(k * 12 + 8);
        out.push({ name: Buffer.from(e.name).toString('latin1'), nid: e.nid, dirent: at(off + k * 12), nameOff: at(off + nameoff), nameLen: e.name.length });
      });
    }
    return out;
  } finally {
    img.close();
  }
}

function edit(src: string, dst: string, fn: (b: Buffer) => void): string {
  const b = fs.readFileSync(src);
  fn(b);
  fixChecksum(b);
  fs.writeFileSync(dst, b);
  return dst;
}

function setup(): { d: string; base: string; canary: string; escape: string } {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-escape-'));
  const canary = path.join(d, 'canary');
  fs.mkdirSync(canary);
  // Relative escape target: from the extract root (d/work/x) "../../escape-rel" is d/escape-rel.
  const escape = path.join(d, 'escape-rel');
  const src = path.join(d, 'src');
  fs.mkdirSync(path.join(src, 'aa'), { recursive: true });
  fs.mkdirSync(path.join(src, 'cc'));
  fs.mkdirSync(path.join(src, 'zz'));
  fs.writeFileSync(path.join(src, 'aa', 'f'), 'in aa\n');
  fs.writeFileSync(path.join(src, 'cc', 'f'), 'in cc\n');
  fs.writeFileSync(path.join(src, 'dd'), 'dd\n');
  fs.linkSync(path.join(src, 'dd'), path.join(src, 'zz', 'h'));
  fs.symlinkSync(path.join(canary, 'owned'), path.join(src, 'bb'));
  fs.symlinkSync('../../escape-rel', path.join(src, 'ee'));
  const base = path.join(d, 'base.img');
  const r = forge(['build', '--quiet', '-T0', '-Uclear', base, src]);
  assert.equal(r.status, 0, r.stderr);
  fs.mkdirSync(path.join(d, 'work'));
  return { d, base, canary, escape };
}

/** Nothing outside the target: the canary is empty, no relative escape, the work dir holds only x. */
function assertContained(d: string, canary: string, escape: string): void {
  assert.deepEqual(fs.readdirSync(canary), [], 'nothing written through the absolute symlink');
  assert.equal(fs.existsSync(escape), false, 'nothing written through the relative symlink');
  assert.deepEqual(fs.readdirSync(path.join(d, 'work')).filter((n) => n !== 'x'), []);
  const expected = ['base.img', 'canary', 'src', 'work', ...(fs.existsSync(path.join(d, 'crafted.img')) ? ['crafted.img'] : [])];
  assert.deepEqual(fs.readdirSync(d).sort(), expected.sort());
}

test('a valid image with escaping symlinks and a hard link: links created as links, never followed', () => {
  const { d, base, canary, escape } = setup();
  try {
    const x = path.join(d, 'work', 'x');
    const r = forge(['extract', '--quiet', base, x]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readlinkSync(path.join(x, 'bb')), path.join(canary, 'owned'));
    assert.equal(fs.readlinkSync(path.join(x, 'ee')), '../../escape-rel');
    assert.equal(fs.statSync(path.join(x, 'zz', 'h')).ino, fs.statSync(path.join(x, 'dd')).ino);
    assert.equal(fs.statSync(path.join(x, 'dd')).nlink, 2);
    assertContained(d, canary, escape);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('an inode under two names with a forged i_nlink of 1 is extracted once, as a hard link', () => {
  const { d, base, canary, escape } = setup();
  try {
    const crafted = edit(base, path.join(d, 'crafted.img'), (b) => {
      const img = ErofsImage.open(base);
      try {
        const ino = img.lookup('/dd');
        assert.equal(ino.extended, false);
        b.writeUInt16LE(1, ino.iloc + 6); // compact i_nlink
      } finally {
        img.close();
      }
    });
    const x = path.join(d, 'work', 'x');
    const r = forge(['extract', '--quiet', crafted, x]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.statSync(path.join(x, 'zz', 'h')).ino, fs.statSync(path.join(x, 'dd')).ino);
    assertContained(d, canary, escape);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

type Craft = [name: string, fn: (b: Buffer, root: Entry[], zz: Entry[], base: string) => void, expect: RegExp];

const CRAFTS: Craft[] = [
  ['a name changed to ".."', (b, root) => {
    const aa = root.find((e) => e.name === 'aa')!;
    b.write('..', aa.nameOff, 'latin1');
  }, /wrong dirent name order|"\.\." does not point to the parent/],
  ['a name with "/"', (b, root) => {
    const cc = root.find((e) => e.name === 'cc')!;
    b.write('c/', cc.nameOff, 'latin1');
  }, /dirent name contains \/ or NUL|wrong dirent name order/],
  ['an absolute name ("/z")', (b, root) => {
    const zz = root.find((e) => e.name === 'zz')!;
    b.write('/z', zz.nameOff, 'latin1');
  }, /dirent name contains \/ or NUL|wrong dirent name order/],
  ['a directory with the name of the absolute symlink (it would be followed)', (b, root) => {
    const cc = root.find((e) => e.name === 'cc')!;
    b.write('bb', cc.nameOff, 'latin1');
  }, /wrong dirent name order/],
  ['the symlink retyped as a directory (its target read as entries)', (b, root, _zz, base) => {
    const bb = root.find((e) => e.name === 'bb')!;
    b[bb.dirent + 10] = FT_DIR;
    const img = ErofsImage.open(base);
    try {
      const ino = img.inode(bb.nid);
      b.writeUInt16LE(S_IFDIR | 0o755, ino.iloc + 4);
    } finally {
      img.close();
    }
  }, /bogus dirent|directory|nid \d+/],
  ['a hard link to a directory (zz/h points at aa)', (b, root, zz) => {
    const aa = root.find((e) => e.name === 'aa')!;
    const h = zz.find((e) => e.name === 'h')!;
    b.writeBigUInt64LE(BigInt(aa.nid), h.dirent);
    b[h.dirent + 10] = FT_DIR;
  }, /directory reached twice|"\.\." does not point to the parent/],
  ['a hard link to the root (zz/h points at /)', (b, root, zz) => {
    const dot = root.find((e) => e.name === '.')!;
    const h = zz.find((e) => e.name === 'h')!;
    b.writeBigUInt64LE(BigInt(dot.nid), h.dirent);
    b[h.dirent + 10] = FT_DIR;
  }, /directory reached twice|"\.\." does not point to the parent/],
  ['a name with a NUL byte', (b, root) => {
    const cc = root.find((e) => e.name === 'cc')!;
    b[cc.nameOff + 1] = 0;
  }, /dirent name contains \/ or NUL|wrong dirent name order/],
  ['a hard link to an inode outside the inode table (nid past the image)', (b, _root, zz) => {
    const h = zz.find((e) => e.name === 'h')!;
    b.writeBigUInt64LE(1n << 40n, h.dirent);
  }, /reference beyond the end of the image|nid out of range/],
];

for (const [name, fn, expect] of CRAFTS) {
  test(`crafted image, ${name}: exit 1 with one line, nothing outside the target`, () => {
    const { d, base, canary, escape } = setup();
    try {
      const root = entries(base, '/');
      const zz = entries(base, '/zz');
      const crafted = edit(base, path.join(d, 'crafted.img'), (b) => fn(b, root, zz, base));
      const x = path.join(d, 'work', 'x');
      const r = forge(['extract', '--quiet', crafted, x]);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], expect);
      assert.doesNotMatch(r.stderr, /internal error/);
      assertContained(d, canary, escape);
      // verify agrees: the image is not fit to mount.
      assert.equal(forge(['verify', crafted]).status, 1);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

// ---- issue 15 finding 3: confinement by construction ------------------------------------------

/**
 * Everything under `dir` but `skip` (relative names at the top): type, mode, owner, size, mtime and
 * ctime to the nanosecond, content, link target and every xattr. ctime catches any metadata change
 * (an xattr set, a chmod, a chown, a link) even where the values end up the same.
 */
function hashTree(dir: string, skip: string[]): string {
  const h = createHash('sha256');
  const walk = (abs: Buffer, rel: string): void => {
    const st = fs.lstatSync(abs, { bigint: true });
    h.update(`${rel}\0${st.mode} ${st.uid} ${st.gid} ${st.size} ${st.nlink} ${st.mtimeNs} ${st.ctimeNs}\0`);
    for (const x of sys.lgetxattrs(sys.cstr(abs))) h.update(Buffer.concat([x.name, Buffer.from('='), x.value, Buffer.from('\0')]));
    if (st.isFile()) h.update(fs.readFileSync(abs));
    else if (st.isSymbolicLink()) h.update(fs.readlinkSync(abs, { encoding: 'buffer' }));
    else if (st.isDirectory()) {
      for (const n of fs.readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) {
        if (!rel && skip.includes(n.toString('latin1'))) continue;
        walk(Buffer.concat([abs, Buffer.from('/'), n]), `${rel}/${n.toString('latin1')}`);
      }
    }
  };
  walk(Buffer.from(dir), '');
  return h.digest('hex');
}

/** security.capability v2 (struct vfs_cap_data): effective, permitted = cap_setuid (bit 7). */
const CAP_SETUID = Buffer.from('0100000280000000000000000000000000000000', 'hex');

test('extract-escape (issue 15.3): backslash names L\\ + L\\057x with security.capability change nothing outside DIR', (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-escape-bs-'));
  try {
    const outside = path.join(d, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'x'), 'victim\n');
    fs.writeFileSync(path.join(outside, 'L\\057x'), 'victim 2\n');
    fs.mkdirSync(path.join(outside, 'sub'));
    fs.writeFileSync(path.join(outside, 'sub', 'x'), 'victim 3\n');
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    // Every way a re-parsed path could reach `outside`: symlinks named like escape sequences, a
    // relative one, one to a directory, one to the victim file itself, and files whose names
    // would decode into "L\/x" or "L/x".
    for (const n of ['L\\', 'L', 'L\\\\', 'sub\\']) fs.symlinkSync(outside, path.join(src, n));
    fs.symlinkSync(path.join(outside, 'x'), path.join(src, 'victim'));
    fs.symlinkSync('../outside/sub', path.join(src, 'rel'));
    for (const n of ['L\\057x', 'L\\\\057x', 'L\\/x'.replace('/', '\\057'), 'sub\\057x', 'victim\\']) {
      const f = path.join(src, n);
      fs.writeFileSync(f, `payload ${n}\n`);
      sys.lsetxattr(Buffer.from(f), Buffer.from('security.capability'), CAP_SETUID);
      sys.lsetxattr(Buffer.from(f), Buffer.from('user.evil'), Buffer.from('1'));
      sys.lsetxattr(Buffer.from(f), Buffer.from('trusted.evil'), Buffer.from('a\0b\nc'));
    }
    // A symlink carrying trusted.* (restored on the link itself, never on what it points at).
    sys.lsetxattr(Buffer.from(path.join(src, 'victim')), Buffer.from('trusted.link'), Buffer.from('on the link'));
    const img = path.join(d, 'img');
    let r = forge(['build', '--quiet', '-T0', '-Uclear', img, src]);
    assert.equal(r.status, 0, r.stderr);
    fs.mkdirSync(path.join(d, 'work'));
    const before = hashTree(d, ['work']);
    const x = path.join(d, 'work', 'x');
    r = forge(['extract', '--quiet', img, x]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(hashTree(d, ['work']), before, 'something outside DIR changed');
    // And the image came out right: names, links, contents, xattrs.
    assert.deepEqual(fs.readdirSync(x, { encoding: 'latin1' }).sort(), fs.readdirSync(src, { encoding: 'latin1' }).sort());
    assert.equal(fs.readlinkSync(path.join(x, 'L\\')), outside);
    assert.equal(fs.readFileSync(path.join(x, 'L\\057x'), 'utf8'), 'payload L\\057x\n');
    const xs = new Map(sys.lgetxattrs(sys.cstr(Buffer.from(path.join(x, 'L\\057x')))).map((a) => [a.name.toString(), a.value]));
    assert.deepEqual(xs.get('security.capability'), CAP_SETUID);
    assert.deepEqual(xs.get('trusted.evil'), Buffer.from('a\0b\nc'));
    const lx = new Map(sys.lgetxattrs(sys.cstr(Buffer.from(path.join(x, 'victim')))).map((a) => [a.name.toString(), a.value]));
    assert.deepEqual(lx.get('trusted.link'), Buffer.from('on the link'));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('extract-escape (issue 15.3): crafted names and links, hashed parent tree unchanged', (t) => {
  if (!needRoot(t)) return;
  const { d, base } = setup();
  try {
    const root = entries(base, '/');
    const zz = entries(base, '/zz');
    // Each craft in turn, into a fresh target: the whole parent (xattrs, ctimes) must not change.
    for (const [name, fn] of CRAFTS) {
      const crafted = edit(base, path.join(d, 'crafted.img'), (b) => fn(b, root, zz, base));
      const before = hashTree(d, ['work']);
      const x = path.join(d, 'work', 'x');
      fs.rmSync(x, { recursive: true, force: true });
      forge(['extract', '--quiet', crafted, x]);
      assert.equal(hashTree(d, ['work']), before, `${name}: something outside DIR changed`);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('extract-escape (issue 15.3): a valid mkfs.erofs --xattr-inode-digest image with backslash names extracts as the kernel mounts it', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3')) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-escape-valid-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'dir\\057x'), { recursive: true });
    const names = ['L\\057x', 'a\\b', 'back\\\\slash', 'dir\\057x/in\\side', 'tab\tnl\n', 'L\\'];
    for (const n of names.slice(0, 5)) fs.writeFileSync(path.join(src, n), `content of ${n}\n`);
    fs.symlinkSync('L\\057x', path.join(src, 'L\\'));
    const latin = Buffer.concat([Buffer.from(src + '/'), Buffer.from([0xff, 0x5c, 0xfe])]);
    fs.writeFileSync(latin, 'not utf-8\n');
    for (const n of names) sys.lsetxattr(Buffer.from(path.join(src, n)), Buffer.from('trusted.k'), Buffer.from(`v\\${n}\0\n`));
    sys.lsetxattr(Buffer.from(path.join(src, 'a\\b')), Buffer.from('user.k'), Buffer.from('x\\057y'));
    sys.lsetxattr(latin, Buffer.from('user.k'), Buffer.from([0, 1, 2]));
    const img = path.join(d, 'img');
    runOk(mkfs, ['--quiet', '-T0', '-Uclear', '--xattr-inode-digest=trusted.erofs.fingerprint', img, src]);
    const x = path.join(d, 'x');
    const r = forge(['extract', '--quiet', img, x]);
    assert.equal(r.status, 0, r.stderr);
    const mounted = await withMount(img, (m) => snapshotTree(m));
    assertSameTree(mounted, await snapshotTree(x), { ignoreMtimeOf: (p) => p.length === 0 });
    // The fingerprint is visible and restored on every non-empty regular file.
    const fp = sys.lgetxattrs(sys.cstr(Buffer.from(path.join(x, 'a\\b')))).find((a) => a.name.toString() === 'trusted.erofs.fingerprint');
    assert.ok(fp && fp.value.length > 0);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
