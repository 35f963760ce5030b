// The seven kinds of file an EROFS inode can be, and their S_IFMT bits in i_mode. Readers and
// scanners map modes to kinds with this one table.
import { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK } from './constants.js';

export type FileKind = 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';

const TYPE_BITS: Record<FileKind, number> = {
  reg: S_IFREG, dir: S_IFDIR, lnk: S_IFLNK, chr: S_IFCHR, blk: S_IFBLK, fifo: S_IFIFO, sock: S_IFSOCK,
};
const KIND_OF_TYPE = new Map<number, FileKind>(Object.entries(TYPE_BITS).map(([k, v]) => [v, k as FileKind]));

/** The kind of a mode's S_IFMT bits; null for bits that name no kind. */
export function kindOfMode(mode: number): FileKind | null {
  return KIND_OF_TYPE.get(mode & S_IFMT) ?? null;
}

/** The S_IFMT bits of a kind. */
export function typeBitsOf(kind: FileKind): number {
  return TYPE_BITS[kind];
}
