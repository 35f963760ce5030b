// The tree model every source (directory, tar) produces and the planner consumes.
// Names are bytes: EROFS names need not be UTF-8, and order is bytewise (never String#sort).

export type Kind = 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';

export interface Xattr {
  /** Full name, e.g. "user.foo" or "system.posix_acl_access". */
  name: Buffer;
  value: Buffer;
}

/** Where a regular file's bytes come from. */
export type DataSource =
  | { type: 'path'; path: Buffer }
  | { type: 'buffer'; bytes: Uint8Array }
  /** `size` bytes at `offset` of a file (a tar archive, or a spool file of a stream). */
  | { type: 'range'; path: string; offset: number };

export interface Inode {
  kind: Kind;
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: bigint;
  mtimeNsec: number;
  /** Regular files: content length; symlinks: target length; others 0 (dirs: computed by the planner). */
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  xattrs: Xattr[];
  /** Regular files only. */
  data?: DataSource;
  /** Symlinks only. */
  target?: Buffer;
  /** Directories only: children sorted bytewise by name, without "." and "..". */
  entries?: Dentry[];
  /** Number of dentries pointing at this inode (hard links); dirs: computed by the planner. */
  links: number;
  /** Path of the first name seen, for messages (not stored in the image). */
  path: Buffer;
}

export interface Dentry {
  name: Buffer;
  inode: Inode;
}

export function sortEntries(entries: Dentry[]): void {
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
}

/** Printable form of a byte path for messages: UTF-8 where valid, \xNN escapes otherwise. */
export function showPath(p: Uint8Array): string {
  const s = Buffer.from(p).toString('utf8');
  if (!s.includes('\ufffd') && !/[\x00-\x1f\x7f]/.test(s)) return s;
  let out = '';
  for (const c of p) out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}
