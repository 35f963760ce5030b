// Mutations of valid EROFS images for the fuzzer: blind ones (bit flips, byte smashes, truncation,
// extension, copied ranges) and field-aware ones aimed at the structures the reader decodes
// (superblock fields, inode fields, dirents and names, xattr headers and entries, compression
// config records, map headers, lcluster indexes, pcluster bytes). Fields are located once per seed
// through our reader on the valid image (StructMap); a case is plain data (Case) resolved against
// that map, so fast-check can generate and shrink cases without knowing the image. After mutating,
// the superblock CRC32C is recomputed (most cases) so the deeper code is reached, not the checksum.
import fc from 'fast-check';
import { ErofsImage, type InodeInfo } from '../../src/read/image.js';
import { compressedExtents } from '../../src/read/zdata.js';
import { stampSuperBlockChecksum, checksumLength } from '../../src/format/superblock.js';
import {
  SUPER_OFFSET, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT,
  DIRENT_SIZE, XATTR_IBODY_HEADER_SIZE, MIN_BLKSZBITS, MAX_BLKSZBITS, FEATURE_INCOMPAT_COMPR_CFGS, SUPER_BASE_SIZE,
} from '../../src/format/constants.js';
import {
  mapHeaderOffset, fullIndexStart, compactIndexStart, compactLayout, compactEntryPosition, decodeMapHeader,
  ADVISE_COMPACTED_2B, FULL_INDEX_SIZE, MAP_HEADER_SIZE,
} from '../../src/format/zmap.js';

// ---- the map of a valid image ---------------------------------------------------------------

/** A little-endian integer field at an absolute offset. */
export interface Field {
  off: number;
  size: 1 | 2 | 4 | 8;
  name: string;
}

/** A byte range worth mutating. */
export interface Region {
  off: number;
  len: number;
  name: string;
}

export const FIELD_GROUPS = ['sb', 'inode', 'dirent', 'xattr', 'cfg', 'prefix', 'zheader', 'zindex'] as const;
export type FieldGroup = (typeof FIELD_GROUPS)[number];
export const REGION_GROUPS = ['any', 'block0', 'item', 'dir', 'name', 'pcluster', 'data'] as const;
export type RegionGroup = (typeof REGION_GROUPS)[number];

export interface StructMap {
  length: number;
  blockSize: number;
  fields: Record<FieldGroup, Field[]>;
  regions: Record<RegionGroup, Region[]>;
  /** Valid nids, for mutations that swap one inode reference for another. */
  nids: number[];
}

/** Locate every structure of a valid image, through the reader. */
export function mapImage(file: string): StructMap {
  const img = ErofsImage.open(file);
  try {
    return mapOpen(img);
  } finally {
    img.close();
  }
}

