// Finding (issue 21, sealed builds): `build --verity` hashed every data block of the image one by
// one on the main thread after the build, while the build's workers sat idle (the corpus: ~0.3 s of
// a 1.25 s sealed build). The leaf digests are now hashed in ranges on the workers
// (buildHashTreeFrom, the 'vleaves' job) and the tree above them built on the main thread in block
// order. These tests hold that to the one-pass tree byte for byte: ranges finishing in any order,
// a last range that is partial, and through the CLI an image of several ranges, checked against
// veritysetup format with the same parameters.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { after, test } from 'node:test';
import { buildHashTree, buildHashTreeFrom, leafDigests, localLeaves, saltedSetsMade, LEAF_RANGE_BLOCKS, type LeafHasher, type LeafParams } from '../src/verity/tree.js';
import { sharedLeaves } from '../src/pipeline/work/leaf-share.js';
import type { JobPool } from '../src/pipeline/work/pool.js';
import { verityLayout, type VerityParams } from '../src/verity/params.js';
import { noise } from './helpers/noise.js';
import { findTool, forge, needTool, runOk } from './helpers/tools.js';
import { fdReader } from '../src/verity/io.js';
import { addressDigest } from '../src/sys/native-digest.js';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-verity-ranges-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const memReader = (data: Buffer) => ({ read: (buf: Uint8Array, pos: number) => data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length)) });
const memWriter = (into: Buffer) => ({ write: (buf: Uint8Array, pos: number) => { into.set(buf, pos); } });

test('verity leaf ranges hashed out of order build the one-pass tree: same levels, same root', async () => {
  for (const [hash, dbs, hbs] of [['sha256', 512, 4096], ['sha512', 1024, 1024]] as const) {
    // Three full ranges and a partial one.
    const dataBlocks = 3 * LEAF_RANGE_BLOCKS + 5;
    const data = noise(dataBlocks * dbs, dbs);
    const p: VerityParams = { hash, dataBlockSize: dbs, hashBlockSize: hbs, dataBlocks, salt: Buffer.from('5a1t'), uuid: Buffer.alloc(16), superblock: false, hashOffset: 0 };
    const layout = verityLayout(p);
    const one = Buffer.alloc(layout.end);
    const ref = buildHashTree(memReader(data), memWriter(one), p, 'mem');
    // Later ranges finish first: the tree must still take them in block order.
    const asked: [number, number][] = [];
    const leaves: LeafHasher = (lp, first, count) => {
      asked.push([first, count]);
      const d = leafDigests(memReader(data), lp, first, count, 'mem');
      return new Promise((resolve) => setTimeout(() => resolve(d), 4 * (8 - asked.length)));
    };
    const ranged = Buffer.alloc(layout.end);
    const got = await buildHashTreeFrom(leaves, memWriter(ranged), p);
    assert.deepEqual(asked, [[0, LEAF_RANGE_BLOCKS], [LEAF_RANGE_BLOCKS, LEAF_RANGE_BLOCKS], [2 * LEAF_RANGE_BLOCKS, LEAF_RANGE_BLOCKS], [3 * LEAF_RANGE_BLOCKS, 5]]);
    assert.equal(got.rootHash.toString('hex'), ref.rootHash.toString('hex'), `${hash} ${dbs}/${hbs}: root`);
    assert.ok(ranged.equals(one), `${hash} ${dbs}/${hbs}: tree bytes`);
  }
});

test('verity leaf ranges: a range that fails fails the seal with its error', async () => {
  const p: VerityParams = { hash: 'sha256', dataBlockSize: 512, hashBlockSize: 4096, dataBlocks: 2 * LEAF_RANGE_BLOCKS, salt: Buffer.alloc(0), uuid: Buffer.alloc(16), superblock: false, hashOffset: 0 };
  const leaves: LeafHasher = (_lp, first) => (first ? Promise.reject(new Error('range read failed')) : Promise.resolve(new Uint8Array(32 * LEAF_RANGE_BLOCKS)));
  await assert.rejects(buildHashTreeFrom(leaves, null, p), /range read failed/);
});

