// `erofs-forge share-report [--json] [--html FILE] IMAGE...`: what a sharing-aware kernel keeps once for these
// images in one domain, and which identical contents would not share, and why (src/verify/share-report.ts
// defines every figure). --html also writes the report as one self-contained page (atomically).
// Exit 0 with a report, 1 when an image cannot be read or the page cannot be written, 2 for usage errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { formatShareReport, shareReport, SHARE_REPORT_SCHEMA } from '../verify/share-report.js';
import { renderShareReportHtml } from '../verify/share-report-html.js';
import { UserError } from '../errors.js';

/** Write `text` to `file` through a temporary file in the same directory and a rename. */
function writeAtomically(file: string, text: string, what: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw new UserError(`${what} ${file}: cannot write: ${(e as Error).message}`);
  }
}

export function shareReportCommand(): Command {
  return new Command('share-report')
    .description('report how much page cache a set of images shares in one domain, and what stops equal files from sharing')
    .addHelpText('after', `
Examples:
  erofs-forge share-report base.img app1.img app2.img      table per image and in total
  erofs-forge share-report --json base.img app.img         the same as JSON (schema erofs-forge/share-report/1)
  erofs-forge share-report --html report.html *.img        a self-contained page with a chart`)
    .argument('<IMAGE...>', 'images mounted into one domain')
    .option('--json', 'print one JSON document on stdout')
    .option('--html <file>', 'also write the report as one self-contained HTML page (chart per image, files that will not share)')
    .action(async (files: string[], o: { json?: boolean; html?: string }) => {
      const r = await shareReport(files);
      if (o.html !== undefined) writeAtomically(o.html, renderShareReportHtml(r), '--html');
      if (o.json) process.stdout.write(JSON.stringify({ schema: SHARE_REPORT_SCHEMA, ...r }) + '\n');
      else process.stdout.write(formatShareReport(r));
    });
}
