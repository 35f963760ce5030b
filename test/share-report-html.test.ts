// `share-report --html FILE`: the page is self-contained (nothing fetched, no script), escapes what it
// shows, is written atomically, and shows the same figures as --json. Opened in headless Chromium
// (Debian's chromium through playwright-core): a screenshot is taken and the numbers are read back from
// the page's DOM (data-* attributes) and compared with the --json document.
import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { forge, needTool } from './helpers/tools.js';
import { computeShareReport, type ShareRecord, type ShareReport } from '../src/verify/share-report.js';
import { escapeHtml, renderShareReportHtml } from '../src/verify/share-report-html.js';
import { noise } from './helpers/noise.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PAGE = 4096;

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-html-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

function tree(name: string, files: Record<string, Buffer>): string {
  const root = path.join(work, name);
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), c);
  }
  return root;
}

/**
 * Two images with a known overlap. Random data never compresses, so it is stored plain even with -z:
 *   a.img (uncompressed): common.bin 20000 B (5 pages), small.bin 100 B (1), text.txt 40000 B (10), only-a 9000 B (3)
 *   b.img (-z lz4):       common.bin (5), small.bin (1), text.txt compressed (10), only-b 30000 B (8)
 * common.bin and small.bin share (6 pages per image, 6 pages saved); text.txt does not (layout):
 * a sharing kernel keeps it twice, 10 pages lost.
 */
function images(): { a: string; b: string } {
  const common = noise(20000, 1);
  const small = noise(100, 2);
  const text = Buffer.from('the same text in both images, compressed in one of them\n'.repeat(702)).subarray(0, 40000);
  const ta = tree('ta', { 'common.bin': common, 'small.bin': small, 'docs/text.txt': text, 'only-a': noise(9000, 3) });
  const tb = tree('tb', { 'common.bin': common, 'small.bin': small, 'docs/text.txt': text, 'only-b': noise(30000, 4) });
  const a = path.join(work, 'a.img');
  const b = path.join(work, 'b.img');
  for (const [img, src, z] of [[a, ta, []], [b, tb, ['-zlz4']]] as const) {
    const r = forge(['build', '--quiet', '-T0', '-Uclear', '--xattr-inode-digest', ...z, img, src]);
    assert.equal(r.status, 0, r.stderr);
  }
  return { a, b };
}

