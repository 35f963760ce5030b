// The builder on hostile sources and under faults (issue 7, parts 3 and 4). Whatever happens, a build
// ends in one of two ways: exit 0 with an image whose data and fingerprints agree (`verify` passes), or
// a clean failure (exit 1 with one line naming the file, or 130/143 for signals, 70 for an internal
// error) that leaves neither the image nor a temp file behind. Sources that change under the build are
// changed by a separate process started just before it.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { forge, needRoot, needMount, run, REPO_ROOT, worldReadableForgeBin, type RunResult } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { assertOneLine, checkNoSpaceLeft } from './helpers/user-errors.js';
import { ErofsImage } from '../src/read/image.js';
import * as sys from '../src/sys/libc.js';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions, type BuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { DEFAULT_FINGERPRINT_NAME } from '../src/fingerprint/scheme.js';
import { UserError } from '../src/errors.js';

const BIN = path.join(REPO_ROOT, 'bin', 'erofs-forge.js');

function scratch(): string {
  return fs.mkdtempSync(path.join(tmpdir(), 'forge-hostile-'));
}

/** Everything in `dir` but `keep`: a failed build leaves nothing, not even its temp file. */
function leftovers(dir: string, keep: string[]): string[] {
  return fs.readdirSync(dir).filter((n) => !keep.includes(n));
}

/** Random bytes, fast (one random MiB, varied per MiB so nothing dedupes or compresses away). */
function randomFile(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  const mib = randomFillSync(Buffer.alloc(1 << 20));
  try {
    for (let off = 0; off < bytes; off += mib.length) {
      mib.writeUInt32LE(off >>> 20, 0);
      mib.writeUInt32LE(Math.imul(off >>> 20, 2654435761) >>> 0, 512 << 10);
      fs.writeSync(fd, mib, 0, Math.min(mib.length, bytes - off));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(8 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, b, 0, b.length, null);
      if (n === 0) break;
      h.update(b.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function spawnForge(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  const done = new Promise<Exit>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr })));
  return { child, done };
}

/**
 * A separate process changing `file` for up to `ms`: 'grow' appends, 'shrink' truncates step by step,
 * 'modify' overwrites random blocks in place (same size), 'delete' unlinks files of a directory one by
 * one; the -keep-mtime modes put the file's mtime back after each change (as \`touch -d\` can), so only the
 * size checks can notice. It prints "go" after its first change, so the build starts while it is at work.
 */
type MutatorMode = 'grow' | 'shrink' | 'modify' | 'delete' | 'grow-keep-mtime' | 'shrink-keep-mtime';

