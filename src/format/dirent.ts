// Directory blocks: erofs_dirent (12 B) arrays followed by names (erofs-format.md §3).
import { DIRENT_SIZE, NAME_LEN } from './constants.js';
import { CorruptImageError } from '../errors.js';

export interface DirEntry {
  name: Uint8Array;
  nid: number;
  fileType: number;
}

/** Field offsets within erofs_dirent: __le64 nid, __le16 nameoff, __u8 file_type, __u8 reserved. */
const O = { nid: 0, nameoff: 8, fileType: 10, reserved: 11 } as const;
export const DIRENT_FIELDS: Readonly<Record<string, number>> = O;

/**
 * Split a sorted entry list into directory blocks as mkfs.erofs does: a block holds as many
 * entries as fit with their names; a name never straddles blocks. Returns, per block, the
 * [start, end) entry indexes and the bytes used. Sizes only: names suffice, nids are not needed.
 */
export function splitDirBlocks(names: readonly { length: number }[], blockSize: number): { start: number; end: number; used: number }[] {
  const blocks: { start: number; end: number; used: number }[] = [];
  let start = 0;
  let used = 0;
  for (let i = 0; i < names.length; i++) {
    const need = DIRENT_SIZE + names[i].length;
    if (used + need > blockSize) {
      blocks.push({ start, end: i, used });
      start = i;
      used = 0;
    }
    used += need;
  }
  blocks.push({ start, end: names.length, used });
  return blocks;
}

/** One entry's header at `d` of `v`; its name goes at `nameoff` in the block. */
function putDirent(v: DataView, d: number, nid: number, nameoff: number, fileType: number): void {
  // nid below 2^53 (a slot number of the image): two 32-bit halves, no BigInt per entry.
  v.setUint32(d + O.nid, nid % 0x100000000, true);
  v.setUint32(d + O.nid + 4, Math.floor(nid / 0x100000000), true);
  v.setUint16(d + O.nameoff, nameoff, true);
  v.setUint8(d + O.fileType, fileType);
  v.setUint8(d + O.reserved, 0);
}

/** Encode entries[start,end) into `out` at `off` (the block's bytes; caller zero-fills the rest). */
export function encodeDirBlock(entries: readonly DirEntry[], start: number, end: number, out: Uint8Array, off: number): number {
  const v = new DataView(out.buffer, out.byteOffset);
  let nameoff = DIRENT_SIZE * (end - start);
  for (let i = start; i < end; i++) {
    const e = entries[i];
    putDirent(v, off + DIRENT_SIZE * (i - start), e.nid, nameoff, e.fileType);
    const name = e.name;
    const at = off + nameoff;
    // Short names byte by byte: TypedArray.set costs more than the copy for a few bytes.
    if (name.length <= 32) for (let k = 0; k < name.length; k++) out[at + k] = name[k];
    else out.set(name, at);
    nameoff += name.length;
  }
  return nameoff;
}

/**
 * encodeDirBlock for entries given as names in latin1 strings (one char per byte: Entries' names)
 * with their nids and file types side by side: no Buffer or object per entry.
 */
export function encodeDirBlockLatin1(names: readonly string[], nids: readonly number[], fileTypes: readonly number[], start: number, end: number, out: Uint8Array, off: number): number {
  const v = new DataView(out.buffer, out.byteOffset);
  let nameoff = DIRENT_SIZE * (end - start);
  for (let i = start; i < end; i++) {
    putDirent(v, off + DIRENT_SIZE * (i - start), nids[i], nameoff, fileTypes[i]);
    const name = names[i];
    const at = off + nameoff;
    for (let k = 0; k < name.length; k++) out[at + k] = name.charCodeAt(k);
    nameoff += name.length;
  }
  return nameoff;
}

/**
 * Decode one directory block of `maxsize` meaningful bytes (min(bs, i_size - block start)),
 * with the kernel's checks (dir.c erofs_fill_dentries / erofs_readdir). The entries are appended to
 * `out` (a directory's blocks into one array, as ErofsImage.readdir does) and it is returned.
 */
export function decodeDirBlock(block: Uint8Array, maxsize: number, where: string, out: DirEntry[] = []): DirEntry[] {
  if (maxsize < DIRENT_SIZE) throw new CorruptImageError('directory block too small for a dirent', where);
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const nameoff0 = v.getUint16(O.nameoff, true);
  // dir.c: nameoff0 must hold at least one dirent and lie inside the block.
  if (nameoff0 < DIRENT_SIZE || nameoff0 >= maxsize || nameoff0 % DIRENT_SIZE !== 0) {
    throw new CorruptImageError('bogus dirent nameoff', where, `nameoff[0] ${nameoff0}`);
  }
  const count = nameoff0 / DIRENT_SIZE;
  for (let i = 0; i < count; i++) {
    const d = i * DIRENT_SIZE;
    // nid as two halves (no BigInt per entry); above 2^53 it is refused below.
    const nidHi = v.getUint32(d + O.nid + 4, true);
    const nid = nidHi * 0x100000000 + v.getUint32(d + O.nid, true);
    const nameoff = v.getUint16(d + O.nameoff, true);
    const fileType = v.getUint8(d + O.fileType);
    let nameEnd: number;
    if (i + 1 < count) {
      nameEnd = v.getUint16(d + DIRENT_SIZE + O.nameoff, true);
    } else {
      // The last name runs to the first NUL or to maxsize.
      nameEnd = nameoff;
      while (nameEnd < maxsize && block[nameEnd] !== 0) nameEnd++;
    }
    if (nameoff < nameoff0 || nameEnd > maxsize || nameEnd <= nameoff) {
      throw new CorruptImageError('bogus dirent name range', where, `entry ${i}: ${nameoff}..${nameEnd}`);
    }
    if (nameEnd - nameoff > NAME_LEN) throw new CorruptImageError('dirent name too long', where, `entry ${i}`);
    if (nidHi > 0x1fffff) throw new CorruptImageError('dirent nid out of range', where);
    out.push({ name: block.slice(nameoff, nameEnd), nid, fileType });
  }
  return out;
}
