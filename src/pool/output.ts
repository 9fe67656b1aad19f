import { DEFAULT_REASON_COUNT, type Reason } from '../loan/reasons.js';
import type { Model } from '../runtime/index.js';
import type { PoolFigures } from './aggregate.js';
import type { CellProblem } from './cells.js';
import { locate, type RejectedRow, type TapeFormat } from './errors.js';
import type { ScoredBatch } from './scorer.js';
import type { Stratification } from './strata.js';
import type { TapeResult } from './tape.js';

/**
 * What a scored tape answers: the pool summary (one object, the same for the route and the CLI's
 * --json) and the per-loan results as CSV lines or JSON objects.
 */

interface ListedRejection {
  readonly row: number;
  readonly loan_sequence_number?: string;
  /** Each problem located as in a 400 answer: `line 12, credit_score` or `loans[11].credit_score`. */
  readonly problems: readonly CellProblem[];
}

export interface PoolAnswer extends PoolFigures {
  readonly model: string;
  readonly version: string;
  /** The house-price scenario the loans were scored under, when the model reads scenario features. */
  readonly scenario?: string;
  readonly format: TapeFormat;
  readonly lgd: number;
  /** Exposure at default: the original UPB of each loan. */
  readonly ead: 'original_upb';
  /** Data rows read, scored or not. */
  readonly rows: number;
  /** The pool's stratification (strata.ts), PDs of the scenario scored under. */
  readonly stratification?: Stratification;
  readonly rejected: { readonly count: number; readonly rows: readonly ListedRejection[] };
}

/** Rejected rows with every problem located in the file's own terms. */
function listRejections(format: TapeFormat, rows: readonly RejectedRow[]): ListedRejection[] {
  return rows.map((r) => ({
    row: r.row,
    ...(r.loan_sequence_number === undefined ? {} : { loan_sequence_number: r.loan_sequence_number }),
    problems: r.problems.map((p) => ({ field: locate(format, r.row, p.field), message: p.message })),
  }));
}

export function poolAnswer(model: Model, lgd: number, result: TapeResult): PoolAnswer {
  return {
    model: model.name,
    version: model.version,
    ...(result.scenario === undefined ? {} : { scenario: result.scenario }),
    format: result.format,
    lgd,
    ead: 'original_upb',
    rows: result.rows,
    ...result.figures,
    ...(result.stratification === undefined ? {} : { stratification: result.stratification }),
    rejected: { count: result.rejectedCount, rows: listRejections(result.format, result.rejected) },
  };
}

/** Columns of the per-loan CSV (the route's `Accept: text/csv` answer and the CLI's --out file). */
export const RESULT_COLUMNS = [
  'row',
  'loan_sequence_number',
  'probability_of_default',
  'log_odds',
  'above_cutoff',
  'expected_loss',
] as const;

export const RESULT_HEADER = `${RESULT_COLUMNS.join(',')}\n`;

/** Columns added with reasons: the codes of each loan's top reasons, largest first (empty when fewer). */
export const REASON_COLUMNS = Array.from({ length: DEFAULT_REASON_COUNT }, (_, i) => `reason_${i + 1}`);

/** The per-loan CSV header, with the reason columns when asked for. */
export function resultHeader(reasons: boolean): string {
  return reasons ? `${[...RESULT_COLUMNS, ...REASON_COLUMNS].join(',')}\n` : RESULT_HEADER;
}

/** A loan's reason codes as CSV cells (each with its leading comma), padded to the reason columns. */
function reasonCells(reasons: readonly Reason[]): string {
  let out = '';
  for (let r = 0; r < REASON_COLUMNS.length; r++) out += `,${reasons[r]?.code ?? ''}`;
  return out;
}

