// Arrows point one way (issue 17): no import cycle between files of src/, nor between its folders.
// scripts/check-cycles.mjs does the reading; these tests run it on src/ and on a tree made to fail.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/tools.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'check-cycles.mjs');

function check(dir?: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...(dir ? [dir] : [])], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('src/ has no import cycle between files or folders', () => {
  const r = check();
  assert.equal(r.out.trim(), 'no import cycles');
  assert.equal(r.status, 0);
});

test('the cycle check finds a file cycle through a type import and a folder cycle', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'cycles-'));
  try {
    fs.mkdirSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'b'));
    fs.writeFileSync(path.join(dir, 'a', 'x.ts'), "import type { Y } from '../b/y.js';\nexport type X = Y;\n");
    fs.writeFileSync(path.join(dir, 'b', 'y.ts'), "export type Y = number;\n");
    fs.writeFileSync(path.join(dir, 'b', 'z.ts'), "import { w } from '../a/w.js';\nexport const z = w;\n");
    fs.writeFileSync(path.join(dir, 'a', 'w.ts'), "export const w = 1;\n");
    const folders = check(dir);
    assert.equal(folders.status, 1);
    assert.match(folders.out, /^folder cycle: a <-> b$/m);
    assert.doesNotMatch(folders.out, /file cycle/);
    fs.writeFileSync(path.join(dir, 'b', 'y.ts'), "import { x } from '../a/x.js';\nexport type Y = number;\nexport const y = x;\n");
    const files = check(dir);
    assert.equal(files.status, 1);
    assert.match(files.out, /^file cycle: a\/x\.ts <-> b\/y\.ts$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the cycle check finds a cycle between subfolders of one folder', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'cycles-'));
  try {
    for (const d of ['pipe/plan', 'pipe/work']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.writeFileSync(path.join(dir, 'pipe', 'plan', 'a.ts'), "import { b } from '../work/b.js';\nexport const a = b;\n");
    fs.writeFileSync(path.join(dir, 'pipe', 'work', 'b.ts'), 'export const b = 1;\n');
    assert.equal(check(dir).out.trim(), 'no import cycles');
    fs.writeFileSync(path.join(dir, 'pipe', 'work', 'c.ts'), "import type { P } from '../plan/p.js';\nexport type C = P;\n");
    fs.writeFileSync(path.join(dir, 'pipe', 'plan', 'p.ts'), 'export type P = number;\n');
    const r = check(dir);
    assert.equal(r.status, 1);
    assert.match(r.out, /^folder cycle: pipe\/plan <-> pipe\/work$/m);
    assert.match(r.out, /^ {4}pipe\/work\/c\.ts -> pipe\/plan\/p\.ts$/m);
    assert.doesNotMatch(r.out, /file cycle/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
