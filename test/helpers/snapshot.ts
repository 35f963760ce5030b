// Tree snapshots: everything a mount (or an extraction) must reproduce from the source tree, recorded
// with byte-exact names and nanosecond times, so two trees can be compared field by field.
//
// What Debian's `fsck.erofs --extract=DIR` (erofs-utils 1.5) keeps, measured by test/harness.test.ts
// on the tricky tree built by mkfs.erofs 1.9.3 (-b4096), extracting as root (2026-11-25):
//   KEPT exactly: file types incl. chr/blk (major 300 / minor 70000, 4095:1048575), FIFOs and sockets;
//     content; symlink targets (4095 bytes, non-UTF-8); every name byte; mode bits of directories
//     (sticky, setgid) and the sticky bit of files; uid/gid (70000, 65535/65536), also on symlinks;
//     mtimes with nanoseconds (before 1970, after 2106) of files, symlinks, directories and the root;
//     directory nlink.
//   LOST: all xattrs, ACLs included (none restored); hard links (each name becomes its own inode,
//     nlink 1); setuid/setgid on regular files (04755 -> 0755, 06777 -> 0777, 07777 -> 01777:
//     it chowns after chmod).
//   So compare a 1.5 extraction with { ignoreXattrs: true, ignoreHardLinks: true, fileModeMask: 0o1777 }.
//   It reads 4096-byte-block images only ("blksize 512 isn't supported on this platform").
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, opendirSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { run } from './tools.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'chr' | 'blk' | 'fifo' | 'socket';

export interface Entry {
  /** Path relative to the snapshot root, as bytes; empty for the root itself. */
  path: Buffer;
  type: EntryType;
  /** The 12 permission and special bits (st_mode & 07777). */
  mode: number;
  uid: number;
  gid: number;
  /** st_size. Recorded for every type but never compared for directories (filesystem-specific). */
  size: bigint;
  /** mtime in nanoseconds since the epoch (negative before 1970); null when not recorded. */
  mtimeNs: bigint | null;
  nlink: number;
  /** Device numbers of chr/blk nodes, decoded the glibc way (12-bit+ major, 20-bit minor). */
  rdev?: { major: number; minor: number };
  /** Symlink target bytes. */
  target?: Buffer;
  /** Hex SHA-256 of a regular file's content. */
  sha256?: string;
  /**
   * Hard-link identity for non-directories with nlink > 1: the key of the byte-wise smallest path in
   * the tree sharing this inode. Inode numbers differ between trees; this does not.
   */
  linkGroup?: string;
  /** All xattrs (name → value), present when the snapshot read xattrs. */
  xattrs?: Map<string, Buffer>;
}

export interface TreeSnapshot {
  root: string;
  /** Keyed by keyOf(path): the latin1 string of the path bytes (1:1 with bytes, sorts bytewise). */
  entries: Map<string, Entry>;
  xattrsRead: boolean;
}

export interface SnapshotOptions {
  /** Read xattrs with getfattr (default true). */
  xattrs?: boolean;
  /** Do not record the root directory's mtime (e.g. a mount point or an extraction target). */
  skipRootMtime?: boolean;
}

/** Map key of a path: latin1 maps each byte to one UTF-16 unit, so keys compare in byte order. */
export function keyOf(path: Buffer): string {
  return path.toString('latin1');
}

/** Printable form of a path (or key): printable ASCII kept, `\` doubled, other bytes as \xHH. */
export function showPath(path: Buffer | string): string {
  const b = typeof path === 'string' ? Buffer.from(path, 'latin1') : path;
  if (b.length === 0) return '/';
  let s = '';
  for (const c of b) {
    if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s.length > 300 ? `${s.slice(0, 140)}...(${b.length} bytes)...${s.slice(-140)}` : s;
}

function typeOf(st: BigIntStats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  throw new Error(`unknown file type, mode ${st.mode.toString(8)}`);
}

/** glibc's gnu_dev_major/minor: major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31. */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/**
 * Directory entries in the kernel's readdir order, names as bytes. Note: fs.readdirSync is NOT that
 * order, libuv's scandir sorts names with strcmp; fs.opendir iterates the raw order. A builder that
 * lists with readdirSync would hide readdir-order bugs from a determinism test.
 */
export function readdirRaw(dir: string | Buffer): Buffer[] {
  // encoding 'buffer' is supported at runtime but missing from @types/node's OpenDirOptions.
  const d = opendirSync(dir, { encoding: 'buffer' as BufferEncoding });
  const names: Buffer[] = [];
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) names.push(e.name as unknown as Buffer);
  } finally {
    d.closeSync();
  }
  return names;
}

