import { checkLoan } from '../loan/validate.js';
import { describeValue } from '../runtime/index.js';
import type { CellProblem } from './cells.js';
import { MAX_RECORD_BYTES } from './delimited.js';
import { TapeError } from './errors.js';
import type { RowTarget } from './scorer.js';

/**
 * Streaming reader of a JSON tape, `{"loans": [ {...}, {...} ]}`: the same loan records as /predict
 * takes, read loan by loan as the bytes arrive. The outer object and the array are scanned here; each
 * element, once its closing brace has arrived, is handed to `JSON.parse` on its own, so memory holds
 * one loan, never the body (a 1 GiB body would not even fit in one JavaScript string). Rows are the
 * element's index in `loans`, as /predict names batch fields (`loans[3].credit_score`).
 *
 * With `onScenario`, the tape may name its house-price scenario, `{"scenario": ..., "loans": [...]}`:
 * before `loans` (the loans are scored as they are read), at most MAX_SCENARIO_BYTES, handed over parsed.
 */

/** Most bytes of a tape's own `scenario` (a custom path: 60 states of 40 quarters at full precision fit). */
export const MAX_SCENARIO_BYTES = 64 * 1024;

/** Where the scanner is in `{"loans": [ ... ]}`. */
const S = {
  start: 0,
  keyOrEnd: 1,
  key: 2,
  inKey: 3,
  colon: 4,
  value: 5,
  elementOrEnd: 6,
  element: 7,
  inElement: 8,
  afterElement: 9,
  afterValue: 10,
  done: 11,
} as const;
type State = (typeof S)[keyof typeof S];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonTapeReader {
  private state: State = S.start;
  private started = false;
  private head: Buffer | undefined;
  /** Bytes of the key or element being read, from earlier chunks. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Element scan: nesting depth (0 for a scalar), inside a string, after a backslash, a bare scalar. */
  private depth = 0;
  private inString = false;
  private escaped = false;
  private bare = false;
  private index = 0;
  private consumed = 0;
  private sawLoans = false;
  private key = '';
  private readonly problems: CellProblem[] = [];
  /** The value being scanned is the tape's `scenario`, not a loan. */
  private inScenario = false;
  private sawScenario = false;

  private readonly allow: ReadonlySet<string> | undefined;

  /**
   * `extraFields`: properties a loan may have besides the loan-record fields (POST /pools/backtest's
   * `default_36m`), each read into the record under its name (its value undefined when absent).
   * `onScenario`: receives the tape's own `scenario`, parsed (without it, `scenario` is not a tape key).
   */
  constructor(
    private readonly target: RowTarget,
    private readonly extraFields: Readonly<Record<string, (value: unknown, problems: CellProblem[]) => unknown>> = {},
    private readonly onScenario?: (spec: unknown) => void,
  ) {
    const names = Object.keys(extraFields);
    this.allow = names.length > 0 ? new Set(names) : undefined;
  }

  /** What the value being scanned is, for messages, and its length limit. */
  private get valueName(): string {
    return this.inScenario ? 'scenario' : `loans[${this.index}]`;
  }
  private get valueLimit(): number {
    return this.inScenario ? MAX_SCENARIO_BYTES : MAX_RECORD_BYTES;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (!this.started) {
      // A UTF-8 BOM is skipped; wait for three bytes to tell.
      buf = this.head === undefined ? chunk : Buffer.concat([this.head, chunk]);
      this.head = undefined;
      if (buf.length < 3) {
        this.head = buf;
        return;
      }
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    this.scan(buf);
    this.consumed += buf.length;
  }

  end(): void {
    if (this.head !== undefined) {
      const head = this.head;
      this.head = undefined;
      this.started = true;
      this.scan(head);
      this.consumed += head.length;
    }
    if (this.state === S.start && this.consumed === 0) this.fail('the body is empty');
    if (this.state !== S.done) this.fail('the body ends before the JSON is complete');
  }

  private fail(message: string, at?: number): never {
    const where = at === undefined ? '' : ` (byte ${this.consumed + at})`;
    throw new TapeError('unreadable', `the body is not a valid JSON tape: ${message}${where}`);
  }

  private unexpected(c: number, at: number, wanted: string): never {
    this.fail(`expected ${wanted}, found ${JSON.stringify(String.fromCharCode(c))}`, at);
  }

  private keep(buf: Buffer, start: number, end: number): void {
    if (end > start) {
      this.parts.push(Buffer.from(buf.subarray(start, end)));
      this.partBytes += end - start;
    }
    if (this.partBytes > this.valueLimit) this.fail(`${this.valueName} is longer than ${this.valueLimit} bytes`);
  }

  private take(buf: Buffer, start: number, end: number): string {
    const text =
      this.parts.length === 0
        ? buf.toString('utf8', start, end)
        : Buffer.concat([...this.parts, buf.subarray(start, end)]).toString('utf8');
    this.parts = [];
    this.partBytes = 0;
    return text;
  }

  private scan(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    let tokenStart = 0;
    while (i < n) {
      const c = buf[i] as number;
      switch (this.state) {
        case S.inKey: {
          if (this.escaped) this.escaped = false;
          else if (c === BACKSLASH) this.escaped = true;
          else if (c === QUOTE) {
            this.key = this.parseKey(this.take(buf, tokenStart, i), i);
            this.state = S.colon;
          }
          i++;
          continue;
        }
        case S.inElement: {
          // The hot loop: every byte of every loan passes here.
          let j = i;
          let complete = -1;
          let depth = this.depth;
          let inString = this.inString;
          let escaped = this.escaped;
          if (this.bare) {
            // A bare loan ends at "," or "]"; a bare scenario (a top-level value) at "," or "}".
            const close = this.inScenario ? 0x7d : 0x5d;
            while (j < n) {
              const b = buf[j] as number;
              if (b === 0x2c || b === close || isSpace(b)) {
                complete = j;
                break;
              }
              j++;
            }
          } else {
            while (j < n) {
              const b = buf[j] as number;
              j++;
              if (inString) {
                if (escaped) escaped = false;
                else if (b === BACKSLASH) escaped = true;
                else if (b === QUOTE) {
                  inString = false;
                  if (depth === 0) {
                    complete = j;
                    break;
                  }
                }
              } else if (b === QUOTE) inString = true;
              else if (b === 0x7b || b === 0x5b) depth++;
              else if (b === 0x7d || b === 0x5d) {
                if (--depth === 0) {
                  complete = j;
                  break;
                }
              }
            }
          }
          this.depth = depth;
          this.inString = inString;
          this.escaped = escaped;
          if (complete === -1) {
            this.keep(buf, tokenStart, n);
            tokenStart = n;
            i = n;
            continue;
          }
          if (this.partBytes + (complete - tokenStart) > this.valueLimit) {
            this.fail(`${this.valueName} is longer than ${this.valueLimit} bytes`);
          }
          if (this.inScenario) {
            this.inScenario = false;
            this.scenario(this.take(buf, tokenStart, complete), complete);
            this.state = S.afterValue;
          } else {
            this.element(this.take(buf, tokenStart, complete), complete);
            this.state = S.afterElement;
          }
          i = complete;
          continue;
        }
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      switch (this.state) {
        case S.start:
          if (c !== 0x7b) {
            const what = c === 0x5b ? 'an array' : 'something else';
            throw new TapeError('layout', `the body must be {"loans": [...]}, got ${what}`, {
              details: [{ field: 'body', message: `must be a JSON object {"loans": [...]}, got ${what}` }],
            });
          }
          this.state = S.keyOrEnd;
          break;
        case S.keyOrEnd:
        case S.key:
          if (c === 0x7d && this.state === S.keyOrEnd) {
            this.state = S.done;
            if (!this.sawLoans) this.missingLoans();
          } else if (c === QUOTE) {
            this.state = S.inKey;
            tokenStart = i + 1;
          } else this.unexpected(c, i, 'a field name');
          break;
        case S.colon:
          if (c !== 0x3a) this.unexpected(c, i, '":"');
          this.state = S.value;
          break;
        case S.value: {
          const key = this.key;
          if (key === 'scenario' && this.onScenario !== undefined) {
            if (this.sawLoans) {
              const message = 'must come before loans: the loans are scored as they are read';
              throw new TapeError('layout', `scenario ${message}`, { details: [{ field: 'scenario', message }] });
            }
            if (this.sawScenario) this.fail('"scenario" appears twice', i);
            this.sawScenario = true;
            this.inScenario = true;
            tokenStart = i;
            i += this.startValue(c);
            continue;
          }
          if (key !== 'loans') {
            const message = 'is not a known field of a JSON tape ({"loans": [...]}; choose the model with ?model=)';
            throw new TapeError('layout', `${key.slice(0, 64)} ${message}`, {
              details: [{ field: key.slice(0, 64), message }],
            });
          }
          if (this.sawLoans) this.fail('"loans" appears twice', i);
          if (c !== 0x5b) {
            throw new TapeError('layout', 'loans must be an array of loans', {
              details: [{ field: 'loans', message: 'must be an array of loans' }],
            });
          }
          this.sawLoans = true;
          this.state = S.elementOrEnd;
          break;
        }
        case S.elementOrEnd:
        case S.element:
          if (c === 0x5d && this.state === S.elementOrEnd) {
            this.state = S.afterValue;
            break;
          }
          if (c === 0x2c || c === 0x5d) this.unexpected(c, i, 'a loan');
          tokenStart = i;
          i += this.startValue(c);
          continue;
        case S.afterElement:
          if (c === 0x2c) this.state = S.element;
          else if (c === 0x5d) this.state = S.afterValue;
          else this.unexpected(c, i, '"," or "]"');
          break;
        case S.afterValue:
          if (c === 0x2c) this.state = S.key;
          else if (c === 0x7d) {
            this.state = S.done;
            if (!this.sawLoans) this.missingLoans();
          } else this.unexpected(c, i, '"," or "}"');
          break;
        case S.done:
          this.unexpected(c, i, 'the end of the body');
      }
      i++;
    }
    // A key or element that began in this chunk (perhaps on its last byte) goes on in the next one.
    if (this.state === S.inKey || this.state === S.inElement) this.keep(buf, tokenStart, n);
  }

  /** Starts scanning a value whose first byte is `c`; answers the bytes taken (1, or 0 for a bare scalar). */
  private startValue(c: number): number {
    this.state = S.inElement;
    this.depth = 0;
    this.inString = c === QUOTE;
    this.escaped = false;
    this.bare = !(c === 0x7b || c === 0x5b || c === QUOTE);
    if (this.bare) return 0;
    if (c !== QUOTE) this.depth = 1;
    return 1;
  }

  /** The tape's `scenario`, parsed and handed over (which checks it). */
  private scenario(text: string, at: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.fail(`scenario: ${(err as Error).message}`, at);
    }
    this.onScenario?.(value);
  }

  private missingLoans(): never {
    throw new TapeError('layout', 'loans is required', {
      details: [{ field: 'loans', message: 'is required: a JSON tape is {"loans": [...]}' }],
    });
  }

  private parseKey(raw: string, at: number): string {
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      this.fail('a field name is not a valid JSON string', at);
    }
  }

  /** One element of `loans`: parsed, checked against the loan record, handed to the target. */
  private element(text: string, at: number): void {
    const row = this.index++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.fail(`loans[${row}]: ${(err as Error).message}`, at);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.target.reject(row, [{ field: '', message: `must be a loan (a JSON object), got ${describeValue(value)}` }]);
      return;
    }
    const loan = value as Record<string, unknown>;
    const problems = this.problems;
    problems.length = 0;
    // The loan validator's checks (src/loan/validate.ts), the normalised values written to the slot.
    const slot = this.target.slot();
    checkLoan(loan, problems, { into: slot, ...(this.allow ? { allow: this.allow } : {}) });
    for (const [name, read] of Object.entries(this.extraFields)) {
      slot[name] = read(Object.hasOwn(loan, name) ? loan[name] : undefined, problems);
    }
    if (problems.length === 0) this.target.accept(row);
    else this.target.reject(row, problems.slice(), loan.loan_sequence_number);
  }
}
