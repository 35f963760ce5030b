// dm-verity sealing (issue 19), judged by the tools that consume it: veritysetup (cryptsetup-bin)
// must write byte-identical trees with the same salt, UUID, block sizes and hash offset, and accept
// ours with `veritysetup verify`; a flipped byte fails both checkers, ours naming the block and the
// file; openssl verifies the signature; `fsverity digest` agrees on the fs-verity digest; the kernel
// still mounts a sealed image. Images are small (hundreds of KiB) so the whole file runs in seconds.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { findTool, forge, needMount, needRoot, needTool, run, runOk } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { noise } from './helpers/noise.js';
import { buildHashTree } from '../src/verity/tree.js';
import { verityLayout, type VerityParams } from '../src/verity/params.js';
import { encodeVeritySuperblock, decodeVeritySuperblock } from '../src/verity/superblock.js';
import { fdReader, fdWriter } from '../src/verity/io.js';
import { fileFsverityDigest } from '../src/verity/image.js';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-verity-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const at = (name: string): string => path.join(work, name);

const VERITYSETUP = findTool('veritysetup') ?? (fs.existsSync('/usr/sbin/veritysetup') ? '/usr/sbin/veritysetup' : null);
const OPENSSL = findTool('openssl');
const FSVERITY = findTool('fsverity');

function needVeritysetup(t: TestContext): boolean {
  return needTool(t, VERITYSETUP, 'veritysetup (apt-get install cryptsetup-bin)');
}

/** A source tree: incompressible files of several sizes, a directory, a small text file. */
function makeTree(name: string, seed: number): string {
  const root = at(name);
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'big.bin'), noise(600_000, seed));
  fs.writeFileSync(path.join(root, 'dir', 'mid.bin'), noise(70_000, seed + 1));
  fs.writeFileSync(path.join(root, 'dir', 'sub', 'small.txt'), 'small file\n');
  fs.writeFileSync(path.join(root, 'text.txt'), 'a line of text\n'.repeat(3000));
  return root;
}
const TREE_A = makeTree('tree-a', 11);
const TREE_B = makeTree('tree-b', 97);

interface Built { image: string; json: { verity: Record<string, unknown>; bytes: number; fsverityDigest?: string } }

function build(name: string, src: string, args: string[]): Built {
  const image = at(name);
  const r = forge(['build', '--json', '-T0', '-Uclear', '--verity', ...args, image, src]);
  assert.equal(r.status, 0, `build ${args.join(' ')}: ${r.stderr}`);
  return { image, json: JSON.parse(r.stdout.toString()) as Built['json'] };
}

function flipByte(src: string, dst: string, offset: number): void {
  const b = fs.readFileSync(src);
  b[offset] ^= 0x5a;
  fs.writeFileSync(dst, b);
}

/** veritysetup format with our parameters onto a copy of the filesystem; returns its stdout. */
function veritysetupFormat(data: string, hash: string, v: Record<string, unknown>, extra: string[] = []): string {
  const args = [
    'format', `--hash=${String(v.hashAlgorithm)}`, `--data-block-size=${String(v.dataBlockSize)}`, `--hash-block-size=${String(v.hashBlockSize)}`,
    `--data-blocks=${String(v.dataBlocks)}`, `--salt=${(v.salt as string) || '-'}`,
    ...(v.superblock ? [`--uuid=${String(v.uuid)}`] : ['--no-superblock']),
    ...(data === hash ? [`--hash-offset=${String(v.hashOffset)}`] : []), ...extra, data, hash,
  ];
  return runOk(VERITYSETUP!, args).stdout.toString();
}

function veritysetupVerify(data: string, hash: string, root: string, v: Record<string, unknown>): number | null {
  const args = ['verify', data, hash, root];
  if (!v.superblock) {
    args.push('--no-superblock', `--hash=${String(v.hashAlgorithm)}`, `--data-block-size=${String(v.dataBlockSize)}`,
      `--hash-block-size=${String(v.hashBlockSize)}`, `--data-blocks=${String(v.dataBlocks)}`, `--salt=${(v.salt as string) || '-'}`);
  }
  if (data === hash) args.push(`--hash-offset=${String(v.hashOffset)}`);
  return run(VERITYSETUP!, args).status;
}

