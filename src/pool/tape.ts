import type { Scenario } from '../scenario/index.js';
import type { CellProblem, CellReader } from './cells.js';
import { type BlockTarget, type DelimitedFormat, DelimitedReader, detectDelimited } from './delimited.js';
import { TapeError, type TapeFormat } from './errors.js';
import { JsonTapeReader } from './json.js';
import { PoolScorer, type RowTarget, type ScoredBlock, type ScoreOutcome, type ScorerOptions } from './scorer.js';

/**
 * A tape from its bytes to its pool figures: detects the format if asked to, reads rows, scores them
 * and counts bytes against the limit. Push chunks as they arrive, then `end()`. The same object
 * serves the HTTP route and the CLI.
 */

export interface TapeOptions extends ScorerOptions {
  /** The tape's format, or `auto` to tell from its first bytes among `candidates`. */
  readonly format: TapeFormat | 'auto';
  /** What `auto` may choose (default: all three). */
  readonly candidates?: readonly TapeFormat[];
  /** Most bytes accepted; one more fails the tape with `too_many_bytes`. */
  readonly maxBytes?: number;
  /**
   * Split mode (src/pool/threads.ts): a CSV or Freddie Mac tape's header is read here, its data records
   * are handed whole to `splitTo` (and come back scored through `addBlock`). JSON tapes are read here.
   */
  readonly splitTo?: BlockTarget;
  /**
   * A JSON tape may name its scenario, `{"scenario": ..., "loans": [...]}` (before its loans): this
   * resolves it (throwing when it is invalid or conflicts with the caller's), and the loans are scored
   * under the answer. Without it, `scenario` is not a field of a JSON tape.
   */
  readonly bodyScenario?: (spec: unknown) => Scenario;
}

/**
 * Columns (CSV) and properties (JSON) a tape may have besides the loan-record fields, each with its reader
 * (POST /pools/backtest's `default_36m`, POST /pools/lifetime's `loan_age` and `current_upb`): a CSV header
 * must name them unless they are `optional`; the value goes into the record under its name (null for an
 * optional column the header leaves out; a JSON reader is called with undefined for an absent property).
 * A Freddie Mac file has its own fixed layout and none.
 */
export interface TapeExtras {
  readonly csv: Readonly<Record<string, CellReader>>;
  readonly json: Readonly<Record<string, (value: unknown, problems: CellProblem[]) => unknown>>;
  /** CSV columns a header may leave out. */
  readonly optional?: readonly string[];
}

/** How TapeInput reads: the format (or `auto` among `candidates`), the byte limit, split mode, extras. */
export interface TapeInputOptions extends Pick<TapeOptions, 'format' | 'candidates' | 'maxBytes' | 'splitTo'> {
  readonly extra?: TapeExtras;
  /** Told the format once it is known, before a byte is read: may refuse it by throwing. */
  readonly onFormat?: (format: TapeFormat) => void;
}

export interface TapeResult extends ScoreOutcome {
  readonly format: TapeFormat;
  readonly bytes: number;
}

interface Reader {
  push(chunk: Buffer): void;
  end(): void;
}

const ALL_FORMATS: readonly TapeFormat[] = ['csv', 'freddie', 'json'];

/**
 * The format of a tape from its first bytes: JSON when the first character (after a BOM and
 * white space) is `{`, Freddie Mac's layout when the first line has at least 25 pipes, CSV otherwise.
 * Undefined while more bytes are needed to tell.
 */
export function detectFormat(
  head: Uint8Array,
  final: boolean,
  candidates: readonly TapeFormat[] = ALL_FORMATS,
): TapeFormat | undefined {
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  if (head.length < 3 && !final) return undefined;
  if (candidates.includes('json')) {
    while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
    if (i === head.length && !final) return undefined;
    if (head[i] === 0x7b || !(candidates.includes('csv') || candidates.includes('freddie'))) return 'json';
  }
  const delimited: DelimitedFormat | undefined = candidates.includes('freddie') ? detectDelimited(head, final) : 'csv';
  if (delimited === undefined) return undefined;
  return candidates.includes(delimited) ? delimited : (candidates[0] as TapeFormat);
}

/**
 * The reading half of a tape: counts bytes against the limit, tells the format from the first bytes (if
 * asked to) and hands rows to `target` (or, in split mode, a delimited tape's data records to `splitTo`).
 * TapeScorer scores what it reads; src/pool/lifetime.ts projects it.
 */
export class TapeInput {
  private readonly candidates: readonly TapeFormat[];
  private readonly maxBytes: number;
  private reader: Reader | undefined;
  private chosen: TapeFormat | undefined;
  private head: Buffer[] = [];
  private headBytes = 0;
  private received = 0;
  private delimited: DelimitedReader | undefined;

