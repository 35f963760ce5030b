// One directory of a source tree read into a Listing: its names in bytewise order, each entry's
// lstat fields in one Float64Array, and the few things only some entries have (hard-link identity,
// xattrs, symlink target) in sparse maps. The same function runs on the main thread and in the walk
// threads (walk-worker.ts), and a Listing crosses between them as a structured clone of a few arrays,
// not an object per entry. The first thing wrong with an entry (in name order) is kept as the one
// line the build fails with when the tree is assembled, so a parallel walk fails where, and as, a
// sequential one does.
import * as fs from 'node:fs';
import { errnoReason } from '../errors.js';
import { NAME_LEN, S_IFMT, S_IFREG, S_IFDIR } from '../format/constants.js';
import { kindOfMode } from '../format/file-kind.js';
import { showPath } from '../show-path.js';
import {
  AT_FDCWD, closeDirectory, cstr, lgetxattrsAt, lstatxAt, openDirectory, readDirectory, SysError,
  LO, HI, X_NLINK, X_UID, X_GID, X_MODE16, X_INO, X_SIZE, X_CTIME, X_MTIME, X_RDEV_MAJOR, X_RDEV_MINOR, X_DEV_MAJOR, X_DEV_MINOR,
} from '../sys/libc.js';
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

/**
 * One entry's lstat, as much of it as a listing keeps, refilled for each entry (from statx's buffer,
 * or from fs.lstatSync's Stats where statx cannot be called): no object per entry.
 */
interface EntryStat {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  /** Above 2^53 - 1: Infinity (only regular files check it: "file too large"). */
  size: number;
  /** Seconds and nanoseconds; mtimeSec NaN where beyond ±2^53 (mtimeBig then holds them). */
  mtimeSec: number;
  mtimeNsec: number;
  mtimeBig: bigint;
  /** st_dev, st_ino and the change time, as the decimal strings of the numbers (hard-link and stat identities). */
  dev: () => string;
  ino: () => string;
  ctimeNs: () => string;
  mtimeNs: () => string;
  /** Whether this is the file of that st_ino and st_dev. */
  is: (ino: bigint, dev: bigint) => boolean;
}

// statx(2) results land here (struct statx, host byte order), read through typed-array views.
const SX = Buffer.alloc(256);
const SX32 = new Uint32Array(SX.buffer, SX.byteOffset, 64);
const SXi32 = new Int32Array(SX.buffer, SX.byteOffset, 64);
const SX16 = new Uint16Array(SX.buffer, SX.byteOffset, 128);

/** A 64-bit field of SX as a number (exact below 2^53), or -1 beyond. */
function u64(w: number): number {
  const hi = SX32[w + HI];
  return hi < 0x200000 ? hi * 0x100000000 + SX32[w + LO] : -1;
}
function u64Big(w: number): bigint {
  return (BigInt(SX32[w + HI]) << 32n) | BigInt(SX32[w + LO]);
}
function i64Big(w: number): bigint {
  return (BigInt(SXi32[w + HI]) << 32n) | BigInt(SX32[w + LO]);
}
/** glibc's makedev(): the st_dev that fs.lstatSync gives for a statx device pair. */
function makedev(major: number, minor: number): bigint {
  return (BigInt(major & 0xfff) << 8n) | (BigInt(major >>> 12) << 44n) | BigInt(minor & 0xff) | (BigInt(minor >>> 8) << 20n);
}

/**
 * The decimal strings of the identities (dev, ino, times in ns) without a BigInt where the numbers
 * allow (a --cache scan makes four per regular file): the device of the last entry, kept; an inode
 * number below 2^53; a time after the epoch as its seconds and its nine digits of nanoseconds.
 */
