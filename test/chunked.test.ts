// Issue 18 point 4: chunk-based files (--chunksize). Every image: fsck.erofs 1.9.3 clean, our verify
// clean, our reader and a kernel mount equal to the source. Trees hold sparse files (holes in the
// middle, at the end, nothing but a hole), all-zero files, files duplicated across directories and
// within one file, files of 0, 1 and chunk±1 bytes. Against mkfs.erofs 1.9.3: byte-identical images
// where every chunk map fits the block its inode starts in (see the README for the one difference).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { findTool, forge, needMount, needRoot, needTool, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { fixSuperblockChecksum } from './helpers/tamper.js';
import { ErofsImage } from '../src/read/image.js';
import { INODE_CHUNK_BASED, INODE_COMPRESSED_COMPACT, INODE_COMPRESSED_FULL, NULL_ADDR, FEATURE_INCOMPAT_CHUNKED_FILE, CHUNK_FORMAT_INDEXES } from '../src/format/constants.js';
import { CorruptImageError } from '../src/errors.js';

const UUID = '11111111-2222-4333-8444-555555555555';
let dir = '';
const trees = new Map<number, { src: string; snap: TreeSnapshot }>();

/** A sparse file: `parts` are [offset, bytes] written into a file of `size` bytes (the rest never written). */
function sparse(f: string, size: number, parts: [number, Buffer][]): void {
  const fd = fs.openSync(f, 'w');
  try {
    for (const [at, b] of parts) fs.writeSync(fd, b, 0, b.length, at);
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

async function makeTree(chunk: number): Promise<{ src: string; snap: TreeSnapshot }> {
  const src = path.join(dir, `src-${chunk}`);
  fs.mkdirSync(path.join(src, 'd', 'e'), { recursive: true });
  const w = (name: string, b: Buffer) => fs.writeFileSync(path.join(src, name), b);
  w('zero', Buffer.alloc(0));
  w('one', Buffer.from('x'));
  for (const n of [chunk - 1, chunk, chunk + 1, 2 * chunk + 1]) w(`f${n}`, pseudoRandom(`f${n}`, n));
  // Duplicates across files (whole files, and a file made of one chunk twice).
  fs.copyFileSync(path.join(src, `f${chunk + 1}`), path.join(src, 'd', 'dup'));
  fs.copyFileSync(path.join(src, `f${chunk}`), path.join(src, 'd', 'e', 'dup2'));
  w('twice', Buffer.concat([pseudoRandom('tw', chunk), pseudoRandom('tw', chunk), Buffer.from('end')]));
  // Written zeros: whole zero chunks become holes; a short zero tail stays data (the file is not sparse).
  w('zeros', Buffer.concat([pseudoRandom('z', 100), Buffer.alloc(3 * chunk), Buffer.alloc(chunk >> 1)]));
  // Holes in the source are whole blocks of its filesystem (4 KiB here): laid out in units at least that big.
  const u = Math.max(chunk, 8192);
  sparse(path.join(src, 'midhole'), 10 * u + 77, [[0, pseudoRandom('m1', 100)], [6 * u, pseudoRandom('m2', 100)]]);
  sparse(path.join(src, 'tailhole'), 3 * u + 123, [[0, pseudoRandom('t1', u + 10)]]);
  sparse(path.join(src, 'allhole'), 2 * chunk + 5, []);
  fs.symlinkSync('one', path.join(src, 'lnk'));
  return { src, snap: await snapshotTree(src) };
}

test.before(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-chunked-'));
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Our reader's bytes of every regular file equal the source's. */
function readerMatches(img: string, src: string): void {
  const e = ErofsImage.open(img);
  try {
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const got = Buffer.concat([...e.data(ino)]);
      assert.ok(got.equals(fs.readFileSync(path.join(src, p.toString('latin1')))), `reader: ${p}`);
    });
  } finally {
    e.close();
  }
}

function layouts(img: string): Map<string, { datalayout: number; format: number; blocks: number[]; chunkbits: number }> {
  const e = ErofsImage.open(img);
  const m = new Map<string, { datalayout: number; format: number; blocks: number[]; chunkbits: number }>();
  try {
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const c = ino.datalayout === INODE_CHUNK_BASED ? e.chunkMap(ino) : { blocks: [], chunkbits: 0 };
      m.set(p.toString('latin1').replace(/^\/+/, ''), { datalayout: ino.datalayout, format: ino.u & 0xffff, ...c });
    });
    assert.ok(e.sb.featureIncompat & FEATURE_INCOMPAT_CHUNKED_FILE, 'chunked_file feature');
  } finally {
    e.close();
  }
  return m;
}

