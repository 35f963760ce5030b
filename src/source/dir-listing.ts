// One directory of a source tree read into a Listing: its names in bytewise order, each entry's
// lstat fields in one Float64Array, and the few things only some entries have (hard-link identity,
// xattrs, symlink target) in sparse maps. The same function runs on the main thread and in the walk
// threads (walk-worker.ts), and a Listing crosses between them as a structured clone of a few arrays,
// not an object per entry. The first thing wrong with an entry (in name order) is kept as the one
// line the build fails with when the tree is assembled, so a parallel walk fails where, and as, a
// sequential one does.
import * as fs from 'node:fs';
import { errnoReason } from '../errors.js';
import { NAME_LEN } from '../format/constants.js';
import { kindOfMode } from '../format/file-kind.js';
import { showPath } from '../show-path.js';
import { cstr, lgetxattrs, SysError } from '../sys/libc.js';
import { compareLatin1, mtimeSecOf, type Xattr } from './tree.js';

/** What every listing of one scan needs to know (cloned into each walk thread). */
export interface ListContext {
  xattrs: boolean;
  /** Relative paths (no leading '/') to leave out, with everything below them. */
  excludePaths: readonly string[];
  excludeRegexes: readonly RegExp[];
  /** The output image (absolute path as latin1, and identity), skipped with a warning if found. */
  outputLatin1?: string;
  outputDev?: bigint;
  outputIno?: bigint;
  /** Keep each regular file's stat identity (see Inode.statId). */
  statIds: boolean;
}

/** Per-entry numbers in Listing.num, STRIDE of them per entry. */
export const F_MODE = 0, F_UID = 1, F_GID = 2, F_RDEV_MAJOR = 3, F_RDEV_MINOR = 4, F_SIZE = 5, F_MTIME_SEC = 6, F_MTIME_NSEC = 7;
export const STRIDE = 8;

export interface Listing {
  /** Entry names (latin1: one char per byte), bytewise sorted, without excluded ones and the output image. */
  names: string[];
  num: Float64Array;
  /** Non-directories with more than one link: "dev:ino", to find the other names of the inode. */
  links?: Map<number, string>;
  /** With ListContext.statIds, regular files: "dev:ino:size:mtimeNs:ctimeNs". */
  statIds?: Map<number, string>;
  /** Entries with xattrs (a walk thread's Buffers arrive as Uint8Arrays: see xattrsOf). */
  xattrs?: Map<number, { name: Uint8Array; value: Uint8Array }[]>;
  /** Symlink targets. */
  targets?: Map<number, Uint8Array>;
  /** Warnings to give before entry `at` (the output image found in the source tree). */
  warnings?: { at: number; message: string }[];
  /** The entry the build fails at (the listing ends there), and the line it fails with. */
  errorAt?: number;
  error?: string;
  /** The directory itself could not be read: the line the build fails with. */
  dirError?: string;
}

/** Read directory `dirPath` (latin1 path) whose entries' relative paths start with `relPrefix`. */
export function listDirectory(dirPath: string, relPrefix: string, cx: ListContext): Listing {
  let all: string[];
  try {
    // latin1: one char per byte, so names of any bytes survive and compare bytewise.
    all = fs.readdirSync(Buffer.from(dirPath, 'latin1'), { encoding: 'latin1' });
  } catch (e) {
    return { names: [], num: new Float64Array(0), dirError: `${showPath(dirPath)}: cannot read directory: ${errnoReason(e)}` };
  }
  all.sort(compareLatin1);
  const l: Listing = { names: [], num: new Float64Array(all.length * STRIDE) };
  for (const name of all) {
    const ps = dirPath + '/' + name;
    const p = Buffer.from(ps, 'latin1');
    const i = l.names.length;
    if (name.length > NAME_LEN) return failAt(l, name, `${showPath(p)}: name longer than ${NAME_LEN} bytes`);
    if (cx.excludePaths.length || cx.excludeRegexes.length) {
      const rel = relPrefix + Buffer.from(name, 'latin1').toString('utf8');
      if (cx.excludePaths.includes(rel) || cx.excludeRegexes.some((re) => re.test(rel))) continue;
    }
    let s: fs.BigIntStats;
    try {
      s = fs.lstatSync(p, { bigint: true });
    } catch (e) {
      return failAt(l, name, `${showPath(p)}: ${errnoReason(e)}`);
    }
    if (cx.outputLatin1 !== undefined && s.isFile() && (ps === cx.outputLatin1 || (s.ino === cx.outputIno && s.dev === cx.outputDev))) {
      (l.warnings ??= []).push({ at: i, message: `${showPath(p)}: skipping the output image inside the source tree` });
      continue;
    }
    l.names.push(name);
    if (!s.isDirectory() && s.nlink > 1n) (l.links ??= new Map()).set(i, `${s.dev}:${s.ino}`);
    const error = recordEntry(l, i, p, s, cx);
    if (error) return failAt(l, undefined, error);
  }
  if (l.num.length !== l.names.length * STRIDE) l.num = l.num.slice(0, l.names.length * STRIDE);
  return l;
}

