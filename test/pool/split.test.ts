import { describe, expect, it } from 'vitest';
import { type DelimitedFormat, DelimitedReader } from '../../src/pool/delimited.js';
import { emptyRecord, type RowTarget } from '../../src/pool/scorer.js';
import { RunSplitter } from '../../src/pool/threads.js';
import type { LoanRecord } from '../../src/runtime/index.js';
import { holdoutLoans } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';
import { toCsv, toFreddie } from './helpers.js';

/**
 * The reader's split mode numbers the records it hands on as the reader itself, one thread, counts them
 * (src/pool/delimited.ts): a line that is not blank, or a quoted record over several lines, is one record;
 * a header and blank lines are none. The runs cut from them (RunSplitter, src/pool/threads.ts) each start
 * a group of records, so a worker that counts its run's records from 0 sums the groups one thread sums.
 * Random tapes: blank lines of spaces, tabs and CRs, quoted cells with line breaks (and blank lines inside
 * the quotes), CRLF, no last line feed, rows that are refused, pushed in random pieces.
 */

/** Counts the records a reader hands on in row mode, with their line numbers. */
class Counter implements RowTarget {
  readonly rows: number[] = [];
  private readonly record = emptyRecord();
  slot(): Record<string, unknown> {
    return this.record;
  }
  accept(row: number): void {
    this.rows.push(row);
  }
  reject(row: number): void {
    this.rows.push(row);
  }
}

const BLANKS = ['', '  ', '\t', '\r', ' \t \r'];

function randomTape(random: () => number, format: DelimitedFormat): string {
  const n = 20 + Math.floor(random() * 120);
  const loans = Array.from({ length: n }, (_, i) => {
    const loan = holdoutLoans[Math.floor(random() * holdoutLoans.length)] as LoanRecord;
    if (format === 'freddie' || random() > 0.2) return { ...loan, loan_sequence_number: `L${i}` };
    // A quoted identifier over several lines, blank ones among them.
    return { ...loan, loan_sequence_number: `ID ${i}\n\n  \r\n-end` };
  });
  const text = format === 'csv' ? toCsv(loans) : toFreddie(loans);
  const eol = format === 'csv' && random() < 0.3 ? '\r\n' : '\n';
  // Split at the line feeds between records only (not inside quotes): each record starts with a letter or digit.
  const rows = text.split(/\n(?=[0-9A-Za-z])/);
  const out: string[] = [];
  for (const [i, row] of rows.entries()) {
    // Blank lines anywhere but before a CSV header; now and then a record refused (too few cells).
    if (i > 0 || format === 'freddie') {
      while (random() < 0.15) out.push(BLANKS[Math.floor(random() * BLANKS.length)] as string);
    }
    out.push(i > 0 && random() < 0.05 ? 'not a loan' : row.replace(/\n$/, ''));
  }
  const joined = out.join(eol);
  return random() < 0.3 ? joined : `${joined}${eol}`;
}

async function check(text: string, format: DelimitedFormat, groupRecords: number, piece: number) {
  // One thread: every record, with its line.
  const whole = new Counter();
  const reader = new DelimitedReader(format, whole);
  reader.push(Buffer.from(text));
  reader.end();

  // Split mode: the blocks and the runs cut from them.
  const blocks: { bytes: Buffer; line: number; record: number }[] = [];
  const runs: { bytes: Uint8Array; line: number }[] = [];
  const splitter = new RunSplitter({
    cutRecords: groupRecords,
    minBytes: 200,
    sliceBytes: Number.POSITIVE_INFINITY,
    send: (bytes, line) => runs.push({ bytes, line }),
  });
  const split = new DelimitedReader(format, {
    cutRecords: groupRecords,
    block(bytes: Buffer, line: number, record: number) {
      blocks.push({ bytes: Buffer.from(bytes), line, record });
      splitter.block(bytes, line, record);
    },
  });
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += piece) {
    await splitter.push(bytes.subarray(at, at + piece), (c) => split.push(c));
  }
  await splitter.end(() => split.end());

  // Each block, read alone as a worker reads its run: its records are the next ones, in one group.
  const rowsOf = (b: { bytes: Uint8Array; line: number }) => {
    const counter = new Counter();
    const r = new DelimitedReader(format, counter);
    r.resume(split.header, b.line);
    r.push(Buffer.from(b.bytes));
    r.end();
    return counter.rows;
  };
  let seen = 0;
  for (const b of blocks) {
    expect(b.record).toBe(seen);
    const rows = rowsOf(b);
    expect(rows).toEqual(whole.rows.slice(seen, seen + rows.length));
    if (rows.length > 0) {
      expect(Math.floor((b.record + rows.length - 1) / groupRecords)).toBe(Math.floor(b.record / groupRecords));
    }
    seen += rows.length;
  }
  expect(seen).toBe(whole.rows.length);
  // Each run starts a group, and the runs hold every record once, in order.
  seen = 0;
  for (const run of runs) {
    const rows = rowsOf(run);
    if (rows.length > 0) expect(seen % groupRecords).toBe(0);
    expect(rows).toEqual(whole.rows.slice(seen, seen + rows.length));
    seen += rows.length;
  }
  expect(seen).toBe(whole.rows.length);
}

describe("the reader's split mode", () => {
  it('numbers records as one thread counts them, and cuts runs that start a group of records', async () => {
    const random = seededRandom(20261206);
    for (let i = 0; i < 60; i++) {
      const format: DelimitedFormat = i % 3 === 2 ? 'freddie' : 'csv';
      const text = randomTape(random, format);
      const groupRecords = 1 + Math.floor(random() * 12);
      const piece = 1 + Math.floor(random() * 3000);
      await check(text, format, groupRecords, piece);
    }
  });
});
