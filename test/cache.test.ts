// --cache: a rebuild reuses compressed segments, gives the same bytes as an uncached build, and never
// trusts a damaged entry.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { forge, FORGE_BIN } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Entry files (in two-hex-digit directories; DIR/index is the stat index). */
function entries(dir: string): string[] {
  return fs.readdirSync(dir).filter((d) => d.length === 2).flatMap((d) => fs.readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
}

test('cached rebuilds: identical bytes, only changed files recompressed, damaged entries rebuilt', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(root, `t${i}`), `line ${i} `.repeat(500 + i * 37));
    fs.writeFileSync(path.join(root, 'mixed'), Buffer.concat([pseudoRandom('c', 40000), Buffer.alloc(70000)]));
    const cache = path.join(dir, 'cache');
    const build = (name: string, extra: string[] = []) => {
      const img = path.join(dir, `${name}.img`);
      const r = forge(['build', '--json', '-T0', '-Uclear', '-zlz4hc', '-C', '16384', '-E', 'ztailpacking', ...extra, img, root]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.toString());
      // Whether the stat index vouched for a file depends on how old its ctime is by now (see the
      // next test); the totals below do not.
      if (out.cache) delete out.cache.indexed;
      return { img, out };
    };
    const plain = build('plain');
    const first = build('first', ['--cache', cache]);
    assert.deepEqual(first.out.cache, { hit: 0, absent: 41, damaged: 0 });
    const second = build('second', ['--cache', cache]);
    assert.deepEqual(second.out.cache, { hit: 41, absent: 0, damaged: 0 });
    assert.equal(sha(first.img), sha(plain.img), 'cached build equals an uncached one');
    assert.equal(sha(second.img), sha(plain.img));

    // Damage two entries: a flipped byte and a truncation. Both are detected and rebuilt.
    const files = entries(cache).sort();
    const flip = fs.readFileSync(files[0]);
    flip[flip.length >> 1] ^= 0x40;
    fs.writeFileSync(files[0], flip);
    fs.truncateSync(files[1], 30);
    const third = build('third', ['--cache', cache]);
    assert.deepEqual(third.out.cache, { hit: 39, absent: 0, damaged: 2 });
    assert.equal(sha(third.img), sha(plain.img));

    // One file changed: only it is recompressed.
    fs.appendFileSync(path.join(root, 't7'), 'changed');
    const fourth = build('fourth', ['--cache', cache]);
    assert.deepEqual(fourth.out.cache, { hit: 40, absent: 1, damaged: 0 });
    assert.equal(sha(fourth.img), sha(build('fourth-plain').img));

    // Two builds sharing one (empty) cache at once: both complete and agree.
    const shared = path.join(dir, 'shared');
    const runOne = (img: string) => new Promise<number>((resolve) => {
      const c = spawn(process.execPath, [FORGE_BIN, 'build', '--quiet', '-T0', '-Uclear', '-zlz4hc', '-C', '16384', '-E', 'ztailpacking', '--cache', shared, img, root]);
      c.on('close', (code) => resolve(code ?? 1));
    });
    const codes = await Promise.all([runOne(path.join(dir, 'p1.img')), runOne(path.join(dir, 'p2.img'))]);
    assert.deepEqual(codes, [0, 0]);
    assert.equal(sha(path.join(dir, 'p1.img')), sha(fourth.img));
    assert.equal(sha(path.join(dir, 'p2.img')), sha(fourth.img));
    assert.equal([...fs.readdirSync(shared), ...entries(shared)].filter((f) => f.endsWith('.tmp')).length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('stat index: unchanged files are not read; a rewrite with size and mtime put back is caught by ctime; a damaged index is ignored', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-index-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const names = ['a', 'b', 'c', 'sub/d', 'sub/e'];
    names.forEach((n, i) => fs.writeFileSync(path.join(root, n), `file ${n} `.repeat(2000 + 300 * i)));
    // A big file: several segments (16 MiB each), half of it compressible.
    fs.writeFileSync(path.join(root, 'big'), Buffer.concat([pseudoRandom('big', 9 << 20), Buffer.alloc(9 << 20, 7)]));
    // Too small to gain from compression (no ztailpacking): stored flat, never a cache entry.
    fs.writeFileSync(path.join(root, 'tiny'), 'tiny');
    // mtimes on whole seconds, so they can be put back exactly.
    for (const n of [...names, 'big', 'tiny']) fs.utimesSync(path.join(root, n), 1_600_000_000, 1_600_000_000);
    // A stat is recorded only when its ctime is over a second old (see cache-index.ts).
    await sleep(1300);
    const cache = path.join(dir, 'cache');
    const build = (name: string, extra: string[] = []) => {
      const img = path.join(dir, `${name}.img`);
      // The entry path: no old image to copy from (that path: cache-old-image.test.ts).
      fs.rmSync(path.join(cache, 'image'), { force: true });
      const r = forge(['build', '--json', '-T0', '-Uclear', '-zlz4hc', '--xattr-inode-digest', ...extra, img, root]);
      assert.equal(r.status, 0, r.stderr);
      return { img, cache: JSON.parse(r.stdout.toString()).cache };
    };
    const segs = names.length + 2;
    const plain = build('plain');
    const first = build('first', ['--cache', cache]);
    assert.deepEqual(first.cache, { hit: 0, indexed: 0, absent: segs, damaged: 0 });
    assert.ok(fs.existsSync(path.join(cache, 'index')));
    for (const w of ['1', '3']) {
      const again = build(`again${w}`, ['--cache', cache, '--workers', w]);
      assert.deepEqual(again.cache, { hit: segs, indexed: segs, absent: 0, damaged: 0 }, `--workers ${w}`);
      assert.equal(sha(again.img), sha(plain.img), `--workers ${w}: same bytes as an uncached build`);
    }
    // Without fingerprints the index serves the same entries; the fingerprint digests stay recorded.
    const noFp = forge(['build', '--json', '-T0', '-Uclear', '-zlz4hc', '--cache', cache, path.join(dir, 'nofp.img'), root]);
    assert.equal(noFp.status, 0, noFp.stderr.toString());
    assert.equal(JSON.parse(noFp.stdout.toString()).cache.indexed, segs);
    assert.equal(build('fp-again', ['--cache', cache]).cache.indexed, segs);

    // Same size, mtime put back: only the ctime tells; the file is read and recompressed.
    const a = path.join(root, 'a');
    const old = fs.readFileSync(a);
    fs.writeFileSync(a, Buffer.from(old.toString().replace('file a', 'FILE A')));
    fs.utimesSync(a, 1_600_000_000, 1_600_000_000);
    assert.equal(fs.statSync(a).size, old.length);
    assert.equal(fs.statSync(a).mtimeMs, 1_600_000_000_000);
    const changed = build('changed', ['--cache', cache]);
    assert.deepEqual(changed.cache, { hit: segs - 1, indexed: segs - 1, absent: 1, damaged: 0 });
    const changedPlain = build('changed-plain');
    assert.notEqual(sha(changedPlain.img), sha(plain.img));
    assert.equal(sha(changed.img), sha(changedPlain.img));

    // A damaged index is ignored as a whole: every file takes the content-keyed path, same bytes.
    const indexFile = path.join(cache, 'index');
    const ix = fs.readFileSync(indexFile);
    ix[ix.length - 10] ^= 0x20;
    fs.writeFileSync(indexFile, ix);
    const afterDamage = build('after-damage', ['--cache', cache]);
    assert.deepEqual(afterDamage.cache, { hit: segs, indexed: 0, absent: 0, damaged: 0 });
    assert.equal(sha(afterDamage.img), sha(changedPlain.img));
    // ... and rewritten whole by that build.
    assert.ok(build('rewritten', ['--cache', cache]).cache.indexed >= segs - 1);

    // An entry the index points at, damaged: detected, rebuilt from the source, never trusted.
    for (const f of entries(cache)) {
      const b = fs.readFileSync(f);
      b[b.length >> 1] ^= 0x01;
      fs.writeFileSync(f, b);
    }
    const allDamaged = build('all-damaged', ['--cache', cache]);
    assert.equal(allDamaged.cache.damaged, segs);
    assert.equal(allDamaged.cache.indexed, 0);
    assert.equal(sha(allDamaged.img), sha(changedPlain.img));
    assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.tmp')).length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('stat index: tar input keeps the content-keyed path (no stat to trust), same bytes', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-tar-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(root);
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(root, `f${i}`), `tar file ${i} `.repeat(3000));
    const tarFile = path.join(dir, 'in.tar');
    const t = spawnSync('tar', ['-cf', tarFile, '-C', root, '.']);
    assert.equal(t.status, 0, t.stderr.toString());
    await sleep(1300);
    const cache = path.join(dir, 'cache');
    const build = (name: string, extra: string[]) => {
      const img = path.join(dir, `${name}.img`);
      const r = forge(['build', '--json', '-T0', '-Uclear', '-zlz4hc', '--tar=f', ...extra, img, tarFile]);
      assert.equal(r.status, 0, r.stderr.toString());
      return { img, cache: JSON.parse(r.stdout.toString()).cache };
    };
    const plain = build('plain', []);
    assert.deepEqual(build('first', ['--cache', cache]).cache, { hit: 0, indexed: 0, absent: 4, damaged: 0 });
    const second = build('second', ['--cache', cache]);
    assert.deepEqual(second.cache, { hit: 4, indexed: 0, absent: 0, damaged: 0 });
    assert.equal(sha(second.img), sha(plain.img));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
