// Scan a directory into the tree model: lstat (ns times), names as bytes, hard links by (dev, ino),
// xattrs read per inode as the tree is walked (xattrs-read.ts), exclusions by relative path.
// The walk goes in the writer's visit order (a directory's entries in name order, then its
// subdirectories: plan/visit-order.ts), whatever order readdir returns, so that each regular file
// can be handed to the workers as it is found (ScanOptions.onFile) in the order the writer takes them.
// The calls stay synchronous: with the tree in the page cache, an lstat through libuv's pool costs the
// main thread more than the syscall itself (measured on the bench corpus: 18,741 lstat calls, 50-60
// ms of main-thread CPU synchronous, 70-100 ms of process CPU and twice the wall time in callbacks).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError, errnoReason } from '../errors.js';
import { NAME_LEN } from '../format/constants.js';
import { type Inode, type Dentry, newInode, mtimeSecOf, sortedEntries, compareLatin1, NO_XATTRS } from './tree.js';
import { kindOfMode } from '../format/file-kind.js';
import { showPath } from '../show-path.js';
import { XattrReader } from './xattrs-read.js';

export interface ScanOptions {
  /** Read xattrs (false for mkfs.erofs `-x -1`). */
  xattrs: boolean;
  /** Relative paths (no leading '/') to leave out, with everything below them. */
  excludePaths: readonly string[];
  excludeRegexes: readonly RegExp[];
  /** Absolute path of the output image, so a build into its own source skips it. */
  outputPath?: string;
  /** Called for things worth a warning (unsupported xattr names, skipped output file). */
  warn?: (msg: string) => void;
  /** Called now and then with the number of entries scanned so far. */
  progress?: (entries: number) => void;
  /** Keep each regular file's stat identity (Inode.statId), for the --cache stat index. */
  statIds?: boolean;
  /**
   * Called with each regular file at its first name, in the writer's visit order (see the head of
   * this file), as soon as its inode is made: its work can start while the walk goes on.
   */
  onFile?: (inode: Inode) => void;
  /** Tests: the order readdir's names come in (to check that nothing depends on it). */
  readdirOrder?: (names: string[]) => string[];
}

/** Entries scanned between yields to the event loop (worker results must get in meanwhile). */
const YIELD_EVERY = 512;

