// The tree model every source (directory, tar) produces and the planner consumes.
// Names are bytes: EROFS names need not be UTF-8, and order is bytewise (never String#sort).

import type { InodePlan } from '../build/plan.js';

export type Kind = 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';

export interface Xattr {
  /** Full name, e.g. "user.foo" or "system.posix_acl_access". */
  name: Buffer;
  value: Buffer;
}

/** Where a regular file's bytes come from. */
export type DataSource =
  /** `mtimeNs`: the mtime the scan saw; reads refuse a file modified since (its fingerprint and data could differ). */
  | { type: 'path'; path: Buffer; mtimeNs?: bigint; ctimeNs?: bigint }
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
  /** Regular files: where the bytes are; absent means the file at `path` (see dataOf). */
  data?: DataSource;
  /** Symlinks only. */
  target?: Buffer;
  /** Directories only: children sorted bytewise by name, without "." and "..". */
  entries?: Dentry[];
  /** Number of dentries pointing at this inode (hard links); dirs: computed by the planner. */
  links: number;
  /**
   * Path of the first name seen, as a latin1 string of its bytes (for messages, and where a
   * directory source reads the file). Strings, not Buffers: a million Buffer objects cost ~150 MB.
   */
  path: string;
  /**
   * Regular files of a directory scanned for --cache: identity and change times as lstat saw them,
   * "dev:ino:size:mtimeNs:ctimeNs" (the key of the stat index, src/build/cache-index.ts).
   */
  statId?: string;
  /** Set by the planner. */
  plan?: InodePlan;
}

export interface Dentry {
  /** The name's bytes as a latin1 string: one char per byte, so `<` is bytewise order. */
  name: string;
  inode: Inode;
}

/** Bytewise order of latin1-encoded names (UTF-16 code units 0..255 compare as the bytes do). */
export function compareLatin1(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortEntries(entries: Dentry[]): void {
  entries.sort((a, b) => compareLatin1(a.name, b.name));
}

export function latin1Bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Printable form of a byte path for messages: UTF-8 where valid, \xNN escapes otherwise. */
export function showPath(path: Uint8Array | string): string {
  const p = typeof path === 'string' ? Buffer.from(path, 'latin1') : path;
  const s = Buffer.from(p).toString('utf8');
  if (!s.includes('\ufffd') && !/[\x00-\x1f\x7f]/.test(s)) return s;
  let out = '';
  for (const c of p) out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

/** Where a regular file's bytes come from. */
export function dataOf(n: { data?: DataSource; path: string; mtimeSec?: bigint; mtimeNsec?: number }): DataSource {
  return n.data ?? {
    type: 'path', path: Buffer.from(n.path, 'latin1'),
    mtimeNs: n.mtimeSec === undefined ? undefined : n.mtimeSec * 1_000_000_000n + BigInt(n.mtimeNsec ?? 0),
  };
}

/** Shared by inodes without xattrs (most of them): one empty array, never pushed to. */
export const NO_XATTRS: Xattr[] = [];
