// An annotated dump of an image (inspect --dump): every on-disk structure the reader decodes, at its
// byte offset, with its fields as the format modules decode them. For people learning the format and
// for reviewing a change of the writer (a snapshot test pins the dump of a fixture image).
import { SUPER_OFFSET, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT,
  INODE_CHUNK_BASED, FEATURE_INCOMPAT_XATTR_PREFIXES, FEATURE_COMPAT_PLAIN_XATTR_PFX, DIRENT_SIZE, XATTR_IBODY_HEADER_SIZE,
  XATTR_ENTRY_SIZE, XATTR_LONG_PREFIX, XATTR_LONG_PREFIX_MASK } from '../format/constants.js';
import { SUPERBLOCK_FIELDS } from '../format/superblock.js';
import { decodeInode, INODE_COMPACT_FIELDS, INODE_EXTENDED_FIELDS } from '../format/inode.js';
import { decodeXattrIbody, IBODY_HEADER_FIELDS } from '../format/xattr-ibody.js';
import { decodeXattrEntry, xattrEntryLength, type DecodedEntry } from '../format/xattr.js';
import { decodeDirBlock, DIRENT_FIELDS } from '../format/dirent.js';
import { featureNames, formatUuid, COMPAT_NAMES, INCOMPAT_NAMES } from './describe.js';
import { compressedExtents } from './zdata.js';
import { mapHeaderOffset, decodeMapHeader, MAP_HEADER_SIZE } from '../format/zmap.js';
import { showPath } from '../show-path.js';
import type { ErofsImage, InodeInfo } from './image.js';

const LAYOUTS = ['flat_plain', 'compressed_full', 'flat_inline', 'compressed_compact', 'chunk_based'];

const hex = (n: number | bigint, width = 0): string => `0x${n.toString(16).padStart(width, '0')}`;
const at = (off: number): string => hex(off, 8);
/** Bytes for people: a quoted string when printable ASCII, else hex. */
function bytes(b: Uint8Array): string {
  return b.every((c) => c >= 0x20 && c < 0x7f) ? JSON.stringify(Buffer.from(b).toString('latin1')) : `hex:${Buffer.from(b).toString('hex')}`;
}

/** Field lines of one structure at `base`: "+off name value", in offset order. */
function fields(base: number, table: Readonly<Record<string, number>>, value: (name: string) => string | undefined): string[] {
  return Object.entries(table)
    .sort((a, b) => a[1] - b[1])
    .flatMap(([name, off]) => {
      const v = value(name);
      return v === undefined ? [] : [`  ${at(base + off)} +${hex(off, 2)} ${name.padEnd(20)} ${v}`];
    });
}

export function dumpImage(img: ErofsImage): string[] {
  const sb = img.sb;
  const out: string[] = [];
  const sbValue = (name: string): string | undefined => {
    switch (name) {
      case 'magic': return hex(Buffer.from(img.readAt(SUPER_OFFSET, 4, 'superblock')).readUInt32LE(0));
      case 'checksum': return hex(sb.checksum, 8);
      case 'featureCompat': return `${hex(sb.featureCompat)} ${featureNames(sb.featureCompat, COMPAT_NAMES).join(' ')}`.trimEnd();
      case 'featureIncompat': return `${hex(sb.featureIncompat)} ${featureNames(sb.featureIncompat, INCOMPAT_NAMES).join(' ')}`.trimEnd();
      case 'uuid': return formatUuid(sb.uuid);
      case 'volumeName': return bytes(sb.volumeName.subarray(0, sb.volumeName.indexOf(0) < 0 ? 16 : sb.volumeName.indexOf(0)));
      default: return String((sb as unknown as Record<string, unknown>)[name]);
    }
  };
  out.push(`${at(SUPER_OFFSET)} superblock (erofs_super_block, block size ${img.blockSize}, ${sb.blocks} blocks, image ${img.length} bytes)`);
  out.push(...fields(SUPER_OFFSET, SUPERBLOCK_FIELDS, sbValue));

  if (sb.featureIncompat & FEATURE_INCOMPAT_XATTR_PREFIXES) {
    const plain = (sb.featureCompat & FEATURE_COMPAT_PLAIN_XATTR_PFX) !== 0 || sb.packedNid === 0n;
    out.push(`${plain ? at(sb.xattrPrefixStart * 4) : '(packed inode)'} long xattr prefixes (${img.prefixes.length})`);
    img.prefixes.forEach((p, i) => out.push(`  [${i}] base index ${p.baseIndex} infix ${bytes(p.infix)}`));
  }

  const inodes = new Map<number, { ino: InodeInfo; path: string }>();
  const root = img.inode(img.rootNid);
  inodes.set(root.nid, { ino: root, path: '/' });
  img.walk((p, ino) => {
    if (!inodes.has(ino.nid)) inodes.set(ino.nid, { ino, path: '/' + showPath(p) });
  });
  for (const nid of [...inodes.keys()].sort((a, b) => a - b)) {
    const { ino, path } = inodes.get(nid)!;
    out.push(...dumpInode(img, ino, path));
  }
  return out;
}

