// The walk in threads (issue 21, lever 2): directories listed ahead by walk threads (or by a build's
// job workers) must give the tree a sequential walk gives, node for node (names in order, every
// attribute, xattrs, symlink targets, hard links as one inode), and the files in the same order to the
// workers; and a walk that fails fails at the entry, and with the one line, a sequential walk would.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { scanDirectory, type ScanOptions } from '../src/source/dir-scanner.js';
import type { WalkThreads } from '../src/source/dir-walk.js';
import { makeTrickyTree } from './helpers/tricky-tree.js';
import { needRoot, run, worldReadableForgeBin } from './helpers/tools.js';
import { assertOneLine } from './helpers/user-errors.js';
import * as sys from '../src/sys/libc.js';
import { JobPool } from '../src/pipeline/work/pool.js';
import { describeTree } from './helpers/describe-tree.js';

/** Many directories (more than the threads' start threshold and their look-ahead), with files, hard links across them and symlinks. */
function addManyDirs(root: string): void {
  for (let i = 0; i < 300; i++) {
    const d = path.join(root, 'many', `d${(i * 37) % 300}`, i % 3 ? `sub${i % 5}` : '');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `f${i}`), `file ${i}\n`.repeat(i % 17));
    if (i % 10 === 0) fs.symlinkSync(`../t${i}`, path.join(d, `l${i}`));
    if (i % 7 === 0) fs.linkSync(path.join(d, `f${i}`), path.join(root, 'many', `hard${i}`));
    if (i % 11 === 0) sys.lsetxattr(Buffer.from(path.join(d, `f${i}`)), Buffer.from('user.walk'), Buffer.from(`v${i % 2}`));
  }
}

async function scan(src: string, walkThreads: WalkThreads, over: Partial<ScanOptions> = {}): Promise<{ tree: unknown[]; files: string[]; byThreads: number }> {
  const files: string[] = [];
  let byThreads = 0;
  const root = await scanDirectory(src, {
    xattrs: true, excludePaths: ['many/d5'], excludeRegexes: [/^many\/d7\/sub/], statIds: true, walkThreads,
    onFile: (n) => files.push(n.name + ':' + n.size), walkCounts: (c) => { byThreads = c.threads; }, ...over,
  });
  return { tree: describeTree(root), files, byThreads };
}

