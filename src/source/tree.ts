// The tree model every source (directory, tar) produces and the planner consumes.
// Names are bytes: EROFS names need not be UTF-8, and order is bytewise (never String#sort).

import type { XattrIbody } from '../format/xattr-ibody.js';
import { UserError } from '../errors.js';
import type { FileKind } from '../format/file-kind.js';

export interface Xattr {
  /** Full name, e.g. "user.foo" or "system.posix_acl_access". */
  name: Buffer;
  value: Buffer;
}

/**
 * pathOf for files that come a directory at a time (the writer's and the job queue's order): the
 * directory's path is made once for all its files, not walked up again per file.
 */
export class FilePaths {
  private dir: Inode | undefined;
  private prefix = '';

  of(p: Inode): string {
    if (!p.parent) return pathOf(p);
    if (p.parent !== this.dir) {
      this.dir = p.parent;
      // An unnamed root (an archive's) adds nothing to its children's paths (as in pathOf).
      this.prefix = !this.dir.parent && !this.dir.name ? '' : `${pathOf(this.dir)}/`;
    }
    return this.prefix + p.name;
  }
}

/** Where a regular file's bytes come from. */
export type DataSource =
  /** `mtimeNs`: the mtime the scan saw; reads refuse a file modified since (its fingerprint and data could differ). */
  | { type: 'path'; path: Buffer; mtimeNs?: bigint; ctimeNs?: bigint }
  | { type: 'buffer'; bytes: Uint8Array }
  /** `size` bytes at `offset` of a file (a tar archive, or a spool file of a stream). */
  | { type: 'range'; path: string; offset: number };

/** What a source knows of an inode when it makes one (see newInode). */
export interface InodeInit {
  kind: FileKind;
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  /** A number, not a BigInt (~24 B more per inode): see mtimeSecOf. */
  mtimeSec: number;
  mtimeNsec: number;
  /** Regular files: content length; symlinks: target length; others 0 (dirs: computed by the planner). */
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  xattrs: Xattr[];
  /** Regular files: where the bytes are; absent means the file at pathOf(inode) (see dataOf). */
  data?: DataSource;
  /** Symlinks only. */
  target?: Buffer;
  /** Number of dentries pointing at this inode (hard links); dirs: computed by the planner. */
  links: number;
}

/**
 * One object per inode, from the scan to the last write: the planner overrides ownership, size
 * and links in place (not mtimes: see mtimeOf in pipeline/plan/times.ts) and fills the layout fields
 * below. A second object per inode and a path string each cost ~250 MB on a million files.
 */
export interface Inode extends InodeInit {
  /** Directories only. */
  entries?: Entries;
  /**
   * The first name (a latin1 string of its bytes) and the directory holding it; pathOf() joins
   * them, so no inode keeps a whole path. The root has no parent and is named after where the
   * tree came from (the source directory's path, '' for an archive). The planner re-points both
   * at the first name in visit order.
   */
  name: string;
  parent?: Inode;
  /** Set by the planner: on-disk i_ino, 1-based position in visit order. */
  ino: number;
  /** Set by the planner: extended (64-byte) inode. */
  extended: boolean;
  /** Set by the writer: slot number of the inode. */
  nid: number;
  /** Set by the planner when the inode has xattrs (or a fingerprint). */
  ibody?: XattrIbody;
  /**
   * Regular files of a directory scanned for --cache: identity and change times as lstat saw them,
   * "dev:ino:size:mtimeNs:ctimeNs" (the key of the stat index, src/pipeline/cache/cache-index.ts). Not made
   * by newInode: only --cache scans set it, and a field on every inode would cost every build 8 B each.
   */
  statId?: string;
}

/**
 * The fields most inodes leave at their defaults (a plain file of a scanned directory has no rdev,
 * target, data source, entries or extended form): one object, made for an inode that sets any of
 * them. Six fields less in every inode is 48 B each, 48 MB on a million files. Not the xattrs and
 * their body: a system image's files are all labelled (SELinux), and this object (~100 B) made for
 * each of them cost more than the two fields in every inode (finding xattr-bodies-per-file).
 */
interface RareFields {
  rdevMajor: number;
  rdevMinor: number;
  data: DataSource | undefined;
  target: Buffer | undefined;
  entries: Entries | undefined;
  extended: boolean;
}

/**
 * An inode as the tree keeps it: the common fields in the object, every field present from the start
 * in one order (V8 then keeps all inodes in one shape with the fields inside the object); the rare
 * ones behind accessors in one RareFields object, absent until one of them is set to a value other
 * than its default.
 */
