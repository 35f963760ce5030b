// Scan a tar archive (a file or stdin, plain or gzip) into the tree model, as mkfs.erofs --tar=f does.
//
// Member data is never held in memory. An uncompressed archive on disk is referenced in place
// (DataSource 'range' into the archive: the writer reads file data in its own order, not archive
// order, so it needs random access). A stream (stdin, gzip) cannot be re-read, so member data goes
// into ONE spool file (O_EXCL, removed by cleanup() and on error or signal) and is referenced there.
// Sparse members are expanded into the spool with their holes left as holes (they read as zeros).
//
// Behaviour matched to mkfs.erofs 1.9.3 (checked by building archives with it and mounting):
//   - The root is mode 0777, mtime = build time (with its nanoseconds), unless the archive has a '.'
//     entry; mkfs takes uid/gid from the invoking user, we use 0 so images do not depend on who builds.
//   - Missing parent directories are created with mode 0755 plus the parent's group/other write bits,
//     and the parent's uid, gid and mtime at that moment (lib/rebuild.c: "same permissions as their
//     parent directories ... updated later" -- a later entry for the directory sets them).
//   - A later entry replaces an earlier one with the same path (as GNU tar extraction does); a later
//     directory entry for an existing directory updates its attributes and keeps its children.
//   - --aufs: ".wh.NAME" becomes an overlayfs whiteout NAME (char 0:0, permission bits 0, the
//     entry's owner and mtime), and its directory gets an empty "trusted.overlay.origin" xattr (kernel
//     commit b79e05aaa166: no direct iteration of a directory with whiteouts); ".wh..wh..opq" sets
//     "trusted.overlay.opaque=y" on its directory and makes no entry.
//   - --ovlfs-strip: "trusted.overlay.opaque" is dropped from every inode, whiteouts converted by
//     --aufs are dropped (with any other char 0:0 in their directories), and no origin xattr is added.
// Beyond mkfs.erofs 1.9.3 (which ignores them): SCHILY.acl.access/default become the binary
// system.posix_acl_* xattrs (what GNU tar --acls restores), and GNU sparse members are expanded
// (mkfs.erofs 1.9.3 drops old-GNU 'S' members, stores PAX 0.x sparse members as their packed data
// and PAX 1.0 ones as GNUSparseFile.PID/NAME with the map inside).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { S_IFDIR, S_IFCHR, NAME_LEN } from '../format/constants.js';
import { typeBitsOf, type FileKind } from '../format/file-kind.js';
import { liveTempFiles } from '../sys/cleanup.js';
import { type Inode, type Dentry, type Xattr, type DataSource, newInode, mtimeSecOf, sortedEntries } from './tree.js';
import { showPath } from '../show-path.js';
import {
  BLOCK, decodeHeader, decodeGnuSparseHeader, decodeGnuSparseExtension, parsePaxRecords, paxInteger, paxTime,
  type RawHeader, type PaxRecord, type SparseSegment,
} from './tar-header.js';
import { openTarInput, type ByteSource } from './tar-input.js';
import { aclTextToXattr, nssResolver, type NameResolver } from './posix-acl.js';

export interface TarScanOptions {
  /** 'auto' (default): gunzip when the input starts with 1f 8b; true: always; false: never. */
  gzip?: 'auto' | boolean;
  /** Convert aufs/OCI whiteouts (.wh.NAME, .wh..wh..opq) to the overlayfs form (mkfs.erofs --aufs). */
  aufs?: boolean;
  /** Drop overlayfs whiteouts and opaque xattrs (mkfs.erofs --ovlfs-strip). */
  ovlfsStrip?: boolean;
  warn?: (msg: string) => void;
  /** Time of the root and of missing parent directories (mkfs.erofs: the build time). Default: now. */
  buildTime?: { sec: bigint; nsec: number };
  /** Directory of the spool file for streamed input (default os.tmpdir()). */
  spoolDir?: string;
  /** User/group name lookup for ACL text (default: NSS, getpwnam/getgrnam). */
  resolveName?: NameResolver;
  /**
   * mkfs.erofs --tar=i: member data is not read, only where it lies in the archive (TarScan.index);
   * 'headerball' (--tar=headerball): the stream holds headers only, no member data follows them.
   */
  index?: 'tar' | 'headerball';
}

/** Where the data of an indexed archive lies (see TarScanOptions.index). */
export interface TarIndex {
  /** Regular files with data: byte offset of their data in the archive (-1 in a headerball: none). */
  offsets: Map<Inode, number>;
  /** Bytes of the archive read, up to and including its end-of-archive marker. */
  bytes: number;
}

