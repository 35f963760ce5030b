// -E fragments / all-fragments / fragdedupe with -z (the packed inode): every codec, with dedupe,
// ztailpacking, big pclusters, fingerprints, 512- and 4096-byte blocks. Each image: fsck.erofs 1.9.3
// clean, our reader gives every file's bytes, the kernel mounts it equal to the source (bytes, mode,
// owner, times, links, xattrs). Also: the layout rules mkfs.erofs 1.9.3 follows (whole-file fragments
// have the 8-byte header, tails have h_fragmentoff), fragment dedupe, and output independent of the
// worker count and of the source's readdir order.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { assertFsckClean, findTool, forge, needMount, needRoot, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';
import { nodeHasZstd } from '../src/compress/zstd.js';
import { FEATURE_INCOMPAT_FRAGMENTS } from '../src/format/constants.js';
import { FragmentStore } from '../src/pipeline/files/fragments.js';
import { compressExtents, readFromBytes } from '../src/pipeline/files/zfile.js';
import { makeCodec } from '../src/compress/codec.js';
import { wordText } from './helpers/noise.js';

let dir = '';
let src = '';
let snap: TreeSnapshot;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const WORDS = 'packed inode fragment tail erofs kernel pcluster lcluster dedupe block the a of'.split(' ');
const text = (n: number, seed: number): Buffer => wordText(n, seed, WORDS, 9);

/** Files in creation order (`reverse`: the other way round, so readdir order differs). */
function makeTree(root: string, reverse = false): void {
  const files: [string, Buffer][] = [
    ['tiny', Buffer.from('x')],
    ['small-100', text(100, 1)],
    ['text-5000', text(5000, 2)],
    ['text-70000', text(70_000, 3)],
    ['random-9000', pseudoRandom('frag-r', 9000)],
    ['random-70000', pseudoRandom('frag-r2', 70_000)],
    ['zeros-200000', Buffer.alloc(200_000)],
    ['empty', Buffer.alloc(0)],
    // Same tail, different heads: the second tail can point at the first's bytes.
    ['d/tail-a', Buffer.concat([pseudoRandom('frag-h1', 12_000), text(3000, 7)])],
    ['d/tail-b', Buffer.concat([pseudoRandom('frag-h2', 20_000), text(3000, 7)])],
    // Whole-file duplicates and a file that ends another one.
    ['d/dup-1', text(2500, 9)],
    ['d/dup-2', text(2500, 9)],
    ['d/suffix-of-5000', text(5000, 2).subarray(1000)],
    ...[4095, 4096, 4097, 8191, 8193, 65536, 65537].map((n) => [`sizes/${n}`, text(n, n)] as [string, Buffer]),
  ];
  if (reverse) files.reverse();
  for (const [name, data] of files) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), data);
  }
  const mtime = new Date(1_650_000_000_000);
  fs.chmodSync(path.join(root, 'text-5000'), 0o751);
  fs.chownSync(path.join(root, 'text-5000'), 1234, 5678);
  fs.linkSync(path.join(root, 'text-70000'), path.join(root, 'd', 'hard-70000'));
  fs.symlinkSync('../tiny', path.join(root, 'd', 'link'));
  for (const f of ['small-100', 'd/tail-a']) {
    try {
      run('setfattr', ['-n', 'user.frag', '-v', 'value', path.join(root, f)]);
    } catch { /* no xattr tools: compared as they are */ }
  }
  for (const f of ['tiny', 'text-70000', 'd/tail-b']) fs.utimesSync(path.join(root, f), mtime, mtime);
}

