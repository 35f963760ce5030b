// The visit order (mkfs.erofs 1.9.3): a directory's entries in name order, then its subdirectories.
// It numbers the inodes, names each by its first name, and is the order the writer places them in.
import type { Inode } from '../../source/tree.js';

/** A directory whose children all have nids (its entries can be written). */
export class DirDone {
  constructor(readonly p: Inode) {}
}
/** Writer steps in visit order: place an inode; or a directory done. One object per directory only. */
export type Step = Inode | DirDone;

/**
 * Walk the tree in visit order. An inode is numbered at its first name in this order (ino 0: not
 * reached yet, so a tree is planned once), and that name becomes the one pathOf and relPathOf follow.
 * Returns the writer's steps and the inodes in order.
 */
export function visitOrder(root: Inode): { steps: Step[]; order: Inode[] } {
  const steps: Step[] = [];
  const order: Inode[] = [];
  const visit = (n: Inode): void => {
    n.ino = order.length + 1;
    order.push(n);
    steps.push(n);
  };
  visit(root);
  const stack: Inode[] = [root];
  // Iterative DFS over directories keeps deep trees off the JS call stack.
  const visitDir = (dir: Inode): void => {
    const sub: Inode[] = [];
    const { names, inodes } = dir.entries!;
    for (let i = 0; i < inodes.length; i++) {
      const n = inodes[i];
      if (n.ino === 0) {
        n.name = names[i];
        n.parent = dir;
        visit(n);
      }
      if (n.kind === 'dir') sub.push(n);
    }
    steps.push(new DirDone(dir));
    for (let i = sub.length - 1; i >= 0; i--) stack.push(sub[i]);
  };
  while (stack.length) visitDir(stack.pop()!);
  return { steps, order };
}

/** Path of an inode's first name relative to the root, e.g. "etc/hostname" ("" for the root). */
export function relPathOf(n: Inode): Buffer {
  const parts: string[] = [];
  for (let q = n; q.parent; q = q.parent) parts.push(q.name);
  return Buffer.from(parts.reverse().join('/'), 'latin1');
}
