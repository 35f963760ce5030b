// npm is the whole install (issue 16): the demo, a build of a tree with xattrs and ACLs, and its
// extraction run with an empty PATH (no getfattr, setfattr, getfacl, setfacl, getent, python3, touch,
// mknod...), and the extraction equals the source. The oracles (setfacl, getfattr via snapshotTree)
// run in this process, with the normal PATH.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { FORGE_BIN, REPO_ROOT, needRoot, runOk } from './helpers/tools.js';
import { snapshotTree, assertSameTree } from './helpers/snapshot.js';
import * as sys from '../src/sys/libc.js';

const EMPTY_PATH = { PATH: '/nonexistent', LC_ALL: 'C' };

function runBare(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...EMPTY_PATH, EROFS_UTILS_BIN: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('no system programs: the demo (npm start) runs with an empty PATH', () => {
  const r = runBare([path.join(REPO_ROOT, 'scripts', 'demo.js')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /all identical to the source/);
  assert.match(r.stdout, /all honest/);
});

test('no system programs: build + extract of a tree with xattrs, ACLs, a FIFO, a socket and devices, empty PATH', async (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-nopath-'));
  try {
    const src = path.join(d, 'src');
    fs.mkdirSync(path.join(src, 'acl-dir'), { recursive: true });
    fs.writeFileSync(path.join(src, 'f'), 'file\n');
    fs.writeFileSync(Buffer.from(`${src}/\xff\xfename`, 'latin1'), 'latin1 name\n');
    fs.symlinkSync('f', path.join(src, 'link'));
    sys.mknodat(sys.AT_FDCWD, Buffer.from(path.join(src, 'fifo')), 0o010640, 0n);
    sys.mknodat(sys.AT_FDCWD, Buffer.from(path.join(src, 'sock')), 0o140755, 0n);
    sys.mknodat(sys.AT_FDCWD, Buffer.from(path.join(src, 'null')), 0o020666, (1n << 8n) | 3n);
    sys.mknodat(sys.AT_FDCWD, Buffer.from(path.join(src, 'blk')), 0o060600, (8n << 8n) | 1n);
    sys.lsetxattr(Buffer.from(path.join(src, 'f')), Buffer.from('user.v'), Buffer.from('a\0b\nc'));
    sys.lsetxattr(Buffer.from(path.join(src, 'link')), Buffer.from('trusted.l'), Buffer.from('on the link'));
    sys.lsetxattr(Buffer.from(path.join(src, 'fifo')), Buffer.from('security.s'), Buffer.from('s'));
    runOk('setfacl', ['-m', 'u:1234:rwx,g:5678:r-x', path.join(src, 'f')]);
    runOk('setfacl', ['-d', '-m', 'u:1234:rx', path.join(src, 'acl-dir')]);
    // Nanosecond times, one before 1970, one on a symlink.
    sys.lutimensat(sys.AT_FDCWD, Buffer.from(path.join(src, 'f')), -2n, 123456789);
    sys.lutimensat(sys.AT_FDCWD, Buffer.from(path.join(src, 'link')), 1700000000n, 999999999);
    const img = path.join(d, 'img');
    let r = runBare([FORGE_BIN, 'build', '--quiet', '-zlz4', img, src]);
    assert.equal(r.status, 0, r.stderr);
    const x = path.join(d, 'x');
    r = runBare([FORGE_BIN, 'extract', '--quiet', img, x]);
    assert.equal(r.status, 0, r.stderr);
    assertSameTree(await snapshotTree(src), await snapshotTree(x), { ignoreMtimeOf: (p) => p.length === 0 });
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
