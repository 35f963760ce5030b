// --cache: a rebuild reuses compressed segments, gives the same bytes as an uncached build, and never
// trusts a damaged entry.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { forge, FORGE_BIN } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function entries(dir: string): string[] {
  return fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
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
      return { img, out: JSON.parse(r.stdout.toString()) };
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
    assert.equal(fs.readdirSync(shared).flatMap((d) => fs.readdirSync(path.join(shared, d))).filter((f) => f.endsWith('.tmp')).length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