test('verity leaf ranges on the workers: build --verity of an image of several ranges equals veritysetup format', (t) => {
  const vs = findTool('veritysetup') ?? (fs.existsSync('/usr/sbin/veritysetup') ? '/usr/sbin/veritysetup' : null);
  if (!needTool(t, vs, 'veritysetup (apt-get install cryptsetup-bin)')) return;
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  // 512-byte blocks: ~5 MiB of data make 2.5 ranges of 4096 blocks.
  fs.writeFileSync(path.join(src, 'a.bin'), noise(3_000_000, 3));
  fs.writeFileSync(path.join(src, 'd', 'b.bin'), noise(2_300_001, 4));
  const image = path.join(work, 'img');
  for (const workers of ['1', '3']) {
    const r = forge(['build', '--json', '-T0', '-Uclear', '-b', '512', '--workers', workers, '--verity', image, src]);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as { bytes: number; verity: { rootHash: string; salt: string; uuid: string; hashOffset: number; dataBlocks: number } };
    assert.ok(j.verity.dataBlocks > 2 * LEAF_RANGE_BLOCKS, `${j.verity.dataBlocks} data blocks: several ranges`);
    const copy = path.join(work, 'copy');
    fs.writeFileSync(copy, fs.readFileSync(image).subarray(0, j.bytes));
    const out = runOk(vs!, ['format', '--data-block-size=512', '--hash-block-size=4096', `--salt=${j.verity.salt}`, `--uuid=${j.verity.uuid}`,
      `--hash-offset=${j.verity.hashOffset}`, `--data-blocks=${j.verity.dataBlocks}`, copy, copy]).stdout.toString();
    assert.match(out, new RegExp(`Root hash:\\s+${j.verity.rootHash}\\n`), `--workers ${workers}: same root hash`);
    assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(image)), `--workers ${workers}: image with its tree byte-identical`);
  }
});

