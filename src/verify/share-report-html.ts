// `share-report --html FILE`: the share report as one self-contained page for people who would rather
// look than read. Inline CSS and an inline SVG chart; no script, no font, no image, nothing fetched (a
// Content-Security-Policy of default-src 'none' says so to the browser too).
//
// Pure: report in, HTML out; the same report gives the same bytes. Every string from the report
// (image paths, file paths) is escaped. The figures are repeated in data-* attributes so tools and
// tests can read them from the DOM:
//   [data-role=totals]  data-total-bytes (page cache without sharing), data-total-kept-bytes (with
//                       sharing), data-total-saved (bytes of pages kept once instead of several times),
//                       data-total-saved-pages, data-total-shared-bytes, data-total-unique-bytes,
//                       data-not-sharing-groups, data-lost-bytes, data-conflicts
//   [data-role=bar]     per image (one per image, in report order): data-image, data-index,
//                       data-pages, data-shared-bytes, data-unique-bytes, data-saved-bytes
//   [data-role=not-sharing-group]  data-reasons (space-separated codes), data-lost-pages,
//                       data-lost-bytes, data-copies, and data-sha256 or data-fingerprint
// All byte figures here are page-cache bytes: pages × pageSize (4 KiB), not file sizes.
import type { Conflict, Member, NotSharingGroup, NotSharingReason, ShareReport } from './share-report.js';

export interface ShareReportHtmlOptions {
  /** Page title (default "erofs-forge share report"). */
  title?: string;
}

const REASON_TEXT: Record<NotSharingReason, string> = {
  'no-fingerprint': 'some copies carry no fingerprint',
  layout: 'compressed and uncompressed copies (the kernel shares only within one layout class)',
  'size-mismatch': 'one fingerprint on files of different sizes',
  'different-values': 'different fingerprints for the same bytes',
};

