// The walk reads each entry with statx(2) into one reused buffer, in the open directory (statx and
// listxattrat on its descriptor), where it once used fs.lstatSync's BigInt Stats and whole paths
// (issue 21, lever 2 of the walk). Every way must give the same tree, attribute for attribute, the
// same hard-link and stat identities (the --cache index keys on them), and fail with the same line.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { scanDirectory, type ScanOptions } from '../src/source/dir-scanner.js';
import { listDirectory, setEntryCalls, type EntryCalls, type Listing } from '../src/source/dir-listing.js';
import { makeTrickyTree } from './helpers/tricky-tree.js';
import { needRoot, run, worldReadableForgeBin } from './helpers/tools.js';
import { assertOneLine } from './helpers/user-errors.js';
import { describeTree } from './helpers/describe-tree.js';

async function scanWith(calls: EntryCalls, src: string, over: Partial<ScanOptions> = {}): Promise<{ tree: unknown[]; warnings: string[] }> {
  setEntryCalls(calls);
  const warnings: string[] = [];
  try {
    const root = await scanDirectory(src, { xattrs: true, excludePaths: [], excludeRegexes: [], statIds: true, warn: (m) => warnings.push(m), ...over });
    return { tree: describeTree(root), warnings };
  } finally {
    setEntryCalls('at');
  }
}

test('walk_statx_at_same_tree_as_lstat: statx and listxattrat in the open directory give the tree fs.lstatSync and whole paths give (tricky tree: every name byte, xattrs of every namespace, hard links, symlinks, devices, extreme times; stat identities; the output image by another spelling)', async (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-walk-calls-'));
  try {
    const src = path.join(d, 'src');
    makeTrickyTree(src);
    // The output image, already there, named through a symlinked directory: found by its identity.
    fs.writeFileSync(path.join(src, 'old.img'), 'an earlier image');
    fs.symlinkSync(src, path.join(d, 'alias'));
    const over = { outputPath: path.join(d, 'alias', 'old.img') };
    const node = await scanWith('node', src, over);
    assert.ok(node.tree.length > 100, `${node.tree.length} nodes`);
    assert.ok(node.tree.some((e) => (e as unknown[])[1] === 'link to'), 'hard links');
    assert.ok(node.tree.some((e) => (e as unknown[])[1] === 'chr'), 'devices');
    assert.ok(node.tree.some((e) => typeof (e as unknown[])[11] === 'string'), 'stat identities');
    assert.ok(node.tree.some((e) => ((e as unknown[])[13] as unknown[] | undefined)?.length), 'xattrs');
    assert.ok(node.tree.some((e) => ((e as unknown[])[0] as string).includes('\xff')), 'names that are not UTF-8');
    assert.equal(node.warnings.length, 1);
    assert.match(node.warnings[0], /old\.img: skipping the output image inside the source tree$/);
    for (const calls of ['path', 'at'] as const) assert.deepEqual(await scanWith(calls, src, over), node, calls);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('walk_mtime_beyond_2_53_exact_in_the_line: a time the tree cannot hold fails with one line naming the file and its exact seconds (fs.lstatSync rounded them through a double)', async (t) => {
  // tmpfs keeps such times (ext4 clamps them to 2446); os.utime takes nanoseconds as integers.
  if (!fs.existsSync('/dev/shm') || spawnSync('python3', ['-c', '']).status !== 0) return t.skip('needs /dev/shm and python3');
  const d = fs.mkdtempSync('/dev/shm/forge-walk-far-');
  try {
    for (const [name, sec] of [['far', 2n ** 53n + 5n], ['before', -(2n ** 53n) - 5n]] as const) {
      const src = path.join(d, name);
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'f'), 'x');
      const ns = (sec * 1_000_000_000n + 7n).toString();
      const r = spawnSync('python3', ['-c', `import os,sys; os.utime(sys.argv[1], ns=(${ns}, ${ns}))`, path.join(src, 'f')]);
      assert.equal(r.status, 0, r.stderr.toString());
      const lines: string[] = [];
      for (const calls of ['node', 'path', 'at'] as const) {
        const e = await scanWith(calls, src).then(() => undefined, (err: Error) => err);
        assert.ok(e, `${calls}: refused`);
        lines.push(`${e.constructor.name}: ${e.message}`);
      }
      // fs.lstatSync's seconds pass through a double (2^53 + 5 became 2^53 + 4); statx's do not.
      assert.match(lines[0], new RegExp(`^UserError: .*/${name}/f: mtime -?900719925474099\\d is beyond ±2\\^53 seconds$`));
      assert.equal(lines[1], `UserError: ${path.join(src, 'f')}: mtime ${sec} is beyond ±2^53 seconds`);
      assert.equal(lines[2], lines[1]);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('walk_unsearchable_directory_same_line: a directory that can be read but not searched fails at its first entry with the line fs.lstatSync gave (getdents64 reads it, statx in it is refused)', (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-walk-noexec-'));
  try {
    fs.chmodSync(d, 0o777);
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'locked'), { recursive: true });
    fs.writeFileSync(path.join(src, 'locked', 'f'), 'x');
    fs.chmodSync(path.join(src, 'locked'), 0o444);
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath];
    const r = run('setpriv', [...nobody, worldReadableForgeBin(), 'build', '-x', '-1', path.join(d, 'out.img'), src]);
    assert.equal(r.status, 1, r.stderr);
    assertOneLine(r.stderr, /src\/locked\/f: permission denied$/);
    assert.deepEqual(fs.readdirSync(d), ['src']);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('walk_main_lists_while_waiting: while a slow lister (a busy thread) has the directory it needs, the main thread lists the ones after it; same tree and file order as alone', async () => {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'forge-walk-help-'));
  try {
    // One level of directories: all found when the root is listed. Alone, the slow lister gets
    // every batch and the main thread waits for each; helped, the main thread lists all but the first.
    for (let i = 0; i < 130; i++) {
      const dir = path.join(src, `d${i}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'f'), `${i}\n`.repeat(i));
      if (i % 10 === 0) fs.symlinkSync('f', path.join(dir, 'l'));
    }
    const scan = async (walkThreads?: ScanOptions['walkThreads']) => {
      const files: string[] = [];
      let counts = { main: 0, threads: 0 };
      const root = await scanDirectory(src, {
        xattrs: true, excludePaths: [], excludeRegexes: [], walkThreads, onFile: (n) => files.push(n.name), walkCounts: (c) => { counts = c; },
      });
      return { tree: describeTree(root), files, counts };
    };
    const alone = await scan();
    let batches = 0;
    // Each batch comes back 200 ms later.
    const slow = (cx: Parameters<typeof listDirectory>[2], dirs: [string, string][]) => new Promise<[string, Listing][]>((resolve) => {
      batches++;
      const done = dirs.map(([dir, rel]) => [dir, listDirectory(dir, rel, cx)] as [string, Listing]);
      setTimeout(() => resolve(done), 200);
    });
    const helped = await scan({ threads: 1, startAfterDirs: 0, lister: slow });
    assert.ok(batches > 0 && helped.counts.threads > 0, `the lister listed: ${JSON.stringify(helped.counts)}`);
    assert.ok(helped.counts.main > 4 * helped.counts.threads, `the main thread listed most: ${JSON.stringify(helped.counts)}`);
    assert.equal(helped.counts.main + helped.counts.threads, 131);
    assert.deepEqual(helped.files, alone.files);
    assert.deepEqual(helped.tree, alone.tree);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
});