test.before(async () => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-frag-'));
  src = path.join(dir, 'src');
  makeTree(src);
  snap = await snapshotTree(src, { skipRootMtime: true });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function codecReady(t: TestContext, z: string): boolean {
  if (z.startsWith('zstd') && !nodeHasZstd()) {
    t.skip(`zstd encoding needs Node >= 22.15 (this is ${process.versions.node})`);
    return false;
  }
  return true;
}

/** Every file through our reader equals the source; returns the image's packed nid. */
function readBack(img: string): bigint {
  const e = ErofsImage.open(img);
  try {
    let files = 0;
    e.walk((p, ino) => {
      if (ino.kind !== 'reg') return;
      const want = fs.readFileSync(path.join(src, p.toString('latin1')));
      assert.equal(sha(e.readAll(ino)), sha(want), `${p}: bytes read back`);
      files++;
    });
    assert.ok(files > 20);
    return e.sb.packedNid;
  } finally {
    e.close();
  }
}

const COMBOS: { z: string; e: string; extra?: string[]; b?: string }[] = [
  { z: 'lz4', e: 'fragments' },
  { z: 'lz4', e: 'fragments,dedupe', extra: ['-C', '65536'] },
  { z: 'lz4hc', e: 'fragments,ztailpacking', b: '512' },
  { z: 'lz4hc', e: 'all-fragments', extra: ['-C', '16384'] },
  { z: 'lz4hc,level=12', e: 'fragments=8192,fragdedupe=inode', extra: ['-C', '65536', '--xattr-inode-digest'] },
  { z: 'deflate', e: 'fragments,^fragdedupe', b: '512', extra: ['-C', '4096'] },
  { z: 'deflate', e: 'all-fragments,dedupe,ztailpacking', extra: ['-C', '65536'] },
  { z: 'zstd', e: 'fragments,ztailpacking', extra: ['-C', '65536'] },
  { z: 'zstd', e: 'all-fragments', b: '512' },
  { z: 'lzma', e: 'fragments,dedupe', extra: ['-C', '16384'] },
  { z: 'lzma', e: 'all-fragments,ztailpacking' },
];

for (const c of COMBOS) {
  const args = ['-z', c.z, '-E', c.e, '-b', c.b ?? '4096', ...(c.extra ?? [])];
  test(`fragments: build ${args.join(' ')}: fsck.erofs 1.9.3, our reader, kernel mount`, async (t) => {
    if (!codecReady(t, c.z)) return;
    const img = path.join(dir, `${args.join('_').replace(/[^\w.=-]/g, '')}.img`);
    const r = forge(['build', '--quiet', '-T0', '--mkfs-time', '-Uclear', ...args, img, src]);
    assert.equal(r.status, 0, r.stderr);
    const packed = readBack(img);
    assert.notEqual(packed, 0n, 'a packed inode');
    const e = ErofsImage.open(img);
    try {
      assert.ok(e.sb.featureIncompat & FEATURE_INCOMPAT_FRAGMENTS);
    } finally {
      e.close();
    }
    assertFsckClean(t, img);
    if (!needRoot(t) || !needMount(t)) return;
    const mounted = await withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
    assertSameTree(snap, mounted, args.includes('--xattr-inode-digest') ? { ignoreXattr: (n) => n.startsWith('erofs.') || n.startsWith('trusted.erofs') } : {});
  });
}

test('fragments: layout as mkfs.erofs 1.9.3 writes it (whole-file fragments, tails at h_fragmentoff, interlaced stored blocks)', () => {
  const img = path.join(dir, 'layout.img');
  const r = forge(['build', '--quiet', '-T0', '-Uclear', '-z', 'lz4hc', '-E', 'fragments', img, src]);
  assert.equal(r.status, 0, r.stderr);
  const e = ErofsImage.open(img);
  try {
    const kinds = (p: string) => [...compressedExtents(e, e.lookup(p))].map((x) => x.kind);
    // Files up to one pcluster are all fragment: a FULL inode with only the 8-byte map header.
    for (const p of ['tiny', 'small-100', 'sizes/4096', 'd/dup-1']) {
      const ino = e.lookup(p);
      assert.equal(ino.datalayout, 1, `${p}: COMPRESSED_FULL`);
      assert.deepEqual(kinds(p), ['fragment'], p);
    }
    // A larger file: pclusters, then its tail in the packed inode.
    const k = kinds('text-70000');
    assert.equal(k[k.length - 1], 'fragment');
    assert.ok(k.slice(0, -1).every((x) => x !== 'fragment') && k.length > 1);
    // Incompressible data is stored raw (INTERLACED with fragments, no dedupe).
    assert.ok([...compressedExtents(e, e.lookup('random-70000'))].some((x) => x.kind === 'plain' && x.interlaced));
    // The packed inode: a regular file, mode 0644, root's, compressed.
    const packed = e.inode(Number(e.sb.packedNid));
    assert.equal(packed.kind, 'reg');
    assert.equal(packed.mode & 0o7777, 0o644);
    assert.deepEqual([packed.uid, packed.gid], [0, 0]);
  } finally {
    e.close();
  }
});

test('fragments: dedupe of whole and suffix fragments shrinks the packed inode; ^fragdedupe keeps every copy', () => {
  const sizes: Record<string, number> = {};
  for (const mode of ['fragdedupe', '^fragdedupe', 'fragdedupe=inode']) {
    const img = path.join(dir, `dd-${mode}.img`);
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '-z', 'lz4', '-E', `fragments,${mode}`, img, src]);
    assert.equal(r.status, 0, r.stderr);
    readBack(img);
    const e = ErofsImage.open(img);
    try {
      sizes[mode] = e.inode(Number(e.sb.packedNid)).size;
    } finally {
      e.close();
    }
  }
  // dup-2 (2500 B) and suffix-of-5000 (4000 B, the end of text-5000's tail) are not stored again;
  // with "inode" only the whole-file duplicate is found (suffix-of-5000's bytes end a tail, not a file).
  assert.ok(sizes.fragdedupe <= sizes['^fragdedupe'] - 2500 - 4000, JSON.stringify(sizes));
  assert.ok(sizes['fragdedupe=inode'] <= sizes['^fragdedupe'] - 2500, JSON.stringify(sizes));
  assert.ok(sizes['fragdedupe=inode'] > sizes.fragdedupe, JSON.stringify(sizes));
});