export interface TarScan {
  tree: Inode;
  /** Bytes written to the spool file (0 when the archive is read in place). */
  spooledBytes: number;
  /** Remove the spool file. Call after the image is written (safe to call twice). */
  cleanup(): void;
  /** With options.index. */
  index?: TarIndex;
}

const MAX_META = 64 << 20;
const MAX_LONGNAME = 1 << 20;
const XATTR_OPAQUE = Buffer.from('trusted.overlay.opaque');
const XATTR_ORIGIN = Buffer.from('trusted.overlay.origin');
const WH_PREFIX = Buffer.from('.wh.');
const WH_OPAQUE = Buffer.from('.wh..wh..opq');
const ACL_ACCESS = Buffer.from('system.posix_acl_access');
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
const EMPTY: DataSource = { type: 'buffer', bytes: new Uint8Array(0) };

// ---- spool --------------------------------------------------------------------------------

/** One temporary file holding member data of a streamed archive, appended to, read back by range. */
class Spool {
  readonly path: string;
  private fd: number;
  size = 0;
  constructor(dir: string) {
    this.path = path.join(dir, `erofs-forge-tar-${process.pid}-${randomBytes(6).toString('hex')}.spool`);
    try {
      this.fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (e) {
      throw new UserError(`cannot create spool file ${this.path}: ${(e as Error).message}`);
    }
    liveTempFiles.add(this.path);
  }

  writeAt(chunk: Buffer, pos: number): void {
    let off = 0;
    try {
      while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off, pos + off);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UserError(`cannot write spool file ${this.path}: ${err.code === 'ENOSPC' ? 'no space left on device' : err.message}`);
    }
  }

  append(chunk: Buffer): void {
    this.writeAt(chunk, this.size);
    this.size += chunk.length;
  }

  /** Make the file at least `n` bytes long (a trailing hole of a sparse member). */
  extendTo(n: number): void {
    if (n <= this.size) return;
    try {
      fs.ftruncateSync(this.fd, n);
    } catch (e) {
      throw new UserError(`cannot extend spool file ${this.path}: ${(e as Error).message}`);
    }
    this.size = n;
  }

  remove(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = -1;
    }
    try { fs.unlinkSync(this.path); } catch { /* gone */ }
    liveTempFiles.delete(this.path);
  }
}

// ---- per-entry attribute overrides (PAX 'x', global 'g', GNU 'L'/'K') -----------------------

/** undefined: not given; null: explicitly unset by an empty PAX value (back to the header field). */
type Opt<T> = T | null | undefined;

interface Overrides {
  path: Opt<Buffer>;
  linkpath: Opt<Buffer>;
  size: Opt<number>;
  uid: Opt<number>;
  gid: Opt<number>;
  mtime: Opt<{ sec: bigint; nsec: number }>;
  devmajor: Opt<number>;
  devminor: Opt<number>;
  /** Keyed by the latin1 string of the name bytes; a later record with the same name wins. */
  xattrs: Map<string, Xattr>;
  aclAccess?: string;
  aclDefault?: string;
  sparse: { realSize?: number; map?: SparseSegment[]; name?: Buffer; major?: number; minor?: number; nextOffset?: number };
}

function newOverrides(): Overrides {
  return {
    path: undefined, linkpath: undefined, size: undefined, uid: undefined, gid: undefined, mtime: undefined,
    devmajor: undefined, devminor: undefined, xattrs: new Map(), sparse: {},
  };
}

function pick<T>(entry: Opt<T>, global?: Opt<T>): T | undefined {
  if (entry === null) return undefined;
  if (entry !== undefined) return entry;
  return global ?? undefined;
}

/** %XX decoding of LIBARCHIVE.xattr names. */
function urlDecode(b: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x25 && i + 2 < b.length) {
      const h = parseInt(b.subarray(i + 1, i + 3).toString('latin1'), 16);
      if (!Number.isNaN(h) && /^[0-9a-fA-F]{2}$/.test(b.subarray(i + 1, i + 3).toString('latin1'))) {
        out.push(h);
        i += 2;
        continue;
      }
    }
    out.push(b[i]);
  }
  return Buffer.from(out);
}

/**
 * GNU tar writes '%' and '=' in SCHILY.xattr names as %25 and %3D (a PAX keyword ends at the first
 * '=') and decodes exactly those two on extraction; other '%' sequences stay as they are.
 */
