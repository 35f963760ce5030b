// Sealing an EROFS image: choose the dm-verity parameters (deriving salt and UUID from its block 0),
// write the superblock and hash tree after the filesystem or into a separate hash file, and describe
// the result (JSON, veritysetup's text). Also finds an existing seal for verify and inspect.
import { UserError } from '../errors.js';
import { formatUuid } from '../read/describe.js';
import { checkParams, hex, verityLayout, VERITY_BLOCK_SIZES, VERITY_SB_SIZE, type VerityHash, type VerityLayout, type VerityParams } from './params.js';
import { decodeVeritySuperblock, encodeVeritySuperblock, hasVeritySignature, VERITY_HASH_TYPE_NORMAL, type VeritySuperblock } from './superblock.js';
import { buildHashTreeFrom, type LeafHasher } from './tree.js';
import { deriveSalt, deriveUuid, readHead } from './derive.js';
import { readExactly, type PositionedReader, type PositionedWriter } from './io.js';

/** What the user asked for; unset fields get their defaults from the image. */
export interface VerityRequest {
  hash: VerityHash;
  dataBlockSize?: number;
  hashBlockSize: number;
  /** Explicit salt (empty for none); derived from the filesystem's block 0 when undefined. */
  salt?: Uint8Array;
  /** Explicit UUID; derived from the filesystem's block 0 when undefined. */
  uuid?: Uint8Array;
  superblock: boolean;
  /** Separate hash device; the tree is appended to the image when undefined. */
  hashFile?: string;
}

export interface SealResult {
  params: VerityParams;
  layout: VerityLayout;
  rootHash: Buffer;
  /** The hash file, or null when the tree is appended to the image. */
  hashFile: string | null;
}

export const DEFAULT_VERITY: VerityRequest = { hash: 'sha256', hashBlockSize: 4096, superblock: true };

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * The parameters for an image whose filesystem takes bytes [0, fsBytes) with EROFS blocks of
 * `blockSize`. Reads the filesystem's block 0 (for the derived salt and UUID) through `data`.
 */
export function resolveParams(req: VerityRequest, fsBytes: number, blockSize: number, data: PositionedReader, what: string): VerityParams {
  const dbs = req.dataBlockSize ?? blockSize;
  // A verity block larger than the filesystem's block does not mount (kata-containers #348: a
  // 4096-byte verity block over a 512-byte-block tar index image).
  if (dbs > blockSize) throw new UserError(`--verity-data-block-size ${dbs}: larger than the image's block size ${blockSize}`);
  if (fsBytes % dbs) throw new UserError(`${what}: filesystem size ${fsBytes} is not a multiple of the verity data block size ${dbs}`);
  let { salt, uuid } = req;
  if (salt === undefined || uuid === undefined) {
    const head = readHead(data, fsBytes, blockSize, what);
    salt ??= deriveSalt(head);
    uuid ??= deriveUuid(head);
  }
  const p: VerityParams = {
    hash: req.hash, dataBlockSize: dbs, hashBlockSize: req.hashBlockSize, dataBlocks: fsBytes / dbs, salt, uuid,
    superblock: req.superblock, hashOffset: req.hashFile === undefined ? roundUp(fsBytes, req.hashBlockSize) : 0,
  };
  checkParams(p);
  return p;
}

export function superblockOf(p: VerityParams): VeritySuperblock {
  return {
    hashType: VERITY_HASH_TYPE_NORMAL, uuid: p.uuid, algorithm: p.hash, dataBlockSize: p.dataBlockSize,
    hashBlockSize: p.hashBlockSize, dataBlocks: p.dataBlocks, salt: p.salt,
  };
}

/**
 * Write the seal through `out` (the image itself when appending, else the hash file), which must
 * already be sized to layout.end with zeros where nothing is written, the leaf digests coming from
 * `leaves` (this thread or others: the same bytes, the same root). Returns the root hash.
 */
export async function writeSealFrom(p: VerityParams, leaves: LeafHasher, out: PositionedWriter): Promise<{ rootHash: Buffer; layout: VerityLayout }> {
  if (p.superblock) out.write(encodeVeritySuperblock(superblockOf(p)), p.hashOffset);
  return buildHashTreeFrom(leaves, out, p);
}

/** The `verity` object of --json output. */
export function verityJson(r: SealResult) {
  return {
    rootHash: hex(r.rootHash),
    salt: hex(r.params.salt),
    hashAlgorithm: r.params.hash,
    dataBlocks: r.params.dataBlocks,
    dataBlockSize: r.params.dataBlockSize,
    hashBlockSize: r.params.hashBlockSize,
    hashBlocks: r.layout.hashBlocks,
    hashOffset: r.params.hashOffset,
    hashEnd: r.layout.end,
    superblock: r.params.superblock,
    uuid: r.params.superblock ? formatUuid(r.params.uuid) : null,
    hashFile: r.hashFile,
  };
}

