import { FREDDIE } from '../contract/index.js';
import { LOAN_FIELD_BY_NAME, LOAN_FIELDS, type LoanField } from '../loan/record.js';
import { LOAN_MESSAGES, recordProblems } from '../loan/validate.js';
import { ProblemList } from '../problems.js';
import { type CellProblem, type CellReader, cellReader } from './cells.js';
import { TapeError } from './errors.js';
import type { RowTarget } from './scorer.js';

/**
 * Streaming reader of delimited tapes, straight from the bytes:
 * - `csv`: RFC 4180, comma-separated, a header row naming loan-record fields (any order; the
 *   loan_sequence_number column is optional), quoted fields with commas, doubled quotes and line
 *   breaks, CRLF or LF, a UTF-8 BOM, blank lines skipped;
 * - `freddie`: Freddie Mac's origination file, pipe-delimited, no header, no quoting, the fields at
 *   their positions in the published layout (26 to 32 fields per line), cells trimmed of spaces.
 *
 * Rows are numbered by the line they start on, counting every line of the file (the header is
 * line 1 of a CSV tape; a Freddie Mac file's first loan is line 1).
 *
 * Speed: most lines of a real tape have no quote at all. Those are split in place and each cell is
 * converted from its bytes without making a string (src/pool/cells.ts); a line with a quote in it
 * goes through the full RFC 4180 state machine instead, which may read on over line breaks.
 */

export type DelimitedFormat = 'csv' | 'freddie';

/** Freddie Mac origination layout: 1-based positions of the loan-record fields (src/contract/loan-contract.json). */
export const FREDDIE_POSITIONS: Readonly<Record<string, number>> = FREDDIE.positions;
/** Older releases stop after field 26 (the super conforming flag); current ones have 32. */
const FREDDIE_MIN_FIELDS = FREDDIE.min_fields;
const FREDDIE_MAX_FIELDS = FREDDIE.max_fields;

/**
 * Most columns a CSV header may have: every loan-record field once, with room to spare for columns
 * named twice or misspelt. A header is refused without reading its names beyond this (issue 18: a
 * 1 MiB header of empty columns made a 69 MB answer).
 */
const MAX_HEADER_COLUMNS = 256;

/** A record (line, or quoted lines) longer than this is refused: it is not a loan, and must not fill memory. */
export const MAX_RECORD_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const PIPE = 0x7c;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * The format of a delimited tape from its first line: Freddie Mac's layout has at least 25 pipes on
 * every line, which no CSV header of loan-record names can have. Answers undefined until a whole
 * line (or the end) is in `head`.
 */
export function detectDelimited(head: Uint8Array, final: boolean): DelimitedFormat | undefined {
  let pipes = 0;
  let content = false;
  for (let i = 0; i < head.length; i++) {
    const c = head[i] as number;
    if (c === LF) {
      if (content) return pipes >= FREDDIE_MIN_FIELDS - 1 ? 'freddie' : 'csv';
      pipes = 0;
    } else if (c === PIPE) {
      pipes++;
      content = true;
    } else if (c !== CR && c !== SPACE && c !== TAB) {
      content = true;
    }
  }
  if (!final) return undefined;
  return pipes >= FREDDIE_MIN_FIELDS - 1 ? 'freddie' : 'csv';
}

/**
 * Where a reader in split mode hands its data records: whole records only, in input order, as runs
 * of bytes with the line number of their first byte and the number of the first record they hold
 * (data records counted from 0: no header, no blank line; src/pool/threads.ts sends them to workers).
 */
export interface BlockTarget {
  block(bytes: Buffer, line: number, record: number): void;
  /**
   * Cut the runs at every multiple of this many records as well: no run holds records of two groups
   * (src/pool/groups.ts: the sums are folded by such groups of records, whatever the chunks).
   */
  readonly cutRecords?: number;
}

/** Lines and data records met by `unquotedRecords`, and where it stopped. */
interface Scanned {
  readonly at: number;
  readonly lines: number;
  readonly records: number;
}