class TreeInode implements Inode {
  kind: FileKind;
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  size: number;
  links: number;
  name: string;
  parent: Inode | undefined;
  ino = 0;
  nid = -1;
  /** NO_XATTRS for most inodes; a scanned list is interned (shared by the inodes that have it). */
  xattrs: Xattr[];
  ibody: XattrIbody | undefined = undefined;
  private rare: RareFields | undefined = undefined;

  constructor(init: InodeInit, name: string, parent: Inode | undefined) {
    this.kind = init.kind;
    this.mode = init.mode;
    this.uid = init.uid;
    this.gid = init.gid;
    this.mtimeSec = init.mtimeSec;
    this.mtimeNsec = init.mtimeNsec;
    this.size = init.size;
    this.links = init.links;
    this.name = name;
    this.parent = parent;
    if (init.rdevMajor !== 0) this.rdevMajor = init.rdevMajor;
    if (init.rdevMinor !== 0) this.rdevMinor = init.rdevMinor;
    this.xattrs = init.xattrs;
    if (init.data !== undefined) this.data = init.data;
    if (init.target !== undefined) this.target = init.target;
  }

  private more(): RareFields {
    return (this.rare ??= {
      rdevMajor: 0, rdevMinor: 0, data: undefined, target: undefined, entries: undefined, extended: false,
    });
  }

  get rdevMajor(): number { return this.rare?.rdevMajor ?? 0; }
  set rdevMajor(v: number) { if (v !== 0 || this.rare) this.more().rdevMajor = v; }
  get rdevMinor(): number { return this.rare?.rdevMinor ?? 0; }
  set rdevMinor(v: number) { if (v !== 0 || this.rare) this.more().rdevMinor = v; }
  get data(): DataSource | undefined { return this.rare?.data; }
  set data(v: DataSource | undefined) { if (v !== undefined || this.rare) this.more().data = v; }
  get target(): Buffer | undefined { return this.rare?.target; }
  set target(v: Buffer | undefined) { if (v !== undefined || this.rare) this.more().target = v; }
  get entries(): Entries | undefined { return this.rare?.entries; }
  set entries(v: Entries | undefined) { if (v !== undefined || this.rare) this.more().entries = v; }
  get extended(): boolean { return this.rare?.extended ?? false; }
  set extended(v: boolean) { if (v || this.rare) this.more().extended = v; }
}

/** A new inode (see TreeInode): ino 0, nid -1, compact, no entries or xattr body yet. */
export function newInode(init: InodeInit, name: string, parent: Inode | undefined): Inode {
  return new TreeInode(init, name, parent);
}

export interface Dentry {
  /** The name's bytes as a latin1 string: one char per byte, so `<` is bytewise order. */
  name: string;
  inode: Inode;
}

/**
 * A directory's entries sorted bytewise by name, without "." and "..": names[i] links to
 * inodes[i]. Two arrays, not a Dentry per entry (~40 B each, 40 MB for a million files).
 */
export interface Entries {
  names: string[];
  inodes: Inode[];
}

/** Bytewise order of latin1-encoded names (UTF-16 code units 0..255 compare as the bytes do): the order the kernel's lookup binary-searches. */
export function compareLatin1(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A directory's entries from a scanner's list of dentries (sorted here). */
export function sortedEntries(dentries: Dentry[]): Entries {
  dentries.sort((a, b) => compareLatin1(a.name, b.name));
  return { names: dentries.map((d) => d.name), inodes: dentries.map((d) => d.inode) };
}

/** The path an inode's first name came from (a latin1 string of its bytes): the root's name, then the names down. */
export function pathOf(n: Inode): string {
  const names: string[] = [];
  let q = n;
  for (; q.parent; q = q.parent) names.push(q.name);
  if (q.name) names.push(q.name);
  return names.reverse().join('/') || '.';
}

/** Where a regular file's bytes come from. */
export function dataOf(n: Inode): DataSource {
  return n.data ?? {
    type: 'path', path: Buffer.from(pathOf(n), 'latin1'), mtimeNs: BigInt(n.mtimeSec) * 1_000_000_000n + BigInt(n.mtimeNsec),
  };
}

const MAX_SEC = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * mtime seconds as the tree keeps them. EROFS stores 64 bits, but no real time needs more than 53
 * (285 million years), the most a number holds exactly; `what` names the file.
 */
export function mtimeSecOf(sec: bigint, what: string): number {
  if (sec > MAX_SEC || sec < -MAX_SEC) throw new UserError(`${what}: mtime ${sec} is beyond ±2^53 seconds`);
  return Number(sec);
}

/** Shared by inodes without xattrs (most of them): one empty array, never pushed to. */
export const NO_XATTRS: Xattr[] = [];
