// Finding verity-on-device: `build --verity` onto a block device (a loop device here).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { after, test } from 'node:test';
import { noise } from './helpers/noise.js';
import { forge, needRoot, run } from './helpers/tools.js';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-verity-device-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

// Finding verity-on-device: `build --verity` onto a block device failed with an internal error (the
// seal cut the image file to the filesystem's end with ftruncate, EINVAL on a device). The tree now
// goes after the filesystem on the device (zeros up to its end, as a file gets them from the cut):
// the same bytes and root hash as into a file; a device too small for the tree is one clear line.
test('build_verity_onto_block_device: same bytes and root hash as into a file; a device too small for the tree refused in one line', (t) => {
  if (!needRoot(t)) return;
  const src = path.join(work, 'dev-src');
  fs.mkdirSync(path.join(src, 'd'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.bin'), noise(1_500_000, 11));
  fs.writeFileSync(path.join(src, 'd', 'b.txt'), 'on a loop device\n'.repeat(300));
  const file = path.join(work, 'dev-file.img');
  const f = forge(['build', '--json', '-T0', '-Uclear', '--workers', '2', '--verity', file, src]);
  assert.equal(f.status, 0, f.stderr.toString());
  const fj = JSON.parse(f.stdout.toString()) as { verity: { rootHash: string; hashOffset: number; hashEnd: number } };
  for (const [size, fits] of [[8 << 20, true], [fj.verity.hashOffset + 4096, false]] as const) {
    const backing = path.join(work, 'dev-backing');
    // Stale bytes where the seal goes: they must not survive.
    fs.writeFileSync(backing, Buffer.alloc(size, 0xa5));
    const l = run('losetup', ['-f', '--show', backing]);
    if (l.status !== 0) {
      if (process.env.CI) assert.fail(`losetup: ${l.stderr}`);
      t.skip(`losetup: ${l.stderr.toString().trim()}`);
      return;
    }
    const dev = l.stdout.toString().trim();
    try {
      const d = forge(['build', '--json', '-T0', '-Uclear', '--workers', '2', '--verity', dev, src]);
      if (fits) {
        assert.equal(d.status, 0, d.stderr.toString());
        const dj = JSON.parse(d.stdout.toString()) as typeof fj;
        assert.equal(dj.verity.rootHash, fj.verity.rootHash, 'root hash');
        const fd = fs.openSync(dev, 'r');
        const onDev = Buffer.alloc(fj.verity.hashEnd);
        try {
          fs.readSync(fd, onDev, 0, onDev.length, 0);
        } finally {
          fs.closeSync(fd);
        }
        assert.ok(onDev.equals(fs.readFileSync(file)), 'device bytes up to the tree\'s end equal the file');
      } else {
        assert.equal(d.status, 1, d.stderr.toString());
        const err = d.stderr.toString().trim();
        assert.match(err, /: the dm-verity hash tree does not fit the device \(\d+ bytes\): the sealed image needs \d+/);
        assert.equal(err.split('\n').length, 1, `one line: ${err}`);
      }
    } finally {
      run('losetup', ['-d', dev]);
    }
  }
});