/** The flags that tell our verify where the tree is and, without a superblock, how it was made. */
function locateFlags(v: Record<string, unknown>): string[] {
  const f = v.hashFile ? ['--verity-hash-file', String(v.hashFile)] : [];
  if (!v.superblock) {
    f.push('--verity-no-superblock', '--verity-hash', String(v.hashAlgorithm), '--verity-data-block-size', String(v.dataBlockSize),
      '--verity-hash-block-size', String(v.hashBlockSize), '--verity-salt', (v.salt as string) || 'none');
  }
  return f;
}

const CONFIGS: { name: string; src: string; args: string[] }[] = [
  { name: 'default 4096/4096, appended, superblock, derived salt', src: TREE_A, args: [] },
  { name: '-b 1024, data 1024 / hash 4096, salt deadbeef (Yocto)', src: TREE_B, args: ['-b', '1024', '--verity-salt', 'deadbeef'] },
  { name: '-b 512, 512/1024, no superblock, no salt, separate hash file', src: TREE_A, args: ['-b', '512', '--verity-data-block-size', '512', '--verity-hash-block-size', '1024', '--verity-no-superblock', '--verity-salt', 'none', '--verity-hash-file', '@hash'] },
  // The UUID has no RFC 9562 variant: veritysetup takes any UUID, and so must we (a strict parser refused it).
  { name: 'sha512, 4096/512 (four levels), superblock, separate hash file, a non-RFC UUID', src: TREE_B, args: ['--verity-hash', 'sha512', '--verity-hash-block-size', '512', '--verity-hash-file', '@hash', '--verity-uuid', '12345678-1234-1234-1234-123456789abc'] },
  { name: '-b 2048, data 1024 / hash 2048, 64-byte salt, appended', src: TREE_A, args: ['-b', '2048', '--verity-data-block-size', '1024', '--verity-hash-block-size', '2048', '--verity-salt', 'ab'.repeat(64)] },
];

