import type { BandFigures } from './aggregate.js';
import type { PoolAnswer } from './output.js';

/** The pool answer as a plain-text report for a terminal (the CLI's default output). */

const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`;
const count = (x: number) => x.toLocaleString('en-US');
const pct = (x: number | null, digits = 2) => (x === null ? '-' : `${(x * 100).toFixed(digits)}%`);

function table(title: string, rows: readonly BandFigures[]): string {
  const header = [title, 'loans', 'original UPB', 'UPB share', 'avg PD', 'UPB-wtd PD', 'expected loss'];
  const body = rows.map((r) => [
    r.band,
    count(r.loans),
    usd(r.original_upb),
    pct(r.upb_share, 1),
    pct(r.average_pd),
    pct(r.upb_weighted_pd),
    usd(r.expected_loss),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function poolReport(answer: PoolAnswer, source: string): string {
  const lines = [
    `Pool ${source} (${answer.format}), model ${answer.model} ${answer.version}` +
      `${answer.scenario === undefined ? '' : `, scenario ${answer.scenario}`}, LGD ${pct(answer.lgd, 1)} of original UPB`,
    '',
    `  rows read            ${count(answer.rows)}`,
    `  loans scored         ${count(answer.loan_count)}`,
    `  rows rejected        ${count(answer.rejected.count)}`,
    `  total original UPB   ${usd(answer.total_original_upb)}`,
    `  average PD           ${pct(answer.average_pd, 3)} (each loan counts once)`,
    `  UPB-weighted PD      ${pct(answer.upb_weighted_pd, 3)}`,
    `  expected loss        ${usd(answer.expected_loss)} (${pct(answer.expected_loss_rate, 3)} of UPB)`,
    '',
    table('PD band', answer.pd_bands),
    '',
    table('FICO', answer.by_fico),
    '',
    table('LTV %', answer.by_ltv),
    '',
    table('DTI %', answer.by_dti),
    '',
    table('vintage', answer.by_vintage),
    '',
    table('state', answer.by_state),
  ];
  if (answer.rejected.rows.length > 0) {
    lines.push('', `Rejected rows (first ${answer.rejected.rows.length} of ${count(answer.rejected.count)}):`);
    for (const r of answer.rejected.rows) {
      for (const p of r.problems) lines.push(`  ${p.field} ${p.message}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
