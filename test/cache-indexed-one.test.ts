// Rebuilds whose unchanged files of one segment take FileJobQueue's lean path (indexedOne: one
// promise and one callback per file for its entry, counts, digest and stat-index record): the same
// bytes and counts as the general path had, an entry gone or damaged compressed again and recorded,
// and an index with nothing new left unwritten.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/index.js';
import { wordText } from './helpers/noise.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fileId = (f: string) => { const s = fs.statSync(f, { bigint: true }); return `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`; };
const WORDS = ['erofs', 'forge', 'segment', 'entry', 'index'];

function entries(dir: string): string[] {
  return fs.readdirSync(dir).filter((d) => d.length === 2).flatMap((d) => fs.readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f))).sort();
}

test('indexed_one_segment_lean_path: same bytes and counts, entries gone or damaged recompressed and recorded, nothing new not rewritten', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-one-'));
  try {
    const root = path.join(dir, 'src');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const n = 40;
    for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, i % 3 ? 'sub' : '', `f${i}`), wordText(5000 + i * 977, i, WORDS, 60));
    const o = (cache?: string) => defaultBuildOptions({
      uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 2,
      compression: { codec: parseCompressor('lz4hc'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
      fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' as const },
      ...(cache ? { cacheDir: cache } : {}),
    });
    // Stats and entry identities are recorded only once their ctime is over a second old (cache-index.ts).
    await sleep(1100);
    const cache = path.join(dir, 'cache');
    const build = async (name: string, withCache = true) => {
      const img = path.join(dir, `${name}.img`);
      // The entry path: no old image to copy from (that path: cache-old-image.test.ts).
      fs.rmSync(path.join(cache, 'image'), { force: true });
      const r = await buildImage(img, { dir: root }, o(withCache ? cache : undefined));
      return { img, cache: r.cache };
    };
    const plain = await build('plain', false);
    assert.deepEqual((await build('first')).cache, { hit: 0, indexed: 0, absent: n, damaged: 0 });
    for (const name of ['second', 'third']) {
      const r = await build(name);
      assert.deepEqual(r.cache, { hit: n, indexed: n, absent: 0, damaged: 0 }, name);
      assert.equal(sha(r.img), sha(plain.img), `${name}: same bytes (fingerprints from the index)`);
    }
    // One entry gone, one damaged: both compressed again from the source.
    const files = entries(cache);
    fs.unlinkSync(files[0]);
    const b = fs.readFileSync(files[1]);
    b[b.length >> 1] ^= 0x08;
    fs.writeFileSync(files[1], b);
    const fourth = await build('fourth');
    assert.deepEqual(fourth.cache, { hit: n - 2, indexed: n - 2, absent: 1, damaged: 1 });
    assert.equal(sha(fourth.img), sha(plain.img));
    // Their new entries recorded: every file indexed again (checked in full once, then trusted).
    await sleep(1100);
    for (const name of ['fifth', 'sixth']) {
      const r = await build(name);
      assert.deepEqual(r.cache, { hit: n, indexed: n, absent: 0, damaged: 0 }, name);
      assert.equal(sha(r.img), sha(plain.img), name);
    }
    // Nothing new: the index is not written again.
    const before = fileId(path.join(cache, 'index'));
    assert.deepEqual((await build('seventh')).cache, { hit: n, indexed: n, absent: 0, damaged: 0 });
    assert.equal(fileId(path.join(cache, 'index')), before, 'an unchanged rebuild leaves the index as it was');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
