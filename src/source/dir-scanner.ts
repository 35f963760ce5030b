// Scan a directory into the tree model: lstat (ns times), names as bytes, hard links by (dev, ino),
// xattrs read per inode as the tree is walked, exclusions by relative path. Directories are listed
// (dir-listing.ts: readdir, lstat, xattrs, symlink targets) ahead of time by walk threads once the
// tree proves big (dir-walk.ts); the tree is assembled here, on the main thread, in the writer's visit
// order (a directory's entries in name order, then its subdirectories: plan/visit-order.ts), whatever
// order readdir returns or the threads finish in, so that each regular file can be handed to the
// workers as it is found (ScanOptions.onFile) in the order the writer takes them. The system calls
// stay synchronous wherever they run: with the tree in the page cache, an lstat through libuv's pool
// costs the calling thread more than the syscall itself (measured on the bench corpus: 18,741 lstat
// calls, 50-60 ms of main-thread CPU synchronous, 70-100 ms of process CPU and twice the wall time
// in callbacks).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError, errnoReason } from '../errors.js';
import { type Inode, newInode, compareLatin1 } from './tree.js';
import { kindOfMode } from '../format/file-kind.js';
import { XattrReader } from './xattrs-read.js';
import { asBuffer, recordEntry, STRIDE, F_MODE, F_UID, F_GID, F_RDEV_MAJOR, F_RDEV_MINOR, F_SIZE, F_MTIME_SEC, F_MTIME_NSEC, type ListContext, type Listing } from './dir-listing.js';
import { DirWalk, NO_WALK_THREADS, type WalkThreads } from './dir-walk.js';


/**
 * A number read from the listing's Float64Array, made a small integer where it is one. A double read
 * from a typed array and stored in an object's field stays a heap number of its own (12-16 bytes each),
 * where the int32 of `x | 0` is stored in the field itself: on a tree of 1,000,000 files the inodes'
 * mode, owner, size, nsec and device fields took ~150-250 MB more than the lstat numbers they replaced
 * (peak RSS 509-547 -> 776 MB; with this 563-594 MB).
 */