function gnuXattrName(b: Buffer): Buffer {
  if (!b.includes(0x25)) return b;
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x25 && b[i + 1] === 0x33 && b[i + 2] === 0x44) { out.push(0x3d); i += 2; continue; }
    if (b[i] === 0x25 && b[i + 1] === 0x32 && b[i + 2] === 0x35) { out.push(0x25); i += 2; continue; }
    out.push(b[i]);
  }
  return Buffer.from(out);
}

function setXattr(m: Map<string, Xattr>, name: Buffer, value: Buffer): void {
  m.set(name.toString('latin1'), { name, value });
}

/** Apply PAX records to `o`. Throws Error(reason) on a malformed value. */
function applyPax(records: PaxRecord[], o: Overrides): void {
  const int = (r: PaxRecord, min = 0): number | null => {
    if (r.value.length === 0) return null;
    const n = paxInteger(r.value);
    if (n === null || n < min) throw new Error(`invalid PAX ${r.key}="${r.value.toString('latin1')}"`);
    return n;
  };
  for (const r of records) {
    const k = r.key;
    if (k === 'path') o.path = r.value.length ? r.value : null;
    else if (k === 'linkpath') o.linkpath = r.value.length ? r.value : null;
    else if (k === 'size') o.size = int(r);
    else if (k === 'uid') o.uid = int(r);
    else if (k === 'gid') o.gid = int(r);
    else if (k === 'mtime') {
      if (!r.value.length) { o.mtime = null; continue; }
      const t = paxTime(r.value);
      if (!t) throw new Error(`invalid PAX mtime="${r.value.toString('latin1')}"`);
      o.mtime = t;
    } else if (k === 'SCHILY.devmajor') o.devmajor = int(r);
    else if (k === 'SCHILY.devminor') o.devminor = int(r);
    else if (k.startsWith('SCHILY.xattr.')) setXattr(o.xattrs, gnuXattrName(r.keyBytes.subarray(13)), r.value);
    else if (k.startsWith('LIBARCHIVE.xattr.')) {
      setXattr(o.xattrs, urlDecode(r.keyBytes.subarray(17)), Buffer.from(r.value.toString('latin1'), 'base64'));
    } else if (k === 'SCHILY.acl.access') o.aclAccess = r.value.toString('utf8');
    else if (k === 'SCHILY.acl.default') o.aclDefault = r.value.toString('utf8');
    else if (k === 'GNU.sparse.size' || k === 'GNU.sparse.realsize') o.sparse.realSize = int(r) ?? undefined;
    else if (k === 'GNU.sparse.name') o.sparse.name = r.value;
    else if (k === 'GNU.sparse.major') o.sparse.major = int(r) ?? undefined;
    else if (k === 'GNU.sparse.minor') o.sparse.minor = int(r) ?? undefined;
    else if (k === 'GNU.sparse.numblocks') o.sparse.map ??= [];
    else if (k === 'GNU.sparse.offset') o.sparse.nextOffset = int(r) ?? undefined; // format 0.0: repeated pairs, in order
    else if (k === 'GNU.sparse.numbytes') {
      if (o.sparse.nextOffset === undefined) throw new Error('GNU.sparse.numbytes without GNU.sparse.offset');
      (o.sparse.map ??= []).push({ offset: o.sparse.nextOffset, numbytes: int(r) ?? 0 });
      o.sparse.nextOffset = undefined;
    } else if (k === 'GNU.sparse.map') {
      // format 0.1: "offset,numbytes,offset,numbytes,..."
      const nums = r.value.toString('latin1').split(',').filter((s) => s !== '');
      if (nums.length % 2 || nums.some((s) => !/^\d+$/.test(s))) throw new Error('invalid GNU.sparse.map');
      o.sparse.map = [];
      for (let i = 0; i < nums.length; i += 2) o.sparse.map.push({ offset: Number(nums[i]), numbytes: Number(nums[i + 1]) });
    }
    // Everything else (atime, ctime, uname, gname, comment, hdrcharset, vendor keys) does not reach the image.
  }
}

// ---- paths --------------------------------------------------------------------------------

const DOT = 0x2e;
const SLASH = 0x2f;

/** Components of an archive path: leading '/' and './' dropped, '//' and '.' collapsed; null if it has '..'. */
function splitPath(p: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i < p.length && p[i] !== SLASH) continue;
    const c = p.subarray(start, i);
    start = i + 1;
    if (c.length === 0 || (c.length === 1 && c[0] === DOT)) continue;
    if (c.length === 2 && c[0] === DOT && c[1] === DOT) return null;
    out.push(Buffer.from(c));
  }
  return out;
}