/** The lines `veritysetup format` prints (the --verity-env file), so scripts that parse them work. */
export function veritysetupText(r: SealResult, hashDevice: string): string {
  const p = r.params;
  const lines = [
    `VERITY header information for ${hashDevice}`,
    `UUID:            \t${p.superblock ? formatUuid(p.uuid) : ''}`,
    `Hash type:       \t${VERITY_HASH_TYPE_NORMAL}`,
    `Data blocks:     \t${p.dataBlocks}`,
    `Data block size: \t${p.dataBlockSize}`,
    `Hash blocks:     \t${r.layout.hashBlocks}`,
    `Hash block size: \t${p.hashBlockSize}`,
    `Hash algorithm:  \t${p.hash}`,
    `Salt:            \t${p.salt.length ? hex(p.salt) : '-'}`,
    `Root hash:      \t${hex(r.rootHash)}`,
  ];
  // veritysetup gives the hash device's size only for a separate device.
  if (r.hashFile !== null && r.layout.end > 0) lines.push(`Hash device size: \t${r.layout.end} [bytes]`);
  return lines.join('\n') + '\n';
}

/** Where to look for a seal, and the parameters to assume when it has no superblock. */
export interface FindOptions {
  hashFile?: string;
  superblock: boolean;
  hashOffset?: number;
  hash: VerityHash;
  dataBlockSize?: number;
  hashBlockSize?: number;
  salt?: Uint8Array;
}

export interface FoundSeal {
  params: VerityParams;
  superblock: VeritySuperblock | null;
  /** Notes about the seal that are problems in themselves (e.g. it covers less than the filesystem). */
  notes: string[];
}

/**
 * Read the seal's parameters: from the superblock at the hash offset (appended: the first
 * 512..4096-aligned offset after the filesystem that holds one), or from the options without one.
 */
export function findSeal(image: PositionedReader, imageBytes: number, hash: PositionedReader | null, hashBytes: number, fsBytes: number, blockSize: number, o: FindOptions, what: string): FoundSeal {
  const notes: string[] = [];
  const src = hash ?? image;
  const srcBytes = hash ? hashBytes : imageBytes;
  if (o.superblock) {
    const candidates = o.hashOffset !== undefined ? [o.hashOffset]
      : hash ? [0] : [...new Set((o.hashBlockSize ? [o.hashBlockSize] : [...VERITY_BLOCK_SIZES].reverse()).map((b) => roundUp(fsBytes, b)))];
    for (const off of candidates) {
      if (off + VERITY_SB_SIZE > srcBytes) continue;
      const b = Buffer.alloc(VERITY_SB_SIZE);
      readExactly(src, b, off, what);
      if (!hasVeritySignature(b) && candidates.length > 1) continue;
      const sb = decodeVeritySuperblock(b, `byte ${off}${hash ? ' of the hash file' : ''}`);
      const params: VerityParams = {
        hash: sb.algorithm, dataBlockSize: sb.dataBlockSize, hashBlockSize: sb.hashBlockSize, dataBlocks: sb.dataBlocks,
        salt: sb.salt, uuid: sb.uuid, superblock: true, hashOffset: off,
      };
      if (sb.dataBlocks * sb.dataBlockSize !== fsBytes) notes.push(`the hash tree covers ${sb.dataBlocks * sb.dataBlockSize} bytes, the filesystem ${fsBytes}`);
      if (sb.dataBlockSize > blockSize) notes.push(`verity data block size ${sb.dataBlockSize} is larger than the image's block size ${blockSize}: it does not mount`);
      return { params, superblock: sb, notes };
    }
    throw new UserError(`${what}: no dm-verity superblock ${hash ? 'at the start of the hash file' : `after the filesystem (byte ${fsBytes})`}; use --verity-no-superblock and give the parameters`);
  }
  const dbs = o.dataBlockSize ?? blockSize;
  const hbs = o.hashBlockSize ?? 4096;
  if (o.salt === undefined) throw new UserError('--verity-no-superblock: give --verity-salt (hex or none): without a superblock the salt is not stored');
  const params: VerityParams = {
    hash: o.hash, dataBlockSize: dbs, hashBlockSize: hbs, dataBlocks: Math.floor(fsBytes / dbs), salt: o.salt,
    uuid: new Uint8Array(16), superblock: false, hashOffset: o.hashOffset ?? (hash ? 0 : roundUp(fsBytes, hbs)),
  };
  checkParams(params);
  return { params, superblock: null, notes };
}
