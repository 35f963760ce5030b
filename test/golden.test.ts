// Golden images: fixtures/tree built with fixed -T/-U must keep these digests. A change here is a
// format change: say so in the commit, and update the digests from the failure message.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { forge } from './helpers/tools.js';
import { fixtureCopy } from './helpers/fixture.js';

const GOLDEN: Record<string, string> = {
  'b4096': 'bb30f2cffe574edfe7cb1e5898473e58b4ce4a83413157382c08566a044c29ee',
  'b2048': '631e807d8fe4971a8cb7b6642cb3564785a5e439a1b0e3a8fbd5dc5b0978eedb',
  'b1024': 'f9b77e0e3ce4035320514596c0c10ad7a82837ce17594675101bf9e5c491b332',
  'b512': '92c97800bc1935a61879c0bae21fec3ef3457de29c9b21c6371ad1020567129a',
  'b4096-digest': '98b735cfd677b5438916a3002a4b64a1a7694015b6aa50d260556ada9876339b',
  'b4096-trusted-digest-noinline': '299b009450fbbe3e85215a5be1e0c7a9309858521faa62d8b12afa7d33ce6475',
  // re-pinned (enc7): lz4hc level 9 searches 64/16 deep with sufficient length 64 (was 256/64/128)
  'b4096-lz4hc-fragments': '436253e4bc2e10be1086b3737608fab9f5bce306c049de755fc91dfce65e98e7',
  'b512-deflate-all-fragments-ztailpacking': '97dce880bcc4e7c40752955d611bbcaa75d60f0996d0dbb12fc9d40d083fab47',
  // re-pinned (enc7): deflate level 2 (the default) inserts matches up to 32 bytes, walks 3 candidates (was 5 / 8)
  'b512-deflate-default-all-fragments-ztailpacking': 'e2d9cd2662586aa86e8a55d463dce5ab577ca6436f60d9335480cc54cffaaafe',
};
const ARGS: Record<string, string[]> = {
  'b4096': ['-b', '4096'],
  'b2048': ['-b', '2048'],
  'b1024': ['-b', '1024'],
  'b512': ['-b', '512'],
  'b4096-digest': ['--xattr-inode-digest'],
  'b4096-trusted-digest-noinline': ['--xattr-inode-digest=trusted.erofs.fingerprint', '-E', 'noinline_data'],
  'b4096-lz4hc-fragments': ['-z', 'lz4hc', '-E', 'fragments'],
  // level 6, pinned: the default was 6 when this digest was taken (it is 2 now, the entry below)
  'b512-deflate-all-fragments-ztailpacking': ['-b', '512', '-z', 'deflate,level=6', '-C', '4096', '-E', 'all-fragments,ztailpacking'],
  'b512-deflate-default-all-fragments-ztailpacking': ['-b', '512', '-z', 'deflate', '-C', '4096', '-E', 'all-fragments,ztailpacking'],
};

test('fixture images keep their pinned SHA-256 digests', () => {
  const { dir, cleanup } = fixtureCopy();
  try {
    const got: Record<string, string> = {};
    for (const [name, args] of Object.entries(ARGS)) {
      const img = path.join(path.dirname(dir), `${name}.img`);
      const r = forge(['build', '--quiet', '-T', '1700000000', '-U', 'clear', '--all-root', ...args, img, dir]);
      assert.equal(r.status, 0, r.stderr);
      got[name] = createHash('sha256').update(fs.readFileSync(img)).digest('hex');
    }
    assert.deepEqual(got, GOLDEN, `golden digests changed; if this is an intended format change, pin:\n${JSON.stringify(got, null, 2)}`);
  } finally {
    cleanup();
  }
});
