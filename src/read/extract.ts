// extract(image, dir): restore everything a mount shows: bytes, modes, owners, ns times, xattrs,
// hard links, symlinks, device nodes, FIFOs and sockets, in one pass and without spawning anything.
//
// Confined by construction: every entry is created and changed relative to the handle of its parent
// directory (openat/mkdirat/mknodat/symlinkat/linkat/fchownat/utimensat), each directory handle opened
// by us with O_NOFOLLOW|O_DIRECTORY right after we created it, and each name checked (no '/', NUL, '.',
// '..' or empty). No path string is ever re-parsed by us or by another program, so a symlink in the
// image (or a name such as `L\` beside `L\057x`) can never steer a write outside `dir`.
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
import { UserError, CorruptImageError } from '../errors.js';
import { MAX_DEPTH, type ErofsImage, type InodeInfo, type XattrEntry } from './image.js';
import { showPath } from '../show-path.js';
import { S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, INODE_FLAT_PLAIN, INODE_FLAT_INLINE } from '../format/constants.js';
import * as sys from '../sys/libc.js';
import { systemClock, type Clock } from '../sys/clock.js';
import type { Progress } from '../progress.js';
import { ExtractPool, defaultExtractWorkers } from './extract-pool.js';
import { NidTable } from './nid-table.js';
import { createMode, type RestoreRule } from './restore-rule.js';

export interface ExtractOptions {
  /** Restore owners (default: when running as root). */
  owners?: boolean;
  xattrs?: boolean;
  warn?: (msg: string) => void;
  /**
   * Worker threads that decode compressed files and write them while this thread creates the
   * entries (default: defaultExtractWorkers(), one per idle core (the 1-minute load, or fewer threads runnable now), at most one fewer than
   * cores and at most 4; 0: all on this thread). Started only once an image
   * has shown a MiB of compressed data, and by default never for an image under SMALL_IMAGE_BYTES:
   * a small image does not pay their start-up.
   */
  workers?: number;
  /** Called as work advances (phase 'extract'; the CLI draws a progress line from it on a terminal). */
  progress?: (p: Progress) => void;
  /** Time for progress throttling (default: the system clock). */
  clock?: Clock;
}

export interface ExtractStats {
  files: number;
  dirs: number;
  bytes: number;
  /** Worker threads started (0: everything was written on the calling thread). */
  workers: number;
}

/**
 * An entry's path below the target, for messages: the bytes, or a function that makes them (extract
 * joins a name to its directory's path only when a message needs it, not for every entry).
 */
export type RelPath = Buffer | (() => Buffer);
const relBytes = (rel: RelPath): Buffer => (typeof rel === 'function' ? rel() : rel);

/** errno failures (ENOSPC, EPERM, EEXIST...) become a UserError naming the path. */
function fsError(e: unknown, rel: RelPath): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || typeof err.syscall !== 'string') return e;
  return new UserError(`extract: /${showPath(relBytes(rel))}: ${err.syscall} failed: ${err.code}`);
}

/** Linux dev_t from major/minor (glibc gnu_dev_makedev). */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

const DIR_OPEN = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW;
/** Compressed bytes decoded on this thread before workers are started (their start-up costs ~40 ms). */
const WORKERS_AFTER_BYTES = 1 << 20;
/**
 * Images smaller than this are extracted on this thread alone (unless workers are asked for): a
 * worker's start-up (a thread, an isolate, our modules loaded again: ~40 ms of CPU) costs more than
 * it can take over (the tricky tree, 3.5 MB with lz4: 0.16 -> 0.14 s of CPU for the whole command).
 */
const SMALL_IMAGE_BYTES = 16 << 20;
/**
 * A compressed file is written on the main thread when the workers already hold this many bytes: the
 * main thread would otherwise wait for them at the end (LZ4 corpus, 2 cores: 0.89 s -> 0.78 s).
 */
const BACKLOG_LIMIT = 4 << 20;
/** Decoded data is written in runs of this size, not one extent (a few KiB) at a time. */
const GATHER_BYTES = 1 << 20;
let gather: Buffer | undefined;

/**
 * Serve the image's small reads (inodes, map indexes, pclusters of a few KiB) from windows of
 * `big` bytes read at once (`small` for metadata, readAt): extract reads the image mostly forward,
 * and a pread per 4 KiB pcluster cost more than its decoding. readAt answers with a fresh copy (callers may keep or change it),
 * readView with a view of the window, valid until the next read (a pcluster that is decoded at once
 * needs no buffer of its own).
 */
