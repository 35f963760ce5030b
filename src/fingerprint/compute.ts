// Turning a file's digest into its fingerprint value.
import { createHash } from 'node:crypto';
import { blake3 } from '@noble/hashes/blake3.js';
import { encodeFingerprint, vendorUuid, type Scheme } from './scheme.js';

export type DigestAlgorithm = 'sha256' | 'blake3';

/** A running digest of a file's content. */
export interface ContentHasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** A hasher for `algo`; none when no digest is asked for. */
export function contentHasher(algo: DigestAlgorithm): ContentHasher;
export function contentHasher(algo: DigestAlgorithm | undefined): ContentHasher | undefined;
export function contentHasher(algo: DigestAlgorithm | undefined): ContentHasher | undefined {
  if (algo === 'sha256') {
    const h = createHash('sha256');
    return { update: (d) => { h.update(d); }, digest: () => new Uint8Array(h.digest()) };
  }
  if (algo === 'blake3') {
    const h = blake3.create();
    return { update: (d) => { h.update(d); }, digest: () => h.digest() };
  }
  return undefined;
}

/** How a build stamps fingerprints (BuildOptions.fingerprint). */
export interface FingerprintOptions {
  /** Full xattr name, e.g. "erofs.fingerprint.v1" (hidden) or "trusted.erofs.fingerprint". */
  name: Buffer;
  scheme: Scheme;
  /** uuid scheme: UUIDv5 of the content's SHA-256 in this namespace. */
  vendorNamespace?: Uint8Array;
  /** uuid scheme: path -> uuid registry kept between builds (see src/fingerprint/uuid-map.ts). */
  assignUuid?: (path: Buffer, size: number, sha256: Uint8Array) => Uint8Array;
}

/** Which digest a scheme needs computed over the content. */
export function digestAlgorithm(f: FingerprintOptions): DigestAlgorithm {
  return f.scheme === 'blake3' ? 'blake3' : 'sha256';
}

/**
 * The xattr value for content with this digest (sha256, or blake3 for the blake3 scheme). `path`
 * gives the file's relative path, asked for only by a UUID map.
 */
export function fingerprintValue(f: FingerprintOptions, digest: Uint8Array, path: () => Buffer, size: number): Buffer {
  if (f.scheme !== 'uuid') return encodeFingerprint(f.scheme, digest);
  const id = f.assignUuid ? f.assignUuid(path(), size, digest) : vendorUuid(f.vendorNamespace!, digest);
  return encodeFingerprint('uuid', id);
}