test('parallel_walk_same_tree: walk threads give the tree and file order of a sequential walk (tricky tree, 300 more directories, exclusions, any readdir order)', async (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-walk-'));
  try {
    const src = path.join(d, 'src');
    makeTrickyTree(src);
    addManyDirs(src);
    const seq = await scan(src, { threads: 0, startAfterDirs: 0 });
    assert.equal(seq.byThreads, 0);
    assert.ok(seq.tree.length > 900, `${seq.tree.length} nodes`);
    assert.ok(seq.tree.some((e) => (e as unknown[])[1] === 'link to'), 'hard links');
    for (const [what, threads, over] of [
      ['2 threads from the start', { threads: 2, startAfterDirs: 0 }, {}],
      ['1 thread after 3 directories', { threads: 1, startAfterDirs: 3 }, {}],
      ['4 threads, readdir order reversed', { threads: 4, startAfterDirs: 1 }, { readdirOrder: (n: string[]) => n.reverse() }],
    ] as const) {
      const par = await scan(src, threads, over);
      assert.ok(par.byThreads > 0, `${what}: the threads listed directories`);
      assert.deepEqual(par.files, seq.files, `${what}: file order`);
      assert.deepEqual(par.tree, seq.tree, `${what}: tree`);
    }
    // A build's job workers as the lister (build.ts, when no file work starts before the plan).
    const pool = new JobPool(2);
    try {
      while (!pool.ready) await new Promise((r) => setTimeout(r, 5));
      const par = await scan(src, { threads: 4, startAfterDirs: 2, lister: (cx, dirs) => pool.list(cx, dirs), listerReady: () => pool.ready });
      assert.ok(par.byThreads > 0, 'job workers: they listed directories');
      assert.deepEqual(par.files, seq.files, 'job workers: file order');
      assert.deepEqual(par.tree, seq.tree, 'job workers: tree');
    } finally {
      await pool.close();
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('parallel_walk_error_in_visit_order: two unreadable directories listed by walk threads: the one line names the first in visit order, no image', (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-walk-err-'));
  try {
    fs.chmodSync(d, 0o777);
    const src = path.join(d, 'src');
    // 200 directories before the unreadable ones: the threads (started after 64) list them.
    for (let i = 0; i < 200; i++) fs.mkdirSync(path.join(src, 'a', `d${String(i).padStart(3, '0')}`), { recursive: true });
    for (const closed of ['z/y/closed2', 'b/x/closed1']) {
      fs.mkdirSync(path.join(src, closed), { recursive: true });
      fs.writeFileSync(path.join(src, closed, 'f'), 'x');
      fs.chmodSync(path.join(src, closed), 0o300);
    }
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath];
    const bin = worldReadableForgeBin();
    const r = run('setpriv', [...nobody, bin, 'build', '-x', '-1', path.join(d, 'out.img'), src]);
    assert.equal(r.status, 1, r.stderr);
    assertOneLine(r.stderr, /src\/b\/x\/closed1: cannot read directory: permission denied$/);
    assert.deepEqual(fs.readdirSync(d), ['src']);
    // The same scan with walk threads from the first directory on (a build starts them only on free cores).
    const scanner = path.join(path.dirname(path.dirname(bin)), 'dist', 'src', 'source', 'dir-scanner.js');
    const script = `const { scanDirectory } = await import(${JSON.stringify(scanner)});
      let counts;
      try {
        await scanDirectory(${JSON.stringify(src)}, { xattrs: false, excludePaths: [], excludeRegexes: [], walkThreads: { threads: 2, startAfterDirs: 0 }, walkCounts: (c) => { counts = c; } });
      } catch (e) { process.stdout.write(e.constructor.name + ': ' + e.message + '\\n'); }
      process.stdout.write('listed by threads: ' + counts.threads);`;
    const scriptFile = path.join(d, 'scan.mjs');
    fs.writeFileSync(scriptFile, script, { mode: 0o644 });
    const s = run('setpriv', [...nobody, scriptFile]);
    assert.equal(s.status, 0, s.stderr);
    const [line, listed] = s.stdout.toString().split('\n');
    assert.match(line, /^UserError: .*src\/b\/x\/closed1: cannot read directory: permission denied$/);
    assert.notEqual(listed, 'listed by threads: 0');
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('listing_numbers_as_small_integers_keep_large_values: owners, sizes and times beyond 2^31 come through the walk exactly', async () => {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'forge-smi-'));
  try {
    const big = path.join(src, 'big');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 5 * 2 ** 30 + 7); // sparse: 5 GiB + 7 bytes
    fs.chownSync(big, 3_000_000_000, 2 ** 31 + 5);
    fs.utimesSync(big, 2_500_000_000, 2_500_000_000);
    fs.writeFileSync(path.join(src, 'small'), 'x');
    fs.chownSync(path.join(src, 'small'), 1000, 1001);
    for (const walkThreads of [undefined, { threads: 1, startAfterDirs: 0 }]) {
      const root = await scanDirectory(src, { xattrs: false, excludePaths: [], excludeRegexes: [], walkThreads });
      const at = (n: string) => root.entries!.inodes[root.entries!.names.indexOf(n)];
      const b = at('big'), s = at('small');
      assert.deepEqual([b.size, b.uid, b.gid, b.mtimeSec, b.mode & 0o170000], [5 * 2 ** 30 + 7, 3_000_000_000, 2 ** 31 + 5, 2_500_000_000, 0o100000]);
      assert.deepEqual([s.size, s.uid, s.gid], [1, 1000, 1001]);
    }
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
});
