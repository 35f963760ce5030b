// What `build IMAGE` does with what IMAGE names (issue 15 findings 2 and 8): a block device is written
// in place (loop devices here), other nodes are refused and stay what they were, a symlink's target is
// replaced and the link kept, a dangling link refused; a SIGKILLed build's temp file is removed by the
// next build of the same IMAGE, which says so.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FORGE_BIN, REPO_ROOT, forge, needMount, needRoot, run, runOk } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

function scratch(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.mkdtempSync(path.join(tmpdir(), `forge-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function source(dir: string, files: Record<string, Buffer | string>): string {
  const src = path.join(dir, 'src');
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), body);
  }
  return src;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A loop device over a new backing file of `bytes` bytes filled with 0xa5 (so zeros are not free). */
async function withLoop<T>(dir: string, bytes: number, fn: (dev: string, backing: string) => Promise<T>): Promise<T> {
  const backing = path.join(dir, `backing-${bytes}`);
  fs.writeFileSync(backing, Buffer.alloc(bytes, 0xa5));
  const dev = runOk('losetup', ['-f', '--show', backing]).stdout.toString().trim();
  try {
    return await fn(dev, backing);
  } finally {
    for (let i = 0; i < 5 && run('losetup', ['-d', dev]).status !== 0; i++) await sleep(100 * (i + 1));
  }
}

function readDevice(dev: string, bytes: number): Buffer {
  const fd = fs.openSync(dev, 'r');
  try {
    const b = Buffer.alloc(bytes);
    let at = 0;
    while (at < bytes) {
      const n = fs.readSync(fd, b, at, bytes - at, at);
      if (n === 0) break;
      at += n;
    }
    return b.subarray(0, at);
  } finally {
    fs.closeSync(fd);
  }
}

const ARGS = ['--quiet', '-T0', '--mkfs-time', '-Uclear'];

test('block device IMAGE: written in place, byte-identical to the file image, mounts and equals the source (plain, lz4hc, --chunksize)', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  const dir = scratch(t, 'blkdev');
  const src = source(dir, {
    'hello.txt': 'hello\n', 'random': pseudoRandom('blkdev', 100_000), 'zeros': Buffer.alloc(300_000),
    'sub/text': 'some text '.repeat(5000),
  });
  // --chunksize: regression 'chunk blob with a block device IMAGE' (the blob's temp file was opened on
  // the device itself, and not created at all after IMAGE resolution moved before the scan).
  for (const z of [[], ['-z', 'lz4hc', '-C', '16384'], ['--chunksize', '4096']]) {
    const file = path.join(dir, 'file.img');
    const f = forge(['build', ...ARGS, ...z, file, src]);
    assert.equal(f.status, 0, f.stderr);
    const want = fs.readFileSync(file);
    await withLoop(dir, 4 << 20, async (dev) => {
      const r = forge(['build', ...ARGS, ...z, dev, src]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.statSync(dev).isBlockDevice(), 'still a block device');
      assert.ok(readDevice(dev, want.length).equals(want), `${z.join(' ') || 'uncompressed'}: device bytes = file image bytes (holes and padding zeroed)`);
      const mounted = await withMount(dev, (m) => snapshotTree(m, { xattrs: false }));
      assertSameTree(await snapshotTree(src, { xattrs: false }), mounted, { ignoreXattrs: true, ignoreMtimeOf: (p) => p.length === 0 });
      // A mounted device is refused (exclusive open), in one line, and stays mounted and intact.
      const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
      runOk('mount', ['-t', 'erofs', '-o', 'ro', dev, mnt]);
      try {
        const busy = forge(['build', ...ARGS, dev, src]);
        assert.equal(busy.status, 1);
        assert.equal(busy.stderr, `erofs-forge: ${dev}: cannot open device: device is busy (mounted or in use)\n`);
        assert.equal(fs.readFileSync(path.join(mnt, 'hello.txt'), 'utf8'), 'hello\n');
      } finally {
        run('umount', [mnt]);
      }
    });
  }
});

test('block device too small: refused in one line before anything is written (device bytes unchanged)', async (t) => {
  if (!needRoot(t)) return;
  const dir = scratch(t, 'blksmall');
  const src = source(dir, { big: pseudoRandom('small dev', 1 << 20) });
  await withLoop(dir, 256 << 10, async (dev) => {
    const before = sha(readDevice(dev, 256 << 10));
    const r = forge(['build', ...ARGS, dev, src]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^erofs-forge: \/dev\/loop\d+: image does not fit the device \(262144 bytes\): it needs at least \d+; nothing was written\n$/);
    assert.equal(sha(readDevice(dev, 256 << 10)), before, 'device unchanged');
    assert.ok(fs.statSync(dev).isBlockDevice());
  });
});

test('block device found too small while writing (compressed data): one line saying how far it got, no image left claiming to be one', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  const dir = scratch(t, 'blklate');
  // Incompressible: -z cannot shrink it, but nothing bounds compressed data before it is written.
  const src = source(dir, { big: pseudoRandom('late dev', 1 << 20) });
  await withLoop(dir, 256 << 10, async (dev) => {
    const r = forge(['build', ...ARGS, '-z', 'lz4', dev, src]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^erofs-forge: \/dev\/loop\d+: image does not fit the device \(262144 bytes\): it needs more than 262144; the device was overwritten from byte 0 to 262144 of 262144 and holds no valid image\n$/);
    assert.ok(readDevice(dev, 4096).equals(Buffer.alloc(4096)), 'superblock area zeroed');
    const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
    const m = run('mount', ['-t', 'erofs', '-o', 'ro', dev, mnt]);
    if (m.status === 0) run('umount', [mnt]);
    assert.notEqual(m.status, 0, 'the kernel finds no EROFS image there');
  });
});

test('character device, FIFO, socket, directory IMAGE: refused in one line, left as they were', async (t) => {
  if (!needRoot(t)) return;
  const dir = scratch(t, 'nodes');
  const src = source(dir, { a: 'a\n' });
  const chr = path.join(dir, 'null-like');
  runOk('mknod', [chr, 'c', '1', '3']);
  const fifo = path.join(dir, 'fifo');
  runOk('mkfifo', [fifo]);
  const sock = path.join(dir, 'sock');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const d = path.join(dir, 'adir');
  fs.mkdirSync(d);
  try {
    const cases: [string, string, (s: fs.Stats) => boolean][] = [
      [chr, 'a character device', (s) => s.isCharacterDevice() && s.rdev === fs.statSync('/dev/null').rdev],
      [fifo, 'a FIFO', (s) => s.isFIFO()],
      [sock, 'a socket', (s) => s.isSocket()],
      [d, 'a directory', (s) => s.isDirectory() && fs.readdirSync(d).length === 0],
    ];
    for (const [target, what, still] of cases) {
      const r = forge(['build', ...ARGS, target, src]);
      assert.equal(r.status, 1, target);
      assert.equal(r.stderr, `erofs-forge: ${target}: is ${what}; an image goes to a regular file or a block device\n`);
      assert.ok(still(fs.lstatSync(target)), `${target} is still ${what}`);
    }
    // Through a symlink too: the node it points to is what counts.
    const link = path.join(dir, 'to-null');
    fs.symlinkSync(chr, link);
    const r = forge(['build', ...ARGS, link, src]);
    assert.equal(r.stderr, `erofs-forge: ${link}: is a character device; an image goes to a regular file or a block device\n`);
    assert.ok(fs.lstatSync(link).isSymbolicLink() && fs.statSync(chr).isCharacterDevice());
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file');
  } finally {
    server.close();
  }
});

test('symlink IMAGE: the image replaces its target (temp file beside the target), the link stays; a dangling link is refused', (t) => {
  const dir = scratch(t, 'symlink');
  const src = source(dir, { a: 'a\n', b: pseudoRandom('link', 9000) });
  const targets = path.join(dir, 'images');
  fs.mkdirSync(targets);
  const real = path.join(targets, 'real.img');
  fs.writeFileSync(real, 'old contents');
  const link = path.join(dir, 'current.img');
  fs.symlinkSync('images/real.img', link);
  const chain = path.join(dir, 'chain.img');
  fs.symlinkSync('current.img', chain);
  const file = path.join(dir, 'file.img');
  assert.equal(forge(['build', ...ARGS, file, src]).status, 0);
  for (const l of [link, chain]) {
    fs.writeFileSync(real, 'old contents');
    const r = forge(['build', ...ARGS, l, src]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.lstatSync(l).isSymbolicLink(), 'still a link');
    assert.equal(fs.readlinkSync(link), 'images/real.img');
    assert.ok(fs.readFileSync(real).equals(fs.readFileSync(file)), 'the target holds the image');
    assert.deepEqual(fs.readdirSync(targets), ['real.img'], 'no temp file left beside the target');
  }
  // Dangling: refused, nothing created where it points.
  const dangling = path.join(dir, 'dangling.img');
  fs.symlinkSync('images/missing.img', dangling);
  const r = forge(['build', ...ARGS, dangling, src]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `erofs-forge: ${dangling}: dangling symbolic link (to images/missing.img); not writing through it\n`);
  assert.ok(!fs.existsSync(path.join(targets, 'missing.img')));
  assert.ok(fs.lstatSync(dangling).isSymbolicLink());
});

/** Start a build and SIGKILL it once its temp file exists; returns the temp file's name. */
async function killedBuild(dir: string, image: string, src: string): Promise<string> {
  const child = spawn(process.execPath, [FORGE_BIN, 'build', '--quiet', '-z', 'lz4hc', '--workers', '1', image, src], { cwd: REPO_ROOT, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  const base = path.basename(image);
  const before = new Set(fs.readdirSync(dir));
  let temp: string | undefined;
  for (let i = 0; i < 600 && !temp; i++) {
    temp = fs.readdirSync(dir).find((n) => !before.has(n) && n.startsWith(`.${base}.`) && n.endsWith('.tmp'));
    if (!temp) await sleep(10);
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'killed, not finished');
  assert.ok(temp, 'the build had created its temp file');
  assert.ok(fs.existsSync(path.join(dir, temp!)), 'SIGKILL left the temp file behind');
  return temp!;
}

test('a SIGKILLed build leaves IMAGE.*.tmp; the next build of IMAGE removes it and says so (not under --quiet)', async (t) => {
  const dir = scratch(t, 'sigkill');
  // Big and slow enough (lz4hc over incompressible data) to be killed mid-way.
  const src = source(dir, { big: pseudoRandom('sigkill', 48 << 20), small: 'x' });
  const img = path.join(dir, 'out.img');
  const temp = await killedBuild(dir, img, src);
  assert.match(temp, /^\.out\.img\.erofs-forge-\d+-[0-9a-f]{8}-[0-9a-f]{8}\.tmp$/);
  // Temp files the next build must leave alone: a live process's (ours), another host's, another image's.
  const pid = /erofs-forge-(\d+)-([0-9a-f]{8})/.exec(temp)!;
  const live = `.out.img.erofs-forge-${process.pid}-${pid[2]}-00000000.tmp`;
  const otherHost = `.out.img.erofs-forge-${pid[1]}-${pid[2] === '00000000' ? '11111111' : '00000000'}-00000000.tmp`;
  const otherImage = temp.replace('.out.img.', '.out.img2.');
  for (const n of [live, otherHost, otherImage]) fs.writeFileSync(path.join(dir, n), '');
  const small = source(path.join(dir, 'small'), { a: 'a\n' });
  const r = forge(['build', '-T0', '-Uclear', img, small]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, `erofs-forge: warning: removed ${path.join(dir, temp)}, left by an earlier build of ${img} (pid ${pid[1]}) that did not finish\n`);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')).sort(), [live, otherHost, otherImage].sort());
  // --quiet: removed all the same, silently.
  const temp2 = await killedBuild(dir, img, src);
  const q = forge(['build', '--quiet', '-T0', '-Uclear', img, small]);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stderr, '');
  assert.ok(!fs.existsSync(path.join(dir, temp2)));
});