const HASH_CHUNK = 1 << 20;

/** SHA-256 through one reused 1 MiB buffer: a multi-GiB sparse file is never held in memory. */
function hashFile(path: Buffer, buf: Buffer): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function join(a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a, Buffer.from('/'), b]);
}

/**
 * Walk ROOT with lstat (never following symlinks), recording every entry. Children are visited in byte
 * order so the result does not depend on readdir order.
 */
export async function snapshotTree(root: string, opts: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const absRoot = resolve(root);
  const rootBuf = Buffer.from(absRoot);
  const entries = new Map<string, Entry>();
  const inodes = new Map<string, string[]>(); // "dev:ino" -> keys, for hard-link groups
  const buf = Buffer.allocUnsafe(HASH_CHUNK);

  const visit = (rel: Buffer, abs: Buffer): void => {
    const st = lstatSync(abs, { bigint: true });
    const type = typeOf(st);
    const e: Entry = {
      path: rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: st.size,
      mtimeNs: opts.skipRootMtime && rel.length === 0 ? null : st.mtimeNs,
      nlink: Number(st.nlink),
    };
    const key = keyOf(rel);
    entries.set(key, e);
    if (type === 'chr' || type === 'blk') e.rdev = splitDev(st.rdev);
    if (type === 'symlink') e.target = readlinkSync(abs, { encoding: 'buffer' });
    if (type === 'file') e.sha256 = hashFile(abs, buf);
    if (type !== 'dir' && e.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      const g = inodes.get(id);
      if (g) g.push(key);
      else inodes.set(id, [key]);
    }
    if (type === 'dir') {
      const names = readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare);
      for (const n of names) visit(rel.length ? join(rel, n) : n, join(abs, n));
    }
  };
  visit(Buffer.alloc(0), rootBuf);

  for (const keys of inodes.values()) {
    const first = keys.reduce((a, b) => (b < a ? b : a)); // latin1 keys: string order = byte order
    for (const k of keys) entries.get(k)!.linkGroup = first;
  }

  const readX = opts.xattrs ?? true;
  if (readX) {
    for (const e of entries.values()) e.xattrs = new Map();
    for (const [rel, attrs] of readAllXattrs(absRoot)) {
      const e = entries.get(keyOf(rel));
      if (!e) throw new Error(`getfattr reported ${showPath(rel)} which the walk did not see`);
      e.xattrs = attrs;
    }
  }
  return { root: absRoot, entries, xattrsRead: readX };
}

/**
 * getfattr's path quoting (attr's libmisc/quote.c, LC_ALL=C): `\ooo` octal for \n, \r and `\` itself
 * (some versions write `\\` for a backslash; both are accepted); every other byte is written raw.
 */
