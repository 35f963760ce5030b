// Every --json document (build, inspect, ls, verify, share-report) and every --manifest line, produced by
// the real CLI on real images, validates against its schema in docs/schemas/ (JSON Schema 2020-12,
// checked with ajv in strict mode); the schema files themselves are valid schemas whose every property
// is described; and the schemas are tight (an unknown field or a missing one is rejected).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { REPO_ROOT, forge, run } from './helpers/tools.js';
import { computeShareReport, SHARE_REPORT_SCHEMA, type Layout, type NotSharingReason, type ShareRecord } from '../src/verify/share-report.js';
import type { ProblemCode } from '../src/verify/verify.js';
import type { FileKind } from '../src/read/image.js';
import { noise } from './helpers/noise.js';

const SCHEMA_DIR = path.join(REPO_ROOT, 'docs', 'schemas');
const NAMES = ['build', 'inspect', 'ls', 'verify', 'share-report', 'manifest', 'seal'] as const;
type Name = (typeof NAMES)[number];

function loadSchema(name: Name): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
}

/** Strict ajv: unknown keywords, ambiguous types and the like are errors, and so is any warning. */
function newAjv(): Ajv2020 {
  return new Ajv2020({
    strict: true, strictRequired: false, allErrors: true,
    logger: { log: () => {}, warn: (...a: unknown[]) => { throw new Error(`ajv warning: ${a.join(' ')}`); }, error: (...a: unknown[]) => { throw new Error(`ajv error: ${a.join(' ')}`); } },
  });
}

const ajv = newAjv();
const validators = new Map<Name, ValidateFunction>();
function validator(name: Name): ValidateFunction {
  let v = validators.get(name);
  if (!v) validators.set(name, (v = ajv.compile(loadSchema(name))));
  return v;
}

/** Assert `doc` validates against schema `name`, showing ajv's errors when it does not. */
function check(name: Name, doc: unknown, what: string): void {
  const v = validator(name);
  const ok = v(doc);
  assert.ok(ok, `${what} does not match docs/schemas/${name}.schema.json:\n${JSON.stringify(v.errors, null, 2)}\n${JSON.stringify(doc).slice(0, 2000)}`);
}