for (const bs of [4096, 512]) {
  for (const chunk of [bs, 2 * bs, 65536, 1 << 20]) {
    for (const indexes of [false, true]) {
      const args = ['-b', String(bs), '--chunksize', String(chunk), ...(indexes ? ['-E', 'force-chunk-indexes'] : [])];
      test(`chunk-based files: ${args.join(' ')}`, async (t) => {
        const fsck = findTool('fsck.erofs');
        if (!needTool(t, fsck, 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
        // Chunk sizes of one and two blocks share a tree per block size; bigger ones have their own.
        const key = chunk;
        let tree = trees.get(key);
        if (!tree) trees.set(key, tree = await makeTree(chunk));
        const img = path.join(dir, `b${bs}-c${chunk}-${indexes ? 'i' : 'm'}.img`);
        const b = forge(['mkfs', '--quiet', '-T0', '-U', UUID, ...args, img, tree.src]);
        assert.equal(b.status, 0, b.stderr);
        const f = run(fsck, [img]);
        assert.equal(f.status, 0, `fsck.erofs: ${f.stderr}${f.stdout}`);
        const v = forge(['verify', img]);
        assert.equal(v.status, 0, `verify: ${v.stdout}${v.stderr}`);
        readerMatches(img, tree.src);

        const l = layouts(img);
        assert.equal(l.get('zero')!.datalayout, 0, 'an empty file stays flat');
        for (const [name, x] of l) {
          if (name === 'zero') continue;
          assert.equal(x.datalayout, INODE_CHUNK_BASED, name);
          assert.equal(!!(x.format & CHUNK_FORMAT_INDEXES), indexes, `${name}: chunk format`);
        }
        // Chunk dedupe across files: the copies point at the same blocks.
        assert.deepEqual(l.get('d/dup')!.blocks, l.get(`f${chunk + 1}`)!.blocks);
        assert.deepEqual(l.get('d/e/dup2')!.blocks, l.get(`f${chunk}`)!.blocks);
        const tw = l.get('twice')!;
        assert.equal(tw.blocks[0], tw.blocks[1], 'one chunk twice in a file is stored once');
        // Holes: whole zero chunks, unwritten ranges, and an all-hole file as one chunk.
        assert.ok(l.get('zeros')!.blocks.includes(NULL_ADDR), 'written zero chunks are holes');
        assert.equal(l.get('zeros')!.blocks.at(-1) !== NULL_ADDR, true, 'a short zero tail of a dense file is data');
        assert.ok(l.get('midhole')!.blocks.filter((x) => x === NULL_ADDR).length >= 2, 'middle hole');
        assert.equal(l.get('tailhole')!.blocks.at(-1), NULL_ADDR, 'a sparse file\'s zero tail is a hole');
        assert.deepEqual(l.get('allhole')!.blocks, [NULL_ADDR], 'an all-hole file is one hole chunk');

        if (!needRoot(t) || !needMount(t)) return;
        const mounted = await withMount(img, (m) => snapshotTree(m));
        assertSameTree(tree.snap, mounted, { ignoreMtimeOf: () => true });
      });
    }
  }
}

// Trees whose chunk maps all fit the block their inode starts in: mkfs.erofs 1.9.3 writes the same bytes.
for (const [bs, chunk, extra] of [[4096, 4096, []], [4096, 65536, []], [4096, 1 << 20, ['-Eforce-chunk-indexes']], [512, 1 << 20, []]] as const) {
  test(`chunk-based image byte-identical to mkfs.erofs 1.9.3: -b${bs} --chunksize ${chunk} ${extra.join(' ')}`, async (t) => {
    const ref = findTool('mkfs.erofs');
    if (!needVersion(t, ref, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    let tree = trees.get(-chunk);
    if (!tree) {
      const src = path.join(dir, `small-${chunk}`);
      fs.mkdirSync(path.join(src, 'd'), { recursive: true });
      fs.writeFileSync(path.join(src, 'a'), pseudoRandom('a', 10000));
      fs.copyFileSync(path.join(src, 'a'), path.join(src, 'd', 'a2'));
      fs.writeFileSync(path.join(src, 'b'), pseudoRandom('b', 4096));
      fs.writeFileSync(path.join(src, 'e'), '');
      fs.writeFileSync(path.join(src, 's'), 'hi\n');
      sparse(path.join(src, 'hole'), 100000, []);
      sparse(path.join(src, 'hole2'), 40000, [[20480, pseudoRandom('h', 4096)]]);
      fs.writeFileSync(path.join(src, 'z'), Buffer.concat([pseudoRandom('z1', 5000), Buffer.alloc(8192), pseudoRandom('z2', 3000)]));
      fs.writeFileSync(path.join(src, 'big'), Buffer.concat([pseudoRandom('big', 3 << 20), Buffer.alloc(1 << 20), pseudoRandom('big', 1 << 20)]));
      trees.set(-chunk, tree = { src, snap: await snapshotTree(src) });
    }
    const argv = ['-T0', '-U', UUID, `-b${bs}`, '--chunksize', String(chunk), ...extra];
    const r = run(ref, ['--quiet', ...argv, path.join(dir, 'ref.img'), tree.src]);
    assert.equal(r.status, 0, r.stderr);
    const o = forge(['mkfs', '--quiet', ...argv, path.join(dir, 'our.img'), tree.src]);
    assert.equal(o.status, 0, o.stderr);
    assert.ok(fs.readFileSync(path.join(dir, 'ref.img')).equals(fs.readFileSync(path.join(dir, 'our.img'))), 'same bytes as mkfs.erofs 1.9.3');
    // Our reader takes mkfs.erofs's image too.
    readerMatches(path.join(dir, 'ref.img'), tree.src);
  });
}

test('-E dedupe without -z: block-sized chunks deduplicated, no chunked_file bit, as mkfs.erofs 1.9.3 writes them', (t) => {
  const ref = findTool('mkfs.erofs');
  if (!needVersion(t, ref, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const src = path.join(dir, 'dd-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a'), pseudoRandom('dd', 10000));
  fs.writeFileSync(path.join(src, 'b'), pseudoRandom('dd', 10000));
  fs.writeFileSync(path.join(src, 'c'), Buffer.alloc(9000));
  const argv = ['--quiet', '-T0', '-U', UUID, '-Ededupe'];
  assert.equal(run(ref, [...argv, path.join(dir, 'dd-ref.img'), src]).status, 0);
  const o = forge(['mkfs', ...argv, path.join(dir, 'dd-our.img'), src]);
  assert.equal(o.status, 0, o.stderr);
  assert.ok(fs.readFileSync(path.join(dir, 'dd-ref.img')).equals(fs.readFileSync(path.join(dir, 'dd-our.img'))), 'same bytes as mkfs.erofs 1.9.3');
  readerMatches(path.join(dir, 'dd-our.img'), src);
});

test('--chunksize with -z: files worth compressing are compressed, the others chunk-based; fingerprints verify', async (t) => {
  const fsck = findTool('fsck.erofs');
  if (!needTool(t, fsck, 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const src = path.join(dir, 'z-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'text'), Buffer.from('all work and no play '.repeat(5000)));
  fs.writeFileSync(path.join(src, 'noise'), pseudoRandom('noise', 50000));
  fs.writeFileSync(path.join(src, 'noise2'), pseudoRandom('noise', 50000));
  const img = path.join(dir, 'z.img');
  const b = forge(['build', '--quiet', '-T0', '-Uclear', '-zlz4hc', '-C65536', '--chunksize', '8192', '--xattr-inode-digest', img, src]);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(run(fsck, [img]).status, 0);
  const v = forge(['verify', img]);
  assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
  const l = layouts(img);
  assert.ok([INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT].includes(l.get('text')!.datalayout));
  assert.equal(l.get('noise')!.datalayout, INODE_CHUNK_BASED);
  assert.deepEqual(l.get('noise2')!.blocks, l.get('noise')!.blocks);
  readerMatches(img, src);
});

test('reader: chunk-based inodes with unknown chunk format bits or chunks beyond the image are refused', () => {
  const src = path.join(dir, 'r-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'f'), pseudoRandom('f', 9000));
  const img = path.join(dir, 'r.img');
  assert.equal(forge(['mkfs', '--quiet', '-T0', '-Uclear', '--chunksize', '4096', img, src]).status, 0);
  const e = ErofsImage.open(img);
  let iloc = 0;
  try {
    e.walk((_p, ino) => { if (ino.kind === 'reg') iloc = ino.iloc; });
  } finally {
    e.close();
  }
  const good = fs.readFileSync(img);
  const tamper = (edit: (b: Buffer) => void): void => {
    const b = Buffer.from(good);
    edit(b);
    fs.writeFileSync(img, b);
    fixSuperblockChecksum(img);
    const x = ErofsImage.open(img);
    try {
      assert.throws(() => x.walk((_p, ino) => { if (ino.kind === 'reg') [...x.data(ino)]; }), CorruptImageError);
    } finally {
      x.close();
    }
  };
  // i_u at 16: chunk format 0x80 is no bit the kernel knows.
  tamper((b) => b.writeUInt16LE(0x80, iloc + 16));
  // First block map entry (right after the 32-byte compact inode) far beyond the image.
  tamper((b) => b.writeUInt32LE(0x7fffff, iloc + 32));
});

test('bad chunk sizes are refused with one line and no image (build and mkfs)', () => {
  const src = path.join(dir, 'bad-src');
  fs.mkdirSync(src, { recursive: true });
  const img = path.join(dir, 'bad.img');
  for (const [args, msg] of [
    [['build', '--chunksize', '3000'], /^erofs-forge: --chunksize 3000: must be a power of two\n$/],
    [['build', '-b', '4096', '--chunksize', '2048'], /^erofs-forge: --chunksize 2048: must be a power of two, at least the block size \(4096\)\n$/],
    [['build', '-E', 'force-chunk-indexes'], /^erofs-forge: -E force-chunk-indexes \/ force-inode-blockmap need --chunksize\n$/],
    [['mkfs', '--chunksize=1000'], /^erofs-forge mkfs: chunksize 1000 must be a power of two\n$/],
  ] as const) {
    const r = forge([...args, img, src]);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, msg);
    assert.ok(!fs.existsSync(img));
  }
});