/** What a spreadsheet would read as the start of a formula (OWASP, "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell from the client (an identifier echoed back) for the per-loan CSV of the route and of
 * the CLI's --out: quoted when it holds a comma, a quote or a line break, and, as OWASP recommends
 * against CSV injection, prefixed with a single quote (and quoted) when it starts with `=`, `+`, `-`,
 * `@`, a tab or a carriage return, so that a spreadsheet shows it as text instead of running it.
 * Only CSV output is altered; JSON answers echo identifiers unchanged.
 */
export function csvCell(text: string): string {
  if (FORMULA_START.test(text)) return `"'${text.replaceAll('"', '""')}"`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV lines of a scored chunk. */
export function resultLines(batch: ScoredBatch): string {
  const { count, rows, loans, probability, margin, lgd, decisionThreshold, reasons } = batch;
  let out = '';
  for (let i = 0; i < count; i++) {
    const loan = loans[i] as Record<string, unknown>;
    const id = loan.loan_sequence_number;
    const pd = probability[i] as number;
    const el = pd * lgd * (loan.original_upb as number);
    const why = reasons === undefined ? '' : reasonCells(reasons[i] as readonly Reason[]);
    out += `${rows[i]},${typeof id === 'string' ? csvCell(id) : ''},${pd},${margin[i]},${pd >= decisionThreshold},${el}${why}\n`;
  }
  return out;
}

/** Per-loan results of loans scored in a worker thread: only the first `count` entries count. */
export interface ResultColumns {
  readonly count: number;
  readonly row: Float64Array;
  readonly pd: Float64Array;
  readonly margin: Float64Array;
  readonly upb: Float64Array;
  /** Each loan's identifier (undefined: none). */
  readonly ids: readonly (string | undefined)[];
  readonly reasons?: readonly (readonly Reason[])[];
}

/**
 * Per-loan results kept compactly until the answer can be sent (its status depends on the last row):
 * 28 bytes a loan plus its identifier's UTF-8 bytes, about 40 MB for a million loans, instead of a
 * million objects.
 */
export class ResultBuffer {
  private size = 0;
  private row = new Uint32Array(1024);
  private pd = new Float64Array(1024);
  private margin = new Float64Array(1024);
  private el = new Float64Array(1024);
  /** End offset of each loan's identifier in `ids` (0xffffffff: none). */
  private idEnd = new Uint32Array(1024);
  private hasId = new Uint8Array(1024);
  private ids = Buffer.allocUnsafe(16 * 1024);
  private idBytes = 0;
  /** Each loan's top reasons, when kept (`withReasons`). */
  private readonly why: (readonly Reason[])[] | undefined;

  constructor(
    readonly decisionThreshold: number,
    withReasons = false,
  ) {
    this.why = withReasons ? [] : undefined;
  }

  get length(): number {
    return this.size;
  }

  /** Adds a scored chunk (copies what it needs: the chunk's arrays are reused). */
  add(batch: ScoredBatch): void {
    const { count, rows, loans, probability, margin, lgd, reasons } = batch;
    this.reserve(this.size + count);
    for (let i = 0; i < count; i++) {
      const loan = loans[i] as Record<string, unknown>;
      const pd = probability[i] as number;
      const el = pd * lgd * (loan.original_upb as number);
      this.push(rows[i] as number, pd, margin[i] as number, el, loan.loan_sequence_number, reasons?.[i]);
    }
  }

  /** Adds loans scored in a worker thread (src/pool/threads.ts), given value by value. */
  addColumns(columns: ResultColumns, lgd: number): void {
    const { count, row, pd, margin, upb, ids, reasons } = columns;
    this.reserve(this.size + count);
    for (let i = 0; i < count; i++) {
      const p = pd[i] as number;
      this.push(row[i] as number, p, margin[i] as number, p * lgd * (upb[i] as number), ids[i], reasons?.[i]);
    }
  }

  private push(
    row: number,
    pd: number,
    margin: number,
    el: number,
    id: unknown,
    reasons: readonly Reason[] | undefined,
  ): void {
    const k = this.size++;
    this.row[k] = row;
    this.pd[k] = pd;
    this.margin[k] = margin;
    this.el[k] = el;
    this.why?.push(reasons ?? []);
    if (typeof id === 'string') {
      const need = this.idBytes + Buffer.byteLength(id);
      if (need > this.ids.length) {
        const bigger = Buffer.allocUnsafe(Math.max(need, this.ids.length * 2));
        this.ids.copy(bigger, 0, 0, this.idBytes);
        this.ids = bigger;
      }
      this.idBytes += this.ids.write(id, this.idBytes, 'utf8');
      this.hasId[k] = 1;
    } else {
      this.hasId[k] = 0;
    }
    this.idEnd[k] = this.idBytes;
  }

  private reserve(n: number): void {
    if (n <= this.row.length) return;
    let capacity = this.row.length;
    while (capacity < n) capacity *= 2;
    const grow = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.row = grow(this.row, (c) => new Uint32Array(c));
    this.pd = grow(this.pd, (c) => new Float64Array(c));
    this.margin = grow(this.margin, (c) => new Float64Array(c));
    this.el = grow(this.el, (c) => new Float64Array(c));
    this.idEnd = grow(this.idEnd, (c) => new Uint32Array(c));
    this.hasId = grow(this.hasId, (c) => new Uint8Array(c));
  }

  private id(k: number): string | undefined {
    if (this.hasId[k] !== 1) return undefined;
    const start = k === 0 ? 0 : (this.idEnd[k - 1] as number);
    return this.ids.toString('utf8', start, this.idEnd[k] as number);
  }

  /** The results as CSV text, header first, in pieces of `rowsPerPiece` loans (for a stream). */
  *csv(rowsPerPiece = 4096): Generator<string> {
    const why = this.why;
    yield resultHeader(why !== undefined);
    yield* this.pieces(rowsPerPiece, (k, id, pd, predicted) => {
      const reasons = why === undefined ? '' : reasonCells(why[k] as readonly Reason[]);
      return `${this.row[k]},${id === undefined ? '' : csvCell(id)},${pd},${this.margin[k]},${predicted},${this.el[k]}${reasons}\n`;
    });
  }

  /** The results as the members of a JSON array (without the brackets), in pieces. */
  *json(rowsPerPiece = 4096): Generator<string> {
    const why = this.why;
    yield* this.pieces(rowsPerPiece, (k, id, pd, predicted) => {
      const named = id === undefined ? '' : `"loan_sequence_number":${JSON.stringify(id)},`;
      const reasons = why === undefined ? '' : `,"reasons":${JSON.stringify(why[k])}`;
      return `${k === 0 ? '' : ','}{"row":${this.row[k]},${named}"probability_of_default":${pd},"log_odds":${this.margin[k]},"above_cutoff":${predicted},"expected_loss":${this.el[k]}${reasons}}`;
    });
  }

  /** Every loan's text, `rowsPerPiece` loans a piece; `predicted` is PD ≥ the model's cut-off (`above_cutoff`). */
  private *pieces(
    rowsPerPiece: number,
    text: (k: number, id: string | undefined, pd: number, predicted: boolean) => string,
  ): Generator<string> {
    for (let start = 0; start < this.size; start += rowsPerPiece) {
      let out = '';
      const end = Math.min(this.size, start + rowsPerPiece);
      for (let k = start; k < end; k++) {
        const pd = this.pd[k] as number;
        out += text(k, this.id(k), pd, pd >= this.decisionThreshold);
      }
      yield out;
    }
  }
}

/** The pool answer with its per-loan `results` array, as pieces of JSON text. */
export function* answerWithResults(answer: PoolAnswer, results: ResultBuffer): Generator<string> {
  const head = JSON.stringify(answer);
  yield `${head.slice(0, -1)},"results":[`;
  yield* results.json();
  yield ']}';
}