export function readAhead(img: ErofsImage, big: number, small = Math.min(big, META_WINDOW)): () => void {
  const own = img.readAt;
  const direct = own.bind(img);
  // A few windows, least recently used replaced: a file's map index (beside its inode) and its
  // pclusters (in the data area) are read in turns, and must not evict each other.
  const wins: { at: number; buf: Buffer<ArrayBufferLike> }[] = [];
  /**
   * The window holding [off, off + len), made the most recently used (read first if none does);
   * null: read directly (as large as a window, or out of bounds: readAt's checks and message).
   */
  const windowOf = (off: number, len: number, where: string | number, bytes: number): { at: number; buf: Buffer<ArrayBufferLike> } | null => {
    if (len >= bytes) return null;
    // A loop, not findIndex with an arrow: a closure per read.
    let k = -1;
    for (let i = 0; i < wins.length; i++) if (off >= wins[i].at && off + len <= wins[i].at + wins[i].buf.length) { k = i; break; }
    if (k < 0) {
      // Bounds are the reader's to check (it names the reference); a window never runs past the end.
      if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > img.length) return null;
      const n = Math.min(bytes, img.length - off);
      // The least recently used window's buffer is read into again (a view of it lives only until
      // this read): a fresh 64 KiB buffer per window was most of a worker's garbage collection.
      const old = wins.length === READ_WINDOWS ? wins.pop()! : undefined;
      let buf: Buffer;
      if (old && old.buf.length === n) {
        buf = old.buf;
        for (let got = 0; got < n;) {
          const r = fs.readSync(img.imageFd, buf, got, n - got, off + got);
          if (r === 0) throw new CorruptImageError('short read', typeof where === 'number' ? `nid ${where}` : where);
          got += r;
        }
      } else {
        const r = direct(off, n, typeof where === 'number' ? `nid ${where}` : where);
        buf = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
      }
      wins.unshift({ at: off, buf });
    } else if (k > 0) {
      wins.unshift(wins.splice(k, 1)[0]);
    }
    return wins[0];
  };
  const view = (off: number, len: number, where: string, bytes = big): Uint8Array => {
    const w = windowOf(off, len, where, bytes);
    if (!w) return direct(off, len, where);
    return w.buf.subarray(off - w.at, off - w.at + len);
  };
  img.metaWindow = (off: number, len: number, nid: number): Uint8Array => {
    const w = windowOf(off, len, nid, small);
    if (!w) {
      img.windowAt = 0;
      return direct(off, len, `nid ${nid}`);
    }
    img.windowAt = off - w.at;
    return w.buf;
  };
  img.readView = view;
  img.metaView = (off: number, len: number, where: string): Uint8Array => view(off, len, where, small);
  const cached = img.cacheInodes;
  // Each inode is asked for once (a hard link's later names by nid only).
  img.cacheInodes = false;
  img.readAt = (off: number, len: number, where: string): Uint8Array => {
    const v = view(off, len, where, small);
    if (len >= small) return v;
    const out = Buffer.allocUnsafe(len);
    out.set(v);
    return out;
  };
  return () => { img.readAt = own; img.readView = undefined; img.metaView = undefined; img.metaWindow = undefined; img.cacheInodes = cached; };
}
const READ_WINDOWS = 4;
/**
 * Window for metadata (inodes, xattrs, directory blocks, map indexes: readAt) where pclusters
 * (readView) get the full size: inodes lie between file data, and a 64 KiB window per inode copied
 * 513 MB of the uncompressed corpus (378 MB image) into memory to use a few KiB of each
 * (`pread64` of 64 KiB 7,829 times). Corpus uncompressed, CPU 676 -> 646 ms (median of 5, load 17).
 */
const META_WINDOW = 16 << 10;

const NO_XATTRS: XattrEntry[] = [];