describe('dm-verity trees equal veritysetup format', () => {
  CONFIGS.forEach((c, i) => {
    test(c.name, (t) => {
      if (!needVeritysetup(t)) return;
      const hashFile = at(`c${i}.hash`);
      const b = build(`c${i}.img`, c.src, c.args.map((a) => (a === '@hash' ? hashFile : a)));
      const v = b.json.verity;
      const fsBytes = b.json.bytes;
      // veritysetup on a copy of the bare filesystem with the same parameters.
      const copy = at(`c${i}.vs.img`);
      fs.writeFileSync(copy, fs.readFileSync(b.image).subarray(0, fsBytes));
      const theirHash = v.hashFile ? at(`c${i}.vs.hash`) : copy;
      const out = veritysetupFormat(copy, theirHash, v);
      assert.match(out, new RegExp(`Root hash:\\s+${String(v.rootHash)}\\n`), 'same root hash');
      if (v.hashFile) {
        assert.ok(fs.readFileSync(hashFile).equals(fs.readFileSync(theirHash)), 'hash file byte-identical');
        assert.equal(fs.statSync(b.image).size, fsBytes, 'image left without a tree');
      } else {
        assert.ok(fs.readFileSync(b.image).equals(fs.readFileSync(copy)), 'image with appended tree byte-identical');
        assert.equal(fs.statSync(b.image).size, v.hashEnd);
      }
      const hash = v.hashFile ? hashFile : b.image;
      assert.equal(veritysetupVerify(b.image, hash, String(v.rootHash), v), 0, 'veritysetup verify passes');
      const ours = forge(['verify', '--root-hash', String(v.rootHash), ...locateFlags(v), b.image]);
      assert.equal(ours.status, 0, ours.stderr + ours.stdout.toString());
    });
  });

  test('tree shapes from the library: 1, 2, 128, 129, 16385 data blocks; hash offsets; format 1 superblock round trip', (t) => {
    if (!needVeritysetup(t)) return;
    for (const [blocks, dbs, hbs, salt] of [[1, 4096, 4096, '00ff'], [2, 512, 512, ''], [128, 4096, 4096, '01'], [129, 4096, 4096, '01'], [16385, 512, 4096, 'aa55']] as const) {
      const data = at(`raw-${blocks}`);
      fs.writeFileSync(data, noise(blocks * dbs, blocks));
      const p: VerityParams = { hash: 'sha256', dataBlockSize: dbs, hashBlockSize: hbs, dataBlocks: blocks, salt: Buffer.from(salt, 'hex'), uuid: Buffer.alloc(16, 7), superblock: false, hashOffset: 0 };
      const ours = at(`raw-${blocks}.ours`);
      const fd = fs.openSync(data, 'r');
      const hfd = fs.openSync(ours, 'w+');
      let root: Buffer;
      try {
        fs.ftruncateSync(hfd, verityLayout(p).end);
        root = buildHashTree(fdReader(fd), fdWriter(hfd, ours), p, data).rootHash;
      } finally {
        fs.closeSync(fd);
        fs.closeSync(hfd);
      }
      const theirs = at(`raw-${blocks}.vs`);
      const out = runOk(VERITYSETUP!, ['format', '--no-superblock', `--salt=${salt || '-'}`, `--data-block-size=${dbs}`, `--hash-block-size=${hbs}`, data, theirs]).stdout.toString();
      assert.match(out, new RegExp(`Root hash:\\s+${root.toString('hex')}\\n`), `${blocks} blocks: root hash`);
      assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(theirs)), `${blocks} blocks: hash device byte-identical`);
    }
    const sb = { hashType: 1, uuid: Buffer.alloc(16, 1), algorithm: 'sha512' as const, dataBlockSize: 1024, hashBlockSize: 4096, dataBlocks: 77, salt: Buffer.from('0102', 'hex') };
    assert.deepEqual({ ...decodeVeritySuperblock(encodeVeritySuperblock(sb), 'sb') }, { ...sb, uuid: Uint8Array.from(sb.uuid), salt: Uint8Array.from(sb.salt) });
  });

  test('--verity-env holds veritysetup format\'s own lines; --root-hash-file its hex without a newline', (t) => {
    if (!needVeritysetup(t)) return;
    const dir = fs.mkdtempSync(path.join(work, 'env-'));
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '--verity', '--verity-hash-file', 'img.hash', '--verity-env', 'img.env', '--root-hash-file', 'img.roothash', 'img', TREE_A], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const env = fs.readFileSync(path.join(dir, 'img.env'), 'utf8');
    const salt = /Salt:\s+(\S+)/.exec(env)![1];
    const uuid = /UUID:\s+(\S+)/.exec(env)![1];
    const theirs = run(VERITYSETUP!, ['format', `--salt=${salt}`, `--uuid=${uuid}`, 'img', 'vs.hash'], { cwd: dir }).stdout.toString();
    assert.equal(env, theirs.replace('vs.hash', 'img.hash'));
    assert.equal(fs.readFileSync(path.join(dir, 'img.roothash'), 'utf8'), /Root hash:\s+(\S+)/.exec(theirs)![1]);
    // verify takes the root hash file as veritysetup --root-hash-file writes it.
    const v = forge(['verify', '--root-hash', 'img.roothash', '--verity-hash-file', 'img.hash', 'img'], { cwd: dir });
    assert.equal(v.status, 0, v.stderr + v.stdout.toString());
  });
});

