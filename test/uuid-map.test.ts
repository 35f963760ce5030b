// The --uuid-map registry (src/fingerprint/uuid-map.ts): format, path keys, atomic rewrite, and
// refusing (never resetting) an unreadable or corrupt map.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  assignUuid, encodeUuidMap, formatUuid, loadUuidMap, saveUuidMap, uuidMapKey, UUID_MAP_SCHEMA, type UuidMap,
} from '../src/fingerprint/uuid-map.js';
import { UserError } from '../src/errors.js';

const work = mkdtempSync(join(tmpdir(), 'erofs-uuidmap-'));
after(() => rmSync(work, { recursive: true, force: true }));
const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

describe('uuid map', () => {
  test('keys: "/path" for plain UTF-8, "hex:" otherwise; slashes normalised', () => {
    assert.equal(uuidMapKey(Buffer.from('etc/hostname')), '/etc/hostname');
    assert.equal(uuidMapKey(Buffer.from('/etc/hostname/')), '/etc/hostname');
    assert.equal(uuidMapKey(Buffer.from('dir/é')), '/dir/é');
    assert.equal(uuidMapKey(Buffer.from([0x61, 0xff])), 'hex:61ff');
    assert.equal(uuidMapKey(Buffer.from('a\nb')), `hex:${Buffer.from('a\nb').toString('hex')}`);
  });

  test('save then load gives the same map; the file is sorted, one entry a line, no temporary left', () => {
    const file = join(work, 'map.json');
    const map: UuidMap = new Map([
      ['/z', { uuid: Buffer.alloc(16, 0xab), size: 3, sha256: sha('z') }],
      ['/a', { uuid: Buffer.alloc(16, 1), size: 0, sha256: sha('') }],
      ['hex:61ff', { uuid: Buffer.alloc(16, 2), size: 7, sha256: sha('x') }],
    ]);
    saveUuidMap(file, map);
    const text = readFileSync(file, 'utf8');
    assert.equal(text, encodeUuidMap(map));
    const lines = text.split('\n');
    assert.equal(lines[1], `  "schema": "${UUID_MAP_SCHEMA}",`);
    assert.equal(lines[3], `    "/a": {"uuid":"01010101-0101-0101-0101-010101010101","size":0,"sha256":"${sha('').toString('hex')}"},`);
    assert.deepEqual(lines.slice(3, 6).map((l) => l.trim().split('": ')[0]), ['"/a', '"/z', '"hex:61ff'], 'keys in byte order');
    const back = loadUuidMap(file);
    assert.deepEqual([...back.keys()].sort(), [...map.keys()].sort());
    for (const [k, r] of map) {
      assert.deepEqual(Buffer.from(back.get(k)!.uuid), Buffer.from(r.uuid));
      assert.equal(back.get(k)!.size, r.size);
      assert.deepEqual(Buffer.from(back.get(k)!.sha256), Buffer.from(r.sha256));
    }
    assert.deepEqual(readdirSync(work).filter((f) => f.includes('.tmp')), []);
    assert.equal(formatUuid(Buffer.alloc(16, 0xab)), 'abababab-abab-abab-abab-abababababab');
  });

  test('a missing map is an error unless missingOk; corrupt maps are refused with a reason', () => {
    assert.throws(() => loadUuidMap(join(work, 'none.json')), (e: Error) => e instanceof UserError && /cannot read: no such file/.test(e.message));
    assert.equal(loadUuidMap(join(work, 'none.json'), { missingOk: true }).size, 0);
    const cases: [string, RegExp][] = [
      ['{"schema": "erofs-forge/uuid-map/1", "files": {', /not valid JSON/],
      ['[]', /not a JSON object/],
      ['{"schema": "other", "files": {}}', /schema is "other"/],
      ['{"schema": "erofs-forge/uuid-map/1"}', /"files" is not an object/],
      ['{"schema": "erofs-forge/uuid-map/1", "files": {"a": {}}}', /a key is "\/path" or "hex:..."/],
      [`{"schema": "erofs-forge/uuid-map/1", "files": {"/a": {"uuid": "nope", "size": 1, "sha256": "${'0'.repeat(64)}"}}}`, /"uuid" is not/],
      [`{"schema": "erofs-forge/uuid-map/1", "files": {"/a": {"uuid": "${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}", "size": -1, "sha256": "${'0'.repeat(64)}"}}}`, /"size" is not a byte count/],
      [`{"schema": "erofs-forge/uuid-map/1", "files": {"/a": {"uuid": "${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}", "size": 1, "sha256": "00"}}}`, /"sha256" is not 64/],
    ];
    for (const [text, why] of cases) {
      const f = join(work, 'bad.json');
      writeFileSync(f, text);
      assert.throws(() => loadUuidMap(f, { missingOk: true }), (e: Error) => e instanceof UserError && why.test(e.message), text);
    }
    const dir = join(work, 'a-dir.json');
    mkdirSync(dir);
    assert.throws(() => loadUuidMap(dir), /is a directory/);
    if (process.getuid?.() !== 0) {
      const locked = join(work, 'locked.json');
      writeFileSync(locked, '{}');
      chmodSync(locked, 0);
      assert.throws(() => loadUuidMap(locked), /permission denied/);
    }
  });

  test('assignUuid keeps a UUID while size and content are unchanged, else gives a fresh one', () => {
    const map: UuidMap = new Map();
    let n = 0;
    const fresh = () => Buffer.alloc(16, ++n);
    const u1 = assignUuid(map, Buffer.from('f'), 3, sha('abc'), fresh);
    assert.deepEqual(Buffer.from(u1), Buffer.alloc(16, 1));
    assert.deepEqual(Buffer.from(assignUuid(map, Buffer.from('/f'), 3, sha('abc'), fresh)), Buffer.alloc(16, 1), 'same path, same content');
    assert.deepEqual(Buffer.from(assignUuid(map, Buffer.from('f'), 3, sha('abd'), fresh)), Buffer.alloc(16, 2), 'content changed');
    assert.equal(map.get('/f')!.size, 3);
    assert.deepEqual(Buffer.from(map.get('/f')!.sha256), sha('abd'));
    const v7 = assignUuid(map, Buffer.from('g'), 1, sha('x'));
    assert.equal((v7[6] >> 4), 7, 'default fresh UUIDs are version 7');
  });
});