  private readonly splitTo: BlockTarget | undefined;
  private readonly extra: TapeExtras | undefined;
  private readonly onFormat: ((format: TapeFormat) => void) | undefined;

  /** `onScenario`: receives a JSON tape's own `scenario` (without it, `scenario` is not a key of a JSON tape). */
  constructor(
    private readonly target: RowTarget,
    options: TapeInputOptions,
    private readonly onScenario?: (spec: unknown) => void,
  ) {
    this.splitTo = options.splitTo;
    this.extra = options.extra;
    this.onFormat = options.onFormat;
    this.candidates = options.candidates ?? ALL_FORMATS;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    if (options.format !== 'auto') this.start(options.format);
  }

  /** The format, once known. */
  get format(): TapeFormat | undefined {
    return this.chosen;
  }

  get bytes(): number {
    return this.received;
  }

  /** Whether data records are handed on (split mode, a delimited tape) rather than read here. */
  get splitting(): boolean {
    return this.splitTo !== undefined && this.delimited !== undefined;
  }

  /** The CSV header's column names, once read. */
  get header(): readonly string[] | undefined {
    return this.delimited?.header;
  }

  push(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.maxBytes) {
      throw new TapeError('too_many_bytes', `the tape is larger than ${this.maxBytes} bytes`);
    }
    if (this.reader !== undefined) {
      this.reader.push(chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    this.detect(false);
  }

  /** The input is over: reads (or, in split mode, hands on) what is left. */
  endInput(): void {
    if (this.reader === undefined) this.detect(true);
    (this.reader as Reader).end();
  }

  /** The refusal of a tape that held no data row. */
  empty(): TapeError {
    const message =
      this.chosen === 'csv' && !this.delimited?.hasHeader
        ? 'the tape is empty (a CSV tape starts with a header row naming the loan-record fields)'
        : 'the tape holds no loans';
    return new TapeError('unreadable', message);
  }

  private detect(final: boolean): void {
    const head = this.head.length === 1 ? (this.head[0] as Buffer) : Buffer.concat(this.head);
    const format = detectFormat(head, final || this.headBytes > 64 * 1024, this.candidates);
    if (format === undefined) return;
    this.start(format);
    this.head = [];
    (this.reader as Reader).push(head);
  }

  private start(format: TapeFormat): void {
    this.chosen = format;
    this.onFormat?.(format);
    if (format === 'json') {
      this.reader = new JsonTapeReader(this.target, this.extra?.json, this.onScenario);
    } else {
      const extra = format === 'csv' ? this.extra?.csv : undefined;
      this.delimited = new DelimitedReader(format, this.splitTo ?? this.target, extra, this.extra?.optional);
      this.reader = this.delimited;
    }
  }
}

export class TapeScorer {
  private readonly scorer: PoolScorer;
  private readonly input: TapeInput;

  constructor(options: TapeOptions) {
    this.scorer = new PoolScorer(options);
    const resolve = options.bodyScenario;
    this.input = new TapeInput(
      this.scorer,
      options,
      resolve === undefined ? undefined : (spec) => this.scorer.useScenario(resolve(spec)),
    );
  }

  /** The scenario the loans are scored under, when the model reads one. */
  get scenario(): Scenario | undefined {
    return this.scorer.scenarioInUse;
  }

  /** The format, once known. */
  get format(): TapeFormat | undefined {
    return this.input.format;
  }

  get bytes(): number {
    return this.input.bytes;
  }

  get rows(): number {
    return this.scorer.rows;
  }

  get rejectedCount(): number {
    return this.scorer.rejectedCount;
  }

  push(chunk: Buffer): void {
    this.input.push(chunk);
  }

  end(): TapeResult {
    this.endInput();
    return this.result();
  }

  /** Whether data records are handed on (split mode, a delimited tape) rather than read here. */
  get splitting(): boolean {
    return this.input.splitting;
  }

  /** The CSV header's column names, once read. */
  get header(): readonly string[] | undefined {
    return this.input.header;
  }

  /** Folds a run of rows scored elsewhere (split mode); false when the tape is failing (its loans are left out). */
  addBlock(block: ScoredBlock): boolean {
    return this.scorer.addBlock(block);
  }

  /** The input is over: reads (or, in split mode, hands on) what is left. */
  endInput(): void {
    this.input.endInput();
  }

  /** The tape's figures, once every row is in (after `endInput`, and every block folded). */
  result(): TapeResult {
    if (this.scorer.rows === 0) throw this.input.empty();
    return { ...this.scorer.finish(), format: this.input.format as TapeFormat, bytes: this.input.bytes };
  }
}
