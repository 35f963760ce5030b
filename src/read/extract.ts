// extract(image, dir): restore everything a mount shows: bytes, modes, owners, ns times, xattrs,
// hard links, symlinks, device nodes, FIFOs and sockets, in one pass and without spawning anything.
//
// Confined by construction: every entry is created and changed relative to the handle of its parent
// directory (openat/mkdirat/mknodat/symlinkat/linkat/fchownat/utimensat), each directory handle opened
// by us with O_NOFOLLOW|O_DIRECTORY right after we created it, and each name checked (no '/', NUL, '.',
// '..' or empty). No path string is ever re-parsed by us or by another program, so a symlink in the
// image (or a name such as `L\` beside `L\057x`) can never steer a write outside `dir`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError, CorruptImageError } from '../errors.js';
import { MAX_DEPTH, type ErofsImage, type InodeInfo, type XattrEntry } from './image.js';
import { showPath } from '../show-path.js';
import { NAME_LEN, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK } from '../format/constants.js';
import * as sys from '../sys/libc.js';

export interface ExtractOptions {
  /** Restore owners (default: when running as root). */
  owners?: boolean;
  xattrs?: boolean;
  warn?: (msg: string) => void;
}

export interface ExtractStats {
  files: number;
  dirs: number;
  bytes: number;
}

/** errno failures (ENOSPC, EPERM, EEXIST...) become a UserError naming the path. */
function fsError(e: unknown, rel: Buffer): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || typeof err.syscall !== 'string') return e;
  return new UserError(`extract: /${showPath(rel)}: ${err.syscall} failed: ${err.code}`);
}

