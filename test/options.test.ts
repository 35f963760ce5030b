// Build options as mkfs.erofs spells them, each checked on the image through our reader, with a
// kernel mount for the xattr-related ones (the kernel's filter and prefix rules are the judge).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { forge, needMount, needRoot, run } from './helpers/tools.js';
import { withMount } from './helpers/mount.js';
import { ErofsImage, type InodeInfo } from '../src/read/image.js';

let dir = '';
let root = '';
test.before(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-opts-'));
  root = path.join(dir, 'src');
  fs.mkdirSync(path.join(root, 'keep/skip-me'), { recursive: true });
  fs.mkdirSync(path.join(root, '.git/objects'), { recursive: true });
  fs.writeFileSync(path.join(root, 'keep/a.txt'), 'a'.repeat(5000));
  fs.writeFileSync(path.join(root, 'keep/skip-me/x'), 'x');
  fs.writeFileSync(path.join(root, '.git/objects/o'), 'o');
  fs.writeFileSync(path.join(root, 'b.log'), 'log');
  fs.chownSync(path.join(root, 'keep/a.txt'), 1234, 5678);
  for (const f of ['keep/a.txt', 'b.log']) {
    run('setfattr', ['-n', 'user.shared', '-v', 'same', path.join(root, f)]);
    run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(root, f)]);
  }
  run('setfattr', ['-n', 'user.shared', '-v', 'same', path.join(root, 'keep')]);
  fs.utimesSync(path.join(root, 'b.log'), 2000000000, 2000000000);
  fs.utimesSync(path.join(root, 'keep/a.txt'), 1000000000, 1000000000);
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function build(name: string, args: string[], env?: Record<string, string>): string {
  const img = path.join(dir, `${name}.img`);
  const r = forge(['build', '--quiet', '-Uclear', ...args, img, root], { env });
  assert.equal(r.status, 0, r.stderr);
  return img;
}

function read<T>(img: string, fn: (e: ErofsImage, get: (p: string) => InodeInfo) => T): T {
  const e = ErofsImage.open(img);
  try {
    return fn(e, (p) => e.lookup(p));
  } finally {
    e.close();
  }
}

function paths(img: string): string[] {
  return read(img, (e) => { const out: string[] = []; e.walk((p) => out.push(p.toString())); return out.filter(Boolean).sort(); });
}

test('--exclude-path and --exclude-regex leave out paths and what is below them', () => {
  assert.deepEqual(paths(build('ex', ['-T0', '--exclude-path', 'keep/skip-me', '--exclude-regex', '^\\.git', '--exclude-regex', '\\.log$'])), ['keep', 'keep/a.txt']);
});

test('--all-root, --force-uid, --force-gid', () => {
  read(build('root', ['-T0', '--all-root']), (_, g) => assert.deepEqual([g('/keep/a.txt').uid, g('/keep/a.txt').gid], [0, 0]));
  read(build('force', ['-T0', '--force-uid', '70000', '--force-gid=42']), (_, g) => {
    const i = g('/b.log');
    assert.deepEqual([i.uid, i.gid, i.extended], [70000, 42, true]);
  });
});

test('-T with --all-time (default) and --mkfs-time; --ignore-mtime; SOURCE_DATE_EPOCH clamps', () => {
  read(build('t-all', ['-T', '1500000000']), (e, g) => {
    assert.equal(e.sb.epoch, 1500000000n);
    assert.equal(g('/keep/a.txt').mtimeSec, 1500000000n);
    assert.equal(g('/keep/a.txt').extended, false, 'compact inode when the time is the build time');
  });
  read(build('t-mkfs', ['-T', '1500000000', '--mkfs-time']), (e, g) => {
    assert.equal(e.sb.epoch, 1500000000n);
    assert.equal(g('/keep/a.txt').mtimeSec, 1000000000n);
    assert.equal(g('/b.log').mtimeSec, 2000000000n);
  });
  read(build('t-ignore', ['-T', '1500000000', '--mkfs-time', '--ignore-mtime']), (_, g) => {
    assert.equal(g('/b.log').mtimeSec, 1500000000n);
    assert.equal(g('/b.log').extended, false);
  });
  read(build('sde', [], { SOURCE_DATE_EPOCH: '1500000000' }), (e, g) => {
    assert.equal(e.sb.epoch, 1500000000n);
    assert.equal(g('/keep/a.txt').mtimeSec, 1000000000n, 'older mtimes stay');
    assert.equal(g('/b.log').mtimeSec, 1500000000n, 'newer mtimes are clamped');
  });
  // -T wins over SOURCE_DATE_EPOCH (our spec: SOURCE_DATE_EPOCH is the default for -T).
  read(build('t-over-sde', ['-T', '7'], { SOURCE_DATE_EPOCH: '1500000000' }), (e) => assert.equal(e.sb.epoch, 7n));
});

test('-L label, -U uuid', () => {
  const img = path.join(dir, 'label.img');
  const r = forge(['build', '--quiet', '-T0', '-L', 'my-volume', '-U', '0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8', img, root]);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(forge(['inspect', '--json', img]).stdout.toString());
  assert.equal(info.superblock.label, 'my-volume');
  assert.equal(info.superblock.uuid, '0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8');
});

test('-E noinline_data stores tails in blocks; default inlines them', () => {
  read(build('inl', ['-T0']), (_, g) => assert.equal(g('/keep/a.txt').datalayout, 2));
  read(build('noinl', ['-T0', '-E', 'noinline_data']), (_, g) => assert.equal(g('/keep/a.txt').datalayout, 0));
});

test('xattrs: shared above -x, long prefixes, -x -1 drops them; the kernel sees them all', async (t) => {
  if (!needRoot(t)) return;
  // user.shared=same is on three inodes: shared with the default -x 2, inline with -x 3.
  read(build('x2', ['-T0']), (e, g) => {
    const s = e.xattrs(g('/keep')).find((x) => x.name.toString() === 'user.shared');
    assert.equal(s?.shared, true);
  });
  read(build('x3', ['-T0', '-x', '3']), (e, g) => assert.equal(e.xattrs(g('/keep')).find((x) => x.name.toString() === 'user.shared')?.shared, false));
  read(build('xnone', ['-T0', '-x', '-1']), (e, g) => assert.equal(e.xattrs(g('/keep/a.txt')).length, 0));
  const img = build('prefix', ['-T0', '--xattr-prefix', 'trusted.overlay.', '--xattr-prefix', 'user.sh']);
  read(img, (e, g) => {
    assert.equal(e.prefixes.length, 2);
    assert.deepEqual(e.xattrs(g('/b.log')).map((x) => x.name.toString()).sort(), ['trusted.overlay.opaque', 'user.shared']);
  });
  if (!needMount(t)) return;
  await withMount(img, (m) => {
    const r = run('getfattr', ['-d', '-m', '-', '-e', 'text', path.join(m, 'b.log')]);
    assert.match(r.stdout.toString(), /trusted.overlay.opaque="y"/);
    assert.match(r.stdout.toString(), /user.shared="same"/);
    const g = run('getfattr', ['-n', 'user.shared', '--only-values', path.join(m, 'keep')]);
    assert.equal(g.stdout.toString(), 'same');
  });
});