async function startMutator(mode: MutatorMode, target: string, ms: number): Promise<{ child: ChildProcess; done: Promise<void> }> {
  const script = `
    const fs = require('fs'), crypto = require('crypto'), cp = require('child_process');
    const [target, mode, ms] = process.argv.slice(1);
    const end = Date.now() + Number(ms);
    const nap = (t) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, t);
    let said = false;
    const go = () => { if (!said) { said = true; process.stdout.write('go\\n'); } };
    if (mode === 'delete') {
      const names = fs.readdirSync(target).sort().reverse();
      for (const n of names) { if (Date.now() > end) break; fs.unlinkSync(target + '/' + n); go(); nap(1); }
    } else {
      const fd = fs.openSync(target, 'r+');
      let size = fs.fstatSync(fd).size;
      const m = fs.fstatSync(fd, { bigint: true }).mtimeNs;
      const stamp = '@' + (m / 1000000000n) + '.' + String(m % 1000000000n).padStart(9, '0');
      const keep = mode.endsWith('-keep-mtime');
      const b = Buffer.alloc(1 << 16);
      while (Date.now() < end) {
        if (mode.startsWith('grow')) { if (size < (1 << 30)) { crypto.randomFillSync(b); fs.writeSync(fd, b, 0, b.length, size); size += b.length; } }
        else if (mode.startsWith('shrink')) { size = Math.max(1 << 20, size - (1 << 16)); fs.ftruncateSync(fd, size); }
        else { crypto.randomFillSync(b); fs.writeSync(fd, b, 0, 4096, Math.floor(Math.random() * (size / 4096 - 1)) * 4096); }
        if (keep) cp.execFileSync('touch', ['-c', '-m', '-d', stamp, target]);
        go();
        nap(2);
      }
    }
    go();
  `;
  const child = spawn(process.execPath, ['-e', script, target, mode, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { child, done };
}

/** The outcome every build must have: a clean failure naming the file, or an image `verify` accepts. */
function assertConsistent(r: Exit, dir: string, keep: string[], image: string, name: RegExp): 'failed' | 'built' {
  if (r.status !== 0) {
    assert.equal(r.status, 1, r.stderr);
    assertOneLine(r.stderr, name);
    assert.deepEqual(leftovers(dir, keep), [], 'no image and no temp file after a failed build');
    return 'failed';
  }
  assert.deepEqual(leftovers(dir, [...keep, path.basename(image)]), [], 'no temp file left');
  const v = forge(['verify', image]);
  assert.equal(v.status, 0, `verify of an image built from a changing source:\n${v.stdout}\n${v.stderr}`);
  return 'built';
}

// ---- sources that change during the build ------------------------------------------------------

for (const [mode, re] of [
  ['grow', /big: file (grew|changed) during build/],
  ['shrink', /big: file (shrank|changed) during build/],
  ['modify', /big: file changed during build \(modified after it was scanned\)/],
  ['grow-keep-mtime', /big: file (grew|changed) during build/],
  ['shrink-keep-mtime', /big: file (shrank|changed) during build/],
] as const) {
  for (const flags of [['--xattr-inode-digest'], ['-z', 'lz4', '--xattr-inode-digest']]) {
    const what = mode === 'modify' ? 'changes in place' : mode.endsWith('-keep-mtime') ? `${mode.split('-')[0]}s, mtime put back,` : `${mode}s`;
    test(`a file that ${what} during the build (${flags.join(' ')}): clean error or an image verify accepts`, async (t) => {
      const d = scratch();
      let mut: Awaited<ReturnType<typeof startMutator>> | undefined;
      try {
        fs.mkdirSync(path.join(d, 'src'));
        randomFile(path.join(d, 'src', 'big'), 48 << 20);
        fs.writeFileSync(path.join(d, 'src', 'small'), 'steady\n');
        const image = path.join(d, 'out.img');
        mut = await startMutator(mode, path.join(d, 'src', 'big'), 20_000);
        const b = spawnForge(['build', '--quiet', '--workers', '2', ...flags, image, path.join(d, 'src')]);
        const r = await b.done;
        mut.child.kill();
        await mut.done;
        const outcome = assertConsistent(r, d, ['src'], image, re);
        t.diagnostic(`${outcome}${outcome === 'failed' ? `: ${r.stderr.trim()}` : ''}`);
      } finally {
        if (mut) {
          mut.child.kill();
          await mut.done;
        }
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
}

test('files that disappear during the build: clean error naming one, or an image verify accepts', async (t) => {
  const d = scratch();
  let mut: Awaited<ReturnType<typeof startMutator>> | undefined;
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'many'), { recursive: true });
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(src, 'many', `f${String(i).padStart(5, '0')}`), randomFillSync(Buffer.alloc(16 << 10)));
    const image = path.join(d, 'out.img');
    const b = spawnForge(['build', '--quiet', '-z', 'lz4', '--xattr-inode-digest', image, src]);
    // Deletion starts once the scan has listed the files (the image's temp file exists).
    for (let i = 0; i < 2000 && !fs.readdirSync(d).some((n) => n.endsWith('.tmp')); i++) await new Promise((r) => setTimeout(r, 2));
    mut = await startMutator('delete', path.join(src, 'many'), 20_000);
    const r = await b.done;
    mut.child.kill();
    await mut.done;
    const outcome = assertConsistent(r, d, ['src'], image, /many\/f\d+: cannot open: file disappeared during build/);
    t.diagnostic(`${outcome}${outcome === 'failed' ? `: ${r.stderr.trim()}` : ''}`);
  } finally {
    if (mut) {
      mut.child.kill();
      await mut.done;
    }
    fs.rmSync(d, { recursive: true, force: true });
  }
});

// ---- odd but valid sources ---------------------------------------------------------------------

test('a FIFO is stored as a FIFO and never opened: the build does not block', (t) => {
  if (!needRoot(t)) return;
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    run('mkfifo', ['-m', '640', path.join(src, 'pipe')]);
    fs.writeFileSync(path.join(src, 'file'), 'x'.repeat(10_000));
    for (const flags of [[], ['-z', 'lz4', '--xattr-inode-digest']]) {
      const image = path.join(d, `out${flags.length}.img`);
      const r = forge(['build', '--quiet', ...flags, image, src], { timeoutMs: 60_000 });
      assert.equal(r.status, 0, `build ${flags.join(' ')} (a blocked open would time out): ${r.stderr}${r.error?.message ?? ''}`);
      const ls = JSON.parse(forge(['ls', '--json', image]).stdout.toString()) as { entries: { path: string; type: string; mode: number; size: number }[] };
      const pipe = ls.entries.find((e) => e.path === 'pipe');
      assert.deepEqual(pipe && { type: pipe.type, mode: pipe.mode, size: pipe.size }, { type: 'fifo', mode: 0o640, size: 0 });
      assert.equal(forge(['verify', image]).status, 0);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('symlink loops are stored as symlinks and never followed', (t) => {
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const links: Record<string, string> = { a: 'b', b: 'a', self: 'self', dot: '.', up: '..', 'sub/root': '..', 'sub/deep': '../sub/deep/x' };
    for (const [l, target] of Object.entries(links)) fs.symlinkSync(target, path.join(src, l));
    fs.writeFileSync(path.join(src, 'sub', 'file'), 'ok\n');
    const image = path.join(d, 'out.img');
    const r = forge(['build', '--quiet', image, src], { timeoutMs: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const ls = JSON.parse(forge(['ls', '--json', '-R', image]).stdout.toString()) as { entries: { path: string; type: string; target?: string }[] };
    const got = Object.fromEntries(ls.entries.filter((e) => e.type === 'lnk').map((e) => [e.path, e.target]));
    assert.deepEqual(got, links);
    assert.deepEqual(ls.entries.map((e) => e.path).sort(), [...Object.keys(links), 'sub', 'sub/file'].sort(), 'nothing reached through a link');
    assert.equal(forge(['verify', image]).status, 0);
    const x = path.join(d, 'x');
    assert.equal(forge(['extract', '--quiet', image, x]).status, 0);
    for (const [l, target] of Object.entries(links)) assert.equal(fs.readlinkSync(path.join(x, l)), target);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('the output image inside the source tree is never part of itself (any spelling of its path)', (t) => {
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'file'), 'content\n');
    fs.symlinkSync(src, path.join(d, 'alias'));
    const spellings = [path.join(src, 'out.img'), path.join(src, '.', 'sub', '..', 'out.img'), path.join(d, 'alias', 'out.img')];
    fs.mkdirSync(path.join(src, 'sub'));
    for (const [i, out] of spellings.entries()) {
      // Build twice: the second scan finds the first image in the tree.
      for (let k = 0; k < 2; k++) {
        const r = forge(['build', '--quiet', '-T0', out, src]);
        assert.equal(r.status, 0, r.stderr);
      }
      const names = JSON.parse(forge(['ls', '--json', '-R', out]).stdout.toString()).entries.map((e: { path: string }) => e.path).sort();
      assert.deepEqual(names, ['file', 'sub'], `spelling ${i}: ${out}`);
      assert.deepEqual(fs.readdirSync(src).sort(), ['file', 'out.img', 'sub'], 'no temp file left in the source');
      fs.unlinkSync(path.join(src, 'out.img'));
    }
    void t;
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('names of 255 bytes are kept (mounted by the kernel)', async (t) => {
  if (!needMount(t)) return;
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    const long = (c: string) => c.repeat(255);
    fs.mkdirSync(path.join(src, long('d')), { recursive: true });
    fs.writeFileSync(path.join(src, long('d'), long('f')), 'deep\n');
    fs.writeFileSync(path.join(src, long('g')), 'top\n');
    fs.symlinkSync('t'.repeat(4095), path.join(src, long('l')));
    const image = path.join(d, 'out.img');
    assert.equal(forge(['build', '--quiet', '-b', '512', image, src]).status, 0);
    await withMount(image, (mnt) => {
      assert.deepEqual(fs.readdirSync(mnt).sort(), [long('d'), long('g'), long('l')]);
      assert.equal(fs.readFileSync(path.join(mnt, long('d'), long('f')), 'utf8'), 'deep\n');
      assert.equal(fs.readlinkSync(path.join(mnt, long('l'))), 't'.repeat(4095));
    });
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('paths longer than 4096 bytes (deep nesting of long names): the build works or fails clearly', (t) => {
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    // Created with relative steps: absolute paths this long are refused by the kernel (ENAMETOOLONG).
    const name = 'n'.repeat(240);
    const depth = 20;
    const mk = run('bash', ['-c', `cd "$1" && for i in $(seq ${depth}); do mkdir "$2" && cd "$2" || exit 1; done && echo bottom > file`, 'mk', src, name]);
    assert.equal(mk.status, 0, mk.stderr);
    const image = path.join(d, 'out.img');
    const r = forge(['build', '--quiet', image, src]);
    if (r.status === 0) {
      const ls = JSON.parse(forge(['ls', '--json', '-R', image]).stdout.toString()) as { entries: { path: string }[] };
      const deepest = Array(depth).fill(name).join('/') + '/file';
      assert.ok(ls.entries.some((e) => e.path === deepest), 'the deepest file is in the image');
      assert.equal(forge(['verify', image]).status, 0);
      t.diagnostic(`built: ${deepest.length}-byte path`);
    } else {
      assert.equal(r.status, 1, r.stderr);
      assertOneLine(r.stderr, /name too long|path too long/);
      assert.deepEqual(leftovers(d, ['src']), []);
      t.diagnostic(`failed clearly: ${r.stderr.trim().slice(0, 120)}...`);
    }
  } finally {
    run('rm', ['-rf', d]);
  }
});

test('70,000 hard links to one file: nlink 70000 in an extended inode (stat -c %h on a mount)', async (t) => {
  if (!needMount(t)) return;
  // ext4 stops at 65,000 links; tmpfs has no such limit.
  const d = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'forge-hostile-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'links'), { recursive: true });
    const first = path.join(src, 'target');
    fs.writeFileSync(first, 'shared\n');
    for (let i = 1; i < 70_000; i++) fs.linkSync(first, path.join(src, 'links', `l${i}`));
    assert.equal(fs.statSync(first).nlink, 70_000);
    const image = path.join(d, 'out.img');
    const r = forge(['build', '--quiet', image, src]);
    assert.equal(r.status, 0, r.stderr);
    await withMount(image, (mnt) => {
      for (const p of ['target', 'links/l1', 'links/l69999']) {
        const st = run('stat', ['-c', '%h %i', path.join(mnt, p)]).stdout.toString().trim().split(' ');
        assert.equal(st[0], '70000', p);
      }
      const ino = (p: string) => run('stat', ['-c', '%i', path.join(mnt, p)]).stdout.toString().trim();
      assert.equal(ino('links/l12345'), ino('target'));
    });
    const ls = JSON.parse(forge(['ls', '--json', image, '/target']).stdout.toString()) as { entries: { nlink: number }[] };
    assert.equal(ls.entries[0].nlink, 70_000);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('unreadable sources as a non-root user: the directory or file is named, no image, no temp file', (t) => {
  if (!needRoot(t)) return;
  const d = scratch();
  try {
    fs.chmodSync(d, 0o777);
    const cases: [string, (src: string) => void, string[], RegExp][] = [
      ['unreadable directory', (src) => { fs.mkdirSync(path.join(src, 'closed')); fs.writeFileSync(path.join(src, 'closed', 'x'), 'x'); fs.chmodSync(path.join(src, 'closed'), 0o300); },
        [], /closed: cannot read directory: permission denied/],
      ['unreadable file, compressed build', (src) => { fs.writeFileSync(path.join(src, 'secret'), 'hidden'.repeat(1000), { mode: 0o600 }); },
        ['-z', 'lz4'], /secret: cannot open: permission denied/],
      ['unreadable file, fingerprints', (src) => { fs.writeFileSync(path.join(src, 'secret'), 'hidden', { mode: 0o600 }); },
        ['--xattr-inode-digest'], /secret: cannot open: permission denied/],
    ];
    for (const [name, make, flags, re] of cases) {
      const src = path.join(d, 'src');
      fs.mkdirSync(src, 0o755);
      fs.chmodSync(src, 0o755);
      fs.writeFileSync(path.join(src, 'ok'), 'fine');
      make(src);
      const r = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, worldReadableForgeBin(),
        'build', '-x', '-1', ...flags, path.join(d, 'out.img'), src]);
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      assertOneLine(r.stderr, re);
      assert.deepEqual(leftovers(d, ['src']), [], name);
      run('rm', ['-rf', src]);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a sparse file over 4 GiB: built, mounted, same sha256', { timeout: 15 * 60_000 }, async (t) => {
  if (!needMount(t)) return;
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    const big = path.join(src, 'sparse-5g');
    const fd = fs.openSync(big, 'w');
    const island = randomFillSync(Buffer.alloc(1 << 20));
    for (const at of [0, 2 ** 32 - 4096, 2 ** 32 + 12345, 5 * 2 ** 30 - island.length]) fs.writeSync(fd, island, 0, island.length, at);
    fs.ftruncateSync(fd, 5 * 2 ** 30);
    fs.closeSync(fd);
    const image = path.join(d, 'out.img');
    const r = forge(['build', '--quiet', image, src], { timeoutMs: 10 * 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // Zero runs stay holes in the image file too.
    const allocated = Number(run('stat', ['-c', '%b %B', image]).stdout.toString().trim().split(' ').reduce((a, b) => String(Number(a) * Number(b))));
    assert.ok(allocated < 64 << 20, `image occupies ${allocated} bytes on disk`);
    const want = sha256File(big);
    await withMount(image, (mnt) => {
      assert.equal(fs.statSync(path.join(mnt, 'sparse-5g')).size, 5 * 2 ** 30);
      assert.equal(sha256File(path.join(mnt, 'sparse-5g')), want);
    });
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

// ---- faults -------------------------------------------------------------------------------------

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${sig} in the middle of a compressed build: exit ${code}, no image, no temp file`, async (t) => {
    const d = scratch();
    try {
      fs.mkdirSync(path.join(d, 'src'));
      randomFile(path.join(d, 'src', 'big'), 64 << 20);
      const b = spawnForge(['build', '--quiet', '-z', 'lz4', '-C', '65536', '--xattr-inode-digest', path.join(d, 'out.img'), path.join(d, 'src')]);
      // Interrupt once the temp file exists and the workers have been compressing for a moment.
      for (let i = 0; i < 3000 && !fs.readdirSync(d).some((n) => n.endsWith('.tmp')); i++) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      b.child.kill(sig);
      const r: Exit = await b.done;
      if (r.status === 0) {
        t.diagnostic('the build finished before the signal arrived');
        return;
      }
      assert.equal(r.status, code, r.stderr);
      const image = path.join(d, 'out.img');
      if (/was written in full/.test(r.stderr)) {
        // The signal came between the rename and the exit: the image must then be whole and honest.
        assert.match(r.stderr, new RegExp(`interrupted by ${sig} after .*out\\.img was written in full`));
        assert.deepEqual(leftovers(d, ['src']), ['out.img']);
        const v = forge(['verify', image]);
        assert.equal(v.status, 0, v.stdout + v.stderr);
        return;
      }
      assert.match(r.stderr, new RegExp(`interrupted by ${sig}; no image written`));
      assert.deepEqual(leftovers(d, ['src']), []);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

// The fault is a JobPool option (the workers fail as a bug in job code would); the CLI turns such a
// failure, a plain Error and not a UserError, into exit 70 "internal error".
for (const fault of ['throw', 'exit'] as const) {
  test(`a worker thread that ${fault === 'throw' ? 'throws' : 'dies'}: the build fails naming the job, no image, no temp file`, async () => {
    const d = scratch();
    try {
      fs.mkdirSync(path.join(d, 'src'));
      fs.writeFileSync(path.join(d, 'src', 'file'), 'x'.repeat(100_000));
      const variants: Partial<BuildOptions>[] = [
        { compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false } },
        { fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' } },
      ];
      for (const over of variants) {
        const o = defaultBuildOptions({ uuid: new Uint8Array(16), workers: 2, ...over });
        await assert.rejects(buildImage(path.join(d, 'out.img'), { dir: path.join(d, 'src') }, o, undefined, { fault }), (e: Error) => {
          assert.ok(!(e instanceof UserError), `a bug, not a user error: ${e.message}`);
          assert.match(e.message, fault === 'throw'
            ? /^worker thread failed (compressing|copying|hashing) \S*src\/file: injected fault/
            : /^worker thread exited with code 3 while (compressing|copying|hashing) \S*src\/file/);
          return true;
        });
        assert.deepEqual(leftovers(d, ['src']), [], Object.keys(over).join());
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

test('no space left during a compressed build on a small tmpfs: clear error, nothing left', (t) => {
  checkNoSpaceLeft(t, '1m', (src) => randomFile(path.join(src, 'big'), 3 << 20), [['-z', 'lz4'], ['-z', 'lz4hc', '-C', '65536', '--xattr-inode-digest']]);
});

test('source xattrs (issue 16.1): symlinks not followed, names of any bytes, values with NUL and newline, every namespace', (t) => {
  if (!needRoot(t)) return;
  const d = scratch();
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(src);
    const f = path.join(src, 'target');
    fs.writeFileSync(f, 'x');
    fs.symlinkSync('target', path.join(src, 'link'));
    const odd = Buffer.concat([Buffer.from(`${src}/`), Buffer.from([0xff, 0x0a, 0x5c, 0x30, 0x35, 0x37])]);
    fs.writeFileSync(odd, 'odd');
    const set = (p: string | Buffer, n: string, v: Buffer) => sys.lsetxattr(Buffer.from(p), Buffer.from(n), v);
    set(f, 'user.on-target', Buffer.from('a\0b\nc'));
    set(f, 'trusted.t', Buffer.alloc(3000, 7));
    set(f, 'security.s', Buffer.from('label\0'));
    set(path.join(src, 'link'), 'trusted.on-link', Buffer.from('link only'));
    set(odd, 'user.odd', Buffer.from([0]));
    const img = path.join(d, 'img');
    assert.equal(forge(['build', '--quiet', '-T0', '-Uclear', img, src]).status, 0);
    const image = ErofsImage.open(img);
    try {
      const xs = (p: Buffer | string) => Object.fromEntries(image.xattrs(image.lookup(p)).map((x) => [x.name.toString('latin1'), x.value.toString('hex')]));
      assert.deepEqual(xs('/link'), { 'trusted.on-link': Buffer.from('link only').toString('hex') });
      assert.deepEqual(xs('/target'), {
        'security.s': Buffer.from('label\0').toString('hex'), 'trusted.t': Buffer.alloc(3000, 7).toString('hex'), 'user.on-target': Buffer.from('a\0b\nc').toString('hex'),
      });
      assert.deepEqual(xs(Buffer.concat([Buffer.from('/'), odd.subarray(src.length + 1)])), { 'user.odd': '00' });
    } finally {
      image.close();
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
