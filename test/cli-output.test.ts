// What the CLI prints: a progress line on a terminal only, JSON summaries, the per-inode manifest.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { forge, run, FORGE_BIN } from './helpers/tools.js';

function tree(): { dir: string; root: string } {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-out-'));
  const root = path.join(dir, 'src');
  fs.mkdirSync(path.join(root, 'd'), { recursive: true });
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(root, 'd', `f${i}`), `file ${i}\n`.repeat(i % 50));
  fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(3 << 20, 1));
  fs.linkSync(path.join(root, 'big'), path.join(root, 'big-link'));
  return { dir, root };
}

test('progress on a terminal (through script), nothing extra when piped or --quiet', () => {
  const { dir, root } = tree();
  try {
    const img = path.join(dir, 'a.img');
    const log = path.join(dir, 'tty.log');
    const r = run('script', ['-qfec', `${process.execPath} ${FORGE_BIN} build -T0 -Uclear ${img} ${root}`, log]);
    assert.equal(r.status, 0, r.stderr);
    const seen = fs.readFileSync(log, 'latin1');
    assert.match(seen, /writing: \d+\/\d+ files, [\d.]+\/[\d.]+ MB, [\d.]+ MB\/s, ETA \d+s/);
    assert.match(seen, /\r\x1b\[K/);
    const piped = forge(['build', '-T0', '-Uclear', path.join(dir, 'b.img'), root]);
    assert.equal(piped.status, 0);
    assert.equal(piped.stderr, '', 'no progress when stderr is not a terminal');
    assert.match(piped.stdout.toString(), /b\.img: 3003 inodes, \d+ blocks of 4096 B/);
    const quiet = forge(['build', '--quiet', '-T0', '-Uclear', path.join(dir, 'c.img'), root]);
    assert.equal(quiet.stdout.length + quiet.stderr.length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--json build summary and --manifest: one line per inode, fingerprints equal the content digests', () => {
  const { dir, root } = tree();
  try {
    const img = path.join(dir, 'm.img');
    const man = path.join(dir, 'm.jsonl');
    const r = forge(['build', '--json', '-T0', '-Uclear', '-zlz4', '--xattr-inode-digest', '--manifest', man, img, root]);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout.toString());
    assert.equal(summary.schema, 'erofs-forge/build/1');
    assert.equal(summary.bytes, fs.statSync(img).size);
    assert.equal(summary.inodes, 3003);
    const lines = fs.readFileSync(man, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3003, 'one line per inode: the hard link is listed under links');
    const big = lines.find((l) => l.path === '/big');
    assert.deepEqual(big.links, ['/big-link']);
    assert.equal(big.layout, 'compressed-compact');
    assert.ok(big.storedBytes < 3 << 20);
    assert.equal(big.fingerprint, `sha256:${createHash('sha256').update(Buffer.alloc(3 << 20, 1)).digest('hex')}`);
    const f7 = lines.find((l) => l.path === '/d/f7');
    assert.equal(f7.fingerprint, `sha256:${createHash('sha256').update('file 7\n'.repeat(7)).digest('hex')}`);
    assert.equal(lines.find((l) => l.path === '/d/f0').fingerprint, null, 'empty files carry no fingerprint');
    for (const l of lines) assert.equal(l.schema, 'erofs-forge/manifest/1');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--help on every command, each with examples', () => {
  for (const cmd of ['build', 'inspect', 'ls', 'cat', 'extract', 'verify', 'share-report']) {
    const r = forge([cmd, '--help']);
    assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
    const out = r.stdout.toString();
    assert.match(out, new RegExp(`Usage: erofs-forge ${cmd}`));
    assert.match(out, /Examples:\n {2}erofs-forge /, `${cmd} --help has no examples`);
  }
});

test('the launcher as installed (its #! line with V8 memory flags) builds the same bytes as plain `node bin/erofs-forge.js`', () => {
  const first = fs.readFileSync(FORGE_BIN, 'utf8').split('\n', 1)[0];
  assert.match(first, /^#!\/usr\/bin\/env -S node --max-semi-space-size=\d+$/);
  // Run through the kernel's #! handling, as an npm-installed bin is (a bad V8 flag fails here).
  const v = run(FORGE_BIN, ['--version'], {});
  assert.equal(v.status, 0, v.stderr.toString());
  assert.equal(v.stdout.toString().trim(), '0.1.0');
  const { dir, root } = tree();
  try {
    const a = path.join(dir, 'a.img');
    const b = path.join(dir, 'b.img');
    assert.equal(run(FORGE_BIN, ['build', '--quiet', '-T0', '-Uclear', '-zlz4', a, root], {}).status, 0);
    assert.equal(forge(['build', '--quiet', '-T0', '-Uclear', '-zlz4', b, root]).status, 0);
    assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