/** A name the kernel would take as one entry of one directory: anything else is refused. */
function checkName(name: Buffer, where: string): void {
  const bad = name.length === 0 || name.length > NAME_LEN || name.includes(0x2f) || name.includes(0)
    || (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
  if (bad) throw new CorruptImageError('unusable file name', where, JSON.stringify(name.toString('latin1')));
}

/** Linux dev_t from major/minor (glibc gnu_dev_makedev). */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

const DIR_OPEN = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW;
const SLASH = Buffer.from('/');

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
  const stats: ExtractStats = { files: 0, dirs: 0, bytes: 0 };
  // First name of every non-directory inode: later names of it become hard links (whatever i_nlink
  // says: a forged nlink of 1 must not turn one inode under many names into many full copies).
  const firstName = new Map<number, { dir: Buffer[]; name: Buffer }>();
  const seenDirs = new Set<number>();
  let rel = Buffer.alloc(0);

  // Nodes must get their exact mode from mknodat (there is no handle to fchmod them through).
  let oldMask: number | undefined;
  try {
    oldMask = process.umask(0);
  } catch {
    // Worker threads cannot change the umask: nodes are chmod-ed by name below instead.
  }

  const xattrsOf = (ino: InodeInfo): XattrEntry[] => {
    if (!withXattrs) return [];
    const xs = img.xattrs(ino).filter((x) => !x.hidden);
    // setxattr takes a C string: a NUL would cut the name into another one.
    for (const x of xs) if (x.name.includes(0)) throw new CorruptImageError('xattr name contains a NUL byte', `nid ${ino.nid}`);
    return xs;
  };

  /** Owner, xattrs, mode, times of an inode we hold a descriptor for (regular files, directories). */
  const finishFd = (fd: number, ino: InodeInfo): void => {
    // chown first: it clears setuid/setgid and security.capability, which come after it.
    if (owners) sys.fchown(fd, ino.uid, ino.gid);
    for (const x of xattrsOf(ino)) setXattr(() => sys.fsetxattr(fd, x.name, x.value), x.name);
    sys.fchmod(fd, ino.mode & 0o7777);
    sys.futimens(fd, ino.mtimeSec, ino.mtimeNsec);
  };

  const setXattr = (set: () => void, name: Buffer): void => {
    try {
      set();
    } catch (e) {
      if (e instanceof sys.SysError) throw new UserError(`extract: /${showPath(rel)}: cannot set xattr ${showPath(name)}: ${e.code}`);
      throw e;
    }
  };

  /** The same for an entry reached by (directory handle, name): symlinks and device/FIFO/socket nodes. */
  const finishAt = (dirfd: number, name: Buffer, ino: InodeInfo): void => {
    if (owners) sys.lchownat(dirfd, name, ino.uid, ino.gid);
    const xs = xattrsOf(ino);
    if (xs.length) {
      // The l* call on /proc/self/fd/DIR/NAME: the directory is the handle we hold, NAME is not followed.
      const p = Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), name]);
      for (const x of xs) setXattr(() => sys.lsetxattr(p, x.name, x.value), x.name);
    }
    if (ino.kind !== 'lnk' && oldMask === undefined) fs.chmodSync(Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), name]), ino.mode & 0o7777);
    sys.lutimensat(dirfd, name, ino.mtimeSec, ino.mtimeNsec);
  };

  const writeFile = (fd: number, ino: InodeInfo): void => {
    // Flat data goes from the image to the file in the kernel (sendfile), never through JavaScript.
    const ranges = img.flatRanges(ino);
    if (ranges && ranges.every(([off, len]) => sys.sendfile(fd, img.imageFd, off, len))) {
      stats.bytes += ino.size;
      return;
    }
    let pos = 0;
    for (const chunk of img.data(ino)) {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off, pos + off);
      pos += chunk.length;
    }
    if (pos !== ino.size) throw new UserError(`/${showPath(rel)}: decoded ${pos} bytes, i_size is ${ino.size}`);
    fs.ftruncateSync(fd, ino.size);
    stats.bytes += ino.size;
  };

  /** Open the directory at `names` below the root, one O_NOFOLLOW step at a time. */
  const openDirChain = (rootfd: number, names: Buffer[]): number => {
    let fd = rootfd;
    for (const n of names) {
      const next = sys.openat(fd, n, DIR_OPEN);
      if (fd !== rootfd) fs.closeSync(fd);
      fd = next;
    }
    return fd;
  };

  const extractDir = (rootfd: number, dirfd: number, dir: InodeInfo, parentNid: number, chain: Buffer[], depth: number): void => {
    if (depth > MAX_DEPTH) throw new CorruptImageError('directory nesting too deep', `nid ${dir.nid}`);
    const where = `nid ${dir.nid}`;
    const dirRel = rel;
    for (const e of img.readdir(dir, parentNid)) {
      const name = Buffer.from(e.name);
      if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) continue;
      checkName(name, where);
      rel = dirRel.length ? Buffer.concat([dirRel, SLASH, name]) : name;
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
          const subRel = rel;
          extractDir(rootfd, sub, ino, dir.nid, [...chain, name], depth + 1);
          rel = subRel;
          // Last, so that creating its entries does not change its times, and a read-only mode
          // does not stop them from being created.
          try { finishFd(sub, ino); } catch (err) { throw fsError(err, rel); }
        } finally {
          fs.closeSync(sub);
        }
        continue;
      }
      try {
        const first = firstName.get(ino.nid);
        if (first) {
          const from = openDirChain(rootfd, first.dir);
          try {
            sys.linkat(from, first.name, dirfd, name);
          } finally {
            if (from !== rootfd) fs.closeSync(from);
          }
          stats.files++;
          continue;
        }
        firstName.set(ino.nid, { dir: chain, name });
        switch (ino.kind) {
          case 'reg': {
            const fd = sys.openat(dirfd, name, sys.O_WRONLY | sys.O_CREAT | sys.O_EXCL | sys.O_NOFOLLOW | sys.O_NOCTTY, 0o600);
            try {
              writeFile(fd, ino);
              finishFd(fd, ino);
            } finally {
              fs.closeSync(fd);
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
      } catch (err) {
        throw fsError(err, rel);
      }
    }
  };

  let rootfd = -1;
  try {
    rootfd = sys.openat(sys.AT_FDCWD, Buffer.from(root), sys.O_RDONLY | sys.O_DIRECTORY);
    const top = img.inode(img.rootNid);
    if (top.kind !== 'dir') throw new CorruptImageError('root is not a directory', `nid ${top.nid}`);
    seenDirs.add(top.nid);
    stats.dirs++;
    extractDir(rootfd, rootfd, top, top.nid, [], 0);
    rel = Buffer.alloc(0);
    finishFd(rootfd, top);
  } catch (e) {
    throw fsError(e, rel);
  } finally {
    if (rootfd >= 0) fs.closeSync(rootfd);
    if (oldMask !== undefined) process.umask(oldMask);
  }
  return stats;
}
