// bench_help_runs_nothing: `npm run bench -- --help` ran the whole bench (minutes of builds) because
// the bench read only the options it knew and ignored the rest; a mistyped mode ran nothing of it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/tools.js';
import { assertOneLine } from './helpers/user-errors.js';

const BENCH = path.join(REPO_ROOT, 'dist', 'bench', 'bench.js');
const bench = (args: string[]) => spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 30_000 });

test('bench_help_runs_nothing: --help prints the usage and builds nothing', () => {
  const r = bench(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: npm run bench /);
  assert.match(r.stdout, /--modes LIST/);
  assert.equal(r.stderr, '');
  assert.doesNotMatch(r.stdout, /erofs-forge 0\.1\.0 +\d/, 'a bench row was printed');
});

test('bench: unknown options, modes and run counts are refused in one line', () => {
  for (const [args, msg] of [
    [['--bogus'], /unknown option --bogus/],
    [['--modes', 'lz4,lz5'], /--modes: unknown mode "lz5"/],
    [['--runs', '0'], /--runs 0: not a whole number of runs >= 1/],
    [['--corpus'], /--corpus needs a value/],
  ] as [string[], RegExp][]) {
    const r = bench(args);
    assert.notEqual(r.status, 0, `${args.join(' ')}: exit 0`);
    assert.equal(r.stdout, '', `${args.join(' ')}: printed rows`);
    assertOneLine(r.stderr, msg);
  }
});
