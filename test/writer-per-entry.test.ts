// The writer's per-entry work on the main thread (uncompressed builds, cached rebuilds): what it makes
// per inode and per directory entry. A directory's entries with "." and ".." are merged, not sorted
// (dirEntryList); directory blocks are encoded from the latin1 names, not a Buffer per name
// (encodeDirBlockLatin1); an inode is encoded from numbers into one view of the scratch buffer
// (encodeInode); the block allocator files blocks in lists, not a Set per bucket (buffer-blocks.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import { newInode, type Inode } from '../src/source/tree.js';
import { dirEntryList } from '../src/pipeline/plan/inode-forms.js';
import { encodeDirBlock, encodeDirBlockLatin1 } from '../src/format/dirent.js';
import { encodeInode } from '../src/format/inode.js';
import { BufferBlocks } from '../src/pipeline/plan/buffer-blocks.js';

const file = (name: string, parent: Inode | undefined): Inode => newInode({
  kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
}, name, parent);

/** Names that sort around "." and "..": bytes below '.', a '.' then bytes below and above '.', and high bytes. */
const NAMES = [' sp', '!c', '+b', '-a', '.-x', '...', '..a', '.a', '0', 'a', '\xe9t\xe9', '\xff'];

test('dir_entries_merged_without_sort', () => {
  const dir = newInode({ kind: 'dir', mode: 0o40755, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 2 }, 'd', undefined);
  const inodes = NAMES.map((n) => file(n, dir));
  dir.entries = { names: [...NAMES], inodes };
  const expected = ['.', '..', ...NAMES].sort();
  const sort = Array.prototype.sort;
  let sorts = 0;
  Array.prototype.sort = function (this: unknown[], ...a: Parameters<typeof sort>) { sorts++; return sort.apply(this, a); } as typeof sort;
  let got: ReturnType<typeof dirEntryList>;
  try {
    got = dirEntryList(dir);
  } finally {
    Array.prototype.sort = sort;
  }
  assert.deepEqual(got.names, expected);
  assert.equal(sorts, 0, 'the sorted names are merged with "." and "..", not sorted again');
  assert.equal(got.nodes[got.names.indexOf('.')], dir);
  assert.equal(got.nodes[got.names.indexOf('..')], dir, 'the root is its own parent');
  NAMES.forEach((n, i) => assert.equal(got.nodes[got.names.indexOf(n)], inodes[i]));
  // Entries out of order (no scanner of ours makes them) are sorted.
  dir.entries = { names: [...NAMES].reverse(), inodes: [...inodes].reverse() };
  assert.deepEqual(dirEntryList(dir).names, expected);
});

test('dir_block_encoded_from_latin1_names', () => {
  const names = ['.', '..', ...NAMES, 'x'.repeat(200)];
  const nids = names.map((_, i) => i * 1000003 + (i === 3 ? 2 ** 40 : 0));
  const types = names.map((_, i) => 1 + (i % 7));
  const a = new Uint8Array(4096);
  const b = new Uint8Array(4096);
  const usedA = encodeDirBlock(names.map((n, i) => ({ name: Buffer.from(n, 'latin1'), nid: nids[i], fileType: types[i] })), 1, names.length, a, 0);
  const usedB = encodeDirBlockLatin1(names, nids, types, 1, names.length, b, 0);
  assert.equal(usedB, usedA);
  assert.deepEqual(b, a);
});

test('inode_encoded_from_numbers_into_one_view', () => {
  const f = { datalayout: 2, xattrIcount: 12, mode: 0o100644, nlink: 3, u: 77, ino: 9, uid: 1, gid: 2, mtimeNsec: 5, mtimeDelta: 0 };
  // Two inodes into one buffer at offsets of a view that does not start at the buffer's start.
  const whole = new Uint8Array(256);
  const view = whole.subarray(16);
  encodeInode({ ...f, extended: false, size: 4097, mtimeSec: 0 }, view, 0);
  encodeInode({ ...f, extended: true, size: 2 ** 40, mtimeSec: -1234567891 }, view, 32);
  const c = new Uint8Array(32);
  const e = new Uint8Array(64);
  encodeInode({ ...f, extended: false, size: 4097n, mtimeSec: 0n }, c, 0);
  encodeInode({ ...f, extended: true, size: 2n ** 40n, mtimeSec: -1234567891n }, e, 0);
  assert.deepEqual(view.subarray(0, 32), c);
  assert.deepEqual(view.subarray(32, 96), e);
  assert.ok(whole.subarray(0, 16).every((x) => x === 0) && whole.subarray(112).every((x) => x === 0), 'nothing written outside the inodes');
  assert.throws(() => encodeInode({ ...f, extended: true, size: 0, mtimeSec: 0 }, new Uint8Array(40), 0), RangeError);
});

test('buffer_blocks_file_blocks_without_sets', () => {
  const RealSet = globalThis.Set;
  let made = 0;
  globalThis.Set = class extends RealSet<unknown> { constructor(v?: Iterable<unknown> | null) { super(v); made++; } } as SetConstructor;
  try {
    const a = new BufferBlocks(4096, 1152, () => {});
    const items = Array.from({ length: 2000 }, () => ({ nid: -1 }) as unknown as Inode);
    items.forEach((p, i) => {
      if (i % 3 === 0) a.takeBlocks(1);
      assert.ok(a.placeInode(p, 32, (i * 97) % 3000));
      if (i % 50 === 49) a.mapPending();
    });
    a.closeAll();
    assert.ok(items.every((p) => p.nid >= 0));
  } finally {
    globalThis.Set = RealSet;
  }
  assert.equal(made, 0, 'no Set per bucket');
});