/**
 * Reads the unquoted lines of `buf[start, end)` (`end` just after a line feed, or the end of the data)
 * up to the end or just after the `most`-th record, whichever comes first: a record is a line that is
 * not blank (only spaces, tabs and CRs), as the reader skips blank lines.
 */
function unquotedRecords(buf: Buffer, start: number, end: number, most: number): Scanned {
  let lines = 0;
  let records = 0;
  let at = start;
  while (at < end && records < most) {
    const nl = buf.indexOf(LF, at);
    // The last line of the data may have no line feed.
    const lineEnd = nl === -1 || nl >= end ? end : nl;
    // Most lines start with a digit or a letter: only one starting with white space is read through.
    const c = buf[at];
    if (lineEnd > at && ((c !== SPACE && c !== TAB && c !== CR) || !isBlank(buf, at, lineEnd))) records++;
    if (lineEnd === end) {
      at = end;
      break;
    }
    lines++;
    at = nl + 1;
  }
  return { at, lines, records };
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== SPACE && c !== TAB && c !== CR) return false;
  }
  return true;
}

interface QuotedRecord {
  /** Index just after the record's line break (or the end of the data). */
  readonly end: number;
  /** Line breaks consumed, inside quotes and at the end. */
  readonly lines: number;
  readonly cells: number;
  readonly problem: string | undefined;
}

export class DelimitedReader {
  private readonly delimiter: number;
  private pending: Buffer | undefined;
  private started = false;
  /** Line number of the first byte not yet consumed. */
  private line = 1;
  /** Split mode: data records handed on so far (the number of the next one, from 0). */
  private nextRecord = 0;
  private headerRead: boolean;
  /** Per column: the reader of its field, or null for a column the loan record does not use. */
  private readers: (CellReader | null)[] = [];
  private names: string[] = [];
  private minCells = 0;
  private maxCells = 0;
  private cellStart = new Int32Array(64);
  private cellEnd = new Int32Array(64);
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly problems: CellProblem[] = [];
  /** Split mode: data records are not read but handed on whole (the header is still read here). */
  private readonly splitTo: BlockTarget | undefined;
  /** Columns a CSV header may (and, unless optional, must) name besides the loan-record fields, with their readers. */
  private readonly extra: Readonly<Record<string, CellReader>>;
  private readonly optional: ReadonlySet<string>;
  /** Optional extra columns the header leaves out: null in every record. */
  private absent: readonly string[] = [];

  /**
   * `target`: where rows go; or, in split mode (a `BlockTarget`), where runs of whole data records go,
   * cut exactly where this reader would cut them, with the same refusals of the header and of
   * over-long records. `extraColumns`: columns a CSV header must name besides the loan-record fields
   * (POST /pools/backtest's `default_36m`), each read into the record under its name by its reader;
   * `optional` of them may be left out (POST /pools/lifetime's `loan_age`, `current_upb`: null then).
   */
  constructor(
    readonly format: DelimitedFormat,
    private readonly target: RowTarget | BlockTarget,
    extraColumns: Readonly<Record<string, CellReader>> = {},
    optional: readonly string[] = [],
  ) {
    this.extra = extraColumns;
    this.optional = new Set(optional);
    this.delimiter = format === 'csv' ? COMMA : PIPE;
    this.headerRead = format === 'freddie';
    this.splitTo = 'block' in target ? target : undefined;
    if (format === 'freddie') this.useFreddieLayout();
  }

  /**
   * Reads a run of whole data records cut by a reader in split mode: the header (CSV) was read there
   * (`header`: its column names), and the run starts at line `line` (no byte order mark). A worker
   * resumes the same reader run after run (its cell readers kept when the header is the same).
   */
  resume(header: readonly string[] | undefined, line: number): void {
    this.started = true;
    this.pending = undefined;
    this.line = line;
    const same =
      header !== undefined && header.length === this.names.length && header.every((n, i) => n === this.names[i]);
    if (header !== undefined && !same) this.useColumns(header);
    this.headerRead = true;
  }

  /** The CSV header's column names, once read. */
  get header(): readonly string[] | undefined {
    return this.format === 'csv' && this.headerRead ? this.names : undefined;
  }