function dumpInode(img: ErofsImage, ino: InodeInfo, path: string): string[] {
  const out: string[] = [];
  const where = `nid ${ino.nid}`;
  const raw = decodeInode(img.readAt(ino.iloc, ino.isize, where), 0);
  const form = ino.extended ? 'erofs_inode_extended' : 'erofs_inode_compact';
  out.push(`${at(ino.iloc)} inode nid ${ino.nid} (${form}, ${LAYOUTS[ino.datalayout] ?? ino.datalayout}) ${path}`);
  out.push(...fields(ino.iloc, ino.extended ? INODE_EXTENDED_FIELDS : INODE_COMPACT_FIELDS, (name) => {
    if (name.startsWith('reserved')) return undefined;
    if (name === 'format') return hex(raw.rawFormat, 4);
    if (name === 'mode') return `0${raw.mode.toString(8)} ${ino.kind}`;
    return String((raw as unknown as Record<string, unknown>)[name]);
  }));
  if (ino.xattrSize) out.push(...dumpXattrs(img, ino));
  out.push(...dumpData(img, ino));
  return out;
}

function entryLine(off: number, e: DecodedEntry): string {
  const idx = e.nameIndex & XATTR_LONG_PREFIX ? `${e.nameIndex} (long prefix ${e.nameIndex & XATTR_LONG_PREFIX_MASK})` : String(e.nameIndex);
  return `  ${at(off)} xattr entry index ${idx} name ${bytes(e.suffix)} value ${bytes(e.value)} (${e.size} B)`;
}

function dumpXattrs(img: ErofsImage, ino: InodeInfo): string[] {
  const where = `nid ${ino.nid}`;
  const base = ino.iloc + ino.isize;
  const ib = decodeXattrIbody(img.readAt(base, ino.xattrSize, where), where);
  const out = [`${at(base)} xattr ibody (erofs_xattr_ibody_header + ${ib.sharedIds.length} shared ids + ${ib.inline.length} entries, ${ino.xattrSize} B)`];
  out.push(...fields(base, IBODY_HEADER_FIELDS, (name) => (name === 'nameFilter' ? hex(ib.nameFilter, 8) : name === 'sharedCount' ? String(ib.sharedIds.length) : undefined)));
  let off = base + XATTR_IBODY_HEADER_SIZE;
  for (const id of ib.sharedIds) {
    const addr = img.sb.xattrBlkaddr * img.blockSize + id * 4;
    const len = xattrEntryLength(img.readAt(addr, XATTR_ENTRY_SIZE, where));
    const e = decodeXattrEntry(img.readAt(addr, len, where), 0, len, where);
    out.push(`  ${at(off)} shared xattr id ${id} ->${entryLine(addr, e).slice(1)}`);
    off += 4;
  }
  for (const e of ib.inline) {
    out.push(entryLine(off, e));
    off += e.size;
  }
  return out;
}

function dumpData(img: ErofsImage, ino: InodeInfo): string[] {
  const out: string[] = [];
  const where = `nid ${ino.nid}`;
  if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
    for (const [off, len] of img.flatRanges(ino)!) {
      const inline = off > ino.iloc && off < ino.iloc + img.blockSize && off === ino.iloc + ino.isize + ino.xattrSize;
      out.push(`${at(off)} data of nid ${ino.nid}: ${len} B ${inline ? 'inline after the inode' : `in blocks ${off / img.blockSize}..${Math.ceil((off + len) / img.blockSize) - 1}`}`);
      if (ino.kind !== 'dir') continue;
      for (let b = 0; b < len; b += img.blockSize) {
        const n = Math.min(img.blockSize, len - b);
        const entries = decodeDirBlock(img.readAt(off + b, n, where), n, where);
        const blockAt = off + b;
        let nameoff = DIRENT_SIZE * entries.length;
        entries.forEach((e, i) => {
          const d = blockAt + DIRENT_SIZE * i;
          const vals: Record<string, string> = { nid: String(e.nid), nameoff: String(nameoff), fileType: String(e.fileType) };
          out.push(`  ${at(d)} dirent ${bytes(e.name)} -> ${at(blockAt + nameoff)}`);
          out.push(...fields(d, DIRENT_FIELDS, (name) => vals[name]).map((l) => '  ' + l));
          nameoff += e.name.length;
        });
      }
    }
  } else if (ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT) {
    const hoff = mapHeaderOffset(ino.iloc + ino.isize + ino.xattrSize);
    const h = decodeMapHeader(img.readAt(hoff, MAP_HEADER_SIZE, where), 0);
    out.push(`${at(hoff)} map header (z_erofs_map_header) ${Object.entries(h).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}`);
    out.push(`${at(hoff + MAP_HEADER_SIZE)} lcluster indexes of nid ${ino.nid}, read as extents:`);
    for (const e of compressedExtents(img, ino)) {
      out.push(`  extent file ${e.la}..${e.la + e.llen} ${e.kind}${e.kind === 'compressed' ? ` alg ${e.algorithm}` : ''} ${e.kind === 'fragment' ? `packed +${e.fragmentOff}` : `at ${at(e.pa)} ${e.plen} B${e.inline ? ' inline' : ''}`}`);
    }
  } else if (ino.datalayout === INODE_CHUNK_BASED) {
    const { chunkbits, blocks } = img.chunkMap(ino);
    out.push(`  chunks of ${2 ** chunkbits} B at blocks ${blocks.join(' ')}`);
  }
  return out;
}