describe('a flipped byte fails veritysetup verify and ours', () => {
  // sha256 over 4096-byte data blocks with 512-byte hash blocks: three levels, so a damaged leaf
  // block has a trusted parent and is named as such.
  const cfg = ['--verity-hash-block-size', '512'];
  let flipBase: Built | undefined;
  const flips: { what: string; offset: (v: Record<string, unknown>, image: string) => number; code: string; expect: RegExp; path?: string }[] = [
    { what: 'data of /big.bin', offset: (_v, image) => fs.readFileSync(image).indexOf(noise(64, 11)) + 5000, code: 'verity-data-block', expect: /data block \d+ \(bytes \d+\.\.\d+\) does not match its hash \(data of \/big\.bin\)/, path: '/big.bin' },
    { what: 'a leaf hash block', offset: (v) => (verityLayoutOf(v).levels[0].start + 1) * 512 + 40, code: 'verity-hash-block', expect: /hash block \d+ \(level 0 block 1, bytes \d+\.\.\d+ of .*\) is damaged/ },
    { what: 'the salt in the superblock', offset: (v) => Number(v.hashOffset) + 88, code: 'verity-root-hash', expect: /root hash mismatch/ },
    { what: 'the superblock signature', offset: (v) => Number(v.hashOffset) + 1, code: 'verity-superblock', expect: /damaged dm-verity superblock: no "verity" signature/ },
  ];
  for (const f of flips) {
    test(f.what, (t) => {
      if (!needVeritysetup(t)) return;
      const b = (flipBase ??= build('flip-base.img', TREE_A, cfg));
      const v = b.json.verity;
      const bad = at(`flip-${f.code}.img`);
      flipByte(b.image, bad, f.offset(v, b.image));
      assert.notEqual(veritysetupVerify(bad, bad, String(v.rootHash), v), 0, 'veritysetup verify fails');
      const r = forge(['verify', '--json', '--root-hash', String(v.rootHash), bad]);
      assert.equal(r.status, 1, r.stderr);
      const doc = JSON.parse(r.stdout.toString()) as { ok: boolean; problems: { code: string; message: string; path: string | null; dataBlock?: number }[]; verity: { ok: boolean } };
      assert.equal(doc.ok, false);
      assert.equal(doc.verity.ok, false);
      const p = doc.problems.find((x) => x.code === f.code);
      assert.ok(p, `a ${f.code} problem: ${JSON.stringify(doc.problems)}`);
      assert.match(p.message, f.expect);
      if (f.path) {
        assert.equal(p.path, f.path);
        const off = f.offset(v, b.image);
        assert.equal(p.dataBlock, Math.floor(off / Number(v.dataBlockSize)), 'the block holding the flipped byte');
        // Text output: "IMAGE: /big.bin: data block N ..." on stdout.
        const text = forge(['verify', '--root-hash', String(v.rootHash), bad]);
        assert.match(text.stdout.toString(), /: \/big\.bin: data block \d+ /);
      }
    });
  }
});

function verityLayoutOf(v: Record<string, unknown>) {
  return verityLayout({
    hash: v.hashAlgorithm as 'sha256', dataBlockSize: Number(v.dataBlockSize), hashBlockSize: Number(v.hashBlockSize), dataBlocks: Number(v.dataBlocks),
    salt: Buffer.from(String(v.salt), 'hex'), uuid: Buffer.alloc(16), superblock: !!v.superblock, hashOffset: Number(v.hashOffset),
  });
}

