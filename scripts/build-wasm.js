// Compile the WebAssembly modules: assembly/NAME.ts (AssemblyScript) -> dist/wasm/NAME.wasm.
// Run by every npm script that builds (after tsc). A module is recompiled only when its source, this
// script or the compiler is newer than the .wasm, so repeated builds cost nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(repo, 'assembly');
const outDir = path.join(repo, 'dist', 'wasm');
const require = createRequire(import.meta.url);
const ascPackage = require.resolve('assemblyscript/package.json');

const mtime = (p) => fs.statSync(p).mtimeMs;
const newestInput = Math.max(mtime(fileURLToPath(import.meta.url)), mtime(ascPackage));

fs.mkdirSync(outDir, { recursive: true });
let asc;
for (const name of fs.readdirSync(srcDir).filter((f) => f.endsWith('.ts')).sort()) {
  const src = path.join(srcDir, name);
  const out = path.join(outDir, name.replace(/\.ts$/, '.wasm'));
  if (fs.existsSync(out) && mtime(out) > Math.max(mtime(src), newestInput)) continue;
  asc ??= (await import('assemblyscript/asc')).default;
  // stub runtime: the modules allocate nothing, they work in linear memory laid out by hand.
  // noAssert: bounds are the callers' contract (checked in src/compress before every call).
  const tmp = `${out}.tmp`;
  // --enable simd: the LZ4 decoder copies 16 bytes at a time (WebAssembly SIMD: Node >= 16 on x64 and arm64).
  const { error, stderr } = await asc.main([path.relative(repo, src), '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '-o', path.relative(repo, tmp)], {
    stdout: process.stdout, stderr: asc.createMemoryStream(), baseDir: repo,
  });
  if (error) {
    process.stderr.write(stderr.toString());
    console.error(`build-wasm: ${name}: ${error.message}`);
    process.exit(1);
  }
  fs.renameSync(tmp, out);
  console.log(`build-wasm: ${path.relative(repo, out)} (${fs.statSync(out).size} bytes)`);
}