/** Runs the CLI, expects `status`, parses stdout as exactly one JSON document (one line). */
function json(args: string[], status = 0): Record<string, unknown> {
  const r = forge(args);
  assert.equal(r.status, status, `erofs-forge ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  const out = r.stdout.toString();
  assert.ok(out.endsWith('\n') && out.indexOf('\n') === out.length - 1, `one line on stdout: ${JSON.stringify(out.slice(0, 200))}`);
  return JSON.parse(out) as Record<string, unknown>;
}

// Compile-time lists of the string unions the schemas enumerate: adding a member to one of these
// types breaks the build of this test until the schema (and this list) say it too.
const PROBLEM_CODES: Record<ProblemCode, true> = {
  open: true, corrupt: true, unsupported: true, 'ishare-no-prefix': true, 'ishare-prefix-out-of-range': true,
  'missing-fingerprint': true, 'duplicate-fingerprint': true, 'filtered-fingerprint': true, 'malformed-fingerprint': true,
  'digest-mismatch': true, 'uuid-mismatch': true, 'uuid-not-in-map': true, 'uuid-map-content': true, 'fingerprint-conflict': true, 'fingerprint-on-non-regular': true,
  'verity-superblock': true, 'verity-root-hash': true, 'verity-hash-block': true, 'verity-data-block': true, 'verity-signature': true,
};
const REASONS: Record<NotSharingReason, true> = { 'no-fingerprint': true, layout: true, 'size-mismatch': true, 'different-values': true };
const LAYOUTS: Record<Layout, true> = { plain: true, compressed: true };
const KINDS: Record<FileKind, true> = { reg: true, dir: true, lnk: true, chr: true, blk: true, fifo: true, sock: true };

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-schemas-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const COMMON = noise(20000, 7);
const TEXT = Buffer.from('a line of text that compresses well\n'.repeat(2000));

/** A small tree with every kind a user can make without root: files, empty, hard link, symlink, fifo, dirs. */
function makeTree(name: string, extra: Record<string, Buffer> = {}): string {
  const root = path.join(work, name);
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'common.bin'), COMMON);
  fs.writeFileSync(path.join(root, 'text.txt'), TEXT);
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.writeFileSync(path.join(root, 'dir', 'small'), 'small\n');
  fs.writeFileSync(path.join(root, 'dir', 'sub', 'deep'), noise(5000, name.length));
  fs.linkSync(path.join(root, 'dir', 'small'), path.join(root, 'hardlink'));
  fs.symlinkSync('dir/small', path.join(root, 'symlink'));
  for (const [p, c] of Object.entries(extra)) fs.writeFileSync(path.join(root, p), c);
  const fifo = run('mkfifo', [path.join(root, 'fifo')]);
  assert.equal(fifo.status, 0, `mkfifo: ${fifo.stderr}`);
  return root;
}

const img = (name: string): string => path.join(work, name);

describe('JSON outputs validate against docs/schemas', () => {
  before(() => {
    fs.mkdirSync(work, { recursive: true });
  });

  test('the schema files are valid JSON Schema 2020-12, strict, and every property is described', () => {
    const meta = newAjv();
    for (const name of NAMES) {
      const s = loadSchema(name);
      assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema', name);
      assert.equal(s.$id, `urn:erofs-forge:schema:${name}:1`, name);
      assert.equal(typeof s.description, 'string', `${name}: top-level description`);
      assert.ok(meta.validateSchema(s), `${name}: ${JSON.stringify(meta.errors)}`);
      meta.compile(s); // throws on strict-mode violations
      // The schema const names the document type and major version the command prints.
      const props = s.properties as Record<string, { const?: unknown }>;
      assert.equal(props.schema.const, `erofs-forge/${name}/1`);
      // Every property of every object is described, directly or through the $defs entry it refers to.
      const defs = (s.$defs ?? {}) as Record<string, Record<string, unknown>>;
      const undescribed: string[] = [];
      const walk = (node: unknown, where: string): void => {
        if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${where}[${i}]`)); return; }
        if (!node || typeof node !== 'object') return;
        const o = node as Record<string, unknown>;
        if (o.properties) {
          for (const [k, p] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
            const ref = typeof p.$ref === 'string' ? defs[p.$ref.replace('#/$defs/', '')] : undefined;
            if (typeof p.description !== 'string' && typeof ref?.description !== 'string') undescribed.push(`${where}.${k}`);
          }
        }
        // if/then/else/not only constrain properties described elsewhere.
        for (const [k, v] of Object.entries(o)) if (!['if', 'then', 'else', 'not'].includes(k)) walk(v, `${where}.${k}`);
      };
      walk(s, name);
      assert.deepEqual(undescribed, [], `${name}: properties without a description`);
      // Fixed shapes are closed.
      assert.equal(s.additionalProperties, false, `${name}: additionalProperties`);
    }
  });

  test('enumerations in the schemas equal the TypeScript unions', () => {
    const verify = loadSchema('verify') as { $defs: { problem: { properties: { code: { enum: string[] } } } } };
    assert.deepEqual([...verify.$defs.problem.properties.code.enum].sort(), Object.keys(PROBLEM_CODES).sort());
    const share = loadSchema('share-report') as { $defs: { notSharingGroup: { properties: { reasons: { items: { enum: string[] } } } }; layout: { enum: string[] } } };
    assert.deepEqual([...share.$defs.notSharingGroup.properties.reasons.items.enum].sort(), Object.keys(REASONS).sort());
    assert.deepEqual([...share.$defs.layout.enum].sort(), Object.keys(LAYOUTS).sort());
    const ls = loadSchema('ls') as { $defs: { entry: { properties: { type: { enum: string[] } } } } };
    assert.deepEqual([...ls.$defs.entry.properties.type.enum].sort(), Object.keys(KINDS).sort());
    const man = loadSchema('manifest') as { properties: { type: { enum: string[] } } };
    assert.deepEqual([...man.properties.type.enum].sort(), Object.keys(KINDS).sort());
  });

  test('build --json and --manifest lines (plain, lz4 + cache, no fingerprints, 1 KiB blocks, uuid scheme)', () => {
    const a = makeTree('a');
    const b = makeTree('b', { 'only-b': noise(9000, 3) });
    const builds: [string, string[], string][] = [
      ['a.img', ['-T0', '-Uclear', '--xattr-inode-digest'], a],
      ['b.img', ['-T0', '-Uclear', '-zlz4', '--xattr-inode-digest', '--cache', img('cache')], b],
      ['plain.img', ['-T0', '-Uclear', '-L', 'plain'], a],
      ['k1.img', ['-T100', '-Urandom', '-b', '1024', '--xattr-inode-digest', '--fingerprint', 'blake3', '-Ededupe', '-zlz4hc'], a],
      ['uuid.img', ['-T0', '-Uclear', '--fingerprint', 'uuid', '--vendor-namespace', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'], b],
    ];
    for (const [name, flags, src] of builds) {
      const man = img(`${name}.jsonl`);
      const doc = json(['build', '--json', '--manifest', man, ...flags, img(name), src]);
      check('build', doc, `build --json ${name}`);
      assert.equal(doc.image, img(name));
      assert.equal(doc.bytes, fs.statSync(img(name)).size);
      const lines = fs.readFileSync(man, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(lines.length, doc.inodes, `${name}: one manifest line per inode`);
      lines.forEach((l, i) => check('manifest', l, `${name} manifest line ${i + 1}`));
      assert.deepEqual(new Set(lines.map((l) => l.type)), new Set(['dir', 'reg', 'lnk', 'fifo']));
      // The walk lists the root's entries before those of dir/: /hardlink is the inode's first path.
      assert.deepEqual(lines.find((l) => l.path === '/hardlink')?.links, ['/dir/small']);
    }
    // The cache field appears with --cache, and matches its schema.
    const again = json(['build', '--json', '-T0', '-Uclear', '-zlz4', '--xattr-inode-digest', '--cache', img('cache'), img('b2.img'), b]);
    check('build', again, 'build --json with a warm cache');
    assert.equal(typeof (again.cache as { hit: number }).hit, 'number');
  });

  test('inspect --json on every image', () => {
    for (const name of ['a.img', 'b.img', 'plain.img', 'k1.img', 'uuid.img']) {
      const doc = json(['inspect', '--json', img(name)]);
      check('inspect', doc, `inspect --json ${name}`);
    }
    const sb = (json(['inspect', '--json', img('plain.img')]).superblock as { label: string; featureCompat: string[] });
    assert.equal(sb.label, 'plain');
    assert.ok(!sb.featureCompat.includes('ishare_xattrs'));
  });

  test('ls --json: a directory, -R, a subdirectory with -R, one file, one symlink', () => {
    for (const name of ['a.img', 'b.img', 'k1.img']) {
      const listings: string[][] = [[], ['-R'], ['-R', '-l'], ['/dir', '-R'], ['/dir/small'], ['/symlink'], ['/dir']];
      for (const extra of listings) {
        const p = extra.find((x) => x.startsWith('/'));
        const flags = extra.filter((x) => !x.startsWith('/'));
        const doc = json(['ls', '--json', ...flags, img(name), ...(p ? [p] : [])]);
        check('ls', doc, `ls --json ${extra.join(' ')} ${name}`);
      }
    }
    const all = json(['ls', '--json', '-R', img('a.img')]).entries as { path: string; type: string; target?: string }[];
    assert.equal(all.find((e) => e.path === 'symlink')?.target, 'dir/small');
    assert.ok(all.some((e) => e.path === 'dir/sub/deep'));
  });

  test('verify --json: clean images, a uuid image nothing can check, a tampered image, a missing one', () => {
    const clean = json(['verify', '--json', img('a.img'), img('b.img'), img('k1.img')]);
    check('verify', clean, 'verify --json (clean)');
    assert.equal(clean.ok, true);
    const unchecked = json(['verify', '--json', img('uuid.img'), img('plain.img')]);
    check('verify', unchecked, 'verify --json (uuid, no namespace)');
    // Tamper: flip one byte of common.bin's data in a copy of a.img (stored uncompressed).
    const bytes = fs.readFileSync(img('a.img'));
    const at = bytes.indexOf(COMMON.subarray(0, 64));
    assert.ok(at > 0, 'common.bin data found in a.img');
    bytes[at + 100] ^= 0xff;
    fs.writeFileSync(img('tampered.img'), bytes);
    const bad = json(['verify', '--json', img('a.img'), img('tampered.img'), img('missing.img')], 1);
    check('verify', bad, 'verify --json (tampered, missing)');
    const problems = bad.problems as { code: string; path: string | null; nid?: number }[];
    assert.ok(problems.some((p) => p.code === 'digest-mismatch' && p.path === '/common.bin' && typeof p.nid === 'number'));
    assert.ok(problems.some((p) => p.code === 'open' && p.path === null));
    // Keep the tampered image for share-report: its key now stands for two contents.
  });

  test('dm-verity: build --verity --json, seal --json, inspect --json with the seal and --fsverity-digest, verify --root-hash --json', () => {
    const src = path.join(work, 'a');
    const sealed = json(['build', '--json', '-T0', '-Uclear', '--verity', '--verity-hash-block-size', '1024', img('sealed.img'), src]);
    check('build', sealed, 'build --json --verity');
    const v = sealed.verity as { rootHash: string; hashEnd: number };
    assert.equal(fs.statSync(img('sealed.img')).size, v.hashEnd);
    const sep = json(['build', '--json', '-T0', '-Uclear', '--verity', '--verity-no-superblock', '--verity-salt', 'none', '--verity-hash-file', img('sep.hash'), img('sep.img'), src]);
    check('build', sep, 'build --json --verity (separate file, no superblock)');
    assert.equal((sep.verity as { uuid: unknown }).uuid, null);
    check('build', json(['build', '--json', '-T0', '-Uclear', '--fsverity-digest', img('fsv.img'), src]), 'build --json --fsverity-digest');
    fs.copyFileSync(img('plain.img'), img('to-seal.img'));
    check('seal', json(['seal', '--json', '--verity-hash', 'sha512', img('to-seal.img')]), 'seal --json');
    check('inspect', json(['inspect', '--json', '--fsverity-digest', img('sealed.img')]), 'inspect --json (sealed)');
    const ok = json(['verify', '--json', '--root-hash', v.rootHash, img('sealed.img')]);
    check('verify', ok, 'verify --json --root-hash');
    assert.equal((ok.verity as { ok: boolean }).ok, true);
    // A damaged seal: a data byte and the superblock's magic.
    const bytes = fs.readFileSync(img('sealed.img'));
    bytes[bytes.indexOf(COMMON.subarray(0, 64)) + 10] ^= 1;
    fs.writeFileSync(img('sealed-bad.img'), bytes);
    const bad = json(['verify', '--json', '--root-hash', v.rootHash, img('sealed-bad.img')], 1);
    check('verify', bad, 'verify --json --root-hash (bad data block)');
    assert.ok((bad.problems as { code: string; dataBlock?: number }[]).some((p) => p.code === 'verity-data-block' && typeof p.dataBlock === 'number'));
    bytes[(sealed.bytes as number)] ^= 1;
    fs.writeFileSync(img('sealed-bad.img'), bytes);
    check('inspect', json(['inspect', '--json', img('sealed-bad.img')]), 'inspect --json (damaged verity superblock)');
    check('verify', json(['verify', '--json', '--root-hash', v.rootHash, img('sealed-bad.img')], 1), 'verify --json --root-hash (no superblock)');
  });

  test('share-report --json: overlap, layouts, no fingerprints, a conflict', () => {
    const r = json(['share-report', '--json', img('a.img'), img('b.img'), img('plain.img'), img('k1.img')]);
    check('share-report', r, 'share-report --json');
    const groups = r.notSharing as { reasons: string[] }[];
    assert.ok(groups.some((g) => g.reasons.includes('no-fingerprint')));
    assert.ok(groups.some((g) => g.reasons.includes('layout')));
    assert.ok(groups.some((g) => g.reasons.includes('different-values')), 'blake3 vs sha256 values on the same bytes');
    const c = json(['share-report', '--json', img('a.img'), img('tampered.img')]);
    check('share-report', c, 'share-report --json (conflict)');
    assert.equal((c.conflicts as unknown[]).length, 1);
    const one = json(['share-report', '--json', img('uuid.img')]);
    check('share-report', one, 'share-report --json (one image)');
  });

  test('share-report documents for every reason (synthetic records, incl. size-mismatch)', () => {
    const v = (s: string): Buffer => Buffer.concat([Buffer.from('sha256:'), Buffer.alloc(32, s)]);
    const rec = (image: number, p: string, size: number, layout: Layout, value: Buffer | null, sha: string): ShareRecord =>
      ({ image, path: p, nid: 40 + p.length, size, layout, value, sha256: sha.repeat(64) });
    const recs: ShareRecord[] = [
      rec(0, '/a', 5000, 'plain', v('a'), 'a'), rec(1, '/a', 5000, 'plain', v('a'), 'a'),
      rec(0, '/b', 100, 'plain', v('b'), 'b'), rec(1, '/b', 100, 'compressed', v('b'), 'b'),
      rec(0, '/c', 7, 'plain', v('c'), 'c'), rec(1, '/c', 8, 'plain', v('c'), 'd'),
      rec(0, '/e', 9, 'plain', v('e'), 'e'), rec(1, '/e2', 9, 'plain', v('f'), 'e'),
      rec(0, '/g', 9, 'plain', null, '9'), rec(1, '/g', 9, 'plain', v('g'), '9'),
      rec(0, '/x', 3, 'plain', Buffer.from('weird'), '1'), rec(1, '/x', 3, 'plain', Buffer.from('weird'), '2'),
      rec(0, '/empty', 0, 'plain', null, '0'),
    ];
    const doc = { schema: SHARE_REPORT_SCHEMA, ...computeShareReport(['/i0.img', '/i1.img'], recs, [1, 2], 0.5) };
    const plain = JSON.parse(JSON.stringify(doc)) as { notSharing: { reasons: string[] }[]; conflicts: unknown[] };
    check('share-report', plain, 'computeShareReport document');
    assert.deepEqual(new Set(plain.notSharing.flatMap((g) => g.reasons)), new Set(Object.keys(REASONS)));
    assert.equal(plain.conflicts.length, 1);
  });

  test('the schemas are closed: an unknown or a missing field is rejected', () => {
    const b = json(['build', '--json', '-T0', '-Uclear', img('closed.img'), path.join(work, 'a')]);
    assert.equal(validator('build')({ ...b, surprise: 1 }), false);
    const { seconds: _s, ...noSeconds } = b;
    assert.equal(validator('build')(noSeconds), false);
    assert.equal(validator('build')({ ...b, schema: 'erofs-forge/build/2' }), false);
    const ls = json(['ls', '--json', img('a.img')]) as { entries: Record<string, unknown>[] };
    assert.equal(validator('ls')({ ...ls, entries: [{ ...ls.entries[0], extra: true }] }), false);
    const reg = ls.entries.find((e) => e.type === 'reg')!;
    assert.equal(validator('ls')({ ...ls, entries: [{ ...reg, target: 'x' }] }), false, 'target only on symlinks');
    const sr = json(['share-report', '--json', img('a.img')]) as { images: Record<string, unknown>[] };
    const { sharedPages: _p, ...noShared } = sr.images[0];
    assert.equal(validator('share-report')({ ...sr, images: [noShared] }), false);
  });
});
