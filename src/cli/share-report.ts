// `erofs-forge share-report [--json] IMAGE...`: what a sharing-aware kernel keeps once for these
// images in one domain, and which identical contents would not share, and why (src/verify/share-report.ts
// defines every figure). Exit 0 with a report, 1 when an image cannot be read, 2 for usage errors.
import { Command } from 'commander';
import { formatShareReport, shareReport, SHARE_REPORT_SCHEMA } from '../verify/share-report.js';

export function shareReportCommand(): Command {
  return new Command('share-report')
    .description('report how much page cache a set of images shares in one domain, and what stops equal files from sharing')
    .argument('<IMAGE...>', 'images mounted into one domain')
    .option('--json', 'print one JSON document on stdout')
    .action(async (files: string[], o: { json?: boolean }) => {
      const r = await shareReport(files);
      if (o.json) process.stdout.write(JSON.stringify({ schema: SHARE_REPORT_SCHEMA, ...r }) + '\n');
      else process.stdout.write(formatShareReport(r));
    });
}