function mapOpen(img: ErofsImage): StructMap {
  const bs = img.blockSize;
  const fields: Record<FieldGroup, Field[]> = { sb: [], inode: [], dirent: [], xattr: [], cfg: [], prefix: [], zheader: [], zindex: [] };
  const regions: Record<RegionGroup, Region[]> = {
    any: [{ off: 0, len: img.length, name: 'image' }],
    block0: [{ off: SUPER_OFFSET, len: Math.min(img.length, 4096) - SUPER_OFFSET, name: 'block 0 after 1024' }],
    item: [], dir: [], name: [], pcluster: [], data: [],
  };
  const F = (g: FieldGroup, off: number, size: Field['size'], name: string) => fields[g].push({ off, size, name });

  const sbFields: [number, Field['size'], string][] = [
    [0x08, 4, 'feature_compat'], [0x0c, 1, 'blkszbits'], [0x0d, 1, 'sb_extslots'], [0x0e, 2, 'root_nid'],
    [0x10, 8, 'inos'], [0x18, 8, 'epoch'], [0x20, 4, 'fixed_nsec'], [0x24, 4, 'blocks'], [0x28, 4, 'meta_blkaddr'],
    [0x2c, 4, 'xattr_blkaddr'], [0x50, 4, 'feature_incompat'], [0x54, 2, 'u1'], [0x56, 2, 'extra_devices'],
    [0x58, 2, 'devt_slotoff'], [0x5a, 1, 'dirblkbits'], [0x5b, 1, 'xattr_prefix_count'], [0x5c, 4, 'xattr_prefix_start'],
    [0x60, 8, 'packed_nid'], [0x68, 1, 'xattr_filter_reserved'], [0x69, 1, 'ishare_xattr_prefix_id'], [0x6c, 4, 'build_time'],
    [0x70, 8, 'rootnid_8b'],
  ];
  for (const [o, s, n] of sbFields) F('sb', SUPER_OFFSET + o, s, n);

  // Compression config records.
  if (img.sb.featureIncompat & FEATURE_INCOMPAT_COMPR_CFGS) {
    let off = SUPER_OFFSET + SUPER_BASE_SIZE;
    for (let alg = 0; img.sb.u1 >> alg; alg++) {
      if (!((img.sb.u1 >> alg) & 1)) continue;
      off = Math.ceil(off / 4) * 4;
      const size = img.readAt(off, 2, 'map')[0] | (img.readAt(off, 2, 'map')[1] << 8);
      F('cfg', off, 2, `cfg ${alg} size`);
      F('cfg', off + 2, 2, `cfg ${alg} word 0`);
      if (size >= 4) F('cfg', off + 4, 2, `cfg ${alg} word 1`);
      if (size >= 1) F('cfg', off + 2, 1, `cfg ${alg} byte 0`);
      off += 2 + size;
    }
  }

  // Long-prefix table.
  if (img.sb.xattrPrefixCount) {
    let off = img.sb.xattrPrefixStart * 4;
    for (let i = 0; i < img.sb.xattrPrefixCount && off + 3 <= img.length; i++) {
      off = Math.ceil(off / 4) * 4;
      const h = img.readAt(off, 3, 'map');
      F('prefix', off, 2, `prefix ${i} size`);
      F('prefix', off + 2, 1, `prefix ${i} base index`);
      off += 2 + (h[0] | (h[1] << 8));
    }
  }

  const inodes: InodeInfo[] = [];
  const seen = new Set<number>();
  img.walk((_p, ino) => {
    if (seen.has(ino.nid)) return;
    seen.add(ino.nid);
    inodes.push(ino);
  });
  if (img.sb.packedNid !== 0n) inodes.push(img.inode(Number(img.sb.packedNid)));
  const sharedIds = new Set<number>();

  for (const ino of inodes) {
    const i = ino.iloc;
    const ext = ino.extended;
    F('inode', i, 2, 'i_format');
    F('inode', i + 2, 2, 'i_xattr_icount');
    F('inode', i + 4, 2, 'i_mode');
    if (ext) {
      F('inode', i + 8, 8, 'i_size');
      F('inode', i + 16, 4, 'i_u');
      F('inode', i + 24, 4, 'i_uid');
      F('inode', i + 32, 8, 'i_mtime');
      F('inode', i + 40, 4, 'i_mtime_nsec');
      F('inode', i + 44, 4, 'i_nlink');
    } else {
      F('inode', i + 6, 2, 'i_nlink');
      F('inode', i + 8, 4, 'i_size');
      F('inode', i + 12, 4, 'i_mtime');
      F('inode', i + 16, 4, 'i_u');
      F('inode', i + 24, 2, 'i_uid');
    }
    const inodeEnd = i + ino.isize + ino.xattrSize;
    let itemEnd = inodeEnd;

    // xattrs: ibody header, shared ids, inline entries.
    if (ino.xattrSize) {
      const body = Buffer.from(img.readAt(i + ino.isize, ino.xattrSize, 'map'));
      F('xattr', i + ino.isize, 4, 'h_name_filter');
      F('xattr', i + ino.isize + 4, 1, 'h_shared_count');
      let off = XATTR_IBODY_HEADER_SIZE;
      for (let k = 0; k < body[4]; k++, off += 4) {
        F('xattr', i + ino.isize + off, 4, 'shared id');
        sharedIds.add(body.readUInt32LE(off));
      }
      while (off + 4 <= body.length) {
        const nameLen = body[off];
        const valueLen = body[off + 2] | (body[off + 3] << 8);
        F('xattr', i + ino.isize + off, 1, 'e_name_len');
        F('xattr', i + ino.isize + off + 1, 1, 'e_name_index');
        F('xattr', i + ino.isize + off + 2, 2, 'e_value_size');
        off += (4 + nameLen + valueLen + 3) & ~3;
      }
    }

    if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
      const blockBytes = ino.datalayout === INODE_FLAT_INLINE ? Math.floor(ino.size / bs) * bs : ino.size;
      const tail = ino.size - blockBytes;
      itemEnd = inodeEnd + tail;
      const parts: { off: number; len: number }[] = [];
      for (let b = 0; b < Math.ceil(blockBytes / bs); b++) parts.push({ off: ino.u * bs + b * bs, len: Math.min(bs, blockBytes - b * bs) });
      if (tail) parts.push({ off: inodeEnd, len: tail });
      if (ino.kind === 'dir') {
        for (const p of parts) mapDirBlock(img, p.off, p.len, fields, regions);
      } else if (ino.size) {
        for (const p of parts) regions.data.push({ off: p.off, len: p.len, name: `nid ${ino.nid} data` });
      }
    } else if (ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT) {
      const h = mapHeaderOffset(inodeEnd);
      F('zheader', h, 4, 'h_fragmentoff / h_idata_size');
      F('zheader', h + 2, 2, 'h_idata_size');
      F('zheader', h + 4, 2, 'h_advise');
      F('zheader', h + 6, 1, 'h_algorithmtype');
      F('zheader', h + 7, 1, 'h_clusterbits');
      itemEnd = h + MAP_HEADER_SIZE;
      const header = decodeMapHeader(img.readAt(h, MAP_HEADER_SIZE, 'map'), 0);
      const n = Math.ceil(ino.size / bs);
      if (header.kind === 'indexes') {
        if (ino.datalayout === INODE_COMPRESSED_FULL) {
          const start = fullIndexStart(inodeEnd);
          for (let k = 0; k < n; k++) {
            const o = start + k * FULL_INDEX_SIZE;
            F('zindex', o, 2, 'di_advise');
            F('zindex', o + 2, 2, 'di_clusterofs');
            F('zindex', o + 4, 4, 'di_blkaddr');
            F('zindex', o + 4, 2, 'delta[0]');
            F('zindex', o + 6, 2, 'delta[1]');
          }
          itemEnd = start + n * FULL_INDEX_SIZE;
        } else {
          const l = compactLayout(compactIndexStart(inodeEnd), n, (header.advise & ADVISE_COMPACTED_2B) !== 0);
          for (let o = l.ebase; o + 2 <= l.ebase + l.bytes; o += 2) F('zindex', o, 2, 'compact word');
          const packs = new Set<number>();
          for (let k = 0; k < n; k++) {
            const p = compactEntryPosition(l, k);
            if (!packs.has(p.packOff)) {
              packs.add(p.packOff);
              F('zindex', p.packOff + (p.vcnt === 2 ? 8 : 32) - 4, 4, 'pack base blkaddr');
            }
          }
          itemEnd = l.ebase + l.bytes;
        }
      }
      try {
        for (const e of compressedExtents(img, ino)) {
          if (e.kind === 'fragment') continue;
          regions.pcluster.push({ off: e.pa, len: e.plen, name: `nid ${ino.nid} pcluster at ${e.la}` });
          if (e.inline) itemEnd = Math.max(itemEnd, e.pa + e.plen);
        }
      } catch {
        // A layout the reader does not support (e.g. LZMA): no pcluster regions for it.
      }
    }
    regions.item.push({ off: i, len: itemEnd - i, name: `nid ${ino.nid} item` });
  }

  // The shared xattr area: entry headers of every id in use.
  for (const id of sharedIds) {
    const base = img.sb.xattrBlkaddr * bs + id * 4;
    if (base + 4 > img.length) continue;
    F('xattr', base, 1, 'shared e_name_len');
    F('xattr', base + 1, 1, 'shared e_name_index');
    F('xattr', base + 2, 2, 'shared e_value_size');
  }
  return { length: img.length, blockSize: bs, fields, regions, nids: inodes.map((x) => x.nid) };
}

