// The dm-verity options shared by `build --verity` and `seal`: commander definitions and their
// translation into a VerityRequest and the side outputs. Parsing only; src/verity does the work.
import { Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { VERITY_BLOCK_SIZES, VERITY_HASHES, type VerityHash } from '../verity/params.js';
import { DEFAULT_VERITY, verityJson, type VerityRequest } from '../verity/seal.js';
import { hex } from '../verity/params.js';
import type { SealedImage } from '../verity/image.js';
import type { SealOutputs } from '../verity/outputs.js';

export interface RawVerityOpts {
  verity?: boolean;
  verityHash?: VerityHash;
  verityDataBlockSize?: number;
  verityHashBlockSize?: number;
  veritySalt?: Uint8Array;
  verityUuid?: Uint8Array;
  verityNoSuperblock?: boolean;
  verityHashFile?: string;
  verityHashOffset?: number;
  rootHashFile?: string;
  verityEnv?: string;
  veritySignKey?: string;
  veritySignCert?: string;
  veritySignature?: string;
  fsverityDigest?: boolean;
}

export function parseVerityBlockSize(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(VERITY_BLOCK_SIZES as readonly number[]).includes(n)) throw new UserError(`${what} ${v}: must be ${VERITY_BLOCK_SIZES.join(', ')}`);
    return n;
  };
}

export function parseSalt(v: string): Uint8Array {
  if (v === 'none' || v === '-') return new Uint8Array(0);
  if (!/^([0-9a-fA-F]{2})+$/.test(v)) throw new UserError(`--verity-salt ${v}: not hex (an even number of hex digits) or "none"`);
  if (v.length > 512) throw new UserError(`--verity-salt: ${v.length / 2} bytes, at most 256`);
  return Buffer.from(v, 'hex');
}

/** Any 128-bit UUID in dashed hex, as veritysetup --uuid takes it (no version or variant rules). */
function parseVerityUuid(v: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(v)) throw new UserError(`--verity-uuid ${v}: not a UUID`);
  return Buffer.from(v.replace(/-/g, ''), 'hex');
}

/** Options that describe the tree itself (build, seal, and, to locate a seal, verify). */
export function addTreeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--verity-hash <algorithm>', 'dm-verity hash: sha256 (default) or sha512').choices(VERITY_HASHES as string[]))
    .option('--verity-data-block-size <bytes>', 'dm-verity data block (default: the image\'s block size, never larger)', parseVerityBlockSize('--verity-data-block-size'))
    .option('--verity-hash-block-size <bytes>', 'dm-verity hash block (default 4096)', parseVerityBlockSize('--verity-hash-block-size'))
    .option('--verity-salt <hex|none>', 'dm-verity salt (default: derived from the filesystem\'s block 0)', parseSalt)
    .option('--verity-no-superblock', 'no 512-byte verity superblock before the tree')
    .option('--verity-hash-file <path>', 'hash tree in this separate file instead of after the image');
}

/** Options of a seal being made (build --verity, seal). */
export function addSealOptions(cmd: Command): Command {
  return addTreeOptions(cmd)
    .option('--verity-uuid <uuid>', 'UUID in the verity superblock (default: derived from the filesystem\'s block 0)', parseVerityUuid)
    .option('--root-hash-file <path>', 'write the root hash (hex, no newline) to this file')
    .option('--verity-env <path>', 'write veritysetup format\'s text (UUID, Hash type, ..., Root hash) to this file')
    .option('--verity-sign-key <key.pem>', 'sign the root hash with this RSA or ECDSA key (PKCS#7, as systemd)')
    .option('--verity-sign-cert <cert.pem>', 'certificate of the signing key, included in the signature')
    .option('--verity-signature <path>', 'write systemd\'s signature JSON (rootHash, certificateFingerprint, signature) here')
    .option('--fsverity-digest', 'print the fs-verity digest of the finished image file (as `fsverity digest`)');
}

const SEAL_FLAGS: [keyof RawVerityOpts, string][] = [
  ['verityHash', '--verity-hash'], ['verityDataBlockSize', '--verity-data-block-size'], ['verityHashBlockSize', '--verity-hash-block-size'],
  ['veritySalt', '--verity-salt'], ['verityUuid', '--verity-uuid'], ['verityNoSuperblock', '--verity-no-superblock'],
  ['verityHashFile', '--verity-hash-file'], ['rootHashFile', '--root-hash-file'], ['verityEnv', '--verity-env'],
  ['veritySignKey', '--verity-sign-key'], ['veritySignCert', '--verity-sign-cert'], ['veritySignature', '--verity-signature'],
];

/**
 * The request and outputs of a seal; for build, null without --verity (and an error for a
 * --verity-* option given without it). Loads and checks the signing key before anything is built.
 */
export async function sealRequest(r: RawVerityOpts, needsFlag: boolean): Promise<{ req: VerityRequest; outs: SealOutputs } | null> {
  if (needsFlag && !r.verity) {
    const stray = SEAL_FLAGS.find(([k]) => r[k] !== undefined);
    if (stray) throw new UserError(`${stray[1]} needs --verity`);
    return null;
  }
  if (r.verityNoSuperblock && r.verityUuid) throw new UserError('--verity-uuid is stored in the superblock: it excludes --verity-no-superblock');
  const req: VerityRequest = {
    hash: r.verityHash ?? DEFAULT_VERITY.hash,
    dataBlockSize: r.verityDataBlockSize,
    hashBlockSize: r.verityHashBlockSize ?? DEFAULT_VERITY.hashBlockSize,
    salt: r.veritySalt,
    uuid: r.verityUuid,
    superblock: !r.verityNoSuperblock,
    hashFile: r.verityHashFile,
  };
  const outs: SealOutputs = { rootHashFile: r.rootHashFile, envFile: r.verityEnv };
  const signing = [r.veritySignKey, r.veritySignCert, r.veritySignature];
  if (signing.some((x) => x !== undefined)) {
    if (signing.some((x) => x === undefined)) throw new UserError('--verity-sign-key, --verity-sign-cert and --verity-signature go together');
    // PKIjs is loaded only when signing.
    const { loadSigner } = await import('../verity/sign.js');
    outs.signer = { signer: loadSigner(r.veritySignKey!, r.veritySignCert!), signatureFile: r.veritySignature! };
  }
  return { req, outs };
}

/** One line for people: what was sealed and the root hash. */
export function sealLine(image: string, s: SealedImage, fsverity?: string): string {
  const p = s.result.params;
  const where = s.result.hashFile === null ? `after the filesystem at byte ${p.hashOffset}` : `in ${s.result.hashFile}`;
  return `${image}: dm-verity ${p.hash} root hash ${hex(s.result.rootHash)} (${p.dataBlocks} data blocks of ${p.dataBlockSize} B; `
    + `${s.result.layout.hashBlocks} hash blocks of ${p.hashBlockSize} B ${where}${p.superblock ? ', with superblock' : ', no superblock'})`
    + (s.signature ? '; root hash signed' : '') + '\n'
    + (fsverity ? `${image}: fs-verity digest ${fsverity}\n` : '');
}

/** The `verity` object of build and seal JSON. */
export function sealJson(s: SealedImage, outs: SealOutputs) {
  return { ...verityJson(s.result), signature: outs.signer ? outs.signer.signatureFile : null };
}