// Review finding (issue 21): sealOpenImage (the seal command) and sealOpenImageWith (build --verity)
// each had their own hash-file branch, one synchronous, one not. Now one async path takes its leaf
// digests from a LeafHasher: this thread's for `seal`, the workers' for a build. Both outputs, the
// appended tree and a separate hash file, must be the same bytes either way.
test('seal_open_image_one_path: seal IMAGE (leaves here) writes what build --verity (leaves on the workers) writes, appended and into a hash file', () => {
  const src = path.join(work, 'one-path');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.bin'), noise(2_500_000, 7));
  fs.writeFileSync(path.join(src, 'd', 'b.txt'), 'some text\n'.repeat(500));
  const at = (n: string) => path.join(work, n);
  const ok = (args: string[]) => { const r = forge(args); assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`); return r.stdout.toString(); };
  for (const hashFile of [false, true]) {
    const what = hashFile ? 'hash file' : 'appended';
    const hf = (n: string) => (hashFile ? ['--verity-hash-file', at(n)] : []);
    const built = JSON.parse(ok(['build', '--json', '-T0', '-Uclear', '-b', '512', '--workers', '2', '--verity', ...hf('h-built'), at('built.img'), src])) as { verity: { rootHash: string } };
    ok(['build', '--quiet', '-T0', '-Uclear', '-b', '512', at('plain.img'), src]);
    const sealed = JSON.parse(ok(['seal', '--json', ...hf('h-sealed'), at('plain.img')])) as { verity: { rootHash: string } };
    assert.equal(sealed.verity.rootHash, built.verity.rootHash, `${what}: root hash`);
    assert.ok(fs.readFileSync(at('plain.img')).equals(fs.readFileSync(at('built.img'))), `${what}: image bytes`);
    if (hashFile) assert.ok(fs.readFileSync(at('h-sealed')).equals(fs.readFileSync(at('h-built'))), 'hash file bytes');
  }
});

// Finding (issue 21, sealed builds): the leaves cost ~1.9 us of node:crypto overhead per block on
// top of the hashing (the corpus: ~0.2 s of CPU, and a result Buffer per block for the workers'
// GC). They are now hashed by address through Node's own OpenSSL (sys/native-digest.ts), each block
// read behind its own copy of the salt. Same digests as node:crypto for every hash, salt length
// (none, odd, 32, the 256 maximum) and block size, through preadv, a reader without it, and short reads.
test('verity_leaf_digests_by_address_equal_node_crypto: every hash, salt length and block size; preadv, plain reads, short reads', () => {
  for (const alg of ['sha256', 'sha512'] as const) assert.ok(addressDigest(alg), `${alg}: Node's OpenSSL callable here (official Node builds export it)`);
  const data = noise(3 * 1024 * 1024 + 3 * 4096, 5);
  const fdPath = path.join(work, 'leaf-data');
  fs.writeFileSync(fdPath, data);
  const fd = fs.openSync(fdPath, 'r');
  try {
    // At most 1000 bytes a read: every preadv and read comes back short.
    const short = { read: (b: Uint8Array, pos: number) => fs.readSync(fd, b, 0, Math.min(b.length, 1000), pos), readv: (bs: Uint8Array[], pos: number) => fs.readSync(fd, bs[0], 0, Math.min(bs[0].length, 1000), pos) };
    const readers = { preadv: fdReader(fd), plain: memReader(data), short };
    for (const hash of ['sha256', 'sha512'] as const) {
      for (const saltLen of [0, 5, 32, 256]) {
        for (const dbs of [512, 4096]) {
          const lp = { hash, salt: noise(saltLen, saltLen + 1), dataBlockSize: dbs };
          const count = Math.floor(data.length / dbs) - 2;
          const ref = leafDigests(memReader(data), lp, 1, count, 'mem', false);
          for (const [name, r] of Object.entries(readers)) {
            const got = leafDigests(r, lp, 1, count, 'mem');
            assert.ok(Buffer.from(got).equals(Buffer.from(ref)), `${hash}, salt ${saltLen}, blocks ${dbs}, ${name}`);
          }
        }
      }
    }
    assert.throws(() => leafDigests(fdReader(fd), { hash: 'sha256', salt: Buffer.alloc(32), dataBlockSize: 4096 }, 0, data.length / 4096 + 1, 'leaf-data'), /leaf-data: ends at byte/);
  } finally {
    fs.closeSync(fd);
  }
});

// Issue 21: the seal command hashes the leaves on its one thread; the next chunk of blocks is read
// (preadv) on one of libuv's threads while it hashes the last (localLeaves). Same digests as the
// one-thread reads, ranges in any size (a last chunk partial), short async reads finished here, the
// async reads used, and an early end refused.
test('seal_leaves_read_ahead_equal_leaf_digests: reads on libuv threads, short reads, partial chunks', async () => {
  const data = noise(3 * 1024 * 1024 + 3 * 4096, 9);
  const fdPath = path.join(work, 'leaf-ahead');
  fs.writeFileSync(fdPath, data);
  const fd = fs.openSync(fdPath, 'r');
  try {
    let asyncReads = 0;
    const base = fdReader(fd);
    const counted = { ...base, readvAsync: (bs: Uint8Array[], pos: number) => { asyncReads++; return base.readvAsync!(bs, pos); } };
    // Every async preadv comes back after at most 1000 bytes.
    const short = { ...base, readvAsync: (bs: Uint8Array[], pos: number) => base.readvAsync!([bs[0].subarray(0, Math.min(bs[0].length, 1000))], pos) };
    for (const [hash, saltLen, dbs] of [['sha256', 32, 4096], ['sha512', 5, 512]] as const) {
      const lp = { hash, salt: noise(saltLen, saltLen + 2), dataBlockSize: dbs };
      const all = Math.floor(data.length / dbs);
      for (const [first, count] of [[0, all], [1, all - 2], [3, 7]]) {
        const ref = leafDigests(memReader(data), lp, first, count, 'mem', false);
        for (const [name, r] of Object.entries({ counted, short })) {
          const leaves = localLeaves(r, 'leaf-ahead');
          // Asked together, as buildHashTreeFrom asks: each its own digests.
          const [a, b] = await Promise.all([leaves(lp, first, count), leaves(lp, 0, 1)]);
          assert.ok(Buffer.from(a).equals(Buffer.from(ref)), `${hash}, blocks ${dbs}, ${first}+${count}, ${name}`);
          assert.ok(Buffer.from(b).equals(Buffer.from(leafDigests(memReader(data), lp, 0, 1, 'mem', false))), `${name}: the range asked second`);
        }
      }
    }
    // sha256 with 4 KiB blocks alone: 4 + 4 + 1 chunks and three one-block ranges.
    assert.ok(asyncReads >= 12, `reads went to libuv (${asyncReads})`);
    await assert.rejects(localLeaves(fdReader(fd), 'leaf-ahead')({ hash: 'sha256', salt: Buffer.alloc(32), dataBlockSize: 4096 }, 0, data.length / 4096 + 1), /leaf-ahead: ends at byte/);
  } finally {
    fs.closeSync(fd);
  }
});

// Finding (issue 21, sealed builds): an uncompressed build --verity started all its workers for the
// build, though its copies go to one worker only (the image file's lock: build.ts poolSizeFor), and
// left this thread idle while the workers hashed the leaves. It now runs one worker as the unsealed
// build does, and the leaves are hashed by the workers and this thread together (sharedLeaves):
// both take ranges, and the tree is the one-pass tree whatever took which.
test('sealed_copies_build_hashes_leaves_here_and_on_its_worker: ranges shared, tree unchanged', async () => {
  const dbs = 512;
  const dataBlocks = 9 * LEAF_RANGE_BLOCKS + 3;
  const file = path.join(work, 'shared-leaves');
  const data = noise(dataBlocks * dbs, 9);
  fs.writeFileSync(file, data);
  const p: VerityParams = { hash: 'sha256', dataBlockSize: dbs, hashBlockSize: 4096, dataBlocks, salt: Buffer.from('salt'), uuid: Buffer.alloc(16), superblock: false, hashOffset: 0 };
  const ref = Buffer.alloc(verityLayout(p).end);
  const refRoot = buildHashTree(memReader(data), memWriter(ref), p, 'mem').rootHash;
  const onWorker: number[] = [];
  // A worker that takes 5 ms a range (this thread's ranges take about that too).
  const pool = {
    started: 1,
    run: (job: { kind: string; p: LeafParams; first: number; count: number }) => {
      onWorker.push(job.first);
      const digests = leafDigests(memReader(data), job.p, job.first, job.count, 'mem');
      return new Promise((resolve) => setTimeout(() => resolve({ kind: 'vleaves', digests }), 5));
    },
  } as unknown as JobPool;
  const fd = fs.openSync(file, 'r');
  try {
    for (const here of [true, false]) {
      onWorker.length = 0;
      const out = Buffer.alloc(ref.length);
      const got = await buildHashTreeFrom(sharedLeaves(pool, file, fd, file, here), memWriter(out), p);
      assert.equal(got.rootHash.toString('hex'), refRoot.toString('hex'), `here ${here}: root`);
      assert.ok(out.equals(ref), `here ${here}: tree bytes`);
      if (here) assert.ok(onWorker.length > 0 && onWorker.length < 10, `ranges on the worker: ${onWorker.length} of 10, the rest here`);
      else assert.equal(onWorker.length, 10, 'without here, every range on the worker');
    }
  } finally {
    fs.closeSync(fd);
  }
});

// Issue 21: a build hashes ~90 ranges on each thread; each range made its salted chunk buffers anew
// (1 MiB zeroed, a salt copy per block: ~20 MiB more peak RSS per thread at the corpus, and garbage).
// They are kept for the next range of the same salt and block size, and made anew when either changes.
test('verity_leaf_scratch_reused_across_ranges: one salted set per salt and block size, digests unchanged', () => {
  assert.ok(addressDigest('sha256'));
  const data = noise(2 * 1024 * 1024, 9);
  const fdPath = path.join(work, 'leaf-reuse');
  fs.writeFileSync(fdPath, data);
  const fd = fs.openSync(fdPath, 'r');
  try {
    const saltA = noise(32, 1);
    const saltB = Buffer.from(saltA);
    saltB[31] ^= 1;
    const before = saltedSetsMade();
    const check = (salt: Buffer, dbs: number, first: number, count: number) => {
      const lp = { hash: 'sha256' as const, salt, dataBlockSize: dbs };
      const got = leafDigests(fdReader(fd), lp, first, count, 'leaf-reuse');
      assert.ok(Buffer.from(got).equals(Buffer.from(leafDigests(memReader(data), lp, first, count, 'mem', false))), `salt ${salt[31]}, blocks ${dbs}, from ${first}`);
    };
    for (let r = 0; r < 4; r++) check(saltA, 4096, r * 100, 100);
    assert.equal(saltedSetsMade() - before, 1, 'four ranges of one salt: one set');
    // The same length, one bit different: a new set, not the last one's salt.
    check(saltB, 4096, 0, 100);
    check(saltB, 4096, 100, 100);
    assert.equal(saltedSetsMade() - before, 2);
    check(saltB, 512, 0, 1000);
    check(saltA, 4096, 0, 100);
    assert.equal(saltedSetsMade() - before, 4);
  } finally {
    fs.closeSync(fd);
  }
});
