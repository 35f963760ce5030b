// Tree assembly: archive paths into the Inode tree, as mkfs.erofs --tar=f builds it (behaviour
// matched to mkfs.erofs 1.9.3 by building archives with it and mounting):
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
// system.posix_acl_* xattrs (what GNU tar --acls restores).
import { UserError } from '../../errors.js';
import { S_IFDIR, S_IFCHR, NAME_LEN } from '../../format/constants.js';
import { typeBitsOf } from '../../format/file-kind.js';
import { showPath } from '../../show-path.js';
import { type Inode, type Dentry, type Xattr, newInode, mtimeSecOf, sortedEntries } from '../tree.js';
import { aclTextToXattr, type NameResolver } from '../posix-acl.js';
import type { TarEntry } from './entries.js';
import { pick, setXattr, type Overrides } from './pax.js';

const XATTR_OPAQUE = Buffer.from('trusted.overlay.opaque');
const XATTR_ORIGIN = Buffer.from('trusted.overlay.origin');
const WH_PREFIX = Buffer.from('.wh.');
const WH_OPAQUE = Buffer.from('.wh..wh..opq');
const ACL_ACCESS = Buffer.from('system.posix_acl_access');
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
const DOT = 0x2e;
const SLASH = 0x2f;

export interface TarTreeOptions {
  inputName: string;
  warn: (msg: string) => void;
  aufs?: boolean;
  ovlfsStrip?: boolean;
  resolveName: NameResolver;
  /** Time of the root and of missing parent directories. */
  buildTime: { sec: bigint; nsec: number };
}

const key = (name: Buffer): string => name.toString('latin1');

export class TarTree {
  readonly root: Inode;
  // Directory contents while scanning (name -> dentry), and per-inode xattr maps (a later value wins).
  private readonly children: Map<Inode, Map<string, Dentry>>;
  private readonly xattrMaps: Map<Inode, Map<string, Xattr>>;
  private readonly whiteoutDirs = new Set<Inode>();

  constructor(private readonly opts: TarTreeOptions) {
    const now = opts.buildTime;
    // Named '': paths in messages are the members' own ('.' for the root, see pathOf).
    this.root = newInode({
      kind: 'dir', mode: S_IFDIR | 0o777, uid: 0, gid: 0, mtimeSec: mtimeSecOf(now.sec, `${opts.inputName}: build time`), mtimeNsec: now.nsec,
      size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
    }, '', undefined);
    this.children = new Map([[this.root, new Map()]]);
    this.xattrMaps = new Map([[this.root, new Map()]]);
  }

  /**
   * Put an entry into the tree. Returns the new inode of a regular file, whose data the caller reads
   * next (its size and data are set from that); undefined when the entry's data is to be skipped.
   */
  place(e: TarEntry): Inode | undefined {
    const { inputName } = this.opts;
    const { header: h, own: p, global: g, member, kind } = e;
    const comps = splitPath(e.rawPath);
    if (!comps) throw new UserError(`${inputName}: ${member}: path contains '..' (member at offset ${e.offset})`);
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
    if (this.opts.aufs && comps.length) {
      const last = comps[comps.length - 1];
      if (last.equals(WH_OPAQUE)) {
        // mkfs.erofs 1.9.3 fails (ENOTDIR) on a top-level opaque marker; marking the root is the useful reading.
        const dir = this.parentOf(comps, member);
        setXattr(this.xattrMaps.get(dir)!, XATTR_OPAQUE, Buffer.from('y'));
        return undefined;
      }
      if (last.length > WH_PREFIX.length && last.subarray(0, WH_PREFIX.length).equals(WH_PREFIX)) {
        comps[comps.length - 1] = Buffer.from(last.subarray(WH_PREFIX.length));
        whiteout = true;
      }
    }

    if (comps.length === 0) {
      // '.', './' or '/': the root's own attributes.
      if (kind !== 'dir') throw new UserError(`${inputName}: ${member}: the archive root must be a directory`);
      const root = this.root;
      root.mode = S_IFDIR | h.mode;
      root.uid = uid; root.gid = gid; root.mtimeSec = mtimeSec; root.mtimeNsec = mtime.nsec;
      this.mergeXattrs(root, xattrs);
      this.applyAcls(root, p, g, member);
      return undefined;
    }

    const parent = this.parentOf(comps, member);
    const name = comps[comps.length - 1];
    const dents = this.children.get(parent)!;
    const existing = dents.get(key(name));

    if (whiteout) {
      const inode = newInode({
        kind: 'chr', mode: S_IFCHR, uid, gid, mtimeSec, mtimeNsec: mtime.nsec, size: 0,
        rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
      }, name.toString('latin1'), parent);
      this.xattrMaps.set(inode, xattrs);
      dents.set(key(name), { name: name.toString('latin1'), inode });
      this.whiteoutDirs.add(parent);
      return undefined;
    }

    if (kind === 'link') {
      const linkRaw = pick(p.linkpath) ?? h.linkname;
      const target = splitPath(linkRaw);
      if (!target) throw new UserError(`${inputName}: ${member}: hard link target ${showPath(linkRaw)} contains '..'`);
      const inode = this.lookup(target);
      if (!inode || target.length === 0) throw new UserError(`${inputName}: ${member}: hard link target ${showPath(linkRaw)} not found (member at offset ${e.offset})`);
      if (inode.kind === 'dir') throw new UserError(`${inputName}: ${member}: hard link to a directory ${showPath(linkRaw)}`);
      dents.set(key(name), { name: name.toString('latin1'), inode });
      return undefined;
    }

    if (kind === 'dir' && existing && existing.inode.kind === 'dir') {
      // Directory seen before (explicitly or as an implied parent): update it, keep its children.
      const d = existing.inode;
      d.mode = S_IFDIR | h.mode;
      d.uid = uid; d.gid = gid; d.mtimeSec = mtimeSec; d.mtimeNsec = mtime.nsec;
      this.mergeXattrs(d, xattrs);
      this.applyAcls(d, p, g, member);
      return undefined;
    }

    const inode = newInode({
      kind, mode: typeBitsOf(kind) | h.mode, uid, gid, mtimeSec, mtimeNsec: mtime.nsec,
      size: 0, rdevMajor: 0, rdevMinor: 0, xattrs: [], links: 1,
    }, name.toString('latin1'), parent);
    this.xattrMaps.set(inode, xattrs);
    this.applyAcls(inode, p, g, member);
    if (kind === 'dir') this.children.set(inode, new Map());
    if (kind === 'lnk') {
      inode.target = Buffer.from(pick(p.linkpath) ?? h.linkname);
      inode.size = inode.target.length;
    }
    if (kind === 'chr' || kind === 'blk') {
      inode.rdevMajor = pick(p.devmajor) ?? h.devmajor;
      inode.rdevMinor = pick(p.devminor) ?? h.devminor;
    }
    dents.set(key(name), { name: inode.name, inode });
    return kind === 'reg' ? inode : undefined;
  }

