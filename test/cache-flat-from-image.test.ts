// --cache rebuilds whose unchanged flat files (too small to compress, or stored flat because
// compression saves nothing) come from the old image (flat-from-image.ts): their blocks copied, their
// inline tails read from it, by the places flat-index.ts keeps. Every rebuild is the same bytes as an
// uncached build of the tree as it is then: with a changed file among unchanged ones, with the tails
// split otherwise than in the old image (inline there, in blocks here, and back), with fingerprints
// (no flat file from the image: they are read and hashed), and with an old image rewritten in place
// (not trusted: every file from the source). The flat index is used only under its token.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { libcAvailable } from '../src/sys/libc.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/index.js';
import { flatsFromImage } from '../src/pipeline/emit/flat-from-image.js';
import { FlatIndex } from '../src/pipeline/cache/flat-index.js';
import { wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORDS = ['erofs', 'forge', 'flat', 'tail', 'inline'];

test('cache_flat_files_from_old_image: same bytes as uncached, changed and split tails, untrusted image', { skip: !libcAvailable() && 'needs the libc bindings (koffi)' }, async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-flat-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    let flat = 0;
    for (let i = 0; i < 30; i++) {
      const d = i % 2 ? 'sub' : '';
      // Small files (inline tails of 1 to ~3,900 bytes) between compressed ones.
      fs.writeFileSync(path.join(root, d, `s${i}`), wordText(1 + ((i * 733) % 3900), i, WORDS, 30));
      flat++;
      if (i % 3 === 0) fs.writeFileSync(path.join(root, d, `z${i}`), wordText(9000 + i * 501, i, WORDS, 50));
      // Incompressible: compressed first, stored flat (two blocks and an inline tail).
      if (i % 5 === 0) {
        fs.writeFileSync(path.join(root, d, `r${i}`), randomBytes(2 * 4096 + 100 + i));
        flat++;
      }
    }
    const cache = path.join(dir, 'cache');
    const img = path.join(dir, 'out.img');
    const o = (withCache: boolean, inlineData = true, fp = false) => defaultBuildOptions({
      uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2, inlineData,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
      ...(fp ? { fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' as const } } : {}),
      ...(withCache ? { cacheDir: cache } : {}),
    });
    let n = 0;
    /** A cached build into img and an uncached one of the tree as it is now: the same bytes. Flat files from the old image. */
    const build = async (inlineData = true, fp = false) => {
      const plain = path.join(dir, `p${n++}.img`);
      const before = flatsFromImage();
      await buildImage(img, { dir: root }, o(true, inlineData, fp));
      await buildImage(plain, { dir: root }, o(false, inlineData, fp));
      assert.equal(sha(img), sha(plain), `build ${n - 1}: same bytes as uncached`);
      fs.rmSync(plain);
      return flatsFromImage() - before;
    };
    // Stats are recorded only once their ctime is over a second old (cache-index.ts).
    await sleep(1100);
    assert.equal(await build(), 0);
    assert.equal(await build(), flat, 'every flat file from the old image');
    assert.equal(await build(), flat);

    // A changed small file (same size, mtime put back: its ctime tells) among unchanged ones.
    const s4 = path.join(root, 's4');
    const st = fs.statSync(s4);
    const b = fs.readFileSync(s4);
    b[0] ^= 0x20;
    fs.writeFileSync(s4, b);
    fs.utimesSync(s4, st.atime, st.mtime);
    assert.equal(await build(), flat - 1);
    await sleep(1100);
    await build();
    assert.equal(await build(), flat, 'the changed file from the image it was written to');

    // No inline data: every tail in a block of its own here, inline in the old image; then back.
    assert.equal(await build(false), flat);
    assert.equal(await build(true), flat);
    // Fingerprints: every flat file read and hashed; then, without, from the old image again.
    assert.equal(await build(true, true), 0);
    assert.equal(await build(true, true), 0);
    await build();
    assert.equal(await build(), flat);
    // The flat index under another token than the stat index's: not used (then written anew).
    const flats = path.join(cache, 'flats');
    const fb = fs.readFileSync(flats);
    fb.write('0000000000000000', 8, 'latin1');
    fs.writeFileSync(flats, fb);
    assert.equal(await build(), 0);
    assert.equal(await build(), flat);

    // The old image rewritten in place: not trusted, every flat file from the source.
    const fd = fs.openSync(img, 'r+');
    try {
      fs.writeSync(fd, Buffer.from('scribbled'), 0, 9, 8192);
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(await build(), 0);
    assert.equal(await build(), flat);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cache flat index: places by stat identity, saved under a token and loaded only with it; damaged or foreign files give none', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-flat-index-'));
  try {
    const token = 'abcdef0123456789';
    const a = FlatIndex.load(dir, token);
    assert.equal(a.get('1:2:3:4:5'), undefined);
    a.set('1:2:3:4:5', { blockAt: 8192, part: 4096, tailAt: 123456 });
    a.set('1:7:30:4:5', { blockAt: 0, part: 0, tailAt: 2 ** 40 + 32 });
    assert.equal(a.changed, true);
    a.save(dir, token);
    const b = FlatIndex.load(dir, token);
    assert.deepEqual(b.get('1:2:3:4:5'), { blockAt: 8192, part: 4096, tailAt: 123456 });
    assert.deepEqual(b.get('1:7:30:4:5'), { blockAt: 0, part: 0, tailAt: 2 ** 40 + 32 });
    assert.equal(b.get('1:2:3:4:6'), undefined);
    // The same places again: unchanged; one moved, or one missing: changed.
    b.set('1:2:3:4:5', { blockAt: 8192, part: 4096, tailAt: 123456 });
    b.set('1:7:30:4:5', { blockAt: 0, part: 0, tailAt: 2 ** 40 + 32 });
    assert.equal(b.changed, false);
    b.set('1:7:30:4:5', { blockAt: 0, part: 0, tailAt: 64 });
    assert.equal(b.changed, true);
    const c = FlatIndex.load(dir, token);
    c.set('1:2:3:4:5', { blockAt: 8192, part: 4096, tailAt: 123456 });
    assert.equal(c.changed, true);
    assert.equal(FlatIndex.load(dir, 'fedcba9876543210').get('1:2:3:4:5'), undefined, 'another token');
    assert.equal(FlatIndex.load(dir, undefined).get('1:2:3:4:5'), undefined, 'no token');
    const file = path.join(dir, 'flats');
    fs.truncateSync(file, fs.statSync(file).size - 8);
    assert.equal(FlatIndex.load(dir, token).get('1:2:3:4:5'), undefined, 'truncated');
    // No token to save under (the stat index could not be written): the file is removed.
    a.save(dir, '');
    assert.equal(fs.existsSync(file), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