/** The xattrs extract restores for an inode (none when disabled; hidden ones never). */
export function restorableXattrs(img: ErofsImage, ino: InodeInfo, withXattrs: boolean): XattrEntry[] {
  // Most inodes have none: asked here, the decoder is not even called (nor compiled into callers).
  if (!withXattrs || !ino.xattrSize) return NO_XATTRS;
  const xs = img.xattrs(ino).filter((x) => !x.hidden);
  // setxattr takes a C string: a NUL would cut the name into another one.
  for (const x of xs) if (x.name.includes(0)) throw new CorruptImageError('xattr name contains a NUL byte', `nid ${ino.nid}`);
  return xs;
}

function setXattrAt(set: () => void, name: Buffer, rel: RelPath): void {
  try {
    set();
  } catch (e) {
    if (e instanceof sys.SysError) throw new UserError(`extract: /${showPath(relBytes(rel))}: cannot set xattr ${showPath(name)}: ${e.code}`);
    throw e;
  }
}

/**
 * Owner, xattrs, mode, times of an inode we hold a descriptor for (regular files, directories),
 * created with mode `made`.
 */
function finishDescriptor(img: ErofsImage, fd: number, ino: InodeInfo, r: RestoreRule, made: number, rel: RelPath): void {
  // chown first: it clears setuid/setgid and security.capability, which come after it.
  if (r.owners && (ino.uid !== r.uid || ino.gid !== r.gid)) sys.fchown(fd, ino.uid, ino.gid);
  const xs = restorableXattrs(img, ino, r.xattrs);
  for (const x of xs) setXattrAt(() => sys.fsetxattr(fd, x.name, x.value), x.name, rel);
  // An access ACL sets the group bits from its mask: after xattrs the mode is set again.
  if (made !== (ino.mode & 0o7777) || xs.length) sys.fchmod(fd, ino.mode & 0o7777);
  sys.futimens(fd, ino.mtimeSec, ino.mtimeNsec);
}

/**
 * A regular file's bytes into `fd` (created empty), then its owner, xattrs, mode and times (after
 * the data: a write would clear setuid and move the times). Errors name /rel. Used on the main
 * thread and in extract workers alike.
 */
export function restoreFile(img: ErofsImage, fd: number, ino: InodeInfo, r: RestoreRule, rel: RelPath, onBytes: (n: number) => void): void {
  try {
    writeData(img, fd, ino, rel, onBytes);
    finishDescriptor(img, fd, ino, r, createMode(r, ino), rel);
  } catch (e) {
    throw fsError(e, rel);
  }
}

function writeData(img: ErofsImage, fd: number, ino: InodeInfo, rel: RelPath, onBytes: (n: number) => void): void {
  // Flat data goes from the image to the file in the kernel (sendfile), never through JavaScript.
  if ((ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) && sendfileFlat(img, fd, ino)) {
    onBytes(ino.size);
    return;
  }
  writeDecoded(img, fd, ino, rel, onBytes);
}

/**
 * sendfileAll of a flat inode's blocks and inline tail (img.flatRanges' ranges), without making the
 * ranges: their arrays were garbage of every file. The bounds were checked when the inode was read
 * (ErofsImage.checkLayout: blocks and tail inside the image, the tail inside its block).
 */
function sendfileFlat(img: ErofsImage, fd: number, ino: InodeInfo): boolean {
  const bs = img.blockSize;
  const inline = ino.datalayout === INODE_FLAT_INLINE;
  const tail = inline ? ino.size % bs : 0;
  const blockBytes = ino.size - tail;
  if (blockBytes && !sys.sendfile(fd, img.imageFd, ino.u * bs, blockBytes)) return false;
  if (!tail) return true;
  const tailAt = ino.iloc + ino.isize + ino.xattrSize;
  // An inline tail (after the inode and its xattrs, in the block the inode was just read from)
  // is written from that read-ahead window: a pwrite of a few KiB costs the kernel ~1 µs less than
  // a sendfile (10,659 of the corpus's 17,219 files are only a tail, 6,556 more end with one).
  if (img.metaWindow) {
    const w = img.metaWindow(tailAt, tail, ino.nid);
    sys.pwriteAll(fd, w.subarray(img.windowAt, img.windowAt + tail), blockBytes);
    return true;
  }
  // false: the caller writes the whole file again from offset 0 (positioned writes over these).
  return sys.sendfile(fd, img.imageFd, tailAt, tail);
}

/**
 * Data read through JavaScript (compressed, chunk-based, or where the kernel cannot copy), gathered
 * into 1 MiB writes. Apart from writeData: its closure's variables made V8 allocate a context at the
 * entry of every call, flat files included.
 */