function smi(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}

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
  /**
   * Called with every inode as soon as it is made (before onFile), at its first name in the order
   * mkfs.erofs fills them (a directory's entries, then its subdirectories): `rel` is its path below
   * the root, names as latin1 bytes joined by '/', '' for the root. It may change the inode's owner,
   * mode and xattrs (mkfs.erofs's per-file options: fs_config, file_contexts, id offsets).
   */
  onInode?: (inode: Inode, rel: string) => void;
  /** Every name of a hard-linked file becomes an inode of its own (mkfs.erofs --hard-dereference). */
  hardDereference?: boolean;
  /** Tests: the order readdir's names come in (to check that nothing depends on it). */
  readdirOrder?: (names: string[]) => string[];
  /** Walk threads listing directories ahead (none by default; a build: walkThreadsFor). */
  walkThreads?: WalkThreads;
  /** Tests: told at the end (also of a failed scan) how many directories the main thread and the walk threads listed. */
  walkCounts?: (c: { main: number; threads: number }) => void;
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
  const xattrs = new XattrReader();
  const hardlinks = new Map<string, Inode>();
  const rootBuf = Buffer.from(abs);
  const outputAbs = opts.outputPath ? path.resolve(opts.outputPath) : undefined;
  // An earlier image may also be reached by another spelling (a symlinked directory): match its identity too.
  let outputStat: fs.BigIntStats | undefined;
  try {
    if (outputAbs !== undefined) outputStat = fs.statSync(outputAbs, { bigint: true, throwIfNoEntry: false });
  } catch {
    // Unreachable output path: writing the image will fail with a clear message.
  }
  const cx: ListContext = {
    xattrs: opts.xattrs, excludePaths: opts.excludePaths, excludeRegexes: opts.excludeRegexes, statIds: !!opts.statIds,
    outputLatin1: outputAbs !== undefined ? Buffer.from(outputAbs).toString('latin1') : undefined,
    outputDev: outputStat?.dev, outputIno: outputStat?.ino,
  };

  /** The inode of entry `i` of listing `l`, named `name` in `parent`. */
  const inodeOf = (l: Listing, i: number, name: string, parent: Inode | undefined): Inode => {
    const o = i * STRIDE, num = l.num;
    const mode = num[o + F_MODE];
    const inode = newInode({
      kind: kindOfMode(mode)!, mode: smi(mode), uid: smi(num[o + F_UID]), gid: smi(num[o + F_GID]),
      mtimeSec: smi(num[o + F_MTIME_SEC]), mtimeNsec: smi(num[o + F_MTIME_NSEC]), size: smi(num[o + F_SIZE]),
      rdevMajor: smi(num[o + F_RDEV_MAJOR]), rdevMinor: smi(num[o + F_RDEV_MINOR]),
      xattrs: xattrs.intern(l.xattrs?.get(i)), links: 1,
    }, name, parent);
    const target = l.targets?.get(i);
    if (target) inode.target = asBuffer(target);
    if (opts.statIds && inode.kind === 'reg') inode.statId = l.statIds!.get(i);
    return inode;
  };

  const walk = new DirWalk(cx, opts.walkThreads ?? NO_WALK_THREADS);
  // Relative paths (UTF-8) are only for matching exclusions.
  const excluding = cx.excludePaths.length > 0 || cx.excludeRegexes.length > 0;
  let scanned = 0;
  let sinceYield = 0;
  const onInode = opts.onInode;
  const scanDir = async (dirPath: string, dirInode: Inode, relPrefix: string, relLatin1: string): Promise<void> => {
    const taken = walk.take(dirPath, relPrefix);
    const l = taken instanceof Promise ? await taken : taken;
    if (l.dirError !== undefined) throw new UserError(l.dirError);
    let order: number[] | undefined;
    if (opts.readdirOrder) {
      // The names as readdir might have given them, put back in name order (as a listing does).
      const index = new Map(l.names.map((n, i) => [n, i]));
      order = opts.readdirOrder([...l.names]).sort(compareLatin1).map((n) => index.get(n)!);
    }
    let warned = 0;
    // The listing's names are in bytewise order, and so are its entries taken in `order`: the
    // directory's entries are the names as listed, and their inodes in that order (no sort).
    const inodes = new Array<Inode>(l.names.length);
    const subdirs: { ps: string; inode: Inode; rel: string; relLatin1: string }[] = [];
    for (let k = 0; k < l.names.length; k++) {
      const i = order ? order[k] : k;
      while (l.warnings && warned < l.warnings.length && l.warnings[warned].at <= i) opts.warn?.(l.warnings[warned++].message);
      if (i === l.errorAt) throw new UserError(l.error!);
      const name = l.names[i];
      let inode: Inode;
      const key = opts.hardDereference ? undefined : l.links?.get(i);
      const seen = key !== undefined ? hardlinks.get(key) : undefined;
      if (seen) {
        seen.links++;
        inode = seen;
      } else {
        inode = inodeOf(l, i, name, dirInode);
        if (key !== undefined) hardlinks.set(key, inode);
        const rel = onInode ? relLatin1 + name : '';
        onInode?.(inode, rel);
        if (inode.kind === 'dir') subdirs.push({ ps: dirPath + '/' + name, inode, rel: excluding ? relPrefix + Buffer.from(name, 'latin1').toString('utf8') + '/' : '', relLatin1: onInode ? rel + '/' : '' });
        else if (inode.kind === 'reg') opts.onFile?.(inode);
      }
      inodes[k] = inode;
      if ((++scanned & 1023) === 0) opts.progress?.(scanned);
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    while (l.warnings && warned < l.warnings.length) opts.warn?.(l.warnings[warned++].message);
    dirInode.entries = { names: order ? order.map((i) => l.names[i]) : l.names, inodes };
    for (const d of subdirs) await scanDir(d.ps, d.inode, d.rel, d.relLatin1);
  };

  try {
    const rootLatin1 = rootBuf.toString('latin1');
    // The root is named after its path, so pathOf() gives every inode's path from its names.
    const rootListing: Listing = { names: [rootLatin1], num: new Float64Array(STRIDE) };
    const error = recordEntry(rootListing, 0, rootBuf, st, cx);
    if (error) throw new UserError(error);
    const rootInode = inodeOf(rootListing, 0, rootLatin1, undefined);
    onInode?.(rootInode, '');
    await scanDir(rootLatin1, rootInode, '', '');
    return rootInode;
  } finally {
    opts.walkCounts?.(walk.counts);
    walk.close();
  }
}