test('fragments: FragmentStore finds a fragment inside earlier bytes only when they end with all of it', () => {
  const s = new FragmentStore('full');
  const a = pseudoRandom('fs-a', 300);
  assert.equal(s.add(a, false), 0);
  assert.equal(s.add(a.subarray(100), false), 100, 'a suffix of an earlier fragment');
  assert.equal(s.add(a.subarray(0, 200), false), 300, 'a prefix is not a suffix: appended');
  const short = Buffer.from('short tail');
  assert.equal(s.add(short, true), 500);
  assert.equal(s.add(Buffer.from(short), true), 500);
  assert.equal(s.length, 510);
  assert.deepEqual(Buffer.from(s.read(250, 100)), Buffer.concat([a.subarray(250), a.subarray(0, 50)]));
  const inode = new FragmentStore('inode');
  inode.add(a, true);
  assert.equal(inode.add(a.subarray(100), false), 300, 'inode mode: a tail is not deduplicated');
  assert.equal(inode.add(a.subarray(100), true), 100, 'inode mode: a whole file is');
  const off = new FragmentStore('off');
  off.add(a, true);
  assert.equal(off.add(a, true), 300);
});

test('fragments: the image does not depend on the worker count or on the source\'s readdir order', () => {
  const other = path.join(dir, 'src-reversed');
  makeTree(other, true);
  const digests = new Set<string>();
  for (const [root, workers] of [[src, '1'], [src, '3'], [other, '2']] as const) {
    const img = path.join(dir, `det-${workers}.img`);
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '-z', 'lz4', '-C', '16384', '-E', 'fragments,dedupe', '--workers', workers, img, root]);
    assert.equal(r.status, 0, r.stderr);
    digests.add(sha(fs.readFileSync(img)));
  }
  assert.equal(digests.size, 1);
});