describe('reproducible seals, seal IMAGE, atomicity', () => {
  test('same input twice: identical image and root hash; another tree, another salt and UUID', () => {
    const a = build('rep1.img', TREE_A, []);
    const b = build('rep2.img', TREE_A, []);
    assert.ok(fs.readFileSync(a.image).equals(fs.readFileSync(b.image)));
    assert.equal(a.json.verity.rootHash, b.json.verity.rootHash);
    // Salt and UUID derive from block 0 (v2), which differs here: the two trees' file tails are inlined
    // there. Trees differing only in whole data blocks share them (verity-salt.test.ts).
    const c = build('rep3.img', TREE_B, []);
    assert.ok(!fs.readFileSync(c.image).subarray(0, 4096).equals(fs.readFileSync(a.image).subarray(0, 4096)));
    assert.notEqual(c.json.verity.salt, a.json.verity.salt);
    assert.notEqual(c.json.verity.uuid, a.json.verity.uuid);
  });

  test('seal of a mkfs.erofs image equals build --verity of the same bytes; resealing replaces the tree', (t) => {
    if (!needVeritysetup(t)) return;
    const mkfs = findTool('mkfs.erofs');
    if (!needTool(t, mkfs, 'mkfs.erofs (set EROFS_UTILS_BIN)')) return;
    const img = at('mkfs.img');
    runOk(mkfs, ['-T0', '-U', '00000000-0000-0000-0000-000000000000', '--quiet', img, TREE_A]);
    const plain = fs.readFileSync(img);
    const r1 = forge(['seal', '--json', img]);
    assert.equal(r1.status, 0, r1.stderr);
    const s1 = JSON.parse(r1.stdout.toString()) as { verity: Record<string, unknown>; imageBytes: number };
    assert.ok(fs.readFileSync(img).subarray(0, plain.length).equals(plain), 'filesystem bytes untouched');
    assert.equal(veritysetupVerify(img, img, String(s1.verity.rootHash), s1.verity), 0);
    const sealed1 = fs.readFileSync(img);
    // Seal again with other sizes: the old tail is replaced, the filesystem still untouched.
    const r2 = forge(['seal', '--json', '--verity-hash-block-size', '1024', '--verity-data-block-size', '1024', img]);
    assert.equal(r2.status, 0, r2.stderr);
    const s2 = JSON.parse(r2.stdout.toString()) as { verity: Record<string, unknown> };
    assert.ok(fs.readFileSync(img).subarray(0, plain.length).equals(plain));
    assert.equal(veritysetupVerify(img, img, String(s2.verity.rootHash), s2.verity), 0);
    // And back: same options, same bytes as the first seal (salt and UUID derived from block 0).
    assert.equal(forge(['seal', '--quiet', img]).status, 0);
    assert.ok(fs.readFileSync(img).equals(sealed1), 'reseal reproduces the first seal');
  });

  test('a failing seal leaves the image as it was (fresh append and reseal over an old tree); a refused option writes nothing', () => {
    const img = at('atomic.img');
    assert.equal(forge(['build', '--quiet', '-T0', '-Uclear', img, TREE_A]).status, 0);
    const before = fs.readFileSync(img);
    // The side output cannot be created, after the tree was appended in place: cut back.
    const r = forge(['seal', '--root-hash-file', at('no-such-dir/rh'), img]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^erofs-forge: .*no-such-dir\/rh: cannot create: no such directory\n$/);
    assert.ok(fs.readFileSync(img).equals(before), 'in-place append undone');
    // With an old tree: the old tail is put back, the sealed image stays.
    assert.equal(forge(['seal', '--quiet', img]).status, 0);
    const sealed = fs.readFileSync(img);
    assert.equal(forge(['seal', '--verity-hash', 'sha512', '--root-hash-file', at('no-such-dir/rh'), img]).status, 1);
    assert.ok(fs.readFileSync(img).equals(sealed), 'reseal undone: old tree restored');
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.endsWith('.tmp')), [], 'no temp files left');
    // Bytes after the filesystem that are not a seal (a tar after a tar index, say) are kept unless told.
    const foreign = at('foreign.img');
    fs.writeFileSync(foreign, Buffer.concat([before, Buffer.from('not a seal'.repeat(100))]));
    const keep = forge(['seal', foreign]);
    assert.equal(keep.status, 1);
    assert.match(keep.stderr, /^erofs-forge: .*foreign\.img: 1000 bytes after the filesystem are not a dm-verity seal \(no superblock\); --replace-tail to replace them, or --verity-hash-file\n$/);
    assert.equal(fs.statSync(foreign).size, before.length + 1000);
    assert.equal(forge(['seal', '--quiet', '--replace-tail', foreign]).status, 0);
    assert.ok(fs.readFileSync(foreign).equals(sealed), 'replaced: the same seal as the plain image got');
    // A verity block larger than the filesystem's block does not mount: refused in one line, no image.
    const big = forge(['build', '-b', '1024', '--verity', '--verity-data-block-size', '4096', at('refused.img'), TREE_A]);
    assert.equal(big.status, 1);
    assert.equal(big.stderr, 'erofs-forge: --verity-data-block-size 4096: larger than the image\'s block size 1024\n');
    assert.ok(!fs.existsSync(at('refused.img')));
    const salt = forge(['build', '--verity', '--verity-salt', 'xyz', at('refused.img'), TREE_A]);
    assert.equal(salt.status, 1);
    assert.match(salt.stderr, /^erofs-forge: --verity-salt xyz: not hex/);
    const stray = forge(['build', '--verity-salt', '00', at('refused.img'), TREE_A]);
    assert.equal(stray.stderr, 'erofs-forge: --verity-salt needs --verity\n');
    assert.ok(!fs.existsSync(at('refused.img')));
  });

  test('fs-verity digest of the sealed image equals `fsverity digest`', (t) => {
    if (!needTool(t, FSVERITY, 'fsverity (apt-get install fsverity)')) return;
    const b = build('fsv.img', TREE_B, ['-b', '1024']);
    const theirs = runOk(FSVERITY, ['digest', b.image]).stdout.toString().split(' ')[0];
    assert.equal(b.json.fsverityDigest, theirs);
    const inspect = forge(['inspect', '--json', '--fsverity-digest', b.image]);
    const doc = JSON.parse(inspect.stdout.toString()) as { fsverityDigest: string; verity: { hashOffset: number; salt: string } };
    assert.equal(doc.fsverityDigest, theirs);
    assert.equal(doc.verity.hashOffset, b.json.verity.hashOffset);
    assert.equal(doc.verity.salt, b.json.verity.salt);
    // Files that are not a multiple of 4096 bytes, one under one block, one of exactly one, an empty one.
    for (const size of [12345, 100, 4096, 0, 4096 * 129 + 1]) {
      const f = at(`fsv-${size}`);
      fs.writeFileSync(f, noise(size, size + 1));
      assert.equal(fileFsverityDigest(f), runOk(FSVERITY, ['digest', f]).stdout.toString().split(' ')[0], `${size} bytes`);
    }
  });
});

