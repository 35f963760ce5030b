// The published package works as a typed library: `npm pack` the repository (after `tsc -p .`, as
// `npm test` does), install the tarball into a scratch TypeScript project (strict, NodeNext), compile a
// program that imports the library with the repository's TypeScript (the types must resolve and be real:
// a deliberate type error must be caught), run it to build an image of a tiny tree, read a file back,
// verify it, and check the bytes. The example in docs/library.md is compiled and run the same way. The
// bin is installed too and runs.
//
// Installing needs the package's dependencies: from npm's cache first (`npm ci` filled it), else from the
// registry. When the registry cannot be reached and the cache does not have them, the test skips
// (fails in CI).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { REPO_ROOT, inCI, run } from './helpers/tools.js';

const NPM = 'npm';
const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface PackEntry { filename: string; files: { path: string }[] }

/** The first ```ts block of docs/library.md. */
function docsExample(): string {
  const md = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'library.md'), 'utf8');
  const m = /```ts\n([\s\S]*?)```/.exec(md);
  assert.ok(m, 'docs/library.md has a ```ts example');
  return m[1];
}

const PROGRAM = `
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  build, openImage, verify, shareReport, defaultBuildOptions, renderShareReportHtml, parseCompressor, DEFAULT_FINGERPRINT_NAME,
  type BuildOptions, type BuildResult, type VerifyReport, type ShareReport, type InodeInfo,
} from 'erofs-forge';

const work = process.argv[2];
const src = path.join(work, 'tree');
fs.mkdirSync(path.join(src, 'etc'), { recursive: true });
fs.writeFileSync(path.join(src, 'etc', 'hello.txt'), 'hello from a scratch project\\n');
fs.writeFileSync(path.join(src, 'data.bin'), Buffer.from(Array.from({ length: 10000 }, (_, i) => (i * 7) & 0xff)));

const options: BuildOptions = defaultBuildOptions({
  timestamp: 0n, uuid: new Uint8Array(16), workers: 1,
  // LZ4: the encoder and the reader's decoder are WebAssembly (dist/wasm/lz4.wasm, lz4dec.wasm), which
  // must ship and load from the package
  compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
  fingerprint: { name: Buffer.from(DEFAULT_FINGERPRINT_NAME), scheme: 'sha256' },
});
const image = path.join(work, 'scratch.img');
const result: BuildResult = await build(image, { dir: src }, options);

const img = openImage(image);
let text: string;
let dataLength: number;
let dataSame: boolean;
let dataLayout: number;
try {
  const ino: InodeInfo = img.lookup('/etc/hello.txt');
  text = Buffer.from(img.readAll(ino)).toString('utf8');
  const dataIno = img.lookup('/data.bin');
  const data = img.readAll(dataIno);
  dataLength = data.length;
  dataSame = data.every((b, i) => b === ((i * 7) & 0xff));
  dataLayout = dataIno.datalayout;
} finally {
  img.close();
}
const report: VerifyReport = await verify([image]);
const share: ShareReport = await shareReport([image, image]);
const html: string = renderShareReportHtml(share);

// The types are real, not any: this line must be a compile error.
// @ts-expect-error blocks is a number
const wrong: string = result.blocks;
void wrong;

process.stdout.write(JSON.stringify({
  inodes: result.inodes, bytes: result.imageBytes, text, dataLength, dataSame, dataLayout, ok: report.ok, fingerprinted: report.fingerprinted,
  savedPages: share.total.savedPages, html: html.startsWith('<!DOCTYPE html>'),
}) + '\\n');
`;