function reportJson(imgs: string[]): ShareReport {
  const r = forge(['share-report', '--json', ...imgs]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as ShareReport;
}

function writeHtml(imgs: string[], file: string): void {
  const r = forge(['share-report', '--html', file, ...imgs]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.toString(), /^image\s+files/, 'the text report still goes to stdout');
}

/** Chromium, or a skip (a failure in CI). */
function needChromium(t: TestContext): boolean {
  return needTool(t, fs.existsSync(CHROMIUM) ? CHROMIUM : null, `Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);
}

/**
 * A fresh headless Chromium with its own user-data dir; every request the page makes is recorded, and
 * anything but the report file itself is aborted.
 */
async function openPage(file: string): Promise<{ ctx: BrowserContext; page: Page; requests: string[]; close: () => Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, offline: true, viewport: { width: 1280, height: 900 }, timeout: 60_000,
  });
  const requests: string[] = [];
  const self = pathToFileURL(file).href;
  await ctx.route('**/*', (route) => (route.request().url() === self ? route.continue() : route.abort()));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(self, { waitUntil: 'load' });
  return { ctx, page, requests, close: () => ctx.close() };
}

function pngSize(png: Buffer): { width: number; height: number } {
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('share-report --html', () => {
  let imgs: { a: string; b: string } | undefined;
  const getImages = () => (imgs ??= images());

  test('the --json figures of the two images are the known overlap', () => {
    const { a, b } = getImages();
    const r = reportJson([a, b]);
    assert.deepEqual(r.images.map((i) => [i.pages, i.sharedPages, i.uniquePages]), [[19, 6, 13], [24, 6, 18]]);
    assert.deepEqual([r.total.pages, r.total.sharedPages, r.total.uniquePages, r.total.savedPages], [43, 12, 31, 6]);
    assert.equal(r.notSharing.length, 1);
    assert.deepEqual(r.notSharing[0].reasons, ['layout']);
    assert.equal(r.notSharing[0].lostPages, 10);
    assert.deepEqual(r.notSharing[0].members.map((m) => [m.path, m.layout]), [['/docs/text.txt', 'plain'], ['/docs/text.txt', 'compressed']]);
  });

  test('the page is self-contained: no script, no external reference, a CSP that forbids fetching', () => {
    const { a, b } = getImages();
    const file = path.join(work, 'static.html');
    writeHtml([a, b], file);
    const html = fs.readFileSync(file, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|<object|<embed|@import|url\(|\bsrc=|\bhref=/i);
    // The only URL is the SVG namespace, which is a name, not a fetch.
    assert.deepEqual([...new Set(html.match(/\b(?:https?|ftp|wss?):\/\/[^\s"'<>)]+/g))], ['http://www.w3.org/2000/svg']);
    assert.equal((html.match(/<svg /g) ?? []).length, 2, 'the total chart and the per-image chart');
    // Pure: the same report renders to the same bytes.
    const r = reportJson([a, b]);
    assert.equal(renderShareReportHtml(r), renderShareReportHtml(JSON.parse(JSON.stringify(r)) as ShareReport));
    // And no temporary file is left beside it.
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
  });

  test('--html is written atomically: an unwritable place fails with exit 1 and leaves nothing', () => {
    const { a } = getImages();
    const dir = path.join(work, 'no-such-dir');
    const r = forge(['share-report', '--html', path.join(dir, 'r.html'), a]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--html .*r\.html: cannot write/);
    assert.equal(fs.existsSync(dir), false);
    // Over an existing file: replaced whole.
    const file = path.join(work, 'replace.html');
    fs.writeFileSync(file, 'old');
    writeHtml([a], file);
    assert.match(fs.readFileSync(file, 'utf8'), /^<!DOCTYPE html>/);
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
  });

  test('escaping: hostile names come back as text, never as markup', () => {
    const evil = `/tmp/<img src=x onerror="alert(1)">&'quote'.img`;
    const html = renderShareReportHtml(computeShareReport([evil], []));
    assert.ok(!html.includes('<img'), 'no raw tag');
    assert.ok(html.includes(escapeHtml(evil)));
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('headless Chromium: screenshot, DOM figures equal --json, no network request', async (t) => {
    if (!needChromium(t)) return;
    const { a, b } = getImages();
    const expected = reportJson([a, b]);
    const file = path.join(work, 'report.html');
    writeHtml([a, b], file);
    const { page, requests, close } = await openPage(file);
    try {
      const shot = path.join(work, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = fs.readFileSync(shot);
      assert.ok(png.length > 5 * 1024, `screenshot of ${png.length} bytes is too small to show anything`);
      const { width, height } = pngSize(png);
      assert.ok(width >= 1000 && height >= 600, `screenshot ${width}x${height}`);

      const bars = await page.$$eval('[data-role=bar]', (els) => els.map((e) => ({ ...(e as HTMLElement).dataset })));
      assert.deepEqual(bars, expected.images.map((i, k) => ({
        role: 'bar', index: String(k), image: i.image, pages: String(i.pages),
        sharedBytes: String(i.sharedPages * PAGE), uniqueBytes: String(i.uniquePages * PAGE), savedBytes: String(i.attributedSavedPages * PAGE),
      })));
      // The bars are drawn in proportion: shared and unique widths follow the figures.
      const widths = await page.$$eval('[data-role=bar]', (els) => els.map((e) => [...e.querySelectorAll('rect')].map((r) => r.getBoundingClientRect().width)));
      for (const [k, [shared, unique]] of widths.entries()) {
        const i = expected.images[k];
        assert.ok(Math.abs(shared / (shared + unique) - i.sharedPages / i.pages) < 0.01, `bar ${k}: ${shared} vs ${unique}`);
      }

      const totals = await page.$eval('[data-role=totals]', (e) => ({ ...(e as HTMLElement).dataset }));
      const tt = expected.total;
      assert.deepEqual(totals, {
        role: 'totals', totalBytes: String(tt.pages * PAGE), totalKeptBytes: String((tt.pages - tt.savedPages) * PAGE),
        totalSaved: String(tt.savedPages * PAGE), totalSavedPages: String(tt.savedPages), totalSharedBytes: String(tt.sharedPages * PAGE),
        totalUniqueBytes: String(tt.uniquePages * PAGE), pageSize: String(PAGE), images: '2', notSharingGroups: '1',
        lostBytes: String(10 * PAGE), conflicts: '0',
      });

      const groups = await page.$$eval('[data-role=not-sharing-group]', (els) => els.map((e) => {
        const d: Record<string, string | undefined> = { ...(e as HTMLElement).dataset };
        return { d, text: e.textContent ?? '' };
      }));
      assert.equal(groups.length, expected.notSharing.length);
      for (const [k, g] of groups.entries()) {
        const want = expected.notSharing[k];
        assert.equal(g.d.reasons, want.reasons.join(' '));
        assert.equal(g.d.lostPages, String(want.lostPages));
        assert.equal(g.d.lostBytes, String(want.lostPages * PAGE));
        assert.equal(g.d.copies, String(want.members.length));
        assert.equal(g.d.sha256, want.sha256);
        for (const m of want.members) assert.ok(g.text.includes(`${m.image}:${m.path}`), `${m.image}:${m.path} listed`);
        assert.match(g.text, /compressed and uncompressed copies/);
        assert.match(g.text, /content digest \(SHA-256 of the file's bytes, not a fingerprint\)/);
      }
      // What people read agrees with the attributes: the saved total, in KiB.
      const cards = await page.$eval('[data-role=totals]', (e) => e.textContent ?? '');
      assert.ok(cards.includes(`${((tt.savedPages * PAGE) / 1024).toFixed(1)} KiB`), cards);
      assert.equal(await page.$$eval('script, img, link, iframe', (els) => els.length), 0);

      assert.deepEqual(requests, [pathToFileURL(file).href], 'the page requested nothing but itself');
    } finally {
      await close();
    }
  });

  test('headless Chromium: a hostile image name stays text, and a conflict shows', async (t) => {
    if (!needChromium(t)) return;
    const evil = `/tmp/<img src=x onerror="document.title='owned'">&'q'.img`;
    const v = Buffer.concat([Buffer.from('sha256:'), Buffer.alloc(32, 7)]);
    const rec = (image: number, sha: string): ShareRecord => ({ image, path: '/f', nid: 40, size: 5000, layout: 'plain', value: v, sha256: sha.repeat(64) });
    const report = computeShareReport([evil, '/ok.img'], [rec(0, 'a'), rec(1, 'b')]);
    const file = path.join(work, 'evil.html');
    fs.writeFileSync(file, renderShareReportHtml(report));
    const { page, requests, close } = await openPage(file);
    try {
      assert.equal(await page.$$eval('img, script', (els) => els.length), 0);
      assert.equal(await page.title(), 'erofs-forge share report');
      const names = await page.$$eval('[data-role=bar]', (els) => els.map((e) => (e as HTMLElement).dataset.image));
      assert.deepEqual(names, [evil, '/ok.img'], 'attribute values round-trip exactly');
      assert.equal(await page.$$eval('[data-role=conflict]', (els) => els.length), 1);
      assert.deepEqual(requests, [pathToFileURL(file).href]);
    } finally {
      await close();
    }
  });

  test('issue 16.7: per-image saved pages add up to the total; copies that share are not "will not share"; content digest labelled', () => {
    const v = Buffer.concat([Buffer.from('sha256:'), Buffer.alloc(32, 7)]);
    const rec = (image: number, p: string, size: number, sha: string): ShareRecord => ({ image, path: p, nid: 40, size, layout: 'plain', value: v, sha256: sha.repeat(64) });
    // /a in both images shares; /b carries the same value at another size (it cannot share).
    const report = computeShareReport(['/one.img', '/two.img'], [rec(0, '/a', 5000, 'a'), rec(1, '/a', 5000, 'a'), rec(1, '/b', 6000, 'b')]);
    assert.deepEqual(report.images.map((i) => i.attributedSavedPages), [0, 2]);
    assert.equal(report.images.reduce((a, i) => a + i.attributedSavedPages, 0), report.total.savedPages);
    const html = renderShareReportHtml(report);
    assert.match(html, /data-role="not-sharing-none"/, 'the identical copies of /a share: no "will not share" group');
    assert.match(html, /<table data-role="size-mismatch">/);
    assert.match(html, /<li data-shares="true"><span class="mono">\/one\.img:\/a/);
    assert.match(html, /<li data-shares="false"><span class="mono">\/two\.img:\/b/);
    const rows = [...html.matchAll(/<tr data-role="image-row"[^>]*>.*?<\/tr>/g)].map((m) => m[0]);
    assert.equal(rows.length, 2);
    assert.match(rows[1], /8\.0 KiB<\/td><\/tr>$/);
  });
});
