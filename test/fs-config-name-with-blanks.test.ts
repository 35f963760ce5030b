// Finding (issue 18's table): a canned fs_config cannot give an entry to a name with a blank.
// libcutils splits its lines on blanks and keeps the quotes of a quoted name in the key, which then
// matches no path; a path without an entry is fatal. erofs-forge refuses such a tree the same way
// (one line, exit 1, no image), and the bench builds the Android line from a copy without such names.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { parseFsConfig } from '../src/source/android-fs-config.js';
import { namesWithBlanks, writeLineFiles } from './helpers/mkfs-lines.js';
import { forge } from './helpers/tools.js';

test('fs_config name with blanks: a quoted name keeps its quotes in the key, as libcutils does', () => {
  const m = parseFsConfig(' 0 0 0755\n"system/doc/python 2 sunset.rst" 0 0 0644\nsystem/doc 0 0 0755\n', 'fs_config');
  assert.deepEqual([...m.keys()], ['', '"system/doc/python 2 sunset.rst"', 'system/doc']);
  assert.equal(m.has('system/doc/python 2 sunset.rst'), false);
});

test('fs_config name with blanks: mkfs refuses the tree (no entry can match), leaves no image', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-fsconfig-blank-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'doc'), { recursive: true });
    fs.writeFileSync(path.join(src, 'doc/plain.txt'), 'plain\n');
    fs.writeFileSync(path.join(src, 'doc/python 2 sunset.rst'), 'sunset\n');
    const fsConfig = path.join(dir, 'fs_config');
    fs.writeFileSync(fsConfig, [' 0 0 0755', 'system/doc 0 0 0755', 'system/doc/plain.txt 0 0 0644',
      '"system/doc/python 2 sunset.rst" 0 0 0644'].join('\n') + '\n');
    const img = path.join(dir, 'system.img');
    const r = forge(['mkfs', '--mount-point', 'system', '--fs-config-file', fsConfig, '-T0', '-Uclear', img, src]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^erofs-forge mkfs: failed to find system\/doc\/python 2 sunset\.rst in canned fs_config .*\n$/);
    assert.equal(fs.existsSync(img), false);
    // The bench's generator leaves the name out, and says which names a copy must drop.
    assert.deepEqual(namesWithBlanks(src), ['doc/python 2 sunset.rst']);
    const files = writeLineFiles(src, path.join(dir, 'files'), path.join(dir, 'x.tar'));
    assert.deepEqual(fs.readFileSync(files.fsConfig, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]),
      ['', 'system/doc', 'system/doc/plain.txt']);
    fs.rmSync(path.join(src, 'doc/python 2 sunset.rst'));
    const ok = forge(['mkfs', '--mount-point', 'system', '--fs-config-file', files.fsConfig, '-T0', '-Uclear', img, src]);
    assert.equal(ok.status, 0, ok.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