/** Escape for HTML text and double- or single-quoted attribute values (and SVG, which is XML). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const esc = escapeHtml;

/** data-* attributes from a record (names are ours and safe; values are escaped). */
function data(attrs: Record<string, string | number>): string {
  return Object.entries(attrs).map(([k, v]) => ` data-${k}="${esc(String(v))}"`).join('');
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

function int(n: number): string {
  return n.toLocaleString('en-US');
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '0 %';
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${int(n)} ${n === 1 ? one : many}`;
}

/** Shorten a long string in the middle for display (the full text goes into a title). */
function middle(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = max - 1;
  return `${s.slice(0, Math.ceil(keep / 2))}…${s.slice(s.length - Math.floor(keep / 2))}`;
}

const CSS = `
:root { --shared: #2f7d4f; --unique: #c9ced6; --saved: #7fb88f; --warn: #b3261e; --ink: #1d2330; --muted: #5d6573; --rule: #dde1e7; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; }
p.lead { margin: 0 0 16px; color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 8px; }
.card { border: 1px solid var(--rule); border-radius: 8px; padding: 10px 14px; min-width: 170px; }
.card .v { font-size: 20px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; }
.card.good .v { color: var(--shared); }
.card.bad .v { color: var(--warn); }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg .muted { fill: var(--muted); }
svg .shared { fill: var(--shared); }
svg .unique { fill: var(--unique); }
svg .saved { fill: var(--saved); }
svg .frame { fill: none; stroke: var(--rule); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
ul.members { margin: 0; padding-left: 18px; }
.reason { display: inline-block; margin: 0 4px 2px 0; padding: 1px 6px; border-radius: 4px; background: #fdecea; color: var(--warn); font-size: 12px; }
.none { color: var(--muted); }
.conflicts { border: 2px solid var(--warn); border-radius: 8px; padding: 4px 14px 10px; }
.conflicts h2 { color: var(--warn); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

/** The per-image chart: one stacked bar per image, shared pages then unique pages, on one scale. */
function imageChart(r: ShareReport): string {
  const ps = r.pageSize;
  const width = 880;
  const left = 8;
  const barW = width - left - 8;
  const rowH = 50;
  const top = 34;
  const height = top + Math.max(1, r.images.length) * rowH + 8;
  const max = Math.max(1, ...r.images.map((i) => i.pages));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" role="img" data-role="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" aria-label="Shared and unique page-cache bytes per image">`);
  out.push('<title>Shared and unique page-cache bytes per image</title>');
  // Legend.
  out.push(`<rect x="${left}" y="8" width="14" height="14" class="shared"/><text x="${left + 20}" y="19">shared: another inode in the domain carries the same key</text>`);
  out.push(`<rect x="${left + 430}" y="8" width="14" height="14" class="unique"/><text x="${left + 450}" y="19">unique: no fingerprint, or a key no other inode carries</text>`);
  r.images.forEach((img, i) => {
    const y = top + i * rowH;
    const sharedW = (img.sharedPages / max) * barW;
    const uniqueW = (img.uniquePages / max) * barW;
    const fullW = (img.pages / max) * barW;
    const label = middle(img.image, 70);
    out.push(`<g data-role="bar"${data({
      index: i, image: img.image, pages: img.pages, 'shared-bytes': img.sharedPages * ps, 'unique-bytes': img.uniquePages * ps,
      'saved-bytes': img.attributedSavedPages * ps,
    })}>`);
    out.push(`<title>${esc(img.image)}: ${esc(human(img.sharedPages * ps))} shared, ${esc(human(img.uniquePages * ps))} unique</title>`);
    out.push(`<text x="${left}" y="${y + 13}">${esc(label)}</text>`);
    out.push(`<text x="${width - 8}" y="${y + 13}" text-anchor="end" class="muted">${esc(`${human(img.sharedPages * ps)} shared · ${human(img.uniquePages * ps)} unique · ${pct(img.sharedPages, img.pages)} shared`)}</text>`);
    out.push(`<rect x="${left}" y="${y + 20}" width="${sharedW.toFixed(2)}" height="20" class="shared"/>`);
    out.push(`<rect x="${(left + sharedW).toFixed(2)}" y="${y + 20}" width="${uniqueW.toFixed(2)}" height="20" class="unique"/>`);
    out.push(`<rect x="${left}" y="${y + 20}" width="${Math.max(fullW, 1).toFixed(2)}" height="20" class="frame"/>`);
    out.push('</g>');
  });
  if (!r.images.length) out.push(`<text x="${left}" y="${top + 20}" class="muted">no images</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** The domain as a whole: page cache without sharing, split into what is kept and what is saved. */
function totalChart(r: ShareReport): string {
  const ps = r.pageSize;
  const t = r.total;
  const width = 880;
  const left = 8;
  const barW = width - 16;
  const kept = t.pages - t.savedPages;
  const max = Math.max(1, t.pages);
  const keptW = (kept / max) * barW;
  const savedW = (t.savedPages / max) * barW;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" data-role="total-chart" viewBox="0 0 ${width} 64" width="${width}" height="64" aria-label="Page cache of all images with and without sharing">`,
    '<title>Page cache of all images with and without sharing</title>',
    `<rect x="${left}" y="8" width="14" height="14" class="shared"/><text x="${left + 20}" y="19">kept: ${esc(human(kept * ps))}</text>`,
    `<rect x="${left + 260}" y="8" width="14" height="14" class="saved"/><text x="${left + 280}" y="19">saved by sharing: ${esc(human(t.savedPages * ps))} (${esc(pct(t.savedPages, t.pages))})</text>`,
    `<rect x="${left}" y="32" width="${keptW.toFixed(2)}" height="22" class="shared"/>`,
    `<rect x="${(left + keptW).toFixed(2)}" y="32" width="${savedW.toFixed(2)}" height="22" class="saved"/>`,
    `<rect x="${left}" y="32" width="${barW}" height="22" class="frame"/>`,
    '</svg>',
  ].join('\n');
}

function imageTable(r: ShareReport): string {
  const ps = r.pageSize;
  const rows = r.images.map((i, k) => `<tr data-role="image-row"${data({ index: k, image: i.image })}>`
    + `<td class="mono">${esc(i.image)}</td><td class="n">${int(i.files)}</td><td class="n">${int(i.fingerprinted)}</td><td class="n">${int(i.keys)}</td>`
    + `<td class="n">${esc(human(i.pages * ps))}</td><td class="n">${esc(human(i.sharedPages * ps))}</td><td class="n">${esc(human(i.uniquePages * ps))}</td>`
    + `<td class="n">${esc(human(i.attributedSavedPages * ps))}</td></tr>`);
  const t = r.total;
  rows.push(`<tr data-role="total-row"><th>all ${plural(t.images, 'image')}</th><td class="n">${int(t.files)}</td><td class="n">${int(t.fingerprinted)}</td><td class="n">${int(t.keys)}</td>`
    + `<td class="n">${esc(human(t.pages * ps))}</td><td class="n">${esc(human(t.sharedPages * ps))}</td><td class="n">${esc(human(t.uniquePages * ps))}</td>`
    + `<td class="n">${esc(human(t.savedPages * ps))}</td></tr>`);
  return `<table data-role="images">
<thead><tr><th>image</th><th class="n">files</th><th class="n">fingerprinted</th><th class="n">keys</th><th class="n">page cache</th><th class="n">shared</th><th class="n">unique</th><th class="n" title="pages of this image's files whose key an earlier image (or an earlier file) already carries: the column adds up to the total">saved</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

/** Members of one group that carry the same key (value, size, layout) as another member: they do share. */
function sharingMembers(ms: readonly Member[]): Set<Member> {
  const key = (m: Member) => `${m.fingerprint}\0${m.size}\0${m.layout}`;
  const n = new Map<string, number>();
  for (const m of ms) if (m.fingerprint !== null) n.set(key(m), (n.get(key(m)) ?? 0) + 1);
  return new Set(ms.filter((m) => m.fingerprint !== null && n.get(key(m))! >= 2));
}

function memberItem(m: Member, shares: boolean): string {
  const fp = m.fingerprint === null ? '<span class="none">no fingerprint</span>' : `fingerprint <code title="${esc(m.fingerprint)}">${esc(middle(m.fingerprint, 40))}</code>`;
  return `<li data-shares="${shares}"><span class="mono">${esc(m.image)}:${esc(m.path)}</span> · ${esc(m.layout)} · ${int(m.size)} B · ${fp}${shares ? ' · <b>shares</b> with the members of the same fingerprint' : ''}</li>`;
}

function groupRow(g: NotSharingGroup, ps: number): string {
  const sharing = sharingMembers(g.members);
  const what = g.sha256 !== undefined
    ? `content digest (SHA-256 of the file's bytes, not a fingerprint) <code title="${esc(g.sha256)}">${esc(g.sha256.slice(0, 16))}…</code>, ${int(g.sizes[0])} B`
    : `fingerprint <code title="${esc(g.fingerprint ?? '')}">${esc(middle(g.fingerprint ?? '', 40))}</code>, sizes ${g.sizes.map(int).join(', ')} B`;
  const attrs: Record<string, string | number> = {
    reasons: g.reasons.join(' '), 'lost-pages': g.lostPages, 'lost-bytes': g.lostPages * ps, copies: g.members.length,
  };
  if (g.sha256 !== undefined) attrs.sha256 = g.sha256;
  if (g.fingerprint !== undefined) attrs.fingerprint = g.fingerprint;
  return `<tr data-role="not-sharing-group"${data(attrs)}>`
    + `<td>${g.reasons.map((x) => `<span class="reason" title="${esc(REASON_TEXT[x])}">${esc(x)}</span>`).join('')}<div>${g.reasons.map((x) => esc(REASON_TEXT[x])).join('; ')}</div></td>`
    + `<td>${what}</td><td class="n">${int(g.members.length)}</td><td class="n">${esc(human(g.lostPages * ps))}</td>`
    + `<td><ul class="members">${g.members.map((m) => memberItem(m, sharing.has(m))).join('')}</ul></td></tr>`;
}

/**
 * Groups of identical files some of which will not share (each group lists its members; those that do
 * share with each other are marked). Values carried by files of different sizes are a separate table:
 * those files are not copies of one content.
 */
function notSharingTable(r: ShareReport): string {
  const copies = r.notSharing.filter((g) => g.sha256 !== undefined);
  const sizes = r.notSharing.filter((g) => g.sha256 === undefined);
  const head = '<thead><tr><th>why not</th><th>what</th><th class="n">files</th><th class="n">kept more than once</th><th>where</th></tr></thead>';
  const table = (role: string, gs: NotSharingGroup[]) => `<table data-role="${role}">
${head}
<tbody>
${gs.map((g) => groupRow(g, r.pageSize)).join('\n')}
</tbody>
</table>`;
  const parts = [copies.length
    ? table('not-sharing', copies)
    : '<p data-role="not-sharing-none" class="none">Every identical content in these images shares: nothing is kept twice for want of a fingerprint, a layout or a size.</p>'];
  if (sizes.length) {
    parts.push('<h2>One fingerprint on files of different sizes</h2>\n<p>The kernel shares only files of equal size: each size below shares only within itself.</p>');
    parts.push(table('size-mismatch', sizes));
  }
  return parts.join('\n');
}

function conflictRow(c: Conflict): string {
  return `<tr data-role="conflict"${data({ fingerprint: c.fingerprint, size: c.size, layout: c.layout, contents: c.contents.length })}>`
    + `<td><code title="${esc(c.fingerprint)}">${esc(middle(c.fingerprint, 40))}</code><div>${int(c.size)} B, ${esc(c.layout)}</div></td>`
    + `<td><ul class="members">${c.contents.map((k) => `<li>content digest (SHA-256 of the bytes) <code title="${esc(k.sha256)}">${esc(k.sha256.slice(0, 16))}…</code> at `
      + `${k.members.map((m) => `<span class="mono">${esc(m.image)}:${esc(m.path)}</span>`).join(', ')}</li>`).join('')}</ul></td></tr>`;
}

/** The whole page. */
export function renderShareReportHtml(r: ShareReport, opts: ShareReportHtmlOptions = {}): string {
  const title = opts.title ?? 'erofs-forge share report';
  const ps = r.pageSize;
  const t = r.total;
  const kept = t.pages - t.savedPages;
  const lost = r.notSharing.reduce((a, g) => a + g.lostPages, 0);
  const cards = [
    `<div class="card"><div class="v">${esc(human(t.pages * ps))}</div><div class="k">page cache without sharing</div></div>`,
    `<div class="card"><div class="v">${esc(human(kept * ps))}</div><div class="k">page cache with sharing</div></div>`,
    `<div class="card good"><div class="v">${esc(human(t.savedPages * ps))}</div><div class="k">saved (${esc(pct(t.savedPages, t.pages))}, ${plural(t.savedPages, 'page')})</div></div>`,
    `<div class="card${lost ? ' bad' : ''}"><div class="v">${esc(human(lost * ps))}</div><div class="k">kept more than once that could share (${plural(r.notSharing.length, 'group')})</div></div>`,
  ];
  if (r.conflicts.length) cards.push(`<div class="card bad"><div class="v">${int(r.conflicts.length)}</div><div class="k">fingerprints on different contents</div></div>`);
  const totalsAttrs = data({
    'total-bytes': t.pages * ps, 'total-kept-bytes': kept * ps, 'total-saved': t.savedPages * ps, 'total-saved-pages': t.savedPages,
    'total-shared-bytes': t.sharedPages * ps, 'total-unique-bytes': t.uniquePages * ps, 'page-size': ps, images: t.images,
    'not-sharing-groups': r.notSharing.length, 'lost-bytes': lost * ps, conflicts: r.conflicts.length,
  });
  const conflicts = r.conflicts.length
    ? `<section class="conflicts" data-role="conflicts">
<h2>Wrong sharing: ${plural(r.conflicts.length, 'fingerprint')} on different contents</h2>
<p>These inodes carry one key but hold different bytes: a sharing kernel would serve one file's pages for the other. Run <code>erofs-forge verify</code> on these images.</p>
<table><thead><tr><th>key</th><th>contents</th></tr></thead><tbody>
${r.conflicts.map(conflictRow).join('\n')}
</tbody></table>
</section>`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="erofs-forge share-report">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="lead">${plural(t.images, 'image')} mounted into one sharing domain: ${plural(t.files, 'regular file')}, ${int(t.fingerprinted)} fingerprinted, ${plural(t.keys, 'distinct key')}. Page-cache figures count ${int(ps)}-byte pages.</p>
<section data-role="totals"${totalsAttrs}>
<div class="cards">
${cards.join('\n')}
</div>
${totalChart(r)}
</section>
${conflicts}
<h2>Per image: shared and unique page cache</h2>
${imageChart(r)}
${imageTable(r)}
<h2>Identical files that will not share</h2>
${notSharingTable(r)}
<footer>A sharing-aware kernel (mount -o inode_share,domain_id=…) keeps one copy of the pages of inodes with the same fingerprint value, size and layout class. “Shared” counts an image's pages whose key another inode of these images also carries; “saved” counts pages kept once instead of several times, at the image that brings the later copy, so the per-image figures add up to the total. Generated by erofs-forge share-report.</footer>
</body>
</html>
`;
}