function mapDirBlock(img: ErofsImage, off: number, len: number, fields: Record<FieldGroup, Field[]>, regions: Record<RegionGroup, Region[]>): void {
  regions.dir.push({ off, len, name: `dir block at ${off}` });
  const b = Buffer.from(img.readAt(off, len, 'map'));
  const count = b.readUInt16LE(8) / DIRENT_SIZE;
  for (let k = 0; k < count; k++) {
    const d = off + k * DIRENT_SIZE;
    fields.dirent.push({ off: d, size: 8, name: 'dirent nid' }, { off: d + 8, size: 2, name: 'dirent nameoff' }, { off: d + 10, size: 1, name: 'dirent file_type' });
    const nameoff = b.readUInt16LE(k * DIRENT_SIZE + 8);
    let end = k + 1 < count ? b.readUInt16LE((k + 1) * DIRENT_SIZE + 8) : nameoff;
    if (k + 1 === count) while (end < len && b[end] !== 0) end++;
    regions.name.push({ off: off + nameoff, len: end - nameoff, name: `name ${b.subarray(nameoff, end).toString('latin1')}` });
  }
}

// ---- cases -----------------------------------------------------------------------------------

/** How a field's value changes. */
export type ValueSpec =
  | { v: 'zero' | 'ones' | 'one' | 'inc' | 'dec' | 'signmax' | 'signmin' | 'addbs' | 'subbs' | 'nid' | 'double' }
  | { v: 'flip'; bit: number }
  | { v: 'random'; r: number }
  | { v: 'pow2'; k: number }
  | { v: 'small'; k: number };

