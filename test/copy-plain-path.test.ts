// Finding (issue 21, uncompressed builds): each flat file copied cost its copy job a SourceReader,
// a path Buffer, a BigInt mtime, and fs.openSync / fs.fstatSync({ bigint }) / fs.readSync /
// fs.closeSync, whose Stats object alone is ~15 BigInts: user CPU that mkfs.erofs does not spend.
// A plain file now goes through libc with reused buffers (job-copy.ts copyPlain), the same system
// calls, its mtime checked with statx on the open file. These tests hold it to that path, and hold
// a file that changed after the scan to the words of the usual path (which copyPlain falls back to).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import { noise } from './helpers/noise.js';
import { FORGE_BIN, findTool, needTool, run } from './helpers/tools.js';

const scan = (dir: string) => scanDirectory(dir, { xattrs: false, excludePaths: [], excludeRegexes: [] });
const options = () => defaultBuildOptions({ uuid: new Uint8Array(16), timestamp: 1700000000n, allRoot: true, workers: 1 });

test('copy_job_per_file_node_fs_calls: each flat file is checked by one statx on its descriptor, not by fs.fstatSync', (t) => {
  const strace = findTool('strace');
  if (!needTool(t, strace, 'strace (apt-get install strace)')) return;
  const tmp = fs.mkdtempSync(path.join(tmpdir(), 'erofs-forge-plain-'));
  try {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    // 20 with a block part and a tail, 4 of a block exactly, 6 tails only (no kernel copy at all).
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, i % 2 ? 'd' : '', `dense${i}`), noise(8192 + 100 * i, i));
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `block${i}`), noise(4096 * (i + 1), 30 + i));
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, 'd', `small${i}`), noise(100 + i, 50 + i));
    const img = path.join(tmp, 'img');
    const log = path.join(tmp, 'trace');
    const r = run(strace, ['-f', '-qq', '-e', 'trace=statx', '-o', log, process.execPath, FORGE_BIN, 'build', '--quiet', '-T0', '-Uclear', '--workers', '1', img, src]);
    assert.equal(r.status, 0, r.stderr.toString());
    const lines = fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('AT_EMPTY_PATH'));
    // Ours ask for STATX_BASIC_STATS; libuv's fstat (fs.fstatSync) asks for STATX_ALL.
    const plain = lines.filter((l) => /AT_EMPTY_PATH, STATX_BASIC_STATS,/.test(l)).length;
    assert.equal(plain, 30, `statx calls on the copied files' descriptors: ${plain}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('copy_job_per_file_node_fs_calls: a file changed, grown or shrunk after the scan is refused in the usual words', async () => {
  const tmp = fs.mkdtempSync(path.join(tmpdir(), 'erofs-forge-plain-'));
  try {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    const f = path.join(src, 'f');
    const cases: [string, () => void, RegExp][] = [
      // Same size, other bytes and mtime: only the mtime tells.
      ['changed', () => { fs.writeFileSync(f, noise(10_000, 2)); fs.utimesSync(f, 1_600_000_000, 1_600_000_000); }, /f: file changed during build \(modified after it was scanned\)/],
      ['grew', () => fs.appendFileSync(f, 'x'), /f: file grew during build \(expected 10000 bytes\)/],
      ['shrank', () => fs.truncateSync(f, 9000), /f: file shrank during build \(expected 10000 bytes\)/],
      ['gone', () => fs.rmSync(f), /f: cannot open: file disappeared during build/],
    ];
    for (const [what, change, words] of cases) {
      fs.writeFileSync(f, noise(10_000, 1));
      fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
      const tree = await scan(src);
      change();
      await assert.rejects(buildImage(path.join(tmp, `img-${what}`), { tree }, options()), words, what);
      assert.ok(!fs.readdirSync(tmp).some((n) => n.startsWith(`.img-${what}`)), `${what}: temp file left`);
    }
    // Unchanged: built, its bytes where the image says (checked by digest against a build of a fresh scan).
    fs.writeFileSync(f, noise(10_000, 1));
    const a = path.join(tmp, 'img-a');
    const b = path.join(tmp, 'img-b');
    await buildImage(a, { tree: await scan(src) }, options());
    await buildImage(b, { dir: src }, options());
    assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
    assert.ok(fs.readFileSync(a).includes(noise(10_000, 1).subarray(0, 8192)), 'the block part is in the image');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
