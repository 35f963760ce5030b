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
import { forge } from './helpers/tools.js';
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
