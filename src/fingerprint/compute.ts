// Turning a file's digest into its fingerprint value.
import { encodeFingerprint, vendorUuid } from './scheme.js';
import type { FingerprintOptions } from '../build/options.js';

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