  private get rows(): RowTarget {
    return this.target as RowTarget;
  }

  push(chunk: Buffer): void {
    this.consume(chunk, false);
  }

  end(): void {
    this.consume(Buffer.alloc(0), true);
  }

  /** True once a CSV header has been read (a Freddie Mac tape has none). */
  get hasHeader(): boolean {
    return this.format === 'csv' && this.headerRead;
  }

  private consume(chunk: Buffer, final: boolean): void {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    if (!this.started) {
      if (buf.length < 3 && !final) {
        this.pending = buf;
        return;
      }
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    const used = this.records(buf, final);
    if (used < buf.length) {
      if (buf.length - used > MAX_RECORD_BYTES) {
        throw new TapeError(
          'unreadable',
          `line ${this.line} starts a record longer than ${MAX_RECORD_BYTES} bytes (a quote that is never closed?)`,
        );
      }
      // Copied: a subarray would keep the whole chunk alive while the next one arrives.
      this.pending = Buffer.from(buf.subarray(used));
    }
  }

  /** Reads every complete record of `buf` (all of it when `final`); answers how many bytes were used. */
  private records(buf: Buffer, final: boolean): number {
    const length = buf.length;
    const quoting = this.format === 'csv';
    const split = this.splitTo;
    let pos = 0;
    let quoteAt = -1;
    let from = -1;
    let fromLine = 0;
    let fromRecord = 0;
    const cut = split?.cutRecords ?? Number.POSITIVE_INFINITY;
    while (pos < length) {
      if (split !== undefined && this.headerRead) {
        // A run ends where a group of records does (blank lines before the next record go with the next run).
        if (
          from !== -1 &&
          this.nextRecord > fromRecord &&
          Math.floor(this.nextRecord / cut) !== Math.floor(fromRecord / cut)
        ) {
          split.block(buf.subarray(from, pos), fromLine, fromRecord);
          from = -1;
        }
        if (from === -1) {
          from = pos;
          fromLine = this.line;
          fromRecord = this.nextRecord;
        }
        if (quoting && quoteAt < pos) {
          quoteAt = buf.indexOf(QUOTE, pos);
          if (quoteAt === -1) quoteAt = length;
        }
        if (!quoting || quoteAt === length) {
          // No quote from here on: the records end at the line feeds, the last whole one at the last;
          // read up to the end of the group, or to the end.
          const end = final ? length : buf.lastIndexOf(LF) + 1;
          if (end <= pos) break;
          const most = (Math.floor(this.nextRecord / cut) + 1) * cut - this.nextRecord;
          const scanned = unquotedRecords(buf, pos, end, most);
          this.line += scanned.lines;
          this.nextRecord += scanned.records;
          pos = scanned.at;
          if (pos < end) continue;
          break;
        }
      }
      const nl = buf.indexOf(LF, pos);
      if (nl === -1 && !final) break;
      const lineEnd = nl === -1 ? length : nl;
      if (quoting && quoteAt < pos) {
        quoteAt = buf.indexOf(QUOTE, pos);
        if (quoteAt === -1) quoteAt = length;
      }
      if (quoting && quoteAt < lineEnd) {
        const record = this.quotedRecord(buf, pos, final);
        if (record === undefined) break;
        const row = this.line;
        this.line += record.lines;
        pos = record.end;
        if (split !== undefined && this.headerRead) {
          this.nextRecord++;
          continue;
        }
        if (record.problem !== undefined) {
          this.rowProblem(row, record.problem);
        } else {
          this.record(this.scratch, record.cells, row);
        }
        continue;
      }
      const row = this.line;
      this.line++;
      let end = lineEnd;
      if (end > pos && buf[end - 1] === CR) end--;
      if (!isBlank(buf, pos, end)) {
        if (split !== undefined && this.headerRead) this.nextRecord++;
        else this.record(buf, this.split(buf, pos, end), row);
      }
      pos = nl === -1 ? length : nl + 1;
    }
    if (split !== undefined && from !== -1 && pos > from) split.block(buf.subarray(from, pos), fromLine, fromRecord);
    return pos;
  }

  /** Splits an unquoted line into cells; answers the cell count. */
  private split(buf: Buffer, start: number, end: number): number {
    const delimiter = this.delimiter;
    let cells = 0;
    let cellStart = start;
    for (let i = start; i < end; i++) {
      if (buf[i] === delimiter) {
        this.setCell(cells++, cellStart, i);
        cellStart = i + 1;
      }
    }
    this.setCell(cells++, cellStart, end);
    return cells;
  }

  private setCell(index: number, start: number, end: number): void {
    if (index >= this.cellStart.length) {
      const starts = new Int32Array(this.cellStart.length * 2);
      const ends = new Int32Array(this.cellEnd.length * 2);
      starts.set(this.cellStart);
      ends.set(this.cellEnd);
      this.cellStart = starts;
      this.cellEnd = ends;
    }
    this.cellStart[index] = start;
    this.cellEnd[index] = end;
  }

  /**
   * One RFC 4180 record from `start`, its cells unescaped into `this.scratch`. Undefined when the
   * data ends inside it and more may come.
   */
  private quotedRecord(buf: Buffer, start: number, final: boolean): QuotedRecord | undefined {
    const length = buf.length;
    if (this.scratch.length < length - start)
      this.scratch = Buffer.allocUnsafe(Math.max(length - start, 2 * this.scratch.length));
    const out = this.scratch;
    const delimiter = this.delimiter;
    let o = 0;
    let cells = 0;
    let cellStart = 0;
    let lines = 0;
    let problem: string | undefined;
    // 0: at the start of a cell, 1: in an unquoted cell, 2: in quotes, 3: just after a closing quote.
    let state = 0;
    let i = start;
    for (;;) {
      if (i >= length) {
        if (!final) return undefined;
        if (state === 2) problem ??= 'a quoted field is never closed (a quote is missing)';
        this.setCell(cells++, cellStart, o);
        return { end: length, lines: lines + 1, cells, problem };
      }
      const c = buf[i] as number;
      if (state === 2) {
        if (c === QUOTE) {
          if (i + 1 >= length && !final) return undefined;
          if (buf[i + 1] === QUOTE) {
            out[o++] = QUOTE;
            i += 2;
          } else {
            state = 3;
            i++;
          }
          continue;
        }
        if (c === LF) lines++;
        out[o++] = c;
        i++;
        continue;
      }
      if (c === delimiter) {
        this.setCell(cells++, cellStart, o);
        cellStart = o;
        state = 0;
        i++;
        continue;
      }
      if (c === LF || (c === CR && buf[i + 1] === LF)) {
        this.setCell(cells++, cellStart, o);
        const end = c === LF ? i + 1 : i + 2;
        return { end, lines: lines + 1, cells, problem };
      }
      if (c === CR && i + 1 >= length && !final) return undefined;
      if (state === 0 && c === QUOTE) {
        state = 2;
        i++;
        continue;
      }
      if (state === 3) problem ??= `characters after the closing quote of field ${cells + 1}`;
      else if (c === QUOTE) problem ??= `a quote inside the unquoted field ${cells + 1} (quote the whole field)`;
      state = 1;
      out[o++] = c;
      i++;
    }
  }

  private rowProblem(row: number, message: string): void {
    if (!this.headerRead) {
      throw new TapeError('layout', `the header row is not valid CSV: ${message}`, {
        details: [{ field: `line ${row} (header)`, message }],
      });
    }
    this.rows.reject(row, [{ field: '', message }]);
  }

  private record(buf: Buffer, cells: number, row: number): void {
    if (!this.headerRead) {
      this.readHeader(buf, cells, row);
      return;
    }
    if (cells < this.minCells || cells > this.maxCells) {
      const expected =
        this.format === 'csv'
          ? `the header has ${this.minCells}`
          : `a Freddie Mac origination record has ${FREDDIE_MIN_FIELDS} to ${FREDDIE_MAX_FIELDS}`;
      this.rows.reject(row, [{ field: '', message: `has ${cells} field${cells === 1 ? '' : 's'}; ${expected}` }]);
      return;
    }
    const trim = this.format === 'freddie';
    const target = this.rows;
    const record = target.slot();
    const problems = this.problems;
    problems.length = 0;
    const readers = this.readers;
    const names = this.names;
    const starts = this.cellStart;
    const ends = this.cellEnd;
    for (let c = 0; c < cells; c++) {
      const read = readers[c];
      if (read === null || read === undefined) continue;
      let s = starts[c] as number;
      let e = ends[c] as number;
      if (trim) {
        while (s < e && buf[s] === SPACE) s++;
        while (e > s && buf[e - 1] === SPACE) e--;
      }
      record[names[c] as string] = read(buf, s, e, problems);
    }
    for (const name of this.absent) record[name] = null;
    if (problems.length === 0) recordProblems(record, problems);
    if (problems.length === 0) target.accept(row);
    else target.reject(row, problems.slice(), record.loan_sequence_number);
  }

  private readHeader(buf: Buffer, cells: number, row: number): void {
    const where = `line ${row} (header)`;
    if (cells > MAX_HEADER_COLUMNS) {
      const message = `has ${cells} columns; a tape header names at most ${MAX_HEADER_COLUMNS} (the loan-record fields)`;
      throw new TapeError('layout', `the CSV header (line ${row}) ${message}`, {
        details: [{ field: where, message }],
      });
    }
    const problems = new ProblemList<CellProblem>();
    const seen = new Set<string>();
    const names: string[] = [];
    for (let c = 0; c < cells; c++) {
      const start = this.cellStart[c] as number;
      const end = this.cellEnd[c] as number;
      const name = buf.toString('utf8', start, end).trim();
      const field = LOAN_FIELD_BY_NAME.get(name) ?? (Object.hasOwn(this.extra, name) ? name : undefined);
      if (name === '') {
        problems.push({ field: where, message: `column ${c + 1} has no name` });
      } else if (field === undefined) {
        problems.push({ field: where, message: LOAN_MESSAGES.unknownColumn(c + 1, name, problems.open) });
      } else if (seen.has(name)) {
        problems.push({ field: where, message: `column ${JSON.stringify(name.slice(0, 60))} appears twice` });
      }
      seen.add(name);
      names.push(name);
    }
    const extras = Object.keys(this.extra).filter((name) => !this.optional.has(name));
    for (const name of [...LOAN_FIELDS.filter((f) => f.required).map((f) => f.name), ...extras]) {
      if (!seen.has(name)) {
        problems.push({ field: where, message: `the required column ${JSON.stringify(name)} is missing` });
      }
    }
    if (problems.size > 0) {
      throw new TapeError('layout', `the CSV header (line ${row}) does not name the loan-record fields`, {
        details: problems.items,
        omitted: problems.omitted,
      });
    }
    this.headerRead = true;
    this.useColumns(names);
  }

  /** The columns of a CSV header (its names checked already). */
  private useColumns(names: readonly string[]): void {
    this.readers = names.map((name) => {
      const field = LOAN_FIELD_BY_NAME.get(name);
      return field ? cellReader(field) : Object.hasOwn(this.extra, name) ? (this.extra[name] as CellReader) : null;
    });
    this.names = [...names];
    this.absent = [...this.optional].filter((name) => !names.includes(name));
    this.minCells = names.length;
    this.maxCells = names.length;
  }

  private useFreddieLayout(): void {
    const readers: (CellReader | null)[] = Array(FREDDIE_MAX_FIELDS).fill(null);
    const names: string[] = Array(FREDDIE_MAX_FIELDS).fill('');
    for (const [name, position] of Object.entries(FREDDIE_POSITIONS)) {
      readers[position - 1] = cellReader(LOAN_FIELD_BY_NAME.get(name) as LoanField);
      names[position - 1] = name;
    }
    this.readers = readers;
    this.names = names;
    this.absent = [...this.optional];
    this.minCells = FREDDIE_MIN_FIELDS;
    this.maxCells = FREDDIE_MAX_FIELDS;
  }
}