function writeDecoded(img: ErofsImage, fd: number, ino: InodeInfo, rel: RelPath, onBytes: (n: number) => void): void {
  const buf = (gather ??= Buffer.allocUnsafe(GATHER_BYTES));
  let pos = 0;
  let fill = 0;
  const put = (b: Uint8Array, from: number, len: number): void => {
    let off = 0;
    while (off < len) off += fs.writeSync(fd, b, from + off, len - off, pos + off);
    pos += len;
    onBytes(len);
  };
  // Each chunk is written or copied before the next is asked for: decoded extents may share memory.
  for (const chunk of img.data(ino, { transient: true })) {
    if (fill === 0 && chunk.length >= GATHER_BYTES) { put(chunk, 0, chunk.length); continue; }
    for (let c = 0; c < chunk.length;) {
      const n = Math.min(GATHER_BYTES - fill, chunk.length - c);
      buf.set(chunk.subarray(c, c + n), fill);
      fill += n;
      c += n;
      if (fill === GATHER_BYTES) { put(buf, 0, fill); fill = 0; }
    }
  }
  if (fill) put(buf, 0, fill);
  if (pos !== ino.size) throw new UserError(`/${showPath(relBytes(rel))}: decoded ${pos} bytes, i_size is ${ino.size}`);
}
const SLASH = Buffer.from('/');
const EMPTY: Buffer = Buffer.alloc(0);

