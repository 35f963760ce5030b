// Per-entry attribute overrides: PAX extended headers ('x' for the next entry, 'g' for all that
// follow) and GNU long names ('L', 'K') replace or add to the fields of the ustar header.
import type { Xattr } from '../tree.js';
import { paxInteger, paxTime, type PaxRecord, type SparseSegment } from './header.js';

/** undefined: not given; null: explicitly unset by an empty PAX value (back to the header field). */
type Opt<T> = T | null | undefined;

export interface Overrides {
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

export function newOverrides(): Overrides {
  return {
    path: undefined, linkpath: undefined, size: undefined, uid: undefined, gid: undefined, mtime: undefined,
    devmajor: undefined, devminor: undefined, xattrs: new Map(), sparse: {},
  };
}

export function pick<T>(entry: Opt<T>, global?: Opt<T>): T | undefined {
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

export function setXattr(m: Map<string, Xattr>, name: Buffer, value: Buffer): void {
  m.set(name.toString('latin1'), { name, value });
}

/** Apply PAX records to `o`. Throws Error(reason) on a malformed value. */
export function applyPax(records: PaxRecord[], o: Overrides): void {
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