export type Op =
  | { op: 'field'; group: FieldGroup; pick: number; value: ValueSpec }
  | { op: 'flip'; region: RegionGroup; pick: number; pos: number; bit: number }
  | { op: 'smash'; region: RegionGroup; pick: number; pos: number; bytes: number[] }
  | { op: 'zero'; region: RegionGroup; pick: number; pos: number; len: number }
  | { op: 'copy'; from: number; to: number; len: number }
  | { op: 'name'; pick: number; pattern: 'dotdot' | 'dot' | 'slash' | 'nul' | 'lastbyte' | 'empty' }
  | { op: 'truncate'; keep: number }
  | { op: 'extend'; len: number; fill: number };

export interface Case {
  ops: Op[];
  /** Recompute the superblock checksum after mutating (most cases), so deeper code runs. */
  fixCrc: boolean;
}

const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  fc.constantFrom<ValueSpec>({ v: 'zero' }, { v: 'ones' }, { v: 'one' }, { v: 'inc' }, { v: 'dec' }, { v: 'signmax' },
    { v: 'signmin' }, { v: 'addbs' }, { v: 'subbs' }, { v: 'nid' }, { v: 'double' }),
  fc.record({ v: fc.constant('flip' as const), bit: fc.nat(63) }),
  fc.record({ v: fc.constant('random' as const), r: fc.nat() }),
  fc.record({ v: fc.constant('pow2' as const), k: fc.nat(63) }),
  fc.record({ v: fc.constant('small' as const), k: fc.nat(40) }),
);