function failAt(l: Listing, name: string | undefined, error: string): Listing {
  if (name !== undefined) l.names.push(name);
  l.errorAt = l.names.length - 1;
  l.error = error;
  l.num = l.num.slice(0, l.names.length * STRIDE);
  return l;
}

/**
 * Entry `i` of `l` from its lstat `s` (path `p`): the inode's fields, or the line its build fails
 * with, checked in the order a sequential scan made them (type, mtime, xattrs, size, symlink target).
 */
export function recordEntry(l: Listing, i: number, p: Buffer, s: fs.BigIntStats, cx: ListContext): string | undefined {
  const mode = Number(s.mode);
  const kind = kindOfMode(mode);
  if (!kind) return `${showPath(p)}: unsupported file type (mode 0${mode.toString(8)})`;
  const sec = s.mtimeNs / 1_000_000_000n - (s.mtimeNs % 1_000_000_000n < 0n ? 1n : 0n);
  let mtimeSec = Number(sec);
  // The path is shown only for a time out of range (showPath per entry cost more than the rest of this).
  if (!Number.isSafeInteger(mtimeSec)) {
    try {
      mtimeSec = mtimeSecOf(sec, showPath(p));
    } catch (e) {
      return (e as Error).message;
    }
  }
  const rdev = Number(s.rdev);
  const o = i * STRIDE;
  const num = l.num;
  num[o + F_MODE] = mode;
  num[o + F_UID] = Number(s.uid);
  num[o + F_GID] = Number(s.gid);
  // Linux dev_t: major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31 (glibc gnu_dev_major/minor).
  num[o + F_RDEV_MAJOR] = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  num[o + F_RDEV_MINOR] = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  num[o + F_MTIME_SEC] = mtimeSec;
  num[o + F_MTIME_NSEC] = Number(((s.mtimeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  if (cx.xattrs) {
    let list: { name: Buffer; value: Buffer }[];
    try {
      list = lgetxattrs(cstr(p));
    } catch (e) {
      return `${showPath(p)}: cannot read xattrs: ${e instanceof SysError ? e.code : (e as Error).message}`;
    }
    if (list.length) (l.xattrs ??= new Map()).set(i, list);
  }
  if (kind === 'reg') {
    if (s.size > BigInt(Number.MAX_SAFE_INTEGER)) return `${showPath(p)}: file too large`;
    num[o + F_SIZE] = Number(s.size);
    if (cx.statIds) (l.statIds ??= new Map()).set(i, `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`);
  } else if (kind === 'lnk') {
    let target: Buffer;
    try {
      target = fs.readlinkSync(p, { encoding: 'buffer' });
    } catch (e) {
      return `${showPath(p)}: cannot read symlink: ${errnoReason(e)}`;
    }
    (l.targets ??= new Map()).set(i, target);
    num[o + F_SIZE] = target.length;
  }
  return undefined;
}

/** A Uint8Array as a Buffer over the same bytes (what a structured clone made of a Buffer). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Whether entry `i` of a listing is a directory. */
export function isDirEntry(l: Listing, i: number): boolean {
  return kindOfMode(l.num[i * STRIDE + F_MODE]) === 'dir';
}

export type { Xattr };