const key = (name: Buffer): string => name.toString('latin1');

// ---- the scan -----------------------------------------------------------------------------

/**
 * Read a tar archive (`input` is a path, or '-' for stdin) into a tree. Throws UserError naming the
 * archive and the member (or the header offset) on malformed, truncated or unsupported input; the
 * spool file, if any, is removed before throwing.
 */
export async function scanTar(input: string, opts: TarScanOptions = {}): Promise<TarScan> {
  const inputName = input === '-' ? '<stdin>' : input;
  const warn = opts.warn ?? (() => {});
  const resolveName = opts.resolveName ?? nssResolver;
  const now = opts.buildTime ?? (() => {
    const ms = Date.now();
    return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 };
  })();

  const src = await openTarInput(input, opts.gzip ?? 'auto');
  let spool: Spool | undefined;
  const getSpool = (): Spool => (spool ??= new Spool(opts.spoolDir ?? os.tmpdir()));
  const cleanup = (): void => { spool?.remove(); };

  // Named '': paths in messages are the members' own ('.' for the root, see pathOf).
  const root = newInode({
    kind: 'dir', mode: S_IFDIR | 0o777, uid: 0, gid: 0, mtimeSec: mtimeSecOf(now.sec, `${inputName}: build time`), mtimeNsec: now.nsec,
    size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
  }, '', undefined);
  // Directory contents while scanning (name -> dentry), and per-inode xattr maps (a later value wins).
  const children = new Map<Inode, Map<string, Dentry>>([[root, new Map()]]);
  const xattrMaps = new Map<Inode, Map<string, Xattr>>([[root, new Map()]]);
  const whiteoutDirs = new Set<Inode>();
  const indexOffsets = new Map<Inode, number>();
  let pendingIndex: number | undefined;

  try {
    await readArchive();
    await src.finish();
  } catch (e) {
    src.close();
    cleanup();
    throw e;
  }
  src.close();
  const index = opts.index ? { offsets: indexOffsets, bytes: src.offset } : undefined;
  return { tree: finish(), spooledBytes: spool?.size ?? 0, cleanup, index };

  // -- helpers (closures over the scan state) --

  function truncated(what: string): UserError {
    return new UserError(`${inputName}: unexpected end of data in ${what}`);
  }

  async function readBody(size: number, limit: number, what: string, hdrOff: number): Promise<Buffer> {
    if (size > limit) throw new UserError(`${inputName}: ${what} of ${size} bytes at offset ${hdrOff} is too large`);
    const b = await src.read(size);
    if (b.length < size) throw truncated(`${what} at offset ${hdrOff}`);
    await skipPadding(size, `${what} at offset ${hdrOff}`);
    return b;
  }

  async function skipPadding(size: number, what: string): Promise<void> {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad && (await src.skip(pad)) < pad) throw truncated(what);
  }

  function newDir(parent: Inode, name: Buffer): Inode {
    // mkfs.erofs (lib/rebuild.c erofs_rebuild_mkdir): 0755 plus the parent's g+w/o+w, parent's owner and time.
    const inode = newInode({
      kind: 'dir', mode: S_IFDIR | 0o755 | (parent.mode & 0o022), uid: parent.uid, gid: parent.gid,
      mtimeSec: parent.mtimeSec, mtimeNsec: parent.mtimeNsec, size: 0, rdevMajor: 0, rdevMinor: 0,
      xattrs: [], links: 1,
    }, name.toString('latin1'), parent);
    children.set(inode, new Map());
    xattrMaps.set(inode, new Map());
    return inode;
  }

  /** The directory holding comps[0..n-1], creating missing ones; `member` names the entry for errors. */
  function parentOf(comps: Buffer[], member: string): Inode {
    let dir = root;
    for (let i = 0; i < comps.length - 1; i++) {
      const m = children.get(dir)!;
      const d = m.get(key(comps[i]));
      if (!d) {
        const inode = newDir(dir, comps[i]);
        m.set(key(comps[i]), { name: inode.name, inode });
        dir = inode;
      } else if (d.inode.kind !== 'dir') {
        throw new UserError(`${inputName}: ${member}: ${showPath(joinPath(comps.slice(0, i + 1)))} is not a directory`);
      } else {
        dir = d.inode;
      }
    }
    return dir;
  }

  /** The inode at an existing path, or undefined. */
  function lookup(comps: Buffer[]): Inode | undefined {
    let cur = root;
    for (const c of comps) {
      const d = children.get(cur)?.get(key(c));
      if (!d) return undefined;
      cur = d.inode;
    }
    return cur;
  }

  function mergeXattrs(inode: Inode, xs: Map<string, Xattr>): void {
    const m = xattrMaps.get(inode)!;
    for (const [k, x] of xs) m.set(k, x);
  }

  async function readArchive(): Promise<void> {
    let global = newOverrides();
    let pend = newOverrides();
    let pendingMeta = -1; // offset of an 'x', 'L' or 'K' header still waiting for its entry
    for (;;) {
      const hdrOff = src.offset;
      const block = await src.read(BLOCK);
      if (block.length === 0) {
        if (hdrOff === 0) throw new UserError(`${inputName}: empty input, not a tar archive`);
        if (pendingMeta >= 0) throw truncated(`the member announced by the extended header at offset ${pendingMeta}`);
        warn(`${inputName}: archive ends without an end-of-archive marker`);
        return;
      }
      if (block.length < BLOCK) {
        if (hdrOff === 0) throw new UserError(`${inputName}: ${notTar(block) ?? `not a tar archive (only ${block.length} bytes)`}`);
        throw truncated(`the member header at offset ${hdrOff}`);
      }
      const r = decodeHeader(block);
      if (r.kind === 'zero') {
        const next = await src.read(BLOCK);
        if (next.length === BLOCK && decodeHeader(next).kind !== 'zero') warn(`${inputName}: a lone zero block at offset ${hdrOff}; stopping there`);
        return;
      }
      if (r.kind === 'bad') {
        const packed = hdrOff === 0 ? notTar(block) : undefined;
        if (packed) throw new UserError(`${inputName}: ${packed}`);
        throw new UserError(`${inputName}: ${r.reason} at offset ${hdrOff} (corrupt or not a tar archive)`);
      }
      const h = r.header;
      const where = `member header at offset ${hdrOff}`;
      switch (h.type) {
        case 'x':
        case 'g': {
          const body = await readBody(h.size, MAX_META, 'PAX header', hdrOff);
          try {
            applyPax(parsePaxRecords(body), h.type === 'x' ? pend : global);
            if (h.type === 'x' && pendingMeta < 0) pendingMeta = hdrOff;
          } catch (e) {
            throw new UserError(`${inputName}: ${(e as Error).message} in the PAX header at offset ${hdrOff}`);
          }
          continue;
        }
        case 'L':
        case 'K': {
          const body = await readBody(h.size, MAX_LONGNAME, 'GNU long name', hdrOff);
          const nul = body.indexOf(0);
          const name = nul < 0 ? body : body.subarray(0, nul);
          if (h.type === 'L') pend.path = name;
          else pend.linkpath = name;
          if (pendingMeta < 0) pendingMeta = hdrOff;
          continue;
        }
        case 'V': // GNU volume label: nothing to extract
          if ((await src.skip(h.size)) < h.size) throw truncated(where);
          await skipPadding(h.size, where);
          pend = newOverrides();
          pendingMeta = -1;
          continue;
        case 'M':
          throw new UserError(`${inputName}: multi-volume continuation at offset ${hdrOff} is not supported`);
        default:
          await entry(h, pend, global, hdrOff, block);
          pend = newOverrides();
          pendingMeta = -1;
      }
    }
  }

  async function readGnuSparse(block: Buffer, p: Overrides, where: string): Promise<{ map: SparseSegment[]; realSize: number }> {
    try {
      const s = decodeGnuSparseHeader(block);
      let more = s.extended;
      while (more) {
        const ext = await src.read(BLOCK);
        if (ext.length < BLOCK) throw truncated(where);
        more = decodeGnuSparseExtension(ext, s.map);
      }
      return { map: s.map, realSize: p.sparse.realSize ?? s.realSize };
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${inputName}: ${where}: ${(e as Error).message}`);
    }
  }

  async function entry(h: RawHeader, p: Overrides, g: Overrides, hdrOff: number, block: Buffer): Promise<void> {
    const rawPath = p.sparse.name ?? pick(p.path) ?? h.name;
    const member = showPath(rawPath);
    const where = `${member} (member at offset ${hdrOff})`;
    const size = pick(p.size) ?? h.size;
    // Old GNU sparse: the map may continue in extension blocks between the header and the data.
    const gnuSparse = h.type === 'S' ? await readGnuSparse(block, p, where) : undefined;
    const skipData = async (): Promise<void> => {
      // A headerball carries no data for files and hard links (mkfs.erofs keeps its offset for '0', '1', '7').
      if (opts.index === 'headerball' && (h.type === '0' || h.type === '1' || h.type === '7' || h.type === '\0')) return;
      if ((await src.skip(size)) < size) throw truncated(where);
      await skipPadding(size, where);
    };

    let kind: FileKind | 'link';
    switch (h.type) {
      case '0': case '7': case 'S': kind = 'reg'; break;
      case '\0': kind = rawPath[rawPath.length - 1] === SLASH ? 'dir' : 'reg'; break; // v7: a trailing '/' meant a directory
      case '1': kind = 'link'; break;
      case '2': kind = 'lnk'; break;
      case '3': kind = 'chr'; break;
      case '4': kind = 'blk'; break;
      case '5': case 'D': kind = 'dir'; break; // 'D': GNU dumpdir; its data is a listing
      case '6': kind = 'fifo'; break;
      default:
        warn(`${inputName}: ${member}: unsupported entry type '${h.type}' (offset ${hdrOff}); skipped`);
        await skipData();
        return;
    }

    const comps = splitPath(rawPath);
    if (!comps) throw new UserError(`${inputName}: ${member}: path contains '..' (member at offset ${hdrOff})`);
    for (const c of comps) {
      if (c.length > NAME_LEN) throw new UserError(`${inputName}: ${member}: name longer than ${NAME_LEN} bytes`);
      if (c.includes(0)) throw new UserError(`${inputName}: ${member}: name contains a NUL byte`);
    }

    const uid = pick(p.uid, g.uid) ?? h.uid;
    const gid = pick(p.gid, g.gid) ?? h.gid;
    if (uid > 0xffffffff || gid > 0xffffffff) throw new UserError(`${inputName}: ${member}: uid/gid out of range`);
    const mtime = pick(p.mtime, g.mtime) ?? { sec: h.mtimeSec, nsec: 0 };
    const mtimeSec = mtimeSecOf(mtime.sec, `${inputName}: ${member}`);
    const xattrs = new Map(g.xattrs);
    for (const [k, x] of p.xattrs) xattrs.set(k, x);

    // OCI / aufs whiteouts.
    let whiteout = false;
    if (opts.aufs && comps.length) {
      const last = comps[comps.length - 1];
      if (last.equals(WH_OPAQUE)) {
        // mkfs.erofs 1.9.3 fails (ENOTDIR) on a top-level opaque marker; marking the root is the useful reading.
        const dir = parentOf(comps, member);
        setXattr(xattrMaps.get(dir)!, XATTR_OPAQUE, Buffer.from('y'));
        await skipData();
        return;
      }
      if (last.length > WH_PREFIX.length && last.subarray(0, WH_PREFIX.length).equals(WH_PREFIX)) {
        comps[comps.length - 1] = Buffer.from(last.subarray(WH_PREFIX.length));
        whiteout = true;
      }
    }

    if (comps.length === 0) {
      // '.', './' or '/': the root's own attributes.
      if (kind !== 'dir') throw new UserError(`${inputName}: ${member}: the archive root must be a directory`);
      root.mode = S_IFDIR | h.mode;
      root.uid = uid; root.gid = gid; root.mtimeSec = mtimeSec; root.mtimeNsec = mtime.nsec;
      mergeXattrs(root, xattrs);
      applyAcls(root, p, g, member);
      await skipData();
      return;
    }

    const parent = parentOf(comps, member);
    const name = comps[comps.length - 1];
    const dents = children.get(parent)!;
    const existing = dents.get(key(name));

    if (whiteout) {
      const inode = newInode({
        kind: 'chr', mode: S_IFCHR, uid, gid, mtimeSec, mtimeNsec: mtime.nsec, size: 0,
        rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
      }, name.toString('latin1'), parent);
      xattrMaps.set(inode, xattrs);
      dents.set(key(name), { name: name.toString('latin1'), inode });
      whiteoutDirs.add(parent);
      await skipData();
      return;
    }

    if (kind === 'link') {
      const linkRaw = pick(p.linkpath) ?? h.linkname;
      const target = splitPath(linkRaw);
      if (!target) throw new UserError(`${inputName}: ${member}: hard link target ${showPath(linkRaw)} contains '..'`);
      const inode = lookup(target);
      if (!inode || target.length === 0) throw new UserError(`${inputName}: ${member}: hard link target ${showPath(linkRaw)} not found (member at offset ${hdrOff})`);
      if (inode.kind === 'dir') throw new UserError(`${inputName}: ${member}: hard link to a directory ${showPath(linkRaw)}`);
      dents.set(key(name), { name: name.toString('latin1'), inode });
      await skipData();
      return;
    }

    if (kind === 'dir' && existing && existing.inode.kind === 'dir') {
      // Directory seen before (explicitly or as an implied parent): update it, keep its children.
      const d = existing.inode;
      d.mode = S_IFDIR | h.mode;
      d.uid = uid; d.gid = gid; d.mtimeSec = mtimeSec; d.mtimeNsec = mtime.nsec;
      mergeXattrs(d, xattrs);
      applyAcls(d, p, g, member);
      await skipData();
      return;
    }

    const inode = newInode({
      kind, mode: typeBitsOf(kind) | h.mode, uid, gid, mtimeSec, mtimeNsec: mtime.nsec,
      size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
    }, name.toString('latin1'), parent);
    xattrMaps.set(inode, xattrs);
    applyAcls(inode, p, g, member);

    if (kind === 'reg') {
      pendingIndex = undefined;
      const r = await regularData(p, size, gnuSparse, where);
      inode.size = r.size;
      inode.data = r.data;
      if (pendingIndex !== undefined) indexOffsets.set(inode, pendingIndex);
    } else {
      if (kind === 'dir') children.set(inode, new Map());
      if (kind === 'lnk') {
        inode.target = Buffer.from(pick(p.linkpath) ?? h.linkname);
        inode.size = inode.target.length;
      }
      if (kind === 'chr' || kind === 'blk') {
        inode.rdevMajor = pick(p.devmajor) ?? h.devmajor;
        inode.rdevMinor = pick(p.devminor) ?? h.devminor;
      }
      await skipData();
    }
    dents.set(key(name), { name: inode.name, inode });
  }

  function applyAcls(inode: Inode, p: Overrides, g: Overrides, member: string): void {
    const m = xattrMaps.get(inode)!;
    const access = p.aclAccess ?? g.aclAccess;
    const dflt = inode.kind === 'dir' ? p.aclDefault ?? g.aclDefault : undefined;
    for (const [text, which, name] of [[access, 'access', ACL_ACCESS], [dflt, 'default', ACL_DEFAULT]] as const) {
      if (text === undefined) continue;
      const r = aclTextToXattr(text, which, resolveName);
      if ('error' in r) warn(`${inputName}: ${member}: ${which} ACL not applied: ${r.error}`);
      else {
        if (r.value) setXattr(m, name, r.value);
        if (r.perms !== undefined) inode.mode = (inode.mode & ~0o777) | r.perms;
      }
    }
  }

  /** Read (or reference) a regular member's data; returns its size and where the writer finds it. */
  async function regularData(p: Overrides, size: number, gnuSparse: { map: SparseSegment[]; realSize: number } | undefined, where: string):
    Promise<{ size: number; data: DataSource }> {
    let map: SparseSegment[] | undefined;
    let realSize = size;
    let stored = size; // bytes of data following the header(s), before padding
    let consumed = 0; // of `stored`, already read (the PAX 1.0 map)
    if (gnuSparse) {
      ({ map, realSize } = gnuSparse);
    } else if (p.sparse.major === 1) {
      // PAX sparse 1.0: the map is decimal lines at the start of the data, padded to a block.
      const r = await readSparseMap10(stored, where);
      map = r.map;
      consumed = r.bytes;
      realSize = p.sparse.realSize ?? size;
    } else if (p.sparse.map) {
      map = p.sparse.map; // PAX sparse 0.0 / 0.1
      realSize = p.sparse.realSize ?? size;
    }

    if (opts.index) {
      // An index can only point at bytes stored as they read: a sparse member's are not.
      if (map || gnuSparse || p.sparse.major !== undefined) throw new UserError(`${inputName}: ${where}: sparse members cannot be indexed (--tar=i); use a full image (--tar=f)`);
      if (size === 0) return { size: 0, data: EMPTY };
      const offset = src.offset;
      // The data stays in the archive; a headerball has none after the header (mkfs.erofs headeronly mode).
      if (opts.index === 'tar') {
        if ((await src.skip(size)) < size) throw truncated(where);
        await skipPadding(size, where);
      }
      pendingIndex = opts.index === 'tar' ? offset : -1;
      return { size, data: EMPTY };
    }
    if (!map) {
      if (size === 0) {
        return { size: 0, data: EMPTY };
      }
      if (src.filePath) {
        const offset = src.offset;
        if ((await src.skip(size)) < size) throw truncated(where);
        await skipPadding(size, where);
        return { size, data: { type: 'range', path: src.filePath, offset } };
      }
      const sp = getSpool();
      const offset = sp.size;
      if ((await src.forEach(size, (c) => sp.append(c))) < size) throw truncated(where);
      await skipPadding(size, where);
      return { size, data: { type: 'range', path: sp.path, offset } };
    }

    // Sparse: check the map, then write each data segment at its place; holes stay holes.
    let total = 0;
    let prevEnd = 0;
    for (const s of map) {
      if (s.offset < prevEnd || s.offset + s.numbytes > realSize) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
      prevEnd = s.offset + s.numbytes;
      total += s.numbytes;
    }
    if (total !== stored - consumed) throw new UserError(`${inputName}: ${where}: sparse map covers ${total} bytes but the member stores ${stored - consumed}`);
    const sp = getSpool();
    const base = sp.size;
    for (const s of map) {
      let pos = base + s.offset;
      const n = await src.forEach(s.numbytes, (c) => { sp.writeAt(c, pos); pos += c.length; });
      if (n < s.numbytes) throw truncated(where);
    }
    sp.extendTo(base + realSize);
    sp.size = base + realSize;
    await skipPadding(stored, where);
    return realSize ? { size: realSize, data: { type: 'range', path: sp.path, offset: base } } : { size: 0, data: EMPTY };
  }

  async function readSparseMap10(stored: number, where: string): Promise<{ map: SparseSegment[]; bytes: number }> {
    let buf = Buffer.alloc(0);
    let pos = 0;
    const nextNumber = async (): Promise<number> => {
      for (;;) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl >= 0) {
          const s = buf.subarray(pos, nl).toString('latin1');
          pos = nl + 1;
          if (!/^\d+$/.test(s)) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
          return Number(s);
        }
        if (buf.length + BLOCK > stored) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
        const b = await src.read(BLOCK);
        if (b.length < BLOCK) throw truncated(where);
        buf = Buffer.concat([buf, b]);
      }
    };
    const count = await nextNumber();
    const map: SparseSegment[] = [];
    for (let i = 0; i < count; i++) map.push({ offset: await nextNumber(), numbytes: await nextNumber() });
    return { map, bytes: buf.length };
  }

  /** Final shape: dentry lists sorted bytewise, xattrs attached, link counts, overlayfs options. */
  function finish(): Inode {
    const linkCount = new Map<Inode, number>();
    const stack: Inode[] = [root];
    const dirs: Inode[] = [];
    while (stack.length) {
      const dir = stack.pop()!;
      dirs.push(dir);
      let dentries = [...children.get(dir)!.values()];
      if (whiteoutDirs.has(dir)) {
        if (opts.ovlfsStrip) dentries = dentries.filter((d) => !(d.inode.kind === 'chr' && d.inode.rdevMajor === 0 && d.inode.rdevMinor === 0));
        else setXattr(xattrMaps.get(dir)!, XATTR_ORIGIN, Buffer.alloc(0));
      }
      dir.entries = sortedEntries(dentries);
      for (const inode of dir.entries.inodes) {
        if (inode.kind === 'dir') stack.push(inode);
        else linkCount.set(inode, (linkCount.get(inode) ?? 0) + 1);
      }
    }
    const attach = (inode: Inode): void => {
      const m = xattrMaps.get(inode);
      if (!m) return;
      if (opts.ovlfsStrip) m.delete(key(XATTR_OPAQUE));
      inode.xattrs = [...m.values()];
    };
    for (const d of dirs) attach(d);
    for (const [inode, n] of linkCount) {
      inode.links = n;
      attach(inode);
    }
    return root;
  }
}

/** Other compressors' magic numbers, for a useful message instead of "bad checksum". */
function notTar(b: Buffer): string | undefined {
  const starts = (...m: number[]) => m.every((c, i) => b[i] === c);
  const kind = starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) ? 'xz' : starts(0x28, 0xb5, 0x2f, 0xfd) ? 'zstd'
    : starts(0x42, 0x5a, 0x68) ? 'bzip2' : starts(0x5d, 0x00, 0x00) ? 'lzma' : undefined;
  return kind && `${kind}-compressed; only plain and gzip archives are read (decompress it first)`;
}

function joinPath(comps: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  comps.forEach((c, i) => { if (i) parts.push(Buffer.from('/')); parts.push(c); });
  return Buffer.concat(parts);
}
