// Compression configuration records (erofs-format.md §5 "Config records"; kernel z_erofs_parse_cfgs):
// with INCOMPAT_COMPR_CFGS, sb.u1 is available_compr_algs and one record per set bit follows the
// superblock at 1024 + sb_size, in ascending algorithm order, each 4-aligned: u16 size, then `size` bytes.
import { PCLUSTER_MAX_SIZE } from './zmap.js';
import { CorruptImageError } from '../errors.js';

/** z_erofs_lz4_cfgs: 14 bytes. */
export const LZ4_CFGS_SIZE = 14;
/** z_erofs_deflate_cfgs: 6 bytes. */
export const DEFLATE_CFGS_SIZE = 6;
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
  v.setUint16(0, c.maxDistance, true);
  v.setUint16(2, c.maxPclusterBlks, true);
  return b;
}

/** Decode an LZ4 record payload with the kernel's checks; blockSize bounds max_pclusterblks (1 MiB pclusters). */
export function decodeLz4Cfgs(payload: Uint8Array, blockSize: number): Lz4Cfgs {
  if (payload.length < LZ4_CFGS_SIZE) throw new CorruptImageError('LZ4 config record too short', 'superblock', `${payload.length} bytes`);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const maxDistance = v.getUint16(0, true);
  let maxPclusterBlks = v.getUint16(2, true);
  if (maxPclusterBlks === 0) maxPclusterBlks = 1;
  if (maxPclusterBlks * blockSize > PCLUSTER_MAX_SIZE) {
    throw new CorruptImageError('LZ4 config: max_pclusterblks above 1 MiB', 'superblock', `${maxPclusterBlks} blocks`);
  }
  return { maxDistance, maxPclusterBlks };
}

export function encodeDeflateCfgs(c: DeflateCfgs): Uint8Array {
  const b = new Uint8Array(DEFLATE_CFGS_SIZE);
  b[0] = c.windowBits;
  return b;
}

export function decodeDeflateCfgs(payload: Uint8Array): DeflateCfgs {
  if (payload.length < DEFLATE_CFGS_SIZE) throw new CorruptImageError('DEFLATE config record too short', 'superblock', `${payload.length} bytes`);
  const windowBits = payload[0];
  if (windowBits > DEFLATE_MAX_WINDOWBITS) throw new CorruptImageError('DEFLATE config: windowbits above 15', 'superblock', `${windowBits}`);
  return { windowBits };
}

/** Frame payloads as records starting at a 4-aligned offset: each record is u16 size + payload, padded to 4. */
export function encodeCfgRecords(payloads: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of payloads) len = Math.ceil(len / 4) * 4 + 2 + p.length;
  const out = new Uint8Array(Math.ceil(len / 4) * 4);
  let off = 0;
  for (const p of payloads) {
    off = Math.ceil(off / 4) * 4;
    if (p.length === 0 || p.length > 0xffff) throw new RangeError(`config record size ${p.length}`);
    out[off] = p.length & 0xff;
    out[off + 1] = p.length >> 8;
    out.set(p, off + 2);
    off += 2 + p.length;
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
    const h = read(off, 2);
    const size = h[0] | (h[1] << 8);
    if (size === 0) throw new CorruptImageError('empty compression config record', 'superblock', `algorithm ${alg}`);
    out.set(alg, read(off + 2, size));
    off += 2 + size;
  }
  return out;
}
