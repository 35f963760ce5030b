// extract writes a flat file's inline tail (kept after its inode and xattrs) from the read-ahead window
// the inode was read through, with pwrite, and its blocks with sendfile (extract.ts sendfileAll): every
// byte must land where it belongs, for tails alone, blocks then a tail, tails after xattrs, at every
// block size, on the main thread and in workers.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { ErofsImage } from '../src/read/image.js';
import { extract } from '../src/read/extract.js';
import { INODE_FLAT_INLINE } from '../src/format/constants.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import * as sys from '../src/sys/libc.js';

test('extract_inline_tail_from_window: tails alone, after blocks and after xattrs land byte for byte', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-xtail-'));
  try {
    for (const bs of [512, 4096]) {
      const src = path.join(d, `src${bs}`);
      fs.mkdirSync(src);
      const sizes = [1, 100, bs - 1, bs + 1, 2 * bs - 1, 3 * bs + 5, 40_000, 123_457];
      const want = new Map<string, Buffer>();
      for (const size of sizes) {
        for (const x of [false, true]) {
          const name = `f${size}${x ? 'x' : ''}`;
          const data = pseudoRandom(`${bs}/${name}`, size);
          fs.writeFileSync(path.join(src, name), data);
          if (x) sys.lsetxattr(Buffer.from(path.join(src, name)), Buffer.from('user.k'), Buffer.alloc(40, 7));
          want.set(name, data);
        }
      }
      const img = path.join(d, `img${bs}`);
      await buildImage(img, { dir: src }, defaultBuildOptions({ blockSize: bs, uuid: new Uint8Array(16) }));
      const image = ErofsImage.open(img);
      try {
        // The image has inline tails for the test to reach.
        const inline = image.readdir(image.inode(image.rootNid)).filter((e) => e.name[0] === 0x66 && image.inode(e.nid).datalayout === INODE_FLAT_INLINE);
        assert.ok(inline.length >= sizes.length, `${inline.length} inline files at ${bs}`);
        for (const workers of [0, 1]) {
          const out = path.join(d, `x${bs}-${workers}`);
          extract(image, out, { workers });
          for (const [name, data] of want) assert.deepEqual(fs.readFileSync(path.join(out, name)), data, `${name} at ${bs}, workers ${workers}`);
        }
      } finally {
        image.close();
      }
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