let devMajor = -1, devMinor = -1, devString = '';
function devOfStatx(): string {
  const major = SX32[X_DEV_MAJOR], minor = SX32[X_DEV_MINOR];
  if (major !== devMajor || minor !== devMinor) {
    devMajor = major;
    devMinor = minor;
    // glibc's makedev as a number while it stays below 2^53 (the major's high bits below 2^9).
    devString = major >>> 12 < 0x200
      ? String((major & 0xfff) * 0x100 + (minor & 0xff) + (minor >>> 8) * 0x100000 + (major >>> 12) * 2 ** 44)
      : `${makedev(major, minor)}`;
  }
  return devString;
}
function inoOfStatx(): string {
  const hi = SX32[X_INO + HI];
  return hi < 0x200000 ? String(hi * 0x100000000 + SX32[X_INO + LO]) : `${u64Big(X_INO)}`;
}
function nsOfStatx(w: number): string {
  const hi = SXi32[w + HI];
  const nsec = SX32[w + 2];
  if (hi >= 0 && hi < 0x200000 && nsec < 1_000_000_000) {
    const sec = hi * 0x100000000 + SX32[w + LO];
    return sec === 0 ? String(nsec) : String(sec) + String(nsec).padStart(9, '0');
  }
  return `${i64Big(w) * 1_000_000_000n + BigInt(nsec)}`;
}

const fromStatx: EntryStat = {
  mode: 0, uid: 0, gid: 0, nlink: 0, rdevMajor: 0, rdevMinor: 0, size: 0, mtimeSec: 0, mtimeNsec: 0, mtimeBig: 0n,
  dev: devOfStatx,
  ino: inoOfStatx,
  ctimeNs: () => nsOfStatx(X_CTIME),
  mtimeNs: () => nsOfStatx(X_MTIME),
  is: (ino, dev) => {
    if (ino !== idIno || dev !== idDev) {
      idIno = ino;
      idDev = dev;
      idInoLo = Number(ino & 0xffffffffn);
      idInoHi = Number(ino >> 32n);
    }
    return SX32[X_INO + LO] === idInoLo && SX32[X_INO + HI] === idInoHi && makedev(SX32[X_DEV_MAJOR], SX32[X_DEV_MINOR]) === dev;
  },
};
/** The last identity fromStatx.is was asked about, in statx's 32-bit halves. */
let idIno = -1n, idDev = -1n, idInoLo = 0, idInoHi = 0;

/** Fill fromStatx from SX. */
function readStatx(): EntryStat {
  const e = fromStatx;
  e.mode = SX16[X_MODE16];
  e.uid = SX32[X_UID];
  e.gid = SX32[X_GID];
  e.nlink = SX32[X_NLINK];
  e.rdevMajor = SX32[X_RDEV_MAJOR];
  e.rdevMinor = SX32[X_RDEV_MINOR];
  const size = u64(X_SIZE);
  e.size = size < 0 ? Infinity : size;
  const hi = SXi32[X_MTIME + HI];
  // Seconds within ±2^53 (the tree's limit, see mtimeSecOf): the high half within ±2^21.
  if (hi >= -0x200000 && hi < 0x200000) e.mtimeSec = hi * 0x100000000 + SX32[X_MTIME + LO];
  else {
    e.mtimeSec = NaN;
    e.mtimeBig = i64Big(X_MTIME);
  }
  e.mtimeNsec = SX32[X_MTIME + 2];
  return e;
}

let statsNow: fs.BigIntStats | undefined;
const fromStats: EntryStat = {
  mode: 0, uid: 0, gid: 0, nlink: 0, rdevMajor: 0, rdevMinor: 0, size: 0, mtimeSec: 0, mtimeNsec: 0, mtimeBig: 0n,
  dev: () => `${statsNow!.dev}`,
  ino: () => `${statsNow!.ino}`,
  ctimeNs: () => `${statsNow!.ctimeNs}`,
  mtimeNs: () => `${statsNow!.mtimeNs}`,
  is: (ino, dev) => statsNow!.ino === ino && statsNow!.dev === dev,
};

