// Trees compared field by field in walk tests (test/parallel-walk.test.ts, test/walk-entry-calls.test.ts).
import type { Inode } from '../../src/source/tree.js';

/** Everything the tree says, hard links as the index of the inode's first name. */
export function describeTree(root: Inode): unknown[] {
  const out: unknown[] = [];
  const first = new Map<Inode, number>();
  const visit = (n: Inode, name: string): void => {
    const seen = first.get(n);
    if (seen !== undefined) { out.push([name, 'link to', seen]); return; }
    first.set(n, out.length);
    out.push([name, n.kind, n.mode, n.uid, n.gid, n.mtimeSec, n.mtimeNsec, n.size, n.rdevMajor, n.rdevMinor, n.links, n.statId,
      n.target?.toString('latin1'), n.xattrs.map((x) => [x.name.toString('latin1'), x.value.toString('latin1')])]);
    if (n.entries) n.entries.names.forEach((nm, i) => visit(n.entries!.inodes[i], nm));
  };
  visit(root, '');
  return out;
}
