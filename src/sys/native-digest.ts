// SHA-256 and SHA-512 of many small buffers, one call each, through the OpenSSL that Node itself is
// built with (its SHA256() and SHA512(), exported by every Node binary for native addons, or by the
// libcrypto a distribution's Node links). node:crypto's hash() costs ~1.9 us a call beyond the
// hashing itself (arguments checked, a result Buffer made, garbage for a worker's small young
// generation); a koffi call with integer arguments ~0.75 us and no garbage. The dm-verity leaves
// of the bench corpus are 100,000 such calls (verity/tree.ts leafDigests).
import { addressOf, programFunction } from './libc.js';

/** Hash `len` bytes at address `data` into the digest at address `md`. */
export type AddressDigest = (data: number, len: number, md: number) => void;

const bound = new Map<string, AddressDigest | null>();

/**
 * The one-shot digest function for `alg`, or undefined where it cannot be called (no koffi here, or
 * a Node without the symbol): the caller then hashes with node:crypto.
 */
export function addressDigest(alg: 'sha256' | 'sha512'): AddressDigest | undefined {
  let f = bound.get(alg);
  if (f === undefined) {
    // Declared void: the returned pointer (md again) is not wanted, and a pointer result would
    // cost an object per call.
    const fn = programFunction(`void ${alg === 'sha256' ? 'SHA256' : 'SHA512'}(uintptr_t d, size_t n, uintptr_t md)`);
    f = fn ? (fn as unknown as AddressDigest) : null;
    // Trusted only once it agrees with node:crypto on a known input.
    if (f && !agrees(f, alg)) f = null;
    bound.set(alg, f);
  }
  return f ?? undefined;
}

export { addressOf };

function agrees(f: AddressDigest, alg: 'sha256' | 'sha512'): boolean {
  try {
    const { hash } = process.getBuiltinModule('node:crypto');
    const data = Buffer.alloc(200);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) & 0xff;
    const md = Buffer.alloc(128);
    f(addressOf(data), data.length, addressOf(md));
    return md.subarray(0, alg === 'sha256' ? 32 : 64).equals(hash(alg, data, 'buffer') as Buffer);
  } catch {
    return false;
  }
}