/** An EntryStat of fs.lstatSync's or fs.statSync's numbers. */
function readStats(s: fs.BigIntStats): EntryStat {
  const e = fromStats;
  statsNow = s;
  e.mode = Number(s.mode);
  e.uid = Number(s.uid);
  e.gid = Number(s.gid);
  e.nlink = Number(s.nlink);
  const rdev = Number(s.rdev);
  // Linux dev_t: major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31 (glibc gnu_dev_major/minor).
  e.rdevMajor = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  e.rdevMinor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  e.size = s.size > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(s.size);
  const sec = s.mtimeNs / 1_000_000_000n - (s.mtimeNs % 1_000_000_000n < 0n ? 1n : 0n);
  e.mtimeSec = Number(sec);
  if (!Number.isSafeInteger(e.mtimeSec)) {
    e.mtimeSec = NaN;
    e.mtimeBig = sec;
  }
  e.mtimeNsec = Number(((s.mtimeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  return e;
}

/**
 * The path of each entry of the directory being listed, NUL-terminated for the system calls: the
 * directory's bytes and '/' written once, each name after them (no path string or Buffer per entry);
 * and the name alone, for the calls made in the open directory.
 */
let pathZ = Buffer.allocUnsafe(4096);
/** The name part of pathZ (from after the directory's '/'), set per directory. */
let nameZ = pathZ;

/**
 * How entries are read (tests compare the ways): 'at', statx and listxattrat in the open directory
 * (the default, falling back by itself where the system lacks them); 'path', statx and llistxattr
 * by whole path; 'node', fs.lstatSync and llistxattr by path (the way without statx).
 */
export type EntryCalls = 'at' | 'path' | 'node';
let entryCalls: EntryCalls = 'at';
/** Tests: read entries this way from now on (in this thread). */
export function setEntryCalls(c: EntryCalls): void {
  entryCalls = c;
}

/** Whether entry `e` (`name` in `dirPath`, latin1) is the output image (its path, or its identity where it exists already). */
function isOutput(cx: ListContext, dirPath: string, name: string, e: EntryStat): boolean {
  if ((e.mode & S_IFMT) !== S_IFREG) return false;
  const out = cx.outputLatin1!;
  if (dirPath.length + 1 + name.length === out.length && dirPath + '/' + name === out) return true;
  if (cx.outputIno === undefined || cx.outputDev === undefined) return false;
  return e.is(cx.outputIno, cx.outputDev);
}

/** Read directory `dirPath` (latin1 path) whose entries' relative paths start with `relPrefix`. */
export function listDirectory(dirPath: string, relPrefix: string, cx: ListContext): Listing {
  const d = dirPath.length;
  if (pathZ.length < d + NAME_LEN + 2) pathZ = Buffer.allocUnsafe(2 * (d + NAME_LEN + 2));
  pathZ.write(dirPath, 0, 'latin1');
  pathZ[d] = 0;
  const dirfd = entryCalls === 'at' ? openDirectory(pathZ) : -1;
  try {
    // latin1: one char per byte, so names of any bytes survive and compare bytewise.
    let all = dirfd >= 0 ? readDirectory(dirfd) : null;
    if (!all) {
      try {
        all = fs.readdirSync(Buffer.from(dirPath, 'latin1'), { encoding: 'latin1' });
      } catch (e) {
        return { names: [], num: new Float64Array(0), dirError: `${showPath(dirPath)}: cannot read directory: ${errnoReason(e)}` };
      }
    }
    // Latin1 strings in code-unit order: bytewise (as compareLatin1, without a call per comparison).
    all.sort();
    return listEntries(dirPath, dirfd, all, relPrefix, cx);
  } finally {
    closeDirectory(dirfd);
  }
}

/** The entries `all` (sorted names) of directory `dirPath`, open as `dirfd` (-1: by whole paths). */
function listEntries(dirPath: string, dirfd: number, all: string[], relPrefix: string, cx: ListContext): Listing {
  const l: Listing = { names: [], num: new Float64Array(all.length * STRIDE) };
  const d = dirPath.length;
  pathZ[d] = 0x2f;
  nameZ = pathZ.subarray(d + 1);
  const excluding = cx.excludePaths.length > 0 || cx.excludeRegexes.length > 0;
  for (const name of all) {
    const i = l.names.length;
    if (name.length > NAME_LEN) return failAt(l, name, `${showPath(dirPath + '/' + name)}: name longer than ${NAME_LEN} bytes`);
    if (excluding) {
      const rel = relPrefix + Buffer.from(name, 'latin1').toString('utf8');
      if (cx.excludePaths.includes(rel) || cx.excludeRegexes.some((re) => re.test(rel))) continue;
    }
    const end = d + 1 + pathZ.write(name, d + 1, 'latin1');
    pathZ[end] = 0;
    let e: EntryStat;
    const r = entryCalls === 'node' ? null : dirfd >= 0 ? lstatxAt(dirfd, nameZ, SX) : lstatxAt(AT_FDCWD, pathZ, SX);
    if (r === 0) e = readStatx();
    else {
      // No statx here, or it failed: fs.lstatSync's result, or its error (the words every walk gave).
      try {
        e = readStats(fs.lstatSync(pathZ.subarray(0, end), { bigint: true }));
      } catch (err) {
        return failAt(l, name, `${showPath(pathZ.subarray(0, end))}: ${errnoReason(err)}`);
      }
    }
    if (cx.outputLatin1 !== undefined && isOutput(cx, dirPath, name, e)) {
      (l.warnings ??= []).push({ at: i, message: `${showPath(pathZ.subarray(0, end))}: skipping the output image inside the source tree` });
      continue;
    }
    l.names.push(name);
    if ((e.mode & S_IFMT) !== S_IFDIR && e.nlink > 1) (l.links ??= new Map()).set(i, `${e.dev()}:${e.ino()}`);
    const error = recordFields(l, i, dirfd, pathZ, end, e, cx);
    if (error) return failAt(l, undefined, error);
  }
  if (l.num.length !== l.names.length * STRIDE) l.num = l.num.slice(0, l.names.length * STRIDE);
  // Nothing left out: readdir's own array (of its exact length) holds the same names.
  if (l.names.length === all.length) l.names = all;
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
 * with (the root of a walk, from fs.statSync).
 */
export function recordEntry(l: Listing, i: number, p: Buffer, s: fs.BigIntStats, cx: ListContext): string | undefined {
  return recordFields(l, i, -1, cstr(p), p.length, readStats(s), cx);
}

/**
 * Entry `i` of `l` from its lstat `e`, its path the first `len` bytes of `pz` (NUL-terminated), its
 * name nameZ in `dirfd` (-1: by the path only): the inode's fields, or the line its build fails with,
 * checked in the order a sequential scan made them (type, mtime, xattrs, size, symlink target).
 */
function recordFields(l: Listing, i: number, dirfd: number, pz: Buffer, len: number, e: EntryStat, cx: ListContext): string | undefined {
  const path = (): Buffer => pz.subarray(0, len);
  const mode = e.mode;
  const kind = kindOfMode(mode);
  if (!kind) return `${showPath(path())}: unsupported file type (mode 0${mode.toString(8)})`;
  let mtimeSec = e.mtimeSec;
  // The path is shown only for a time out of range (showPath per entry cost more than the rest of this).
  if (Number.isNaN(mtimeSec)) {
    try {
      mtimeSec = mtimeSecOf(e.mtimeBig, showPath(path()));
    } catch (err) {
      return (err as Error).message;
    }
  }
  const o = i * STRIDE;
  const num = l.num;
  num[o + F_MODE] = mode;
  num[o + F_UID] = e.uid;
  num[o + F_GID] = e.gid;
  num[o + F_RDEV_MAJOR] = e.rdevMajor;
  num[o + F_RDEV_MINOR] = e.rdevMinor;
  num[o + F_MTIME_SEC] = mtimeSec;
  num[o + F_MTIME_NSEC] = e.mtimeNsec;
  if (cx.xattrs) {
    let list: { name: Buffer; value: Buffer }[];
    try {
      list = lgetxattrsAt(dirfd, nameZ, pz);
    } catch (err) {
      return `${showPath(path())}: cannot read xattrs: ${err instanceof SysError ? err.code : (err as Error).message}`;
    }
    if (list.length) (l.xattrs ??= new Map()).set(i, list);
  }
  if (kind === 'reg') {
    if (e.size === Infinity) return `${showPath(path())}: file too large`;
    num[o + F_SIZE] = e.size;
    if (cx.statIds) (l.statIds ??= new Map()).set(i, `${e.dev()}:${e.ino()}:${e.size}:${e.mtimeNs()}:${e.ctimeNs()}`);
  } else if (kind === 'lnk') {
    let target: Buffer;
    try {
      target = fs.readlinkSync(path(), { encoding: 'buffer' });
    } catch (err) {
      return `${showPath(path())}: cannot read symlink: ${errnoReason(err)}`;
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