const regionGroup = fc.constantFrom<RegionGroup>(...REGION_GROUPS);
const pick = fc.nat();

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constant('field' as const), group: fc.constantFrom<FieldGroup>(...FIELD_GROUPS), pick, value: valueSpec }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), region: regionGroup, pick, pos: fc.nat(), bit: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('smash' as const), region: regionGroup, pick, pos: fc.nat(), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('zero' as const), region: regionGroup, pick, pos: fc.nat(), len: fc.integer({ min: 1, max: 4096 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('copy' as const), from: fc.nat(), to: fc.nat(), len: fc.integer({ min: 1, max: 512 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('name' as const), pick, pattern: fc.constantFrom('dotdot' as const, 'dot' as const, 'slash' as const, 'nul' as const, 'lastbyte' as const, 'empty' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extend' as const), len: fc.integer({ min: 1, max: 65536 }), fill: fc.nat(255) }) },
);

export const caseArb: fc.Arbitrary<Case> = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
  fixCrc: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

// ---- applying a case -------------------------------------------------------------------------

const MASKS: Record<number, bigint> = { 1: 0xffn, 2: 0xffffn, 4: 0xffffffffn, 8: 0xffffffffffffffffn };

function readField(b: Buffer, f: Field): bigint {
  switch (f.size) {
    case 1: return BigInt(b[f.off]);
    case 2: return BigInt(b.readUInt16LE(f.off));
    case 4: return BigInt(b.readUInt32LE(f.off));
    default: return b.readBigUInt64LE(f.off);
  }
}

function writeField(b: Buffer, f: Field, v: bigint): void {
  v &= MASKS[f.size];
  switch (f.size) {
    case 1: b[f.off] = Number(v); break;
    case 2: b.writeUInt16LE(Number(v), f.off); break;
    case 4: b.writeUInt32LE(Number(v), f.off); break;
    default: b.writeBigUInt64LE(v, f.off);
  }
}

function newValue(cur: bigint, size: number, spec: ValueSpec, map: StructMap, r: number): bigint {
  const bits = BigInt(size * 8);
  const bs = BigInt(map.blockSize);
  switch (spec.v) {
    case 'zero': return 0n;
    case 'ones': return MASKS[size];
    case 'one': return 1n;
    case 'inc': return cur + 1n;
    case 'dec': return cur - 1n + (1n << bits);
    case 'signmax': return (1n << (bits - 1n)) - 1n;
    case 'signmin': return 1n << (bits - 1n);
    case 'addbs': return cur + bs;
    case 'subbs': return cur - bs + (1n << bits);
    case 'double': return cur * 2n + 1n;
    case 'nid': return BigInt(map.nids[r % map.nids.length] ?? 0);
    case 'flip': return cur ^ (1n << BigInt(spec.bit % (size * 8)));
    case 'random': return BigInt(spec.r) * 0x9e3779b1n + BigInt(spec.r >>> 3);
    case 'pow2': return 1n << BigInt(spec.k % (size * 8));
    case 'small': return BigInt(spec.k);
  }
}

function pickRegion(map: StructMap, group: RegionGroup, p: number): Region | null {
  const list = map.regions[group].filter((r) => r.len > 0);
  return list.length ? list[p % list.length] : null;
}

/** Apply a case to a copy of `seed`; returns the mutated image. */
export function applyCase(seed: Buffer, map: StructMap, c: Case): Buffer {
  let b = Buffer.from(seed);
  for (const op of c.ops) {
    switch (op.op) {
      case 'field': {
        const list = map.fields[op.group].filter((f) => f.off + f.size <= b.length);
        if (!list.length) break;
        const f = list[op.pick % list.length];
        writeField(b, f, newValue(readField(b, f), f.size, op.value, map, op.pick));
        break;
      }
      case 'flip': case 'smash': case 'zero': {
        const r = pickRegion(map, op.region, op.pick);
        if (!r) break;
        const at = r.off + (op.pos % r.len);
        if (at >= b.length) break;
        if (op.op === 'flip') b[at] ^= 1 << op.bit;
        else if (op.op === 'smash') for (let k = 0; k < op.bytes.length && at + k < b.length; k++) b[at + k] = op.bytes[k];
        else b.fill(0, at, Math.min(b.length, at + op.len, r.off + r.len));
        break;
      }
      case 'copy': {
        const from = op.from % b.length;
        const to = op.to % b.length;
        const len = Math.min(op.len, b.length - from, b.length - to);
        b.copy(b, to, from, from + len);
        break;
      }
      case 'name': {
        const r = pickRegion(map, 'name', op.pick);
        if (!r || r.off + r.len > b.length) break;
        const name = b.subarray(r.off, r.off + r.len);
        if (op.pattern === 'dotdot') { name.fill(0x2e, 0, Math.min(2, name.length)); if (name.length > 2) name.fill(0, 2); }
        else if (op.pattern === 'dot') { name[0] = 0x2e; name.fill(0, 1); }
        else if (op.pattern === 'slash') name[Math.floor(name.length / 2)] = 0x2f;
        else if (op.pattern === 'nul') name[Math.floor(name.length / 2)] = 0;
        else if (op.pattern === 'lastbyte') name[name.length - 1] = 0xff;
        else name.fill(0);
        break;
      }
      case 'truncate': {
        // Any length from 0 (empty file) to the whole image.
        const keep = op.keep % (b.length + 1);
        b = b.subarray(0, keep);
        break;
      }
      case 'extend':
        b = Buffer.concat([b, Buffer.alloc(op.len, op.fill)]);
        break;
    }
  }
  if (c.fixCrc) fixChecksum(b);
  return b;
}

/** Recompute the superblock CRC32C over [1024, 1024 + len) with the block size the (mutated) superblock claims. */
export function fixChecksum(b: Buffer): void {
  if (b.length < SUPER_OFFSET + 128) return;
  const bits = b[SUPER_OFFSET + 0x0c];
  if (bits < MIN_BLKSZBITS || bits > MAX_BLKSZBITS) return;
  const len = checksumLength(1 << bits);
  if (b.length < SUPER_OFFSET + len) return;
  stampSuperBlockChecksum(b, 1 << bits);
}

/** A short readable description of a case. */
export function describeCase(c: Case): string {
  return `${c.ops.map((o) => JSON.stringify(o)).join(' ')}${c.fixCrc ? '' : ' (crc not repaired)'}`;
}
