// Per-inode decisions before any byte is written: final ownership, nlink, directory blocks and
// sizes; then compact vs extended inodes.
import { splitDirBlocks } from '../../format/dirent.js';
import { UserError } from '../../errors.js';
import { pathOf, compareLatin1, type Inode } from '../../source/tree.js';
import { showPath } from '../../show-path.js';
import type { BuildOptions } from '../options.js';
import { mtimeOf, type BuildTimes } from './times.js';

/** One block of a directory: entries [start, end) of its dirEntryList, `used` bytes. */
export interface DirBlock {
  start: number;
  end: number;
  used: number;
}

/**
 * Ownership (--all-root, --force-uid/gid), nlink, and sizes: a directory's from the split of its
 * entries into blocks (returned, by directory), a device's or fifo's 0.
 */
export function settleInodes(order: readonly Inode[], o: BuildOptions): Map<Inode, DirBlock[]> {
  const bs = o.blockSize;
  const dirBlocks = new Map<Inode, DirBlock[]>();
  for (const n of order) {
    if (o.allRoot) { n.uid = 0; n.gid = 0; }
    if (o.forceUid !== undefined) n.uid = o.forceUid;
    if (o.forceGid !== undefined) n.gid = o.forceGid;
    if (n.uid > 0xffffffff || n.gid > 0xffffffff || n.uid < 0 || n.gid < 0) {
      throw new UserError(`${showPath(pathOf(n))}: uid/gid out of range`);
    }
    if (n.kind === 'dir') {
      const blocks = splitDirBlocks(dirEntryList(n).names, bs);
      dirBlocks.set(n, blocks);
      n.size = (blocks.length - 1) * bs + blocks[blocks.length - 1].used;
      n.links = 2 + n.entries!.inodes.filter((c) => c.kind === 'dir').length;
    } else if (n.kind === 'lnk') {
      if (n.size === 0) throw new UserError(`${showPath(pathOf(n))}: empty symlink target`);
    } else if (n.kind !== 'reg') {
      n.size = 0;
    }
  }
  return dirBlocks;
}

/**
 * Compact inodes where the rules allow (erofs-format.md §2): ids, nlink and size fit, and the
 * time equals the superblock's (epoch, fixed_nsec) exactly, so no nanosecond is lost.
 */
export function chooseInodeForms(order: readonly Inode[], o: BuildOptions, times: BuildTimes): void {
  for (const n of order) {
    const t = mtimeOf(n, times);
    n.extended = o.inodeVersion === 'extended' || n.uid > 0xffff || n.gid > 0xffff || n.links > 0xffff || n.size > 0xffffffff
      || t.sec !== times.epoch || t.nsec !== times.fixedNsec;
    if (n.extended && o.inodeVersion === 'compact') throw new UserError(`file ${showPath(pathOf(n))} cannot be in compact form`);
  }
}

/**
 * A directory's entries with "." and "..", in bytewise order (made when needed, not kept): names and
 * inodes side by side, "." and ".." merged into the names as sorted (Entries), not an object per
 * entry and a sort of them all.
 */
export function dirEntryList(n: Inode): { names: string[]; nodes: Inode[] } {
  const { names: within, inodes } = n.entries!;
  const count = within.length + 2;
  const names = new Array<string>(count);
  const nodes = new Array<Inode>(count);
  // The root is its own parent.
  const special = ['.', '..'];
  const specialNodes = [n, n.parent ?? n];
  let k = 0;
  let s = 0;
  for (let i = 0; i < within.length; i++) {
    const name = within[i];
    if (i > 0 && !(within[i - 1] < name)) return sortedEntryList(n);
    while (s < 2 && special[s] < name) {
      names[k] = special[s];
      nodes[k++] = specialNodes[s++];
    }
    names[k] = name;
    nodes[k++] = inodes[i];
  }
  while (s < 2) {
    names[k] = special[s];
    nodes[k++] = specialNodes[s++];
  }
  return { names, nodes };
}

/** dirEntryList by sorting (entries not in order: never from our scanners, whose Entries are sorted). */
function sortedEntryList(n: Inode): { names: string[]; nodes: Inode[] } {
  const all = [
    { name: '.', node: n },
    { name: '..', node: n.parent ?? n },
    ...n.entries!.names.map((name, i) => ({ name, node: n.entries!.inodes[i] })),
  ].sort((a, b) => compareLatin1(a.name, b.name));
  return { names: all.map((e) => e.name), nodes: all.map((e) => e.node) };
}
