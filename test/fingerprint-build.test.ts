// Fingerprints as the builder writes them: superblock bits, prefix table and entry bytes as
// mkfs.erofs 1.9.3 writes them, and vendor UUIDs (namespace and map modes).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { forge } from './helpers/tools.js';
import { ErofsImage } from '../src/read/image.js';
import { vendorUuid, parseFingerprint } from '../src/fingerprint/scheme.js';
import { blake3 } from '@noble/hashes/blake3.js';

const NS = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

function tree(files: Record<string, string>): { dir: string; root: string } {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-fp-'));
  const root = path.join(dir, 'src');
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), body);
  }
  return { dir, root };
}

/** path → raw fingerprint xattr value, read back with our reader. */
function fingerprints(image: string, name: string): Map<string, Buffer> {
  const img = ErofsImage.open(image);
  const out = new Map<string, Buffer>();
  try {
    img.walk((p, ino) => {
      const x = img.xattrs(ino).find((e) => e.name.toString() === name);
      if (x) out.set(p.toString(), x.value);
    });
  } finally {
    img.close();
  }
  return out;
}

function build(args: string[]): void {
  const r = forge(['build', '--quiet', '-T0', '-Uclear', ...args]);
  assert.equal(r.status, 0, r.stderr);
}

test('default --xattr-inode-digest: superblock, prefix table and entry bytes as mkfs.erofs writes them', () => {
  const { dir, root } = tree({ 'hello.txt': 'hello\n', empty: '' });
  try {
    const img = path.join(dir, 'd.img');
    build(['--xattr-inode-digest', img, root]);
    const b = fs.readFileSync(img);
    assert.equal(b.readUInt32LE(1024 + 0x08), 0x37, 'compat: sb_csum|mtime|xattr_filter|plain_xattr_pfx|ishare_xattrs');
    assert.equal(b.readUInt32LE(1024 + 0x50), 0x40, 'incompat: xattr_prefixes');
    assert.equal(b[1024 + 0x5b], 1, 'one prefix');
    assert.equal(b.readUInt32LE(1024 + 0x5c), 288, 'table at byte 1152');
    assert.equal(b[1024 + 0x69], 0, 'ishare prefix id');
    assert.equal(b.subarray(1152, 1176).toString('hex'), '150000' + Buffer.from('erofs.fingerprint.v1').toString('hex') + '00');
    const e = ErofsImage.open(img);
    try {
      const ino = e.lookup('/hello.txt');
      const body = e.readAt(ino.iloc + ino.isize, ino.xattrSize, 'test');
      assert.equal(Buffer.from(body.subarray(0, 4)).readUInt32LE(0), 0xfffffeff, 'name filter');
      assert.equal(Buffer.from(body.subarray(12, 16)).toString('hex'), '00802700');
      assert.equal(Buffer.from(body.subarray(16, 55)).toString('hex'),
        Buffer.from('sha256:').toString('hex') + '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
      assert.equal(e.xattrs(e.lookup('/empty')).length, 0, 'no fingerprint on an empty file');
    } finally {
      e.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('blake3 scheme: "blake3:" + raw 32-byte BLAKE3', () => {
  const { dir, root } = tree({ a: 'x'.repeat(10000) });
  try {
    const img = path.join(dir, 'b.img');
    build(['--xattr-inode-digest=trusted.fp', '--fingerprint', 'blake3', img, root]);
    const v = fingerprints(img, 'trusted.fp').get('a')!;
    assert.deepEqual(v, Buffer.concat([Buffer.from('blake3:'), Buffer.from(blake3(Buffer.from('x'.repeat(10000))))]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('vendor namespace: identical content gets identical UUIDv5 in two different images', () => {
  const a = tree({ 'lib/one': 'same bytes', 'two': 'other' });
  const b = tree({ 'elsewhere/renamed': 'same bytes', 'x/y/z': 'different' });
  try {
    const ia = path.join(a.dir, 'a.img');
    const ib = path.join(b.dir, 'b.img');
    build(['--fingerprint', 'uuid', '--vendor-namespace', NS, '--xattr-inode-digest=trusted.vendor.id', ia, a.root]);
    build(['--fingerprint', 'uuid', '--vendor-namespace', NS, '--xattr-inode-digest=trusted.vendor.id', ib, b.root]);
    const fa = fingerprints(ia, 'trusted.vendor.id');
    const fb = fingerprints(ib, 'trusted.vendor.id');
    assert.deepEqual(fa.get('lib/one'), fb.get('elsewhere/renamed'));
    assert.notDeepEqual(fa.get('two'), fb.get('x/y/z'));
    const want = vendorUuid(Buffer.from(NS.replace(/-/g, ''), 'hex'), createHash('sha256').update('same bytes').digest());
    const parsed = parseFingerprint(fa.get('lib/one')!);
    assert.equal(parsed.scheme, 'uuid');
    assert.deepEqual(parsed.scheme && Uint8Array.from(parsed.raw), want);
    assert.equal(fa.get('lib/one')!.length, 21);
  } finally {
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
});

test('uuid map: rebuild after one file changed keeps every other UUID, gives the changed file a new one', () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 12; i++) files[`d${i % 3}/f${i}`] = `content ${i}`;
  const { dir, root } = tree(files);
  try {
    const map = path.join(dir, 'ids.json');
    const i1 = path.join(dir, '1.img');
    const i2 = path.join(dir, '2.img');
    build(['--fingerprint', 'uuid', '--uuid-map', map, '--xattr-inode-digest=trusted.vendor.id', i1, root]);
    const mapText = fs.readFileSync(map, 'utf8');
    fs.writeFileSync(path.join(root, 'd1/f4'), 'content 4, edited');
    build(['--fingerprint', 'uuid', '--uuid-map', map, '--xattr-inode-digest=trusted.vendor.id', i2, root]);
    const f1 = fingerprints(i1, 'trusted.vendor.id');
    const f2 = fingerprints(i2, 'trusted.vendor.id');
    assert.equal(f1.size, 12);
    for (const [p, v] of f1) {
      if (p === 'd1/f4') assert.notDeepEqual(f2.get(p), v, 'changed file keeps its old UUID');
      else assert.deepEqual(f2.get(p), v, `${p} lost its UUID`);
    }
    assert.notEqual(fs.readFileSync(map, 'utf8'), mapText);
    // A damaged map is an error, and it is left as it was.
    fs.writeFileSync(map, '{"schema": "erofs-forge/uuid-map/1", "files": {"/x": {"uuid": 7}}}');
    const r = forge(['build', '--quiet', '--fingerprint', 'uuid', '--uuid-map', map, path.join(dir, '3.img'), root]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--uuid-map .*ids.json: entry "\/x": "uuid" is not a lowercase/);
    assert.equal(fs.existsSync(path.join(dir, '3.img')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
