// plan() and the block allocator on their own, without I/O: trees are built in memory, plans are
// compared as plain data. The end-to-end tests exercise both only through whole images.
import test from 'node:test';
import assert from 'node:assert/strict';
import { plan, type Plan } from '../src/pipeline/plan/plan.js';
import { DirDone } from '../src/pipeline/plan/visit-order.js';
import { BlockAllocator } from '../src/pipeline/plan/meta-alloc.js';
import { defaultBuildOptions, type BuildOptions } from '../src/pipeline/options.js';
import { newInode, sortedEntries, type Inode, type InodeInit, type Xattr } from '../src/source/tree.js';
import { S_IFDIR, S_IFREG, DIRENT_SIZE, ISLOT_SIZE } from '../src/format/constants.js';
import { UserError } from '../src/errors.js';

const T = 1_700_000_000;

function node(init: Partial<InodeInit> & Pick<InodeInit, 'kind' | 'mode'>): Inode {
  return newInode({
    uid: 0, gid: 0, mtimeSec: T, mtimeNsec: 0, size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
    data: init.kind === 'reg' ? { type: 'buffer', bytes: new Uint8Array(init.size ?? 0) } : undefined, ...init,
  }, '', undefined);
}
const file = (size: number, more: Partial<InodeInit> = {}) => node({ kind: 'reg', mode: S_IFREG | 0o644, size, ...more });
/** A directory of `children` ([name, inode]), handed to sortedEntries in the order given. */
function dir(children: [string, Inode][], more: Partial<InodeInit> = {}): Inode {
  const d = node({ kind: 'dir', mode: S_IFDIR | 0o755, ...more });
  d.entries = sortedEntries(children.map(([name, inode]) => ({ name, inode })));
  return d;
}
const x = (name: string, value: string): Xattr => ({ name: Buffer.from(name), value: Buffer.from(value) });

/** A small tree with hard links, xattrs (some shared) and nested directories; `rev` reverses every input list. */
function sampleTree(rev: boolean): Inode {
  const r = <T>(a: T[]): T[] => (rev ? [...a].reverse() : a);
  const shared = file(10, { links: 2, xattrs: r([x('user.a', '1'), x('user.b', '2')]) });
  const sub = dir(r<[string, Inode]>([
    ['z', file(5000, { xattrs: r([x('user.common', 'v'), x('trusted.t', 'x')]) })],
    ['link', shared],
    ['empty', file(0)],
  ]));
  return dir(r<[string, Inode]>([
    ['b', file(4096, { xattrs: r([x('user.common', 'v')]) })],
    ['a', shared],
    ['sub', sub],
    ['c', dir([])],
  ]));
}

