// Turning a file's digest into its fingerprint value.
import { encodeFingerprint, vendorUuid, type Scheme } from './scheme.js';

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
export function digestAlgorithm(f: FingerprintOptions): 'sha256' | 'blake3' {
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