test('fragments: mkfs.erofs 1.9.3 lines with fragments build images the kernel mounts equal to mkfs.erofs\'s', async (t) => {
  const mkfs = findTool('mkfs.erofs');
  if (!needVersion(t, mkfs, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const line = ['-zlz4hc', '-C65536', '-Eall-fragments,fragdedupe=inode', '-T0', '-Uclear', '--quiet'];
  const ours = path.join(dir, 'line-ours.img');
  const ref = path.join(dir, 'line-ref.img');
  const o = forge(['mkfs', ...line, ours, src]);
  assert.equal(o.status, 0, o.stderr);
  assert.equal(run(mkfs, [...line, ref, src]).status, 0);
  readBack(ours);
  if (!needRoot(t) || !needMount(t)) return;
  const a = await withMount(ours, (d) => snapshotTree(d, { skipRootMtime: true }));
  const b = await withMount(ref, (d) => snapshotTree(d, { skipRootMtime: true }));
  assertSameTree(b, a);
});

test('regression (matrix, packed inode at -b 512 -C 1048576): no pcluster has more blocks than CBLKCNT counts (2047)', () => {
  // 900 incompressible bytes and 124 zeros, over and over: DEFLATE fills a 1 MiB pcluster from more input.
  const parts: Buffer[] = [];
  for (let i = 0; i < 1700; i++) parts.push(pseudoRandom(`cblk-${i}`, 900), Buffer.alloc(124));
  const data = Buffer.concat(parts);
  const z = compressExtents(readFromBytes(data), data.length, { codec: makeCodec({ name: 'deflate' }, 1 << 20), blockSize: 512, pclusterSize: 1 << 20, big: true, ztailpacking: false });
  const most = Math.max(...z.extents.map((e) => e.blocks));
  assert.ok(most > 2000 && most <= 2047, `largest pcluster ${most} blocks`);
});

test('fragments_store_holds_at_most_keep_bytes: past them the packed data is spilled in order to a spool file and read back across the boundary', () => {
  const spoolDir = fs.mkdtempSync(path.join(dir, 'spool-'));
  const keep = 4096;
  const s = new FragmentStore('full', spoolDir, keep);
  const parts = [300, 5000, 70, 2500, 9000, 64, 65, 1].map((n, i) => pseudoRandom(`spill-${i}`, n));
  const all = Buffer.concat(parts);
  for (const p of parts) s.add(p, true);
  assert.equal(s.length, all.length);
  // Never more than `keep` bytes held: the rest is in one file, the packed data's head in order.
  assert.equal(s.heldBytes, keep);
  const files = fs.readdirSync(spoolDir);
  assert.equal(files.length, 1);
  const spilled = fs.readFileSync(path.join(spoolDir, files[0]));
  assert.ok(spilled.length >= all.length - keep, `${spilled.length} bytes spilled of ${all.length}`);
  assert.deepEqual(spilled, all.subarray(0, spilled.length));
  // Reads across the spilled / held boundary, and dedupe of a fragment whose bytes were spilled.
  for (const [at, len] of [[0, all.length], [spilled.length - 10, 20], [100, 5000], [all.length - 3, 3]]) {
    assert.deepEqual(Buffer.from(s.read(at, len)), all.subarray(at, at + len), `read(${at}, ${len})`);
  }
  assert.equal(s.add(parts[1].subarray(1000), false), 300 + 1000, 'a suffix of a spilled fragment');
  const src = s.source();
  assert.equal(src.type, 'range');
  assert.deepEqual(fs.readFileSync((src as { path: string }).path), all);
  s.remove();
  assert.deepEqual(fs.readdirSync(spoolDir), []);
  // Within `keep` nothing is written: the bytes stay in memory.
  const small = new FragmentStore('off', spoolDir, keep);
  small.add(parts[0], true);
  assert.deepEqual(small.source(), { type: 'buffer', bytes: new Uint8Array(parts[0]) });
  assert.deepEqual(fs.readdirSync(spoolDir), []);
});

test('fragments_packed_inode_from_spool: a packed inode over the in-memory bound is read back equal, built alike at 1 and 2 workers, its spool removed', () => {
  const root = path.join(dir, 'src-spill');
  // 3 MiB of fragments (all-fragments: every byte), past the 1 MiB held in memory.
  for (let i = 0; i < 24; i++) {
    fs.mkdirSync(path.join(root, `d${i % 3}`), { recursive: true });
    fs.writeFileSync(path.join(root, `d${i % 3}`, `f${i}`), i % 2 ? text(131_072 + i, 40 + i) : pseudoRandom(`spill-file-${i}`, 131_072 - i));
  }
  const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
  const digests = new Set<string>();
  for (const workers of ['1', '2']) {
    const img = path.join(dir, `spill-${workers}.img`);
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '-z', 'lz4hc', '-E', 'all-fragments,ztailpacking', '--workers', workers, img, root],
      { env: { TMPDIR: tmp } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(tmp), [], 'no spool file left');
    digests.add(sha(fs.readFileSync(img)));
    const e = ErofsImage.open(img);
    try {
      let files = 0;
      e.walk((p, ino) => {
        if (ino.kind !== 'reg') return;
        assert.equal(sha(e.readAll(ino)), sha(fs.readFileSync(path.join(root, p.toString('latin1')))), `${p}: bytes read back`);
        files++;
      });
      assert.equal(files, 24);
      assert.ok(e.sb.packedNid > 0n);
    } finally {
      e.close();
    }
  }
  assert.equal(digests.size, 1);
});

test('fragments_cross_in_result_slab: a file\'s fragment is a view of its result\'s slab (recycled to the workers), not a buffer of its own', () => {
  const codec = makeCodec({ name: 'lz4' }, 4096);
  const zp = { codec, blockSize: 4096, pclusterSize: 4096, big: false, ztailpacking: false, fragments: true, interlaced: true };
  for (const data of [text(70_000, 11), text(3000, 12)]) {
    const z = compressExtents(readFromBytes(data), data.length, zp);
    assert.ok(z.fragment && z.fragment.length > 0);
    assert.equal(z.slabs?.length, 1);
    assert.equal(z.fragment.buffer, z.slabs[0]);
    assert.deepEqual(Buffer.from(z.fragment), data.subarray(data.length - z.fragment.length));
    for (const v of z.payloads) if (v) assert.equal(v.buffer, z.slabs[0]);
  }
});
