// Issue 21, sealed builds: the salt and UUID are derived from the SHA-256 of the whole image, a pass
// nothing else can overlap (the leaves need the salt), so its reads go to libuv's threads ahead of
// the hashing (verity/io.ts streamBlocksAhead): on a sealed build the other core is idle then. These
// tests hold the digest to a plain SHA-256 of the bytes, with reads in flight ahead, short reads
// finished, a reader without readAsync, and an early end refused.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import { imageSha256 } from '../src/verity/derive.js';
import { STREAM_CHUNK, type PositionedReader } from '../src/verity/io.js';
import { noise } from './helpers/noise.js';

/** A reader over `data` whose async reads settle later, counting the reads in flight; `short`: every async read stops halfway. */
function laterReader(data: Buffer, short = false) {
  const seen = { inFlight: 0, maxInFlight: 0, asyncReads: 0, syncReads: 0 };
  const read = (buf: Uint8Array, pos: number) => data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length));
  const r: PositionedReader = {
    read: (buf, pos) => { seen.syncReads++; return read(buf, pos); },
    readAsync: (buf, pos) => {
      seen.asyncReads++;
      seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
      return new Promise((resolve) => setImmediate(() => {
        seen.inFlight--;
        resolve(read(short ? buf.subarray(0, Math.max(1, buf.length >> 1)) : buf, pos));
      }));
    },
  };
  return { r, seen };
}

test('salt_image_digest_read_ahead_equals_sha256: chunks read two ahead on other threads, short reads finished, same digest', async () => {
  // Five chunks and a part (a last chunk shorter than the others).
  const data = noise(5 * STREAM_CHUNK + 3 * 4096, 4096);
  const want = crypto.createHash('sha256').update(data).digest();
  const chunks = 6;

  const ahead = laterReader(data);
  assert.deepEqual(await imageSha256(ahead.r, data.length, 'mem'), want);
  assert.equal(ahead.seen.asyncReads, chunks, 'every chunk read on the async path');
  assert.equal(ahead.seen.syncReads, 0);
  assert.equal(ahead.seen.maxInFlight, 2, 'two chunks read ahead of the one hashed');

  const short = laterReader(data, true);
  assert.deepEqual(await imageSha256(short.r, data.length, 'mem'), want);
  assert.equal(short.seen.asyncReads, chunks);
  assert.ok(short.seen.syncReads >= chunks, 'each short read finished');

  // A digest of the first bytes only (the filesystem before its seal).
  const part = 2 * STREAM_CHUNK + 4096;
  assert.deepEqual(await imageSha256(laterReader(data).r, part, 'mem'), crypto.createHash('sha256').update(data.subarray(0, part)).digest());
  // Without readAsync: read here, the same digest.
  const plain: PositionedReader = { read: (buf, pos) => data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length)) };
  assert.deepEqual(await imageSha256(plain, data.length, 'mem'), want);
});

test('salt_image_digest_read_ahead_refuses_an_early_end', async () => {
  const data = noise(2 * STREAM_CHUNK, 4096);
  await assert.rejects(imageSha256(laterReader(data).r, data.length + 4096, 'img'), /img: ends at byte 2097152, before byte 2101248/);
});
