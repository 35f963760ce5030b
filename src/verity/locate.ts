// Which part of an EROFS image a byte range belongs to: a file's data (flat blocks, an inline tail,
// or a compressed pcluster), an inode's metadata, the superblock, or none of those. Used to name the
// file behind a data block that fails its dm-verity hash. Walks the image with the strict reader.
import { ErofsImage, type InodeInfo } from '../read/image.js';
import { compressedExtents } from '../read/zdata.js';
import { INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, SUPER_OFFSET } from '../format/constants.js';
import { showPath } from '../show-path.js';

export interface Owner {
  /** "/path" of the file whose bytes these are, or null (superblock, unused space, unreadable image). */
  path: string | null;
  nid?: number;
  /** "data of /a", "inode of /a", "superblock", "no file", ... */
  what: string;
}

const overlaps = (a: number, b: number, start: number, end: number): boolean => start < b && a < end;

/** Ranges of the image an inode uses: its slot (with xattrs and inline tail) and its data. */
function* rangesOf(img: ErofsImage, ino: InodeInfo): Generator<{ start: number; end: number; data: boolean }> {
  const bs = img.blockSize;
  const meta = ino.iloc + ino.isize + ino.xattrSize;
  const tail = ino.datalayout === INODE_FLAT_INLINE ? ino.size % bs : 0;
  yield { start: ino.iloc, end: meta, data: false };
  if (tail) yield { start: meta, end: meta + tail, data: true };
  if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
    const n = ino.datalayout === INODE_FLAT_PLAIN ? Math.ceil(ino.size / bs) : Math.floor(ino.size / bs);
    if (n > 0 && ino.kind !== 'chr' && ino.kind !== 'blk' && ino.kind !== 'fifo' && ino.kind !== 'sock') {
      yield { start: ino.u * bs, end: (ino.u + n) * bs, data: true };
    }
  } else if (ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT) {
    for (const e of compressedExtents(img, ino)) {
      if (e.kind !== 'fragment' && e.plen > 0) yield { start: e.pa, end: e.pa + e.plen, data: true };
    }
  }
}

/** The owner of bytes [start, end) of the image at `file`; data owners win over metadata ones. */
export function ownerOf(file: string, start: number, end: number): Owner {
  let img: ErofsImage;
  try {
    img = ErofsImage.open(file);
  } catch (e) {
    return { path: null, what: `no file (the image cannot be read: ${(e as Error).message})` };
  }
  try {
    let meta: Owner | null = null;
    let found: Owner | null = null;
    try {
      img.walk((p, ino) => {
        if (found) return;
        for (const r of rangesOf(img, ino)) {
          if (!overlaps(r.start, r.end, start, end)) continue;
          const path = '/' + showPath(p);
          if (r.data) {
            found = { path, nid: ino.nid, what: `data of ${path}` };
            return;
          }
          meta ??= { path, nid: ino.nid, what: `inode of ${path}` };
        }
      });
    } catch (e) {
      if (!found && !meta) return { path: null, what: `no file found (the walk stopped: ${(e as Error).message})` };
    }
    if (found) return found;
    if (meta) return meta;
    if (overlaps(SUPER_OFFSET, SUPER_OFFSET + 128, start, end)) return { path: null, what: 'superblock' };
    if (end > img.sb.blocks * img.blockSize) return { path: null, what: 'beyond the filesystem' };
    return { path: null, what: 'no file (directory data, shared xattrs or unused space)' };
  } finally {
    img.close();
  }
}
