// Reproducible salt and UUID: derived from the image's own bytes (which hold -U and -T), never
// from randomness, so the same tree and options always give the same root hash. veritysetup's
// random defaults break reproducible builds; systemd-repart derives them from its seed likewise.
import * as crypto from 'node:crypto';
import { streamBlocksAhead, type PositionedReader } from './io.js';

const SALT_LABEL = Buffer.from('erofs-forge verity salt v1\0');
const UUID_LABEL = Buffer.from('erofs-forge verity uuid v1\0');

/**
 * SHA-256 of bytes [0, length) of the image, streamed, read ahead of the hashing where the reader
 * can (a sealed build's other core is idle meanwhile: nothing else can start before the salt).
 */
export async function imageSha256(r: PositionedReader, length: number, what: string): Promise<Buffer> {
  const h = crypto.createHash('sha256');
  for await (const { chunk } of streamBlocksAhead(r, length, 4096, what)) h.update(chunk);
  return h.digest();
}

/** 32 bytes, as systemd-repart and veritysetup use: SHA-256(label ‖ image SHA-256). */
export function deriveSalt(imageDigest: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(SALT_LABEL).update(imageDigest).digest();
}

/** An RFC 9562 version 8 (custom) UUID from SHA-256(label ‖ image SHA-256). */
export function deriveUuid(imageDigest: Uint8Array): Buffer {
  const u = crypto.createHash('sha256').update(UUID_LABEL).update(imageDigest).digest().subarray(0, 16);
  u[6] = (u[6] & 0x0f) | 0x80;
  u[8] = (u[8] & 0x3f) | 0x80;
  return Buffer.from(u);
}
