// The derived dm-verity salt and UUID (issue 21, sealed mode): SHA-256 of a v2 label and the
// filesystem's block 0 (through the superblock's block when blocks are smaller), not of every byte,
// so that no whole-image pass runs before the leaves. Computed here independently with node:crypto
// from the image's own bytes: what it binds (-U, -T, block 0's metadata), what it does not (a file's
// data blocks: the root hash binds those), and `seal` of an unsealed image deriving what
// `build --verity` derives for the same filesystem.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { forge } from './helpers/tools.js';
import { noise } from './helpers/noise.js';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-verity-salt-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const at = (name: string): string => path.join(work, name);

/** A tree whose one data file fills exactly two blocks (no tail inlined into block 0). */
function makeTree(name: string, seed: number): string {
  const root = at(name);
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(root, 'data.bin'), noise(8192, seed));
  fs.writeFileSync(path.join(root, 'dir', 'small.txt'), 'small file\n');
  for (const p of [path.join(root, 'data.bin'), path.join(root, 'dir', 'small.txt'), path.join(root, 'dir'), root]) fs.utimesSync(p, 1_700_000_000, 1_700_000_000);
  return root;
}

interface Sealed { image: Buffer; salt: string; uuid: string; rootHash: string }

function build(name: string, src: string, args: string[]): Sealed {
  const image = at(name);
  const r = forge(['build', '--json', ...args, image, src]);
  assert.equal(r.status, 0, r.stderr.toString());
  const v = (JSON.parse(r.stdout.toString()) as { verity: { salt: string; uuid: string; rootHash: string } }).verity;
  return { image: fs.readFileSync(image), salt: v.salt, uuid: v.uuid, rootHash: v.rootHash };
}

/** The derivation, written out: SHA-256(label ‖ the first `head` bytes). */
function expected(image: Buffer, head: number): { salt: string; uuid: string } {
  const salt = createHash('sha256').update('erofs-forge verity salt v2\0').update(image.subarray(0, head)).digest('hex');
  const u = createHash('sha256').update('erofs-forge verity uuid v2\0').update(image.subarray(0, head)).digest().subarray(0, 16);
  u[6] = (u[6] & 0x0f) | 0x80; // version 8
  u[8] = (u[8] & 0x3f) | 0x80; // RFC 9562 variant
  const h = u.toString('hex');
  return { salt, uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
}

test('verity_salt_derived_from_block_zero', () => {
  const x = makeTree('x', 1);
  const y = makeTree('y', 2);
  const a = build('a.img', x, ['-T0', '-Uclear', '--verity']);
  assert.deepEqual({ salt: a.salt, uuid: a.uuid }, expected(a.image, 4096), 'block 0 of a 4096-byte-block image');
  assert.equal(a.uuid[14], '8', 'version 8 UUID');

  // Another file content, the same sizes: block 0 is the same, so are salt and UUID; the root hash is not.
  const b = build('b.img', y, ['-T0', '-Uclear', '--verity']);
  assert.ok(a.image.subarray(0, 4096).equals(b.image.subarray(0, 4096)), 'the pair differs only after block 0');
  assert.ok(!a.image.subarray(4096, 3 * 4096).equals(b.image.subarray(4096, 3 * 4096)));
  assert.deepEqual([b.salt, b.uuid], [a.salt, a.uuid]);
  assert.notEqual(b.rootHash, a.rootHash);

  // -U and -T are in the superblock: each gives another salt and UUID.
  const u = build('u.img', x, ['-T0', '-U', '6a3f8a2c-1d4e-4b5f-9c0d-2e7f3a1b5c6d', '--verity']);
  const t = build('t.img', x, ['-T', '1234567', '-Uclear', '--verity']);
  for (const [what, o] of [['-U', u], ['-T', t]] as const) {
    assert.notEqual(o.salt, a.salt, what);
    assert.notEqual(o.uuid, a.uuid, what);
    assert.deepEqual({ salt: o.salt, uuid: o.uuid }, expected(o.image, 4096), what);
  }

  // 512-byte blocks: the superblock (byte 1024) lies in block 2; the head runs through it.
  const s = build('s.img', x, ['-b', '512', '-T0', '-Uclear', '--verity']);
  assert.deepEqual({ salt: s.salt, uuid: s.uuid }, expected(s.image, 1536), 'bytes 0..1536 of a 512-byte-block image');

  // seal of the unsealed image derives the same salt and UUID, and writes the same bytes.
  const plain = at('plain.img');
  assert.equal(forge(['build', '--quiet', '-T0', '-Uclear', plain, x]).status, 0);
  const r = forge(['seal', '--json', plain]);
  assert.equal(r.status, 0, r.stderr.toString());
  const v = (JSON.parse(r.stdout.toString()) as { verity: { salt: string; uuid: string; rootHash: string } }).verity;
  assert.deepEqual([v.salt, v.uuid, v.rootHash], [a.salt, a.uuid, a.rootHash]);
  assert.ok(fs.readFileSync(plain).equals(a.image), 'seal IMAGE = build --verity, byte for byte');
});
