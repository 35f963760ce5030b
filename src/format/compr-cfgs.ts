// Compression configuration records (erofs-format.md §5 "Config records"; kernel z_erofs_parse_cfgs):
// with INCOMPAT_COMPR_CFGS, sb.u1 is available_compr_algs and one record per set bit follows the
// superblock at 1024 + sb_size, in ascending algorithm order, each 4-aligned: u16 size, then `size` bytes.
import { PCLUSTER_MAX_SIZE } from './zmap.js';
import { CorruptImageError } from '../errors.js';

/** z_erofs_lz4_cfgs: 14 bytes. */
export const LZ4_CFGS_SIZE = 14;
/** Field offsets in z_erofs_lz4_cfgs (__le16 max_distance, __le16 max_pclusterblks, reserved). */
const O_LZ4 = { maxDistance: 0, maxPclusterBlks: 2, reserved: 4 } as const;
/** z_erofs_deflate_cfgs: 6 bytes. */
export const DEFLATE_CFGS_SIZE = 6;
/** Field offsets in z_erofs_deflate_cfgs (u8 windowbits, reserved). */
const O_DEFLATE = { windowBits: 0, reserved: 1 } as const;
/** A record: __le16 size, then the payload (erofs_read_metadata). */
const O_RECORD = { size: 0, payload: 2 } as const;
/** Largest DEFLATE window the kernel accepts (MAX_WBITS). */
export const DEFLATE_MAX_WINDOWBITS = 15;

export interface Lz4Cfgs {
  /** Largest match distance the images' LZ4 streams use (mkfs: 65535). */
  maxDistance: number;
  /** Largest LZ4 pcluster in blocks (0 on disk means 1). */
  maxPclusterBlks: number;
}

export interface DeflateCfgs {
  /** 8..15; mkfs's built-in deflate writes 15, -zlibdeflate writes 0 (both mount). */
  windowBits: number;
}

export function encodeLz4Cfgs(c: Lz4Cfgs): Uint8Array {
  const b = new Uint8Array(LZ4_CFGS_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(O_LZ4.maxDistance, c.maxDistance, true);
  v.setUint16(O_LZ4.maxPclusterBlks, c.maxPclusterBlks, true);
  return b;
}

/** Decode an LZ4 record payload with the kernel's checks; blockSize bounds max_pclusterblks (1 MiB pclusters). */
export function decodeLz4Cfgs(payload: Uint8Array, blockSize: number): Lz4Cfgs {
  if (payload.length < LZ4_CFGS_SIZE) throw new CorruptImageError('LZ4 config record too short', 'superblock', `${payload.length} bytes`);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const maxDistance = v.getUint16(O_LZ4.maxDistance, true);
  let maxPclusterBlks = v.getUint16(O_LZ4.maxPclusterBlks, true);
  if (maxPclusterBlks === 0) maxPclusterBlks = 1;
  if (maxPclusterBlks * blockSize > PCLUSTER_MAX_SIZE) {
    throw new CorruptImageError('LZ4 config: max_pclusterblks above 1 MiB', 'superblock', `${maxPclusterBlks} blocks`);
  }
  return { maxDistance, maxPclusterBlks };
}

export function encodeDeflateCfgs(c: DeflateCfgs): Uint8Array {
  const b = new Uint8Array(DEFLATE_CFGS_SIZE);
  b[O_DEFLATE.windowBits] = c.windowBits;
  return b;
}

export function decodeDeflateCfgs(payload: Uint8Array): DeflateCfgs {
  if (payload.length < DEFLATE_CFGS_SIZE) throw new CorruptImageError('DEFLATE config record too short', 'superblock', `${payload.length} bytes`);
  const windowBits = payload[O_DEFLATE.windowBits];
  if (windowBits > DEFLATE_MAX_WINDOWBITS) throw new CorruptImageError('DEFLATE config: windowbits above 15', 'superblock', `${windowBits}`);
  return { windowBits };
}

/** Frame payloads as records starting at a 4-aligned offset: each record is u16 size + payload, padded to 4. */
export function encodeCfgRecords(payloads: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of payloads) len = Math.ceil(len / 4) * 4 + O_RECORD.payload + p.length;
  const out = new Uint8Array(Math.ceil(len / 4) * 4);
  let off = 0;
  for (const p of payloads) {
    off = Math.ceil(off / 4) * 4;
    if (p.length === 0 || p.length > 0xffff) throw new RangeError(`config record size ${p.length}`);
    out[off + O_RECORD.size] = p.length & 0xff;
    out[off + O_RECORD.size + 1] = p.length >> 8;
    out.set(p, off + O_RECORD.payload);
    off += O_RECORD.payload + p.length;
  }
  return out;
}

