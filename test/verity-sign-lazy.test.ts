// Finding (issue 21, sealed builds): PKIjs was loaded by every seal, signed or not (~7 ms of CPU
// with the compile cache, 20+ without, on the main thread before the build starts): verity/outputs.ts
// imported sign.js for signatureJson, although the CLI loads the signer lazily "only when signing".
// sign.js is now imported when a root hash is signed. Seen through a resolve hook in a child: no
// 'pkijs' for an unsigned seal; 'pkijs' when sign.js is imported (so the test can fail).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { forge } from './helpers/tools.js';

const IMAGE_JS = new URL('../src/verity/image.js', import.meta.url).href;
const SIGN_JS = new URL('../src/verity/sign.js', import.meta.url).href;

/** The specifiers resolved while `body` runs in a child (after `import(IMAGE_JS)` as `v`). */
function resolvedBy(body: string): string[] {
  const script = `
    const { registerHooks } = await import('node:module');
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { seen.push(spec); return next(spec, ctx); } });
    const v = await import(${JSON.stringify(IMAGE_JS)});
    ${body}
    process.stdout.write(JSON.stringify(seen));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test('unsigned_seal_does_not_load_pkijs', (t) => {
  const { registerHooks } = process.getBuiltinModule('node:module') as { registerHooks?: unknown };
  if (typeof registerHooks !== 'function') return t.skip('no module.registerHooks in this Node');
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-sign-lazy-'));
  try {
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a'), 'a'.repeat(10000));
    const img = path.join(dir, 'img');
    forge(['build', '--quiet', '-T0', '-Uclear', img, path.join(dir, 'src')]);
    const seen = resolvedBy(`
      const r = await v.sealImageFile(${JSON.stringify(img)}, { hash: 'sha256', hashBlockSize: 4096, superblock: true }, { rootHashFile: ${JSON.stringify(path.join(dir, 'root'))} });
      if (r.result.rootHash.length !== 32) throw new Error('no root hash');`);
    assert.equal(fs.readFileSync(path.join(dir, 'root'), 'utf8').length, 64, 'the seal ran');
    assert.ok(!seen.includes('pkijs') && !seen.includes('asn1js'), `an unsigned seal resolved: ${seen.filter((s) => !s.startsWith('node:')).join(' ')}`);
    assert.ok(resolvedBy(`await import(${JSON.stringify(SIGN_JS)});`).includes('pkijs'), 'sign.js resolves pkijs (the hook sees it)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