test('npm pack → install into a scratch TypeScript project → compile → build and read an image', { timeout: 180_000 }, (t) => {
  const t0 = Date.now();
  const steps: string[] = [];
  let last = t0;
  const step = (name: string): void => { const now = Date.now(); steps.push(`${name} ${((now - last) / 1000).toFixed(1)} s`); last = now; };
  const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-pack-'));
  try {
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'index.js')), 'dist/src is built (run tsc -p . first)');

    // 1. Pack.
    const pack = run(NPM, ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, timeoutMs: 60_000 });
    assert.equal(pack.status, 0, `npm pack: ${pack.stderr}`);
    const [entry] = JSON.parse(pack.stdout.toString()) as PackEntry[];
    const tgz = path.join(work, entry.filename);
    assert.ok(fs.existsSync(tgz), tgz);
    step('pack');
    const files = entry.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'bin/erofs-forge.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/src/bundle/build.js', 'dist/src/bundle/mkfs.js', 'dist/src/bundle/worker-boot.js', 'dist/src/bundle/walk-worker.js', 'dist/wasm/lz4.wasm', 'dist/wasm/lz4dec.wasm']) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    assert.ok(files.includes('docs/library.md'), 'docs/ ships in the package');
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|bin\/|docs\/|dist\/src\/|dist\/wasm\/[a-z0-9]+\.wasm$)/.test(f));
    assert.deepEqual(stray, [], 'nothing but bin/, dist/src/, dist/wasm/*.wasm and the docs is published');

    // 2. A scratch project.
    const proj = path.join(work, 'scratch');
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }, null, 2));
    fs.writeFileSync(path.join(proj, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', rootDir: '.',
        // The package's own declarations are checked too; node's types come from the repository.
        skipLibCheck: false, types: ['node'], typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
      },
      include: ['main.ts', 'example.ts'],
    }, null, 2));
    fs.writeFileSync(path.join(proj, 'main.ts'), PROGRAM);
    fs.writeFileSync(path.join(proj, 'example.ts'), docsExample());

    // 3. Install the tarball (dependencies from npm's cache when it has them).
    const install = run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', tgz], { cwd: proj, timeoutMs: 120_000 });
    if (install.status !== 0) {
      const network = /E(?:NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH)|network|fetch failed|ENOTCACHED/i.test(install.stderr);
      if (network && !inCI()) {
        t.skip(`npm install of the packed tarball needs the npm registry or a filled npm cache, neither answered: ${install.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        return;
      }
      assert.fail(`npm install ${tgz} (status ${install.status}):\n${install.stderr}`);
    }
    step('install');
    const installed = JSON.parse(fs.readFileSync(path.join(proj, 'node_modules', 'erofs-forge', 'package.json'), 'utf8')) as { types: string; exports: unknown };
    assert.equal(installed.types, 'dist/src/index.d.ts');

    // 4. Compile with the repository's TypeScript.
    const tsc = run(process.execPath, [TSC, '-p', proj], { cwd: proj, timeoutMs: 120_000 });
    assert.equal(tsc.status, 0, `tsc in the scratch project:\n${tsc.stdout.toString()}${tsc.stderr}`);

    step('tsc');

    // 5. Run it.
    const main = run(process.execPath, [path.join(proj, 'out', 'main.js'), work], { cwd: proj, timeoutMs: 60_000 });
    assert.equal(main.status, 0, `scratch program: ${main.stderr}`);
    const out = JSON.parse(main.stdout.toString()) as Record<string, unknown>;
    assert.deepEqual(out, {
      inodes: 4, bytes: fs.statSync(path.join(work, 'scratch.img')).size, text: 'hello from a scratch project\n', dataLength: 10000,
      // 3 = EROFS_INODE_COMPRESSED_COMPACT: data.bin went through the WebAssembly LZ4 encoder
      dataSame: true, dataLayout: 3,
      ok: true, fingerprinted: 2, savedPages: 4, html: true,
    });

    // 6. The docs example, in a directory with what it expects: rootfs/ (with /etc/os-release) and other.img.
    const ex = path.join(work, 'example');
    fs.mkdirSync(path.join(ex, 'rootfs', 'etc'), { recursive: true });
    fs.writeFileSync(path.join(ex, 'rootfs', 'etc', 'os-release'), 'PRETTY_NAME="scratch"\nID=scratch\n');
    fs.writeFileSync(path.join(ex, 'rootfs', 'big.txt'), 'a compressible line of text\n'.repeat(10000));
    fs.copyFileSync(path.join(work, 'scratch.img'), path.join(ex, 'other.img'));
    const exRun = run(process.execPath, [path.join(proj, 'out', 'example.js')], { cwd: ex, timeoutMs: 60_000 });
    assert.equal(exRun.status, 0, `docs/library.md example: ${exRun.stderr}`);
    const exOut = exRun.stdout.toString();
    assert.match(exOut, /^4 inodes, \d+ bytes in [\d.]+ s\nreg 33 100644 PRETTY_NAME="scratch"\nbig\.txt 280000\netc\/os-release 33\n/);
    assert.match(exOut, /\nsaved 0 pages; 0 groups will not share\n$/);
    assert.match(fs.readFileSync(path.join(ex, 'share-report.html'), 'utf8'), /^<!DOCTYPE html>/);

    step('run');

    // ESM-only, said plainly: require() fails with one clear message.
    const req = run(process.execPath, ['-e', "require('erofs-forge')"], { cwd: proj });
    assert.notEqual(req.status, 0);
    assert.match(req.stderr.toString(), /erofs-forge is ESM-only: use `import/);

    // 7. The installed bin runs from the package too.
    const bin = run(path.join(proj, 'node_modules', '.bin', 'erofs-forge'), ['cat', path.join(work, 'scratch.img'), '/etc/hello.txt'], { cwd: proj });
    assert.equal(bin.status, 0, bin.stderr);
    assert.equal(bin.stdout.toString(), 'hello from a scratch project\n');
    // A build through the bin runs the bundled command (scripts/bundle-build.js) from the package.
    const again = path.join(work, 'again.img');
    const b = run(path.join(proj, 'node_modules', '.bin', 'erofs-forge'),
      ['build', '--quiet', '-zlz4', '--workers', '1', '-T0', '-Uclear', '--xattr-inode-digest=trusted.erofs.fingerprint', '--all-root', again, path.join(work, 'tree')], { cwd: proj });
    assert.equal(b.status, 0, b.stderr);
    const back = run(path.join(proj, 'node_modules', '.bin', 'erofs-forge'), ['cat', again, '/etc/hello.txt'], { cwd: proj });
    assert.equal(back.stdout.toString(), 'hello from a scratch project\n', back.stderr.toString());
    step('bin build');
    t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${steps.join(', ')}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