/**
 * Read the records for the algorithms in `algs` (bit n = algorithm n), ascending, from `start`
 * (1024 + sb_size). `read(off, len)` must bounds-check. A zero size is corruption (erofs_read_metadata).
 */
export function decodeCfgRecords(read: (off: number, len: number) => Uint8Array, start: number, algs: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let off = start;
  for (let alg = 0; algs >> alg; alg++) {
    if (!((algs >> alg) & 1)) continue;
    off = Math.ceil(off / 4) * 4;
    const h = read(off + O_RECORD.size, 2);
    const size = h[0] | (h[1] << 8);
    if (size === 0) throw new CorruptImageError('empty compression config record', 'superblock', `algorithm ${alg}`);
    out.set(alg, read(off + O_RECORD.payload, size));
    off += O_RECORD.payload + size;
  }
  return out;
}

/** z_erofs_lzma_cfgs: u32 dict_size, u16 format, 8 reserved bytes. */
export const LZMA_CFGS_SIZE = 14;
/** Field offsets in z_erofs_lzma_cfgs. */
const O_LZMA = { dictSize: 0, format: 4, reserved: 6 } as const;
/** z_erofs_zstd_cfgs: u8 format, u8 windowlog (minus 10), 4 reserved bytes. */
export const ZSTD_CFGS_SIZE = 6;
/** Field offsets in z_erofs_zstd_cfgs. */
const O_ZSTD = { format: 0, windowLog: 1, reserved: 2 } as const;
/** Z_EROFS_LZMA_MAX_DICT_SIZE (8 x the largest pcluster) and the kernel's lower bound. */
export const LZMA_MAX_DICT_SIZE = 8 << 20;
export const LZMA_MIN_DICT_SIZE = 4096;
/** ilog2(Z_EROFS_ZSTD_MAX_DICT_SIZE = 1 MiB) - 10: the largest windowlog a record may hold. */
export const ZSTD_MAX_WINDOWLOG_FIELD = 10;

export interface LzmaCfgs {
  dictSize: number;
}

export interface ZstdCfgs {
  /** 1 << (windowlog + 10). */
  windowSize: number;
}

export function encodeLzmaCfgs(c: LzmaCfgs): Uint8Array {
  const b = new Uint8Array(LZMA_CFGS_SIZE);
  new DataView(b.buffer).setUint32(O_LZMA.dictSize, c.dictSize, true);
  return b;
}

/** Kernel z_erofs_load_lzma_config: format 0, dict_size 4 KiB .. 8 MiB. */
export function decodeLzmaCfgs(payload: Uint8Array): LzmaCfgs {
  if (payload.length < LZMA_CFGS_SIZE) throw new CorruptImageError('LZMA config record too short', 'superblock', `${payload.length} bytes`);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const dictSize = v.getUint32(O_LZMA.dictSize, true);
  const format = v.getUint16(O_LZMA.format, true);
  if (format !== 0) throw new CorruptImageError('LZMA config: unknown format', 'superblock', `${format}`);
  if (dictSize > LZMA_MAX_DICT_SIZE || dictSize < LZMA_MIN_DICT_SIZE) throw new CorruptImageError('LZMA config: dictionary size out of 4 KiB..8 MiB', 'superblock', `${dictSize}`);
  return { dictSize };
}

export function encodeZstdCfgs(c: ZstdCfgs): Uint8Array {
  const b = new Uint8Array(ZSTD_CFGS_SIZE);
  b[O_ZSTD.windowLog] = Math.log2(c.windowSize) - 10;
  return b;
}

/** Kernel z_erofs_load_zstd_config: format 0, windowlog <= 10 (1 MiB). */
export function decodeZstdCfgs(payload: Uint8Array): ZstdCfgs {
  if (payload.length < ZSTD_CFGS_SIZE) throw new CorruptImageError('zstd config record too short', 'superblock', `${payload.length} bytes`);
  const format = payload[O_ZSTD.format];
  const windowLog = payload[O_ZSTD.windowLog];
  if (format !== 0) throw new CorruptImageError('zstd config: unknown format', 'superblock', `${format}`);
  if (windowLog > ZSTD_MAX_WINDOWLOG_FIELD) throw new CorruptImageError('zstd config: window above 1 MiB', 'superblock', `windowlog ${windowLog + 10}`);
  return { windowSize: 2 ** (windowLog + 10) };
}
