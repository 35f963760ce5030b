// A tree labelled with a few SELinux contexts: a million files, each with the same interned xattr
// list (source/xattrs-read.ts). The planner gave each its own item list, sort keys, map entry and
// body, ~1 KiB per file: a 1,000,000-file labelled tree peaked at 1.3 GiB (473 MiB unlabelled).
import test from 'node:test';
import assert from 'node:assert/strict';
import { newInode, type Inode, type Xattr } from '../src/source/tree.js';
import { gatherXattrs, placeXattrs } from '../src/pipeline/plan/xattrs.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { encodeXattrIbody } from '../src/format/xattr-ibody.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/index.js';

const label = (v: string): Xattr[] => [{ name: Buffer.from('security.selinux'), value: Buffer.from(`${v}\0`) }];

function files(lists: Xattr[][]): Inode[] {
  const root = newInode({ kind: 'dir', mode: 0o40755, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 2 }, '', undefined);
  return [root, ...lists.map((xattrs, i) => newInode({ kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size: 10, rdevMajor: 0, rdevMinor: 0, xattrs, links: 1 }, `f${i}`, root))];
}

/** Each inode's xattr region as the writer encodes it. */
const bodies = (order: Inode[]) => order.map((n) => {
  if (!n.ibody) return '';
  const b = Buffer.alloc(n.ibody.size);
  encodeXattrIbody(n.ibody, b, 0);
  return b.toString('hex');
});

test('xattr_bodies_shared_by_interned_lists: files with one interned label share one body; the bytes are those of separate lists', () => {
  const usr = label('system_u:object_r:usr_t:s0');
  const etc = label('system_u:object_r:etc_t:s0');
  const shared = [usr, usr, etc, usr, etc, usr];
  const separate = shared.map((l) => l.map((x) => ({ name: Buffer.from(x.name), value: Buffer.from(x.value) })));
  for (const tolerance of [0, 3]) { // 0: both labels shared; 3: etc_t (2 uses) stays inline
    const o = defaultBuildOptions({ xattrTolerance: tolerance });
    const a = files(shared);
    const b = files(separate);
    const ga = gatherXattrs(a, o);
    const gb = gatherXattrs(b, o);
    const pa = placeXattrs(ga, o, 1024);
    const pb = placeXattrs(gb, o, 1024);
    assert.ok(pa.sharedArea.equals(pb.sharedArea), `-x ${tolerance}: shared area`);
    assert.deepEqual(bodies(a), bodies(b), `-x ${tolerance}: every inode's xattr region`);
    // The first file of a list plans it (its own body); the later ones share one.
    assert.equal(a[2].ibody, a[4].ibody, 'usr_t, 2nd and 4th uses: one body');
    assert.equal(a[4].ibody, a[6].ibody);
    assert.notEqual(a[1].ibody, a[2].ibody);
    assert.equal(ga.itemsOf.size, 4, 'bodies planned: the first use of each label and one shared body each');
    assert.equal(gb.itemsOf.size, 6);
  }
});

test('xattr bodies with a fingerprint stay per file (the value is per content), same bytes as separate lists', () => {
  const usr = label('system_u:object_r:usr_t:s0');
  const o = defaultBuildOptions({ fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' as const } });
  const a = files([usr, usr, usr]);
  const b = files([usr, usr, usr].map((l) => l.map((x) => ({ name: Buffer.from(x.name), value: Buffer.from(x.value) }))));
  const ga = gatherXattrs(a, o);
  const gb = gatherXattrs(b, o);
  placeXattrs(ga, o, 1024);
  placeXattrs(gb, o, 1024);
  assert.deepEqual(bodies(a), bodies(b));
  assert.equal(new Set(a.slice(1).map((n) => n.ibody)).size, 3, 'one body per stamped file');
  assert.ok(a.slice(1).every((n) => n.ibody!.fingerprint !== undefined));
});
