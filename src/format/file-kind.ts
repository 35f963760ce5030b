// The seven kinds of file an EROFS inode can be, and their S_IFMT bits in i_mode. Readers and
// scanners map modes to kinds with this one table.
import { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK } from './constants.js';

export type FileKind = 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';

const TYPE_BITS: Record<FileKind, number> = {
  reg: S_IFREG, dir: S_IFDIR, lnk: S_IFLNK, chr: S_IFCHR, blk: S_IFBLK, fifo: S_IFIFO, sock: S_IFSOCK,
};
/**
 * The kind of a mode's S_IFMT bits; null for bits that name no kind. A switch, not a Map look-up:
 * extract asks once per inode (a Map's hashing and probing showed in its profile).
 */
export function kindOfMode(mode: number): FileKind | null {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'reg';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'lnk';
    case S_IFCHR: return 'chr';
    case S_IFBLK: return 'blk';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'sock';
    default: return null;
  }
}

/** The S_IFMT bits of a kind. */
export function typeBitsOf(kind: FileKind): number {
  return TYPE_BITS[kind];
}
