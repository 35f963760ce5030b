// dm-verity format 1 parameters and the hash device layout they imply (kernel
// Documentation/admin-guide/device-mapper/verity.rst; cryptsetup lib/verity/ for the on-disk layout).
import { UserError } from '../errors.js';

export type VerityHash = 'sha256' | 'sha512';
export const VERITY_HASHES: readonly VerityHash[] = ['sha256', 'sha512'];
export const DIGEST_SIZE: Record<VerityHash, number> = { sha256: 32, sha512: 64 };

/** Size of the on-disk superblock; the hash area starts at the next hash block after it. */
export const VERITY_SB_SIZE = 512;
/** cryptsetup's limit on the salt (the superblock has 256 bytes for it). */
export const VERITY_MAX_SALT = 256;
/** dm-verity takes block sizes from 512 bytes to the page size; we allow the 4 KiB page everywhere. */
export const VERITY_BLOCK_SIZES = [512, 1024, 2048, 4096] as const;

export interface VerityParams {
  hash: VerityHash;
  dataBlockSize: number;
  hashBlockSize: number;
  /** Data blocks covered: the data device's first dataBlocks × dataBlockSize bytes. */
  dataBlocks: number;
  salt: Uint8Array;
  /** UUID recorded in the superblock (16 bytes). */
  uuid: Uint8Array;
  /** Write (or expect) the 512-byte `verity` superblock at hashOffset. */
  superblock: boolean;
  /** Byte offset in the hash device where the superblock (or, without one, the tree) starts. */
  hashOffset: number;
}

export interface Level {
  /** First hash block of this level, counted in hash blocks from the start of the hash device. */
  start: number;
  blocks: number;
}

export interface VerityLayout {
  /** Levels, leaves (level 0, hashes of data blocks) first; stored on disk top level first. */
  levels: Level[];
  /** Digests per hash block (each digest padded to a power of two). */
  hashesPerBlock: number;
  /** Bytes each digest takes in a hash block (the digest size rounded up to a power of two). */
  slotSize: number;
  /** Byte offset of the first hash block (after the superblock when there is one). */
  hashStart: number;
  hashBlocks: number;
  /** Byte offset just past the last hash block: the hash device's size. */
  end: number;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Where each level lies: cryptsetup's VERITY_hash_offset_block and level walk, from the sizes. */
export function verityLayout(p: VerityParams): VerityLayout {
  const slotSize = nextPow2(DIGEST_SIZE[p.hash]);
  const hashesPerBlock = p.hashBlockSize / slotSize;
  // With a superblock the tree starts at the first hash block after it; without, at hashOffset itself.
  const startBlock = p.superblock
    ? Math.ceil((p.hashOffset + VERITY_SB_SIZE) / p.hashBlockSize)
    : Math.floor(p.hashOffset / p.hashBlockSize);
  const counts: number[] = [];
  // One data block needs no tree: the root hash is that block's digest.
  for (let n = p.dataBlocks; n > 1;) {
    n = Math.ceil(n / hashesPerBlock);
    counts.push(n);
  }
  const levels: Level[] = [];
  let pos = startBlock;
  for (let i = counts.length - 1; i >= 0; i--) {
    levels[i] = { start: pos, blocks: counts[i] };
    pos += counts[i];
  }
  const hashBlocks = counts.reduce((a, b) => a + b, 0);
  return { levels, hashesPerBlock, slotSize, hashStart: startBlock * p.hashBlockSize, hashBlocks, end: pos * p.hashBlockSize };
}

/** The rules veritysetup and the kernel enforce on a parameter set, as one-line user errors. */
export function checkParams(p: VerityParams): void {
  if (!VERITY_HASHES.includes(p.hash)) throw new UserError(`--verity-hash ${p.hash}: must be ${VERITY_HASHES.join(' or ')}`);
  for (const [name, v] of [['--verity-data-block-size', p.dataBlockSize], ['--verity-hash-block-size', p.hashBlockSize]] as const) {
    if (!(VERITY_BLOCK_SIZES as readonly number[]).includes(v)) throw new UserError(`${name} ${v}: must be ${VERITY_BLOCK_SIZES.join(', ')}`);
  }
  if (p.salt.length > VERITY_MAX_SALT) throw new UserError(`--verity-salt: ${p.salt.length} bytes, at most ${VERITY_MAX_SALT}`);
  if (p.uuid.length !== 16) throw new UserError('--verity-uuid: not 16 bytes');
  // veritysetup: "hash offset must be a multiple of 512 bytes".
  if (p.hashOffset % 512) throw new UserError(`hash offset ${p.hashOffset}: not a multiple of 512`);
  if (!Number.isSafeInteger(p.dataBlocks) || p.dataBlocks < 1) throw new UserError('dm-verity: no data blocks to hash');
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
