// extract(image, dir): restore everything a mount shows: bytes, modes, owners, ns times, xattrs,
// hard links, symlinks, device nodes, FIFOs and sockets. Never writes outside `dir`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { UserError } from '../errors.js';
import type { ErofsImage, InodeInfo } from './image.js';
import { showPath } from '../source/tree.js';

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

function run(cmd: string, args: string[], input?: Buffer): void {
  const r = spawnSync(cmd, args, { input, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  if (r.error) throw new UserError(`extract: cannot run ${cmd}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : r.error.message}`);
  if (r.status !== 0) throw new UserError(`extract: ${cmd} failed: ${r.stderr.toString().trim().split('\n')[0]}`);
}

/** errno failures (ENAMETOOLONG on deep trees, ENOSPC, EEXIST...) become a UserError naming the path. */
function fsError(e: unknown, rel: Buffer): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || typeof err.syscall !== 'string') return e;
  return new UserError(`extract: /${showPath(rel)}: ${err.syscall} failed: ${err.code}`);
}

/** getfattr-style quoting for setfattr --restore: printable ASCII as is, the rest \ooo. */
function quote(b: Buffer): string {
  let s = '';
  for (const c of b) s += c > 0x20 && c < 0x7f && c !== 0x5c && c !== 0x3d && c !== 0x22 ? String.fromCharCode(c) : c === 0x5c ? '\\\\' : `\\${c.toString(8).padStart(3, '0')}`;
  return s;
}

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
  const rootBuf = Buffer.from(root);
  const links = new Map<number, Buffer>();
  const stats: ExtractStats = { files: 0, dirs: 0, bytes: 0 };
  const dirs: { p: Buffer; ino: InodeInfo }[] = [];
  const timeGroups = new Map<string, Buffer[]>();
  const xattrScript: string[] = [];
  const later: { p: Buffer; ino: InodeInfo }[] = [];
  let scratchDir: string | undefined;
  const scratch = () => (scratchDir ??= fs.mkdtempSync(path.join(root, '.erofs-forge-extract-')));

  let current: Buffer = Buffer.alloc(0);
  const visit = (rel: Buffer, ino: InodeInfo): void => {
    current = rel;
    // Names were checked by the reader: no '/', no NUL, never "." or "..": every path stays under root.
    const p = rel.length ? Buffer.concat([rootBuf, Buffer.from('/'), rel]) : rootBuf;
    if (rel.length) {
      const first = links.get(ino.nid);
      if (first && ino.kind !== 'dir') {
        fs.linkSync(first, p);
        return;
      }
      switch (ino.kind) {
        case 'dir': fs.mkdirSync(p, 0o700); break;
        case 'reg': {
          const fd = fs.openSync(p, 'wx', 0o600);
          try {
            let pos = 0;
            for (const chunk of img.data(ino)) {
              fs.writeSync(fd, chunk, 0, chunk.length, pos);
              pos += chunk.length;
            }
            if (pos !== ino.size) throw new UserError(`/${rel}: decoded ${pos} bytes, i_size is ${ino.size}`);
            fs.ftruncateSync(fd, ino.size);
          } finally {
            fs.closeSync(fd);
          }
          stats.bytes += ino.size;
          break;
        }
        case 'lnk': fs.symlinkSync(img.readlink(ino), p); break;
        case 'fifo': case 'chr': case 'blk': case 'sock': {
          // Node has no mknod; the tools get an ASCII temp name (argv cannot carry non-UTF-8 bytes).
          const tmp = path.join(scratch(), `n${stats.files}`);
          if (ino.kind === 'fifo') run('mkfifo', ['-m', '600', '--', tmp]);
          else if (ino.kind === 'sock') run('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', tmp]);
          else run('mknod', ['-m', '600', '--', tmp, ino.kind === 'chr' ? 'c' : 'b', String(ino.rdev.major), String(ino.rdev.minor)]);
          fs.renameSync(tmp, p);
          break;
        }
      }
      if (ino.kind !== 'dir') stats.files++;
      // Every second name of an inode becomes a hard link, whatever i_nlink says: a forged nlink of 1
      // must not turn one inode under many names into many full copies.
      if (ino.kind !== 'dir') links.set(ino.nid, p);
    }
    if (ino.kind === 'dir') { dirs.push({ p, ino }); stats.dirs++; } else later.push({ p, ino });
    if (withXattrs) {
      const xs = img.xattrs(ino).filter((x) => !x.hidden);
      if (xs.length) {
        xattrScript.push(`# file: ${quote(p)}`);
        for (const x of xs) xattrScript.push(`${quote(x.name)}=0x${x.value.toString('hex')}`);
        xattrScript.push('');
      }
    }
  };
  try {
    img.walk(visit);
  } catch (e) {
    throw fsError(e, current);
  }

  if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });

  // Metadata last, deepest directories last so their times stick: owner, then mode (chown clears
  // setuid), xattrs, then times (touch keeps nanoseconds, which fs.utimes cannot).
  for (const { p, ino } of [...later, ...dirs.reverse()]) {
    try {
      if (owners) fs.lchownSync(p, ino.uid, ino.gid);
      if (ino.kind !== 'lnk') fs.chmodSync(p, ino.mode & 0o7777);
    } catch (e) {
      throw fsError(e, p.subarray(rootBuf.length + 1));
    }
    const key = touchTime(ino.mtimeSec, ino.mtimeNsec);
    let g = timeGroups.get(key);
    if (!g) timeGroups.set(key, (g = []));
    g.push(p);
  }
  if (xattrScript.length) run('setfattr', ['-h', '--restore=-'], Buffer.from(xattrScript.join('\n') + '\n', 'latin1'));
  // xargs -0 passes path bytes through untouched.
  for (const [t, paths] of timeGroups) {
    const list = Buffer.concat(paths.flatMap((x) => [x, Buffer.from([0])]));
    run('xargs', ['-0', 'touch', '-h', '-c', '-d', t, '--'], list);
  }
  return stats;
}

/** "@S.N" for touch -d, which applies the sign to the whole number: -1.5 means 1.5 s before 1970. */
export function touchTime(sec: bigint, nsec: number): string {
  if (sec >= 0n || nsec === 0) return `@${sec}.${String(nsec).padStart(9, '0')}`;
  return `@-${-sec - 1n}.${String(1_000_000_000 - nsec).padStart(9, '0')}`;
}