/** Scan `root` (a directory) into a tree. Throws UserError naming the path on any problem. */
export async function scanDirectory(root: string, opts: ScanOptions): Promise<Inode> {
  const abs = path.resolve(root);
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(abs, { bigint: true });
  } catch (e) {
    throw new UserError(`${root}: ${errnoReason(e)}`);
  }
  if (!st.isDirectory()) throw new UserError(`${root}: not a directory (use --tar for an archive)`);
  const xattrReader = opts.xattrs ? new XattrReader() : undefined;
  const hardlinks = new Map<string, Inode>();
  const rootBuf = Buffer.from(abs);
  const outputAbs = opts.outputPath ? path.resolve(opts.outputPath) : undefined;
  const outputAbsLatin1 = outputAbs !== undefined ? Buffer.from(outputAbs).toString('latin1') : undefined;
  // An earlier image may also be reached by another spelling (a symlinked directory): match its identity too.
  let outputStat: fs.BigIntStats | undefined;
  try {
    if (outputAbs !== undefined) outputStat = fs.statSync(outputAbs, { bigint: true, throwIfNoEntry: false });
  } catch {
    // Unreachable output path: writing the image will fail with a clear message.
  }

  /** `p` is the path's bytes; `name` its last part (latin1), in `parent`. */
  const makeInode = (p: Buffer, s: fs.BigIntStats, name: string, parent: Inode | undefined): Inode => {
    const mode = Number(s.mode);
    const kind = kindOfMode(mode);
    if (!kind) throw new UserError(`${showPath(p)}: unsupported file type (mode 0${mode.toString(8)})`);
    const rdev = Number(s.rdev);
    const inode = newInode({
      kind, mode, uid: Number(s.uid), gid: Number(s.gid),
      mtimeSec: mtimeSecOf(s.mtimeNs / 1_000_000_000n - (s.mtimeNs % 1_000_000_000n < 0n ? 1n : 0n), showPath(p)),
      mtimeNsec: Number(((s.mtimeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n),
      size: 0,
      // Linux dev_t: major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31 (glibc gnu_dev_major/minor).
      rdevMajor: ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff),
      rdevMinor: (rdev & 0xff) | ((rdev >>> 12) & ~0xff),
      xattrs: xattrReader ? xattrReader.read(p) : NO_XATTRS, links: 1,
    }, name, parent);
    if (kind === 'reg') {
      if (s.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`${showPath(p)}: file too large`);
      inode.size = Number(s.size);
      if (opts.statIds) inode.statId = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } else if (kind === 'lnk') {
      let target: Buffer;
      try {
        target = fs.readlinkSync(p, { encoding: 'buffer' });
      } catch (e) {
        throw new UserError(`${showPath(p)}: cannot read symlink: ${errnoReason(e)}`);
      }
      inode.target = target;
      inode.size = target.length;
    }
    return inode;
  };

  let scanned = 0;
  const excluded = (rel: string): boolean =>
    opts.excludePaths.includes(rel) || opts.excludeRegexes.some((re) => re.test(rel));

  let sinceYield = 0;
  const scanDir = async (dirPath: string, dirInode: Inode, relPrefix: string): Promise<void> => {
    let names: string[];
    try {
      // latin1: one char per byte, so names of any bytes survive and compare bytewise.
      names = fs.readdirSync(Buffer.from(dirPath, 'latin1'), { encoding: 'latin1' });
    } catch (e) {
      throw new UserError(`${showPath(dirPath)}: cannot read directory: ${errnoReason(e)}`);
    }
    if (opts.readdirOrder) names = opts.readdirOrder(names);
    // Name order first: inodes are then made (and hard links resolved) in visit order.
    names.sort(compareLatin1);
    const dentries: Dentry[] = [];
    const subdirs: { ps: string; inode: Inode; rel: string }[] = [];
    for (const name of names) {
      const ps = dirPath + '/' + name;
      const p = Buffer.from(ps, 'latin1');
      if (name.length > NAME_LEN) throw new UserError(`${showPath(p)}: name longer than ${NAME_LEN} bytes`);
      const rel = relPrefix + Buffer.from(name, 'latin1').toString('utf8');
      if (excluded(rel)) continue;
      let s: fs.BigIntStats;
      try {
        s = fs.lstatSync(p, { bigint: true });
      } catch (e) {
        throw new UserError(`${showPath(p)}: ${errnoReason(e)}`);
      }
      if (outputAbs && s.isFile() && (ps === outputAbsLatin1 || (outputStat && s.ino === outputStat.ino && s.dev === outputStat.dev))) {
        opts.warn?.(`${showPath(p)}: skipping the output image inside the source tree`);
        continue;
      }
      let inode: Inode;
      const isDir = s.isDirectory();
      const key = !isDir && s.nlink > 1n ? `${s.dev}:${s.ino}` : '';
      const seen = key ? hardlinks.get(key) : undefined;
      if (seen) {
        seen.links++;
        inode = seen;
      } else {
        inode = makeInode(p, s, name, dirInode);
        if (key) hardlinks.set(key, inode);
        if (isDir) subdirs.push({ ps, inode, rel: rel + '/' });
        else if (inode.kind === 'reg') opts.onFile?.(inode);
      }
      dentries.push({ name, inode });
      if ((++scanned & 1023) === 0) opts.progress?.(scanned);
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    dirInode.entries = sortedEntries(dentries);
    for (const d of subdirs) await scanDir(d.ps, d.inode, d.rel);
  };

  const rootLatin1 = rootBuf.toString('latin1');
  // The root is named after its path, so pathOf() gives every inode's path from its names.
  const rootInode = makeInode(rootBuf, st, rootLatin1, undefined);
  await scanDir(rootLatin1, rootInode, '');
  return rootInode;
}