export function unquoteGetfattr(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      out.push(parseInt(s.slice(i + 1, i + 4), 8) & 0xff);
      i += 3;
    } else if (c === 0x5c && s[i + 1] === '\\') {
      out.push(0x5c);
      i += 1;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

/**
 * Every xattr below ROOT (ROOT included) from ONE getfattr process (a process per file would take
 * seconds on a 3000-entry tree). -P: never follow symlinks while walking; -h: report a symlink's
 * own xattrs; -m -: all namespaces incl. system.posix_acl_*; -e hex: values as bytes.
 */
function readAllXattrs(absRoot: string): Map<Buffer, Map<string, Buffer>> {
  const r = run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', absRoot], {
    env: { LC_ALL: 'C' },
  });
  if (r.status !== 0 || r.error) {
    throw new Error(`getfattr on ${absRoot} failed (status ${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  }
  const rootBytes = Buffer.from(absRoot);
  const result = new Map<Buffer, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | null = null;
  // latin1: one char per byte, and '\n' inside names is always escaped, so splitting is safe.
  for (const line of r.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = unquoteGetfattr(line.slice(8));
      let rel: Buffer;
      if (p.equals(rootBytes)) rel = Buffer.alloc(0);
      else if (p.length > rootBytes.length && p.subarray(0, rootBytes.length).equals(rootBytes) && p[rootBytes.length] === 0x2f)
        rel = p.subarray(rootBytes.length + 1);
      else throw new Error(`getfattr printed a path outside ${absRoot}: ${showPath(p)}`);
      cur = new Map();
      result.set(rel, cur);
    } else if (line === '') {
      cur = null;
    } else if (cur) {
      const eq = line.indexOf('=');
      const name = keyOf(unquoteGetfattr(eq < 0 ? line : line.slice(0, eq)));
      const raw = eq < 0 ? '' : line.slice(eq + 1);
      if (raw !== '' && !raw.startsWith('0x')) throw new Error(`getfattr value not hex: ${line.slice(0, 80)}`);
      cur.set(name, Buffer.from(raw.slice(2), 'hex'));
    }
  }
  return result;
}

// ---- comparison ----------------------------------------------------------------------------

export interface CompareOptions {
  /** Paths whose mtime is not compared (e.g. the root of a mount). */
  ignoreMtimeOf?: (path: Buffer) => boolean;
  /** Compare mtimes in whole seconds only (for layouts that drop nanoseconds, e.g. compact inodes). */
  mtimeSecondsOnly?: boolean;
  /** Ignore all xattrs (e.g. an extraction tool that does not restore them). */
  ignoreXattrs?: boolean;
  /** Ignore selected xattr names (e.g. a fingerprint xattr our builder adds). */
  ignoreXattr?: (name: string, path: Buffer) => boolean;
  /** Do not compare directory link counts. */
  ignoreNlinkOfDirs?: boolean;
  /** Do not compare nlink and link groups of non-directories (an extractor that breaks hard links). */
  ignoreHardLinks?: boolean;
  /** Leave sockets and FIFOs out on both sides. */
  ignoreSocketsAndFifos?: boolean;
  /** Do not compare uid/gid (e.g. --all-root, or extraction as non-root). */
  ignoreOwnership?: boolean;
  /** Mask applied to non-directory modes before comparing, e.g. 0o1777 for an extractor that drops
   *  setuid/setgid from files (default 0o7777: all bits). */
  fileModeMask?: number;
  /** Leave these paths out entirely on both sides. */
  ignorePath?: (path: Buffer) => boolean;
}

function fmtTime(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
}

function fmtValue(v: Buffer): string {
  const hex = v.toString('hex');
  return `${v.length} bytes 0x${hex.length > 48 ? hex.slice(0, 48) + '...' : hex}`;
}

const oct = (m: number): string => '0' + m.toString(8).padStart(4, '0');

/**
 * Every difference between two snapshots, one readable line each, in path order. Directory sizes are
 * never compared: they are a property of the filesystem (ext4 4096, tmpfs entries*20, EROFS the
 * dirent bytes), not of the tree.
 */
export function compareTrees(expected: TreeSnapshot, actual: TreeSnapshot, opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const skip = (e: Entry): boolean =>
    (opts.ignorePath?.(e.path) ?? false) || (!!opts.ignoreSocketsAndFifos && (e.type === 'socket' || e.type === 'fifo'));
  const keys = [...new Set([...expected.entries.keys(), ...actual.entries.keys()])].sort();
  for (const k of keys) {
    const x = expected.entries.get(k);
    const a = actual.entries.get(k);
    const p = showPath(k);
    if (x && skip(x)) continue;
    if (a && skip(a)) continue;
    if (!a) {
      diffs.push(`${p}: missing (expected ${x!.type})`);
      continue;
    }
    if (!x) {
      diffs.push(`${p}: unexpected ${a.type}`);
      continue;
    }
    if (x.type !== a.type) {
      diffs.push(`${p}: type expected ${x.type}, got ${a.type}`);
      continue;
    }
    const d = (field: string, ev: unknown, av: unknown): void => {
      diffs.push(`${p}: ${field} expected ${String(ev)}, got ${String(av)}`);
    };
    const mask = x.type === 'dir' ? 0o7777 : (opts.fileModeMask ?? 0o7777);
    if ((x.mode & mask) !== (a.mode & mask)) d('mode', oct(x.mode), oct(a.mode));
    if (!opts.ignoreOwnership) {
      if (x.uid !== a.uid) d('uid', x.uid, a.uid);
      if (x.gid !== a.gid) d('gid', x.gid, a.gid);
    }
    if (x.type !== 'dir' && x.size !== a.size) d('size', x.size, a.size);
    if (x.mtimeNs !== null && a.mtimeNs !== null && !(opts.ignoreMtimeOf?.(x.path) ?? false)) {
      const sec = (t: bigint): bigint => (t >= 0n ? t / 1_000_000_000n : -((-t + 999_999_999n) / 1_000_000_000n));
      const differ = opts.mtimeSecondsOnly ? sec(x.mtimeNs) !== sec(a.mtimeNs) : x.mtimeNs !== a.mtimeNs;
      if (differ) d('mtime', fmtTime(x.mtimeNs), fmtTime(a.mtimeNs));
    }
    const nlinkCompared = x.type === 'dir' ? !opts.ignoreNlinkOfDirs : !opts.ignoreHardLinks;
    if (nlinkCompared && x.nlink !== a.nlink) d('nlink', x.nlink, a.nlink);
    if (!opts.ignoreHardLinks && x.linkGroup !== a.linkGroup)
      d('hard-link group', x.linkGroup === undefined ? 'none' : showPath(x.linkGroup), a.linkGroup === undefined ? 'none' : showPath(a.linkGroup));
    if (x.rdev && a.rdev && (x.rdev.major !== a.rdev.major || x.rdev.minor !== a.rdev.minor))
      d('rdev', `${x.rdev.major}:${x.rdev.minor}`, `${a.rdev.major}:${a.rdev.minor}`);
    if (x.target && a.target && !x.target.equals(a.target)) d('symlink target', showPath(x.target), showPath(a.target));
    if (x.sha256 !== a.sha256) d('content sha256', x.sha256, a.sha256);
    if (!opts.ignoreXattrs && x.xattrs && a.xattrs) {
      const names = [...new Set([...x.xattrs.keys(), ...a.xattrs.keys()])].sort();
      for (const n of names) {
        if (opts.ignoreXattr?.(n, x.path)) continue;
        const xv = x.xattrs.get(n);
        const av = a.xattrs.get(n);
        if (!av) diffs.push(`${p}: xattr ${n} missing (expected ${fmtValue(xv!)})`);
        else if (!xv) diffs.push(`${p}: unexpected xattr ${n} (${fmtValue(av)})`);
        else if (!xv.equals(av)) d(`xattr ${n}`, fmtValue(xv), fmtValue(av));
      }
    }
  }
  return diffs;
}

/** Throws with the first `max` differences (and the total count) unless the trees match. */
export function assertSameTree(expected: TreeSnapshot, actual: TreeSnapshot, opts: CompareOptions = {}, max = 20): void {
  const diffs = compareTrees(expected, actual, opts);
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, max).map((l) => '  ' + l).join('\n');
  const more = diffs.length > max ? `\n  ... and ${diffs.length - max} more` : '';
  throw new Error(
    `trees differ (${diffs.length} difference${diffs.length === 1 ? '' : 's'})\n` +
      `  expected: ${expected.root}\n  actual:   ${actual.root}\n${shown}${more}`,
  );
}
