// The tree's inodes keep their rarely set fields (rdev, target, data, entries, xattrs, xattr body,
// extended form) in one object made only when one is set (memory on a 1,000,000-file tree): every
// field still reads back what was set, defaults included, and a plain file carries none of them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { newInode, NO_XATTRS, sortedEntries, type InodeInit } from '../src/source/tree.js';
import { S_IFCHR, S_IFDIR, S_IFREG } from '../src/format/constants.js';

const init = (more: Partial<InodeInit> = {}): InodeInit => ({
  kind: 'reg', mode: S_IFREG | 0o644, uid: 1, gid: 2, mtimeSec: 3, mtimeNsec: 4, size: 5, rdevMajor: 0, rdevMinor: 0,
  xattrs: NO_XATTRS, links: 1, ...more,
});

test('a plain file keeps only the common fields: no object for the rare ones', () => {
  const n = newInode(init(), 'f', undefined);
  assert.deepEqual(
    { kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, mtimeSec: n.mtimeSec, mtimeNsec: n.mtimeNsec, size: n.size, links: n.links, name: n.name, ino: n.ino, nid: n.nid },
    { kind: 'reg', mode: S_IFREG | 0o644, uid: 1, gid: 2, mtimeSec: 3, mtimeNsec: 4, size: 5, links: 1, name: 'f', ino: 0, nid: -1 },
  );
  assert.deepEqual([n.rdevMajor, n.rdevMinor, n.data, n.target, n.entries, n.ibody, n.extended], [0, 0, undefined, undefined, undefined, undefined, false]);
  assert.equal(n.xattrs, NO_XATTRS);
  // Setting a field to its default makes nothing: the own fields stay the common ones.
  n.extended = false;
  n.ibody = undefined;
  n.xattrs = NO_XATTRS;
  const own = Object.keys(n).filter((k) => (n as unknown as Record<string, unknown>)[k] !== undefined);
  assert.deepEqual(own.sort(), ['gid', 'ino', 'kind', 'links', 'mode', 'mtimeNsec', 'mtimeSec', 'name', 'nid', 'size', 'uid', 'xattrs'].sort());
});

test('inode_xattrs_without_rare_object: a labelled file and its xattr body make no object for the rare fields', () => {
  // Every file of a system image is labelled (SELinux): the ~100 B object per file cost a
  // 1,000,000-file labelled build 115 MiB (finding xattr-bodies-per-file).
  const label = [{ name: Buffer.from('security.selinux'), value: Buffer.from('system_u:object_r:usr_t:s0\0') }];
  const n = newInode(init({ xattrs: label }), 'f', undefined);
  n.ibody = { sharedIds: [], inline: [], nameFilter: 0, size: 16 };
  assert.equal(n.xattrs, label);
  assert.equal(n.ibody.size, 16);
  const own = Object.keys(n).filter((k) => (n as unknown as Record<string, unknown>)[k] !== undefined);
  assert.ok(!own.includes('rare'), `own fields: ${own.join(', ')}`);
  assert.ok(own.includes('xattrs') && own.includes('ibody'));
});

test('rare fields read back what was set, from the init and later', () => {
  const dev = newInode(init({ kind: 'chr', mode: S_IFCHR | 0o600, size: 0, rdevMajor: 8, rdevMinor: 0 }), 'sda', undefined);
  assert.deepEqual([dev.rdevMajor, dev.rdevMinor], [8, 0]);
  dev.rdevMinor = 1;
  dev.extended = true;
  assert.deepEqual([dev.rdevMajor, dev.rdevMinor, dev.extended], [8, 1, true]);
  dev.extended = false;
  assert.equal(dev.extended, false);

  const f = newInode(init({ data: { type: 'buffer', bytes: new Uint8Array(5) } }), 'f', undefined);
  assert.equal(f.data?.type, 'buffer');
  // A fresh empty array set is kept as is: pushes to it are seen (NO_XATTRS is never pushed to).
  const xs: InodeInit['xattrs'] = [];
  f.xattrs = xs;
  f.xattrs.push({ name: Buffer.from('user.a'), value: Buffer.from('1') });
  assert.equal(f.xattrs, xs);
  assert.equal(f.xattrs.length, 1);
  assert.equal(NO_XATTRS.length, 0);

  const d = newInode(init({ kind: 'dir', mode: S_IFDIR | 0o755, size: 0 }), 'd', undefined);
  d.entries = sortedEntries([{ name: 'b', inode: f }, { name: 'a', inode: dev }]);
  assert.deepEqual(d.entries.names, ['a', 'b']);
  assert.equal(d.entries.inodes[1], f);
  d.entries = undefined;
  assert.equal(d.entries, undefined);
});