/** A plan as plain data: every decision it made, per inode in visit order. */
function summary(p: Plan): unknown {
  const steps = p.steps.map((s) => (s instanceof DirDone
    ? `done ${s.p.ino}`
    : {
      ino: s.ino, name: s.name, kind: s.kind, extended: s.extended, size: s.size, links: s.links, uid: s.uid,
      ibody: s.ibody && { size: s.ibody.size, shared: s.ibody.sharedIds, filter: s.ibody.nameFilter, inline: s.ibody.inline.map((i) => i.name.toString()) },
    }));
  const dirs = [...p.dirBlocks].map(([n, b]) => [n.ino, b]);
  const { steps: _s, root: _r, dirBlocks: _d, ...rest } = p;
  return JSON.parse(JSON.stringify({ steps, dirs, rest }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

const opts = (over: Partial<BuildOptions> = {}) => defaultBuildOptions({ timestamp: BigInt(T), ...over });

test('plan: the order the scanner lists entries and xattrs in does not change the plan', () => {
  assert.deepEqual(summary(plan(sampleTree(true), opts())), summary(plan(sampleTree(false), opts())));
});

test('plan: the worker count and the clock do not change the plan (with -T the clock is not even read)', () => {
  const base = summary(plan(sampleTree(false), opts({ workers: 1 })));
  const never = () => { throw new Error('the clock was read'); };
  assert.deepEqual(summary(plan(sampleTree(false), opts({ workers: 7, now: never }))), base);
  assert.deepEqual(summary(plan(sampleTree(false), opts({ workers: 256, now: () => ({ sec: 5n, nsec: 1 }) }))), base);
  // Without -T the clock gives the epoch and nothing else.
  const a = plan(sampleTree(false), defaultBuildOptions({ timeMode: 'all', now: () => ({ sec: 100n, nsec: 0 }) }));
  const b = plan(sampleTree(false), defaultBuildOptions({ timeMode: 'all', now: () => ({ sec: 200n, nsec: 0 }) }));
  assert.equal(a.epoch, 100n);
  assert.equal(b.epoch, 200n);
  assert.deepEqual({ ...(summary(a) as object), rest: undefined }, { ...(summary(b) as object), rest: undefined });
});

test('plan: visit order is mkfs.erofs 1.9.3\'s (entries in name order, then subdirectories), a hard link numbered at its first name', () => {
  const p = plan(sampleTree(false), opts());
  const order = p.steps.map((s) => (s instanceof DirDone ? `/${s.p.name}` : `${s.name}#${s.ino}`));
  assert.deepEqual(order, ['#1', 'a#2', 'b#3', 'c#4', 'sub#5', '/', '/c', 'empty#6', 'z#7', '/sub']);
});

test('plan: compact inodes up to the compact limits, extended one past them', () => {
  const cases: [string, Partial<InodeInit>, boolean][] = [
    ['uid 65535', { uid: 0xffff }, false], ['uid 65536', { uid: 0x10000 }, true],
    ['gid 65535', { gid: 0xffff }, false], ['gid 65536', { gid: 0x10000 }, true],
    ['nlink 65535', { links: 0xffff }, false], ['nlink 65536', { links: 0x10000 }, true],
    ['size 2^32-1', { size: 0xffffffff }, false], ['size 2^32', { size: 2 ** 32 }, true],
    ['mtime = -T', {}, false], ['mtime nsec', { mtimeNsec: 1 }, true], ['mtime after -T', { mtimeSec: T + 1 }, true],
  ];
  for (const [what, init, extended] of cases) {
    const f = node({ kind: 'reg', mode: S_IFREG | 0o644, ...init, data: { type: 'buffer', bytes: new Uint8Array(0) } });
    plan(dir([['f', f]]), opts({ timeMode: 'mkfs' }));
    assert.equal(f.extended, extended, what);
  }
  // --all-time gives every inode the build time: a compact inode whatever its own mtime.
  const f = file(1, { mtimeSec: 5, mtimeNsec: 7 });
  plan(dir([['f', f]]), opts({ timeMode: 'all' }));
  assert.equal(f.extended, false);
  // -E inode version compact: refused, naming the file, where a field does not fit.
  assert.throws(() => plan(dir([['big', file(0, { uid: 0x10000 })]]), opts({ inodeVersion: 'compact' })), (e: Error) => e instanceof UserError && /big cannot be in compact form/.test(e.message));
  const g = file(0);
  plan(dir([['g', g]]), opts({ inodeVersion: 'extended' }));
  assert.equal(g.extended, true);
});

test('plan: directory blocks split where the next dirent and name would not fit, never inside a name', () => {
  for (const bs of [512, 4096]) {
    // "." and ".." take 12 + 1 and 12 + 2 bytes; names of 20 bytes take 32 with their dirent.
    const perBlock0 = Math.floor((bs - 27) / 32);
    const names = Array.from({ length: perBlock0 + 3 }, (_, i) => `n${String(i).padStart(19, '0')}`);
    const d = dir(names.map((n) => [n, file(0)]));
    const p = plan(dir([['d', d]]), opts({ blockSize: bs }));
    const blocks = p.dirBlocks.get(d)!;
    assert.equal(blocks.length, 2, `bs ${bs}`);
    assert.deepEqual(blocks[0], { start: 0, end: perBlock0 + 2, used: 27 + 32 * perBlock0 });
    assert.deepEqual(blocks[1], { start: perBlock0 + 2, end: perBlock0 + 5, used: 3 * 32 });
    assert.equal(d.size, bs + 3 * 32);
    // A name that fills the block to the byte stays in it.
    const fill = bs - 27 - 32 * (perBlock0 - 1) - DIRENT_SIZE;
    const exact = dir([...names.slice(0, perBlock0 - 1), 'z'.repeat(fill)].map((n) => [n, file(0)]));
    const q = plan(dir([['e', exact]]), opts({ blockSize: bs }));
    assert.deepEqual(q.dirBlocks.get(exact), [{ start: 0, end: perBlock0 + 2, used: bs }], `exact fill, bs ${bs}`);
    assert.equal(exact.size, bs);
  }
});

// ---- the block allocator -------------------------------------------------------------------

function allocator(bs: number, metaStart: number) {
  const flushed: number[] = [];
  const grown: number[] = [];
  const a = new BlockAllocator(bs, metaStart, (blk) => flushed.push(blk), (end) => grown.push(end));
  return { a, flushed, grown };
}

test('block allocator: items go best-fit into the fullest block that holds them, at 32-byte slots', () => {
  const { a, grown } = allocator(4096, 1024 + 128);
  // Block 0 already holds the superblock (1152 bytes used): the first small item goes there.
  assert.deepEqual(grown, [4096, 4096]);
  assert.equal(a.placeItem(32), 1152);
  assert.equal(a.placeItem(33), 1184); // slot-aligned after the 32-byte item
  assert.equal(a.placeItem(4096 - 1248), 1248); // fills block 0 exactly: it is retired
  assert.equal(a.placeItem(64), 4096); // a new block
  assert.equal(a.takeBlocks(2), 2); // data blocks from the same cursor
  assert.equal(a.placeItem(4000), 4096 + 64); // block 1 has 4032 bytes free
  assert.equal(a.placeItem(100), 4 * 4096); // no partly used block has room (block 1: 32 bytes): a new one
  assert.equal(a.placeItem(32), 4096 + 4064); // block 1 and block 4 both fit it: the fuller one, block 1, wins
  assert.equal(a.placeItem(96), 4 * 4096 + 128);
  assert.equal(a.cursor, 5);
});

test('block allocator: an item over one block starts a fresh run and leaves its last block\'s rest usable', () => {
  const { a } = allocator(512, 0);
  assert.equal(a.placeItem(512 + 100), 0);
  assert.equal(a.cursor, 2);
  assert.equal(a.placeItem(32), 512 + 128); // after the 100 bytes, slot-aligned
  assert.equal(a.placeItem(512), 1024);
  // Whole multiples of the block leave nothing behind.
  assert.equal(a.placeItem(1024), 1536);
  assert.equal(a.cursor, 5);
});

test('block allocator: the same calls give the same offsets (LIFO buckets), and writes land in buffered blocks', () => {
  const run = () => {
    const { a, flushed } = allocator(1024, 1152);
    const offs = [40, 200, 33, 700, 64, 990, 31, 1024, 5000, 12].map((n) => a.placeItem(n));
    const direct: number[] = [];
    a.writeMeta(offs[0], new Uint8Array(40).fill(1), (_b, pos) => direct.push(pos));
    a.closeAll();
    return { offs, flushed, direct };
  };
  const r = run();
  assert.deepEqual(run(), r);
  assert.deepEqual(r.direct, [], 'recent blocks are written in memory, not directly');
  assert.ok(r.flushed.length > 0);
  for (const off of r.offs) assert.equal(off % ISLOT_SIZE, 0);
});