export function extract(img: ErofsImage, target: string, opts: ExtractOptions = {}): ExtractStats {
  const owners = opts.owners ?? process.getuid?.() === 0;
  const withXattrs = opts.xattrs ?? true;
  const root = path.resolve(target);
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (e) {
    throw new UserError(`${target}: cannot create directory: ${(e as Error).message}`);
  }
  if (fs.readdirSync(root).length) throw new UserError(`${target}: directory is not empty`);
  const stats: ExtractStats = { files: 0, dirs: 0, bytes: 0, workers: 0 };
  // First name of every non-directory inode: later names of it become hard links (whatever i_nlink
  // says: a forged nlink of 1 must not turn one inode under many names into many full copies).
  // nid -> index into firstDir/firstNames (NidTable: a Map's look-ups showed in the profile).
  const firstName = new NidTable();
  const firstDir: Buffer[][] = [];
  const firstNames: Buffer[] = [];
  const seenDirs = new Set<number>();
  // The entry being made is relName in relDir (none: the directory itself); rel() joins them.
  let relDir: Buffer = EMPTY;
  let relName: Buffer | undefined;
  const rel = (): Buffer => (relName === undefined ? relDir : relDir.length ? Buffer.concat([relDir, SLASH, relName]) : relName);

  // Nodes must get their exact mode from mknodat (there is no handle to fchmod them through).
  let oldMask: number | undefined;
  try {
    oldMask = process.umask(0);
  } catch {
    // Worker threads cannot change the umask: nodes are chmod-ed by name below instead.
  }

  const xattrsOf = (ino: InodeInfo): XattrEntry[] => restorableXattrs(img, ino, withXattrs);

  let rule: RestoreRule = { owners, xattrs: withXattrs, uid: -1, gid: -1, exactMode: false };
  /** Directories are created 0700 (their entries must be creatable) and get their mode last. */
  const finishDir = (fd: number, ino: InodeInfo, made: number): void => finishDescriptor(img, fd, ino, rule, made, rel);
  const setXattr = (set: () => void, name: Buffer): void => setXattrAt(set, name, rel);

  /** The same for an entry reached by (directory handle, name): symlinks and device/FIFO/socket nodes. */
  const finishAt = (dirfd: number, name: Buffer, ino: InodeInfo): void => {
    if (owners && (ino.uid !== rule.uid || ino.gid !== rule.gid)) sys.lchownat(dirfd, name, ino.uid, ino.gid);
    const xs = xattrsOf(ino);
    if (xs.length) {
      // The l* call on /proc/self/fd/DIR/NAME: the directory is the handle we hold, NAME is not followed.
      const p = Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), name]);
      for (const x of xs) setXattr(() => sys.lsetxattr(p, x.name, x.value), x.name);
    }
    if (ino.kind !== 'lnk' && oldMask === undefined) fs.chmodSync(Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), name]), ino.mode & 0o7777);
    sys.lutimensat(dirfd, name, ino.mtimeSec, ino.mtimeNsec);
  };

  /**
   * An empty regular file with no xattrs to set and no setuid/setgid/sticky bit (chown would clear
   * them): mknodat(S_IFREG) with its final mode (umask is 0), owner and times by name, not through a
   * descriptor: 2 system calls instead of openat, futimens and close (the tricky tree's 3,000-entry
   * directory of empty files: ~9,000 -> ~6,000 calls). Same kernel path as open(O_CREAT|O_EXCL):
   * an existing name, a dangling symlink included, fails with EEXIST.
   */
  const makeEmptyFile = (dirfd: number, name: Buffer, ino: InodeInfo): void => {
    sys.mknodat(dirfd, name, S_IFREG | (ino.mode & 0o777), 0n);
    if (owners && (ino.uid !== rule.uid || ino.gid !== rule.gid)) sys.lchownat(dirfd, name, ino.uid, ino.gid);
    sys.lutimensat(dirfd, name, ino.mtimeSec, ino.mtimeNsec);
  };

  // Progress: files and bytes as they are written (a large file counts each MiB it writes).
  const clock = opts.clock ?? systemClock;
  const totalFiles = Number(img.sb.inos);
  let lastReport = -Infinity;
  let ownBytes = 0;
  const report = (force = false): void => {
    if (!opts.progress) return;
    const now = clock.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    stats.bytes = ownBytes + (pool?.bytesWritten() ?? 0);
    opts.progress({ phase: 'extract', files: stats.files + stats.dirs, totalFiles, bytes: stats.bytes, totalBytes: 0 });
  };
  const onBytes = (n: number): void => { ownBytes += n; report(); };

  // Compressed files go to worker threads once the image has shown enough compressed data.
  const wantWorkers = opts.workers ?? (img.length < SMALL_IMAGE_BYTES ? 0 : defaultExtractWorkers());
  let pool: ExtractPool | undefined;
  let inlineZBytes = 0;
  const toPool = (ino: InodeInfo): ExtractPool | undefined => {
    if (wantWorkers <= 0 || (ino.datalayout !== INODE_COMPRESSED_FULL && ino.datalayout !== INODE_COMPRESSED_COMPACT)) return undefined;
    if (!pool) {
      inlineZBytes += ino.size;
      if (inlineZBytes < WORKERS_AFTER_BYTES) return undefined;
      pool = new ExtractPool(img, wantWorkers, rule);
      stats.workers = wantWorkers;
    }
    return pool;
  };

  /** Open the directory at `names` below the root, one O_NOFOLLOW step at a time. */
  const openDirChain = (rootfd: number, names: Buffer[]): number => {
    let fd = rootfd;
    for (const n of names) {
      const next = sys.openat(fd, n, DIR_OPEN);
      if (fd !== rootfd) sys.close(fd);
      fd = next;
    }
    return fd;
  };

  const extractDir = (rootfd: number, dirfd: number, dir: InodeInfo, parentNid: number, chain: Buffer[], dirRel: Buffer, depth: number): void => {
    if (depth > MAX_DEPTH) throw new CorruptImageError('directory nesting too deep', `nid ${dir.nid}`);
    const where = `nid ${dir.nid}`;
    const entries = img.readdir(dir, parentNid);
    // Indexed, not for-of: an array iterator per directory and a call per entry before Maglev.
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      // A view of the entry's own copy of its name (decodeDirBlock slices each), not another copy.
      const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name.buffer, e.name.byteOffset, e.name.length);
      if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) continue;
      // Usable as one entry of one directory: readdir refused '/' and NUL, decodeDirBlock an empty
      // name and one longer than EROFS_NAME_LEN, and "." and ".." are skipped above (no second scan
      // of every name here: ~5 % of the tricky tree's extract, a 3,000-entry directory).
      relDir = dirRel;
      relName = name;
      const ino = img.inode(e.nid);
      img.checkEntryType(e, ino, where);
      if (ino.kind === 'dir') {
        if (seenDirs.has(ino.nid)) throw new CorruptImageError('directory reached twice (loop or hard-linked directory)', `nid ${ino.nid}`);
        seenDirs.add(ino.nid);
        let sub: number;
        try {
          sys.mkdirat(dirfd, name, 0o700);
          sub = sys.openat(dirfd, name, DIR_OPEN);
        } catch (err) {
          throw fsError(err, rel);
        }
        try {
          stats.dirs++;
          extractDir(rootfd, sub, ino, dir.nid, [...chain, name], rel(), depth + 1);
          relDir = dirRel;
          relName = name;
          // Last, so that creating its entries does not change its times, and a read-only mode
          // does not stop them from being created.
          try { finishDir(sub, ino, 0o700); } catch (err) { throw fsError(err, rel); }
        } finally {
          sys.close(sub);
        }
        continue;
      }
      try {
        const first = firstName.get(ino.nid);
        if (first >= 0) {
          const from = openDirChain(rootfd, firstDir[first]);
          try {
            sys.linkat(from, firstNames[first], dirfd, name);
          } finally {
            if (from !== rootfd) sys.close(from);
          }
          stats.files++;
          continue;
        }
        firstName.add(ino.nid, firstNames.length);
        firstDir.push(chain);
        firstNames.push(name);
        switch (ino.kind) {
          case 'reg': {
            if (ino.size === 0 && rule.exactMode && (ino.mode & 0o7000) === 0 && xattrsOf(ino).length === 0) {
              makeEmptyFile(dirfd, name, ino);
              break;
            }
            const fd = sys.openat(dirfd, name, sys.O_WRONLY | sys.O_CREAT | sys.O_EXCL | sys.O_NOFOLLOW | sys.O_NOCTTY, createMode(rule, ino));
            const p = toPool(ino);
            // The worker writes the data, then owner, xattrs, mode and times, and closes fd (unless
            // the workers are behind: then this thread writes it).
            if (p && p.backlog() < BACKLOG_LIMIT) { p.submit(fd, ino, rel()); break; }
            try {
              restoreFile(img, fd, ino, rule, rel, onBytes);
            } finally {
              sys.close(fd);
            }
            break;
          }
          case 'lnk':
            sys.symlinkat(img.readlink(ino), dirfd, name);
            finishAt(dirfd, name, ino);
            break;
          default: {
            const type = ino.kind === 'chr' ? S_IFCHR : ino.kind === 'blk' ? S_IFBLK : ino.kind === 'fifo' ? S_IFIFO : S_IFSOCK;
            const dev = ino.kind === 'chr' || ino.kind === 'blk' ? makedev(ino.rdev.major, ino.rdev.minor) : 0n;
            sys.mknodat(dirfd, name, type | (ino.mode & 0o7777), dev);
            finishAt(dirfd, name, ino);
          }
        }
        stats.files++;
        report();
      } catch (err) {
        throw fsError(err, rel);
      }
    }
  };

  let rootfd = -1;
  const unReadAhead = readAhead(img, 64 << 10);
  try {
    rootfd = sys.openat(sys.AT_FDCWD, Buffer.from(root), sys.O_RDONLY | sys.O_DIRECTORY);
    // Below a setgid directory new entries take its group (and new directories the bit, until
    // their own mode is set at the end).
    const rootStat = fs.fstatSync(rootfd);
    rule = {
      owners, xattrs: withXattrs, uid: process.geteuid?.() ?? -1,
      gid: rootStat.mode & 0o2000 ? rootStat.gid : process.getegid?.() ?? -1, exactMode: oldMask !== undefined,
    };
    const top = img.inode(img.rootNid);
    if (top.kind !== 'dir') throw new CorruptImageError('root is not a directory', `nid ${top.nid}`);
    seenDirs.add(top.nid);
    stats.dirs++;
    extractDir(rootfd, rootfd, top, top.nid, [], EMPTY, 0);
    // Every file handed to a worker written and closed (or the first failure, in walk order).
    pool?.finish();
    relDir = EMPTY;
    relName = undefined;
    // The root's mode as it was (an existing empty directory) is not ours: always set.
    finishDir(rootfd, top, -1);
    report(true);
  } catch (e) {
    throw fsError(e, rel);
  } finally {
    // On a failure: wait for the files in flight, so no descriptor or worker outlives the call.
    pool?.close();
    if (rootfd >= 0) fs.closeSync(rootfd);
    if (oldMask !== undefined) process.umask(oldMask);
    unReadAhead();
  }
  stats.bytes = ownBytes + (pool?.bytesWritten() ?? 0);
  return stats;
}
