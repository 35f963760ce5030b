// `npm start`: build an image of fixtures/tree, read every file back and compare, run fsck.erofs when
// installed, and say what happened.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build, defaultBuildOptions, openImage, verify, parseCompressor, DEFAULT_FINGERPRINT_NAME } from '../dist/src/index.js';
import { runEntry } from '../dist/src/cli/entry.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(repo, 'fixtures', 'tree');
const image = path.join(repo, 'dist', 'fixture.img');

// Any failure is one line and exit 1 (runEntry), never a stack trace.
await runEntry('npm start', async () => {
  // LZ4HC with 16 KiB pclusters and the page-cache-share fingerprint, as mkfs.erofs --xattr-inode-digest writes it.
  const opts = defaultBuildOptions({
    timestamp: 1700000000n, uuid: new Uint8Array(16), allRoot: true,
    compression: { codec: parseCompressor('lz4hc'), pclusterSize: 16384, ztailpacking: true, dedupe: false, legacyIndexes: false },
    fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' },
  });
  const res = await build(image, { dir: source }, opts);
  const digest = createHash('sha256').update(fs.readFileSync(image)).digest('hex');
  console.log(`built   ${path.relative(process.cwd(), image)} from fixtures/tree (lz4hc, 16 KiB pclusters, ztailpacking, sha256 fingerprints): ${res.inodes} inodes, ${res.compressedFiles} files compressed, ${res.imageBytes} bytes, ${res.seconds.toFixed(3)} s`);
  console.log(`sha256  ${digest}`);

  const img = openImage(image);
  let files = 0, bytes = 0, links = 0, dirs = 0;
  try {
    img.walk((rel, ino) => {
      const src = path.join(source, rel.toString());
      if (ino.kind === 'dir') { dirs++; return; }
      if (ino.kind === 'lnk') {
        if (fs.readlinkSync(src) !== img.readlink(ino).toString()) throw new Error(`${rel}: symlink target differs`);
        links++;
        return;
      }
      const want = fs.readFileSync(src);
      const got = Buffer.concat([...img.data(ino)]);
      if (!want.equals(got)) throw new Error(`${rel}: content differs from the source`);
      files++;
      bytes += got.length;
    });
  } finally {
    img.close();
  }
  console.log(`read    ${files} files (${bytes} bytes), ${links} symlinks, ${dirs} directories: all identical to the source`);

  const report = await verify([image]);
  if (!report.ok) {
    for (const p of report.problems) console.log(`verify  ${p.path ?? ''}: ${p.message}`);
    process.exitCode = 1;
  } else {
    console.log(`verify  ${report.fingerprinted} fingerprints recomputed from the decoded content: all honest`);
  }

  // fsck.erofs 1.9.3 (EROFS_UTILS_BIN) also checks the digests; Debian's 1.5 predates long xattr prefixes.
  if (process.env.EROFS_UTILS_BIN) {
    const bin = path.join(process.env.EROFS_UTILS_BIN, 'fsck.erofs');
    const fsck = spawnSync(bin, ['--xattr-inode-digest', image], { encoding: 'utf8' });
    if (fsck.error) console.log(`fsck    ${bin}: ${fsck.error.message}`);
    else if (fsck.status === 0) console.log(`fsck    ${bin} --xattr-inode-digest: clean`);
    else { console.log(`fsck    ${bin} failed:\n${fsck.stdout}${fsck.stderr}`); process.exitCode = 1; }
  } else {
    console.log('fsck    skipped: set EROFS_UTILS_BIN to erofs-utils >= 1.9.2 to cross-check with fsck.erofs --xattr-inode-digest');
  }
});
