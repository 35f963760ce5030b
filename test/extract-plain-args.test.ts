// The plain `extract` command line runs without commander (src/cli/extract-cmd.ts): it must give what
// commander gives for every form it takes, and leave every other form (help, unknown or misspelt
// options, `--`, a wrong operand count) to commander, whose messages and exit codes stay as they were.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { parseExtractArgs } from '../src/cli/extract-cmd.js';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { spawnSync } from 'node:child_process';
import { forge, FORGE_BIN } from './helpers/tools.js';

test('extract_plain_args_parse: the three flags anywhere, any number of times, and two operands', () => {
  assert.deepEqual(parseExtractArgs(['img', 'dir']), ['img', 'dir', {}]);
  assert.deepEqual(parseExtractArgs(['--quiet', 'img', '--no-owners', 'dir', '--no-xattrs', '--quiet']),
    ['img', 'dir', { quiet: true, owners: false, xattrs: false }]);
  assert.deepEqual(parseExtractArgs(['', 'dir']), ['', 'dir', {}]);
  for (const args of [[], ['img'], ['a', 'b', 'c'], ['--help', 'a', 'b'], ['-h'], ['--quiet=1', 'a', 'b'], ['--', 'a', 'b'],
    ['-', 'b'], ['a', '-b'], ['--owners', 'a', 'b'], ['--no-quiet', 'a', 'b'], ['--constructor', 'a', 'b'], ['--toString', 'a', 'b']]) {
    assert.equal(parseExtractArgs(args), undefined, JSON.stringify(args));
  }
});

test('extract_plain_args_same_as_commander: same output, status and tree; other forms keep commander\'s messages', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xargs-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'd', 'f'), 'hello\n');
    const img = path.join(dir, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({}));
    // Plain form: stdout line and tree as before; `--` (commander's path) gives the same.
    const plain = forge(['extract', img, path.join(dir, 'a')]);
    const viaCommander = forge(['extract', '--', img, path.join(dir, 'b')]);
    assert.equal(plain.status, 0, plain.stderr.toString());
    assert.equal(viaCommander.status, 0, viaCommander.stderr.toString());
    assert.equal(plain.stdout.toString(), `${path.join(dir, 'a')}: 1 files, 2 directories, 6 bytes\n`);
    assert.equal(viaCommander.stdout.toString(), `${path.join(dir, 'b')}: 1 files, 2 directories, 6 bytes\n`);
    assert.equal(fs.readFileSync(path.join(dir, 'a', 'd', 'f'), 'utf8'), 'hello\n');
    assert.equal(forge(['extract', '--quiet', '--no-owners', '--no-xattrs', img, path.join(dir, 'c')]).stdout.toString(), '');
    // A user error: one line, exit 1, on both paths.
    const missing = forge(['extract', '--quiet', path.join(dir, 'nope'), path.join(dir, 'd')]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.toString(), `erofs-forge: ${path.join(dir, 'nope')}: cannot open image: no such file or directory\n`);
    const notEmpty = forge(['extract', img, path.join(dir, 'a')]);
    assert.equal(notEmpty.status, 1);
    assert.equal(notEmpty.stderr.toString(), `erofs-forge: ${path.join(dir, 'a')}: directory is not empty\n`);
    // Commander's forms: usage errors exit 2 with its messages.
    const unknown = forge(['extract', '--bogus', img, path.join(dir, 'e')]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr.toString(), /unknown option '--bogus'/);
    const extra = forge(['extract', img, path.join(dir, 'e'), 'more']);
    assert.equal(extra.status, 2);
    assert.match(extra.stderr.toString(), /too many arguments/);
    const few = forge(['extract', img]);
    assert.equal(few.status, 2);
    assert.match(few.stderr.toString(), /missing required argument 'DIR'/);
    assert.ok(!fs.existsSync(path.join(dir, 'e')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('extract_summary_by_write: the summary line reaches a pipe without a stream (no net module); a closed pipe ends quietly', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xline-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'hello\n');
    const img = path.join(dir, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({}));
    const out = path.join(dir, 'a');
    const script = `process.on('exit', () => { const net = (process.moduleLoadList ?? []).includes('NativeModule net'); process.stderr.write('NET ' + net + '\\n'); });`;
    const hook = path.join(dir, 'hook.mjs');
    fs.writeFileSync(hook, script);
    const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, 'extract', img, out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${out}: 1 files, 1 directories, 6 bytes\n`);
    // Asked before the exit hook's own write to stderr makes that stream.
    assert.match(r.stderr, /^NET false$/m);
    // Reader gone before the line is written (EPIPE): exit 0, nothing on stderr but the status.
    const piped = spawnSync('/bin/sh', ['-c', '{ sleep 0.3; "$0" "$@"; echo "status $?" >&2; } | true', process.execPath, FORGE_BIN, 'extract', img, path.join(dir, 'c')], { encoding: 'utf8' });
    assert.equal(piped.stderr, 'status 0\n');
    assert.equal(fs.readFileSync(path.join(dir, 'c', 'f'), 'utf8'), 'hello\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('extract_small_image_without_maglev: a small image is extracted without V8 compiling anything in Maglev; one of 4,096 inodes or more with it', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xmaglev-'));
  try {
    const compiledInMaglev = (img: string, out: string, status = 0): string[] => {
      const r = spawnSync(process.execPath, ['--trace-opt', FORGE_BIN, 'extract', '--quiet', img, out], { encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(r.status, status, r.stderr);
      return r.stdout.split('\n').filter((l) => l.startsWith('[compiling method') && l.includes('(target MAGLEV)'))
        .map((l) => /<JSFunction (\S*)/.exec(l)?.[1] ?? l);
    };
    // What Node compiles before the launcher can turn Maglev off (its start resolves the launcher's
    // path a character at a time: from a long enough checkout path, isPosixPathSeparator is
    // compiled), seen in a run that fails at once on a missing image, is not the extract's.
    const atStart = new Set(compiledInMaglev(path.join(dir, 'missing.img'), path.join(dir, 'none'), 1));
    const maglevCompiles = (img: string, out: string): number => compiledInMaglev(img, out).filter((f) => !atStart.has(f)).length;
    const small = path.join(dir, 'small');
    fs.mkdirSync(small);
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(small, `f${i}`), `${i}\n`);
    await buildImage(path.join(dir, 'small.img'), { dir: small }, defaultBuildOptions({}));
    assert.equal(maglevCompiles(path.join(dir, 'small.img'), path.join(dir, 'a')), 0);
    assert.equal(fs.readFileSync(path.join(dir, 'a', 'f299'), 'utf8'), '299\n');
    const many = path.join(dir, 'many');
    fs.mkdirSync(many);
    for (let i = 0; i < 4200; i++) fs.writeFileSync(path.join(many, `f${i}`), '');
    await buildImage(path.join(dir, 'many.img'), { dir: many }, defaultBuildOptions({}));
    assert.ok(maglevCompiles(path.join(dir, 'many.img'), path.join(dir, 'b')) > 0);
    assert.equal(fs.readdirSync(path.join(dir, 'b')).length, 4200);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
