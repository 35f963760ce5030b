// The 512-byte dm-verity superblock as veritysetup writes it (cryptsetup lib/verity/verity.c,
// struct verity_sb; little-endian): encoder and decoder side by side.
import { UserError } from '../errors.js';
import { VERITY_HASHES, VERITY_MAX_SALT, VERITY_SB_SIZE, VERITY_BLOCK_SIZES, type VerityHash } from './params.js';

export const VERITY_SIGNATURE = Buffer.from('verity\0\0', 'latin1');
export const VERITY_SB_VERSION = 1;
/** Format 1 ("normal"): salt before the data; 0 is Chrome OS's salt-after form, which we do not write. */
export const VERITY_HASH_TYPE_NORMAL = 1;

const OFF_VERSION = 8;
const OFF_HASH_TYPE = 12;
const OFF_UUID = 16;
const OFF_ALGORITHM = 32;
const ALGORITHM_LEN = 32;
const OFF_DATA_BLOCK_SIZE = 64;
const OFF_HASH_BLOCK_SIZE = 68;
const OFF_DATA_BLOCKS = 72;
const OFF_SALT_SIZE = 80;
const OFF_SALT = 88;

export interface VeritySuperblock {
  hashType: number;
  uuid: Uint8Array;
  algorithm: VerityHash;
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: number;
  salt: Uint8Array;
}

export function encodeVeritySuperblock(sb: VeritySuperblock): Buffer {
  const b = Buffer.alloc(VERITY_SB_SIZE);
  VERITY_SIGNATURE.copy(b, 0);
  b.writeUInt32LE(VERITY_SB_VERSION, OFF_VERSION);
  b.writeUInt32LE(sb.hashType, OFF_HASH_TYPE);
  Buffer.from(sb.uuid).copy(b, OFF_UUID);
  b.write(sb.algorithm, OFF_ALGORITHM, ALGORITHM_LEN, 'latin1');
  b.writeUInt32LE(sb.dataBlockSize, OFF_DATA_BLOCK_SIZE);
  b.writeUInt32LE(sb.hashBlockSize, OFF_HASH_BLOCK_SIZE);
  b.writeBigUInt64LE(BigInt(sb.dataBlocks), OFF_DATA_BLOCKS);
  b.writeUInt16LE(sb.salt.length, OFF_SALT_SIZE);
  Buffer.from(sb.salt).copy(b, OFF_SALT);
  return b;
}

/** True when `b` starts with the superblock signature (something to decode, or to report as damaged). */
export function hasVeritySignature(b: Uint8Array): boolean {
  return b.length >= VERITY_SIGNATURE.length && VERITY_SIGNATURE.equals(b.subarray(0, VERITY_SIGNATURE.length));
}

/**
 * Decode and check a superblock; `where` names it in errors. Checks what veritysetup checks
 * (signature, version, hash type, block sizes, salt size, algorithm) and, stricter, that the
 * padding is zero: a flipped byte anywhere in the 512 bytes is reported.
 */
export function decodeVeritySuperblock(b: Uint8Array, where: string): VeritySuperblock {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const bad = (why: string): never => { throw new UserError(`${where}: damaged dm-verity superblock: ${why}`); };
  if (buf.length < VERITY_SB_SIZE) bad('shorter than 512 bytes');
  if (!hasVeritySignature(buf)) bad('no "verity" signature');
  if (buf.readUInt32LE(OFF_VERSION) !== VERITY_SB_VERSION) bad(`version ${buf.readUInt32LE(OFF_VERSION)}`);
  const hashType = buf.readUInt32LE(OFF_HASH_TYPE);
  if (hashType !== VERITY_HASH_TYPE_NORMAL) bad(`hash type ${hashType} (only format 1 is supported)`);
  const algBytes = buf.subarray(OFF_ALGORITHM, OFF_ALGORITHM + ALGORITHM_LEN);
  const nul = algBytes.indexOf(0);
  const algorithm = algBytes.subarray(0, nul < 0 ? ALGORITHM_LEN : nul).toString('latin1');
  if (nul >= 0 && algBytes.subarray(nul).some((c) => c !== 0)) bad('bytes after the algorithm name');
  if (!(VERITY_HASHES as readonly string[]).includes(algorithm)) bad(`hash algorithm "${algorithm}" not supported`);
  const dataBlockSize = buf.readUInt32LE(OFF_DATA_BLOCK_SIZE);
  const hashBlockSize = buf.readUInt32LE(OFF_HASH_BLOCK_SIZE);
  for (const v of [dataBlockSize, hashBlockSize]) if (!(VERITY_BLOCK_SIZES as readonly number[]).includes(v)) bad(`block size ${v}`);
  const dataBlocks = buf.readBigUInt64LE(OFF_DATA_BLOCKS);
  if (dataBlocks === 0n || dataBlocks > BigInt(Number.MAX_SAFE_INTEGER)) bad(`data blocks ${dataBlocks}`);
  const saltSize = buf.readUInt16LE(OFF_SALT_SIZE);
  if (saltSize > VERITY_MAX_SALT) bad(`salt size ${saltSize}`);
  if (buf.subarray(OFF_SALT_SIZE + 2, OFF_SALT).some((c) => c !== 0)) bad('non-zero padding');
  if (buf.subarray(OFF_SALT + saltSize, VERITY_SB_SIZE).some((c) => c !== 0)) bad('non-zero bytes after the salt');
  return {
    hashType, uuid: Uint8Array.from(buf.subarray(OFF_UUID, OFF_UUID + 16)), algorithm: algorithm as VerityHash,
    dataBlockSize, hashBlockSize, dataBlocks: Number(dataBlocks), salt: Uint8Array.from(buf.subarray(OFF_SALT, OFF_SALT + saltSize)),
  };
}