describe('signed root hash (systemd form)', () => {
  for (const kind of ['rsa', 'ec'] as const) {
    test(`${kind}: openssl cms -verify accepts it; a wrong certificate or another root hash fails`, (t) => {
      if (!needTool(t, OPENSSL, 'openssl')) return;
      const dir = fs.mkdtempSync(path.join(work, `sig-${kind}-`));
      const key = path.join(dir, 'key.pem');
      const cert = path.join(dir, 'cert.pem');
      const other = path.join(dir, 'other.pem');
      const otherKey = path.join(dir, 'other.key');
      const keyArgs = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
      runOk(OPENSSL, ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=erofs-forge test', '-days', '30']);
      runOk(OPENSSL, ['req', '-x509', ...keyArgs, '-nodes', '-keyout', otherKey, '-out', other, '-subj', '/CN=someone else', '-days', '30']);
      const sigFile = path.join(dir, 'img.verity-sig');
      const b = build(`sig-${kind}.img`, TREE_A, ['--verity-sign-key', key, '--verity-sign-cert', cert, '--verity-signature', sigFile]);
      const sig = JSON.parse(fs.readFileSync(sigFile, 'utf8')) as { rootHash: string; certificateFingerprint: string; signature: string };
      assert.deepEqual(Object.keys(sig), ['rootHash', 'certificateFingerprint', 'signature']);
      assert.equal(sig.rootHash, b.json.verity.rootHash);
      const der = runOk(OPENSSL, ['x509', '-in', cert, '-outform', 'DER']).stdout;
      assert.equal(sig.certificateFingerprint, createHash('sha256').update(der).digest('hex'));
      const sigDer = path.join(dir, 'sig.der');
      fs.writeFileSync(sigDer, Buffer.from(sig.signature, 'base64'));
      // The signed bytes are the hex root hash without a newline (systemd's sign_verity_roothash).
      const content = path.join(dir, 'roothash.txt');
      fs.writeFileSync(content, sig.rootHash);
      const verify = (ca: string, data: string) => run(OPENSSL, ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigDer, '-content', data, '-CAfile', ca, '-purpose', 'any', '-out', '/dev/null']).status;
      assert.equal(verify(cert, content), 0, 'openssl cms -verify');
      assert.notEqual(verify(other, content), 0, 'wrong certificate');
      const changed = path.join(dir, 'changed.txt');
      fs.writeFileSync(changed, (sig.rootHash[0] === '0' ? '1' : '0') + sig.rootHash.slice(1));
      assert.notEqual(verify(cert, changed), 0, 'changed root hash');
      const withNewline = path.join(dir, 'newline.txt');
      fs.writeFileSync(withNewline, sig.rootHash + '\n');
      assert.notEqual(verify(cert, withNewline), 0, 'a newline is not part of the signed bytes');
      // No signed attributes, detached: what PKCS7_sign(DETACHED|NOATTR|BINARY) writes. For RSA the
      // signature is deterministic, so the whole DER equals OpenSSL's own.
      if (kind === 'rsa') {
        const theirs = runOk(OPENSSL, ['smime', '-sign', '-binary', '-noattr', '-in', content, '-signer', cert, '-inkey', key, '-outform', 'DER']).stdout;
        assert.ok(theirs.equals(fs.readFileSync(sigDer)), 'byte-identical to openssl smime -sign -binary -noattr');
      }
      // Our verify: right certificate passes; a wrong one, or a signature over another root hash, fails.
      const ok = forge(['verify', '--root-hash', sig.rootHash, '--verity-signature', sigFile, '--verity-cert', cert, b.image]);
      assert.equal(ok.status, 0, ok.stderr + ok.stdout.toString());
      assert.match(ok.stderr, /signature verified/);
      const wrong = forge(['verify', '--json', '--root-hash', sig.rootHash, '--verity-signature', sigFile, '--verity-cert', other, b.image]);
      assert.equal(wrong.status, 1);
      assert.ok((JSON.parse(wrong.stdout.toString()) as { problems: { code: string }[] }).problems.some((p) => p.code === 'verity-signature'));
      const forged = path.join(dir, 'forged.json');
      fs.writeFileSync(forged, JSON.stringify({ ...sig, rootHash: fs.readFileSync(changed, 'utf8') }));
      assert.equal(forge(['verify', '--root-hash', sig.rootHash, '--verity-signature', forged, '--verity-cert', cert, b.image]).status, 1);
      // A key that does not belong to the certificate: one line, no image, no signature.
      const mismatch = forge(['build', '--verity', '--verity-sign-key', otherKey, '--verity-sign-cert', cert, '--verity-signature', path.join(dir, 'x.sig'), path.join(dir, 'x.img'), TREE_A]);
      assert.equal(mismatch.status, 1);
      assert.match(mismatch.stderr, /^erofs-forge: --verity-sign-cert .*: does not belong to the key .*\n$/);
      assert.ok(!fs.existsSync(path.join(dir, 'x.img')) && !fs.existsSync(path.join(dir, 'x.sig')));
    });
  }
});


describe('sealed images still mount', () => {
  for (const [bs, extra] of [[4096, []], [512, ['--verity-data-block-size', '512', '--verity-hash-block-size', '4096']]] as const) {
    test(`-b ${bs}: the tree lies after the filesystem; the mounted tree equals the source`, async (t) => {
      if (!needRoot(t) || !needMount(t)) return;
      // -b 512 as a tar index image has (test/tar-index.test.ts seals and mounts a real one).
      const b = build(`mount-${bs}.img`, TREE_A, ['-b', String(bs), ...extra]);
      assert.ok(fs.statSync(b.image).size > b.json.bytes, 'tree appended');
      const src = await snapshotTree(TREE_A, { xattrs: false });
      const mounted = await withMount(b.image, (m) => snapshotTree(m, { xattrs: false, skipRootMtime: true }));
      // -T0 gives every inode time 0: times are not compared.
      assertSameTree(src, mounted, { ignoreMtimeOf: () => true });
    });
  }
});
