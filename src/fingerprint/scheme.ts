// Fingerprint values (product.md): ASCII scheme tag + raw bytes, one fixed length per scheme so
// that value || domain_id never collides across two different (value, domain) pairs.
import { v5 as uuidv5 } from 'uuid';

export type Scheme = 'sha256' | 'blake3' | 'uuid';

export const SCHEMES: Record<Scheme, { tag: Buffer; rawLength: number }> = {
  sha256: { tag: Buffer.from('sha256:'), rawLength: 32 },
  blake3: { tag: Buffer.from('blake3:'), rawLength: 32 },
  uuid: { tag: Buffer.from('uuid:'), rawLength: 16 },
};

/** mkfs.erofs 1.9.2+ default: a hidden name (base index 0, invisible to listxattr). */
export const DEFAULT_FINGERPRINT_NAME = 'erofs.fingerprint.v1';

export function fingerprintLength(s: Scheme): number {
  return SCHEMES[s].tag.length + SCHEMES[s].rawLength;
}

export function encodeFingerprint(s: Scheme, raw: Uint8Array): Buffer {
  if (raw.length !== SCHEMES[s].rawLength) throw new RangeError(`${s} fingerprint needs ${SCHEMES[s].rawLength} bytes`);
  return Buffer.concat([SCHEMES[s].tag, raw]);
}

export type ParsedFingerprint = { scheme: Scheme; raw: Buffer } | { scheme: null; reason: string };

/** Parse a stored value; unknown tags and wrong lengths give a reason instead. */
export function parseFingerprint(value: Uint8Array): ParsedFingerprint {
  const v = Buffer.from(value);
  for (const [name, s] of Object.entries(SCHEMES) as [Scheme, (typeof SCHEMES)[Scheme]][]) {
    if (v.length >= s.tag.length && v.subarray(0, s.tag.length).equals(s.tag)) {
      if (v.length !== s.tag.length + s.rawLength) {
        return { scheme: null, reason: `${name} value of ${v.length} bytes (expected ${s.tag.length + s.rawLength})` };
      }
      return { scheme: name, raw: v.subarray(s.tag.length) };
    }
  }
  return { scheme: null, reason: 'unknown fingerprint scheme' };
}

/** Vendor UUID: UUIDv5 of the raw 32-byte SHA-256 in the vendor's namespace. */
export function vendorUuid(namespace: Uint8Array, sha256: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  uuidv5(sha256, namespace, out);
  return out;
}