  /** Final shape: dentry lists sorted bytewise, xattrs attached, link counts, overlayfs options. */
  finish(): Inode {
    const { children, xattrMaps, opts } = this;
    const linkCount = new Map<Inode, number>();
    const stack: Inode[] = [this.root];
    const dirs: Inode[] = [];
    while (stack.length) {
      const dir = stack.pop()!;
      dirs.push(dir);
      let dentries = [...children.get(dir)!.values()];
      if (this.whiteoutDirs.has(dir)) {
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
    return this.root;
  }

  private newDir(parent: Inode, name: Buffer): Inode {
    // mkfs.erofs (lib/rebuild.c erofs_rebuild_mkdir): 0755 plus the parent's g+w/o+w, parent's owner and time.
    const inode = newInode({
      kind: 'dir', mode: S_IFDIR | 0o755 | (parent.mode & 0o022), uid: parent.uid, gid: parent.gid,
      mtimeSec: parent.mtimeSec, mtimeNsec: parent.mtimeNsec, size: 0, rdevMajor: 0, rdevMinor: 0,
      xattrs: [], links: 1,
    }, name.toString('latin1'), parent);
    this.children.set(inode, new Map());
    this.xattrMaps.set(inode, new Map());
    return inode;
  }

  /** The directory holding comps[0..n-1], creating missing ones; `member` names the entry for errors. */
  private parentOf(comps: Buffer[], member: string): Inode {
    let dir = this.root;
    for (let i = 0; i < comps.length - 1; i++) {
      const m = this.children.get(dir)!;
      const d = m.get(key(comps[i]));
      if (!d) {
        const inode = this.newDir(dir, comps[i]);
        m.set(key(comps[i]), { name: inode.name, inode });
        dir = inode;
      } else if (d.inode.kind !== 'dir') {
        throw new UserError(`${this.opts.inputName}: ${member}: ${showPath(joinPath(comps.slice(0, i + 1)))} is not a directory`);
      } else {
        dir = d.inode;
      }
    }
    return dir;
  }

  /** The inode at an existing path, or undefined. */
  private lookup(comps: Buffer[]): Inode | undefined {
    let cur = this.root;
    for (const c of comps) {
      const d = this.children.get(cur)?.get(key(c));
      if (!d) return undefined;
      cur = d.inode;
    }
    return cur;
  }

  private mergeXattrs(inode: Inode, xs: Map<string, Xattr>): void {
    const m = this.xattrMaps.get(inode)!;
    for (const [k, x] of xs) m.set(k, x);
  }

  private applyAcls(inode: Inode, p: Overrides, g: Overrides, member: string): void {
    const { inputName, warn, resolveName } = this.opts;
    const m = this.xattrMaps.get(inode)!;
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
}

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

function joinPath(comps: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  comps.forEach((c, i) => { if (i) parts.push(Buffer.from('/')); parts.push(c); });
  return Buffer.concat(parts);
}
