// Reproducible salt and UUID: derived from the filesystem's head, never from randomness, so the same
// tree and options always give the same root hash (veritysetup's random defaults break reproducible
// builds). The head is block 0, the block the superblock lives in (bytes from 0 to the end of the
// superblock checksum's region: with blocks under 2048 bytes, the blocks up to the superblock's):
// it holds -U's UUID, -T's build time, the block and inode counts, the root nid and the features.
// Not the content: a pass over every byte was serial CPU before any leaf could be hashed (the leaves
// need the salt), and the root hash binds the content anyway. systemd-repart likewise derives them
// from its seed. v2 labels: a v1 salt (from the whole image's SHA-256) is never mistaken for one.
import * as crypto from 'node:crypto';
import { SUPER_OFFSET } from '../format/constants.js';
import { checksumLength } from '../format/superblock.js';
import { readExactly, type PositionedReader } from './io.js';

const SALT_LABEL = Buffer.from('erofs-forge verity salt v2\0');
const UUID_LABEL = Buffer.from('erofs-forge verity uuid v2\0');

/** Bytes of the head the salt and UUID derive from, for a filesystem of fsBytes in blocks of blockSize. */
export function headBytes(fsBytes: number, blockSize: number): number {
  return Math.min(fsBytes, SUPER_OFFSET + checksumLength(blockSize));
}

/** The filesystem's head (see headBytes), read through `r`. */
export function readHead(r: PositionedReader, fsBytes: number, blockSize: number, what: string): Buffer {
  const head = Buffer.alloc(headBytes(fsBytes, blockSize));
  readExactly(r, head, 0, what);
  return head;
}

/** 32 bytes, as systemd-repart and veritysetup use: SHA-256(label ‖ head). */
export function deriveSalt(head: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(SALT_LABEL).update(head).digest();
}

/** An RFC 9562 version 8 (custom) UUID from SHA-256(label ‖ head). */
export function deriveUuid(head: Uint8Array): Buffer {
  const u = crypto.createHash('sha256').update(UUID_LABEL).update(head).digest().subarray(0, 16);
  u[6] = (u[6] & 0x0f) | 0x80;
  u[8] = (u[8] & 0x3f) | 0x80;
  return Buffer.from(u);
}
