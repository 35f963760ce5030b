// Computing a file's fingerprint value while its bytes stream past.
import { createHash } from 'node:crypto';
import { blake3 } from '@noble/hashes/blake3.js';
import { encodeFingerprint, vendorUuid } from './scheme.js';
import type { FingerprintOptions } from '../build/options.js';

export interface ContentHasher {
  update(chunk: Uint8Array): void;
  /** The xattr value for this content. */
  finish(path: Buffer, size: number): Buffer;
}

/** sha256 and uuid use native SHA-256 (several times faster than pure JS); blake3 uses @noble/hashes. */
export function contentHasher(f: FingerprintOptions): ContentHasher {
  if (f.scheme === 'blake3') {
    const h = blake3.create();
    return { update: (c) => h.update(c), finish: () => encodeFingerprint('blake3', h.digest()) };
  }
  const h = createHash('sha256');
  return {
    update: (c) => { h.update(c); },
    finish: (path, size) => {
      const d = h.digest();
      if (f.scheme === 'sha256') return encodeFingerprint('sha256', d);
      const id = f.assignUuid ? f.assignUuid(path, size, d) : vendorUuid(f.vendorNamespace!, d);
      return encodeFingerprint('uuid', id);
    },
  };
}
