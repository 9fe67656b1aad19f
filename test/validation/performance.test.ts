import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import type { CellProblem } from '../../src/pool/cells.js';
import { PerformanceOutcomes, TapeError } from '../../src/pool/index.js';
import { MultipartReader } from '../../src/pool/multipart.js';
import { emptySlots } from '../../src/pool/scorer.js';
import { TapeInput } from '../../src/pool/tape.js';
import { build } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { seededRandom } from '../helpers/random.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Outcomes from Freddie Mac performance files (issue 23): the TypeScript reader (src/pool/performance.ts)
 * labels every loan of a simulated history as the training pipeline's Python loader does
 * (scripts/loanmodel/freddie.py `load`): the same loans labelled, the same labels, the same counts of
 * defaults, non-defaults, censored and removed loans.
 */

const REPO = join(import.meta.dirname, '..', '..');

/**
 * A history of 3,000 loans (history.py, as `npm run train` simulates it), its performance file cut at
 * 2009-06 (loans of 2006–09 are observed less than 36 months: censored unless they defaulted or prepaid
 * first), every 40th loan removed with code 96 or 16 at its 12th month (its later rows dropped), some
 * statuses written `XX`, some REO codes written `9` (Freddie's one-digit variant); labels and counts by
 * freddie.load.
 */
const PYTHON = `
import json, sys
from scripts.loanmodel import freddie, history
out = sys.argv[1]
(orig, perf), _ = history.write_history(out, 3000, 7)
lines = open(perf).read().splitlines()
kept, count, skip = [], {}, set()
for line in lines:
    f = line.split('|')
    if int(f[1]) > 200906 or f[0] in skip:
        continue
    n = count[f[0]] = count.get(f[0], 0) + 1
    h = int(f[0][-5:])
    if h % 40 == 3 and n == 12 and f[8] == '':
        f[8] = '96' if h % 80 == 3 else '16'
        skip.add(f[0])
    if h % 7 == 1 and f[3] == '0':
        f[3] = 'XX'
    if f[8] == '09' and h % 2 == 0:
        f[8] = '9'
    kept.append('|'.join(f))
cut = out + '/cut_svcg.txt'
open(cut, 'w').write('\\n'.join(kept) + '\\n')
loans, stats = freddie.load([orig], [cut])
print(json.dumps({'orig': orig, 'perf': cut, 'stats': stats,
                  'labels': dict(zip(loans['loan_sequence_number'], loans['default_36m'].astype(int).tolist()))}))
`;

interface PythonSide {
  orig: string;
  perf: string;
  stats: Record<string, number>;
  labels: Record<string, number>;
}

let py: PythonSide;

beforeAll(() => {
  const out = tempDir('perf-');
  const text = execFileSync('nice', ['-n', '19', '/usr/bin/python3', '-c', PYTHON, out], {
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  py = JSON.parse(text);
}, 120_000);

/** Feeds bytes in chunks of `size` (cutting lines anywhere). */
function pushAll(sink: { push(b: Buffer): void }, bytes: Buffer, size: number): void {
  for (let i = 0; i < bytes.length; i += size) sink.push(bytes.subarray(i, i + size));
}

/** The loan records of a Freddie Mac origination file, as the tape reader reads them. */
function originations(origPath: string): Record<string, unknown>[] {
  const loans: Record<string, unknown>[] = [];
  const slots = emptySlots(1);
  const rejected: CellProblem[][] = [];
  const input = new TapeInput(
    {
      slot: () => slots[0] as Record<string, unknown>,
      accept: () => loans.push({ ...slots[0] }),
      reject: (_row, problems) => rejected.push([...problems]),
    },
    { format: 'freddie' },
  );
  pushAll(input, readFileSync(origPath), 65_536);
  input.endInput();
  expect(rejected).toEqual([]);
  return loans;
}

/** Every loan of an origination file with its label (0, 1 or null) from `outcomes`. */
function labelsOf(outcomes: PerformanceOutcomes, origPath: string): Map<string, 0 | 1 | null> {
  const labels = new Map<string, 0 | 1 | null>();
  for (const loan of originations(origPath)) {
    const o = outcomes.outcome(loan);
    if ('problem' in o) throw new Error(o.problem.message);
    labels.set(loan.loan_sequence_number as string, o.label);
  }
  return labels;
}

/** A multipart/form-data body of named parts. */
function multipart(boundary: string, parts: readonly [string, Buffer | string, string?][]): Buffer {
  const chunks: Buffer[] = [Buffer.from('preamble, ignored\r\n')];
  for (const [name, content, type] of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.txt"\r\n` +
          `${type === undefined ? '' : `Content-Type: ${type}\r\n`}\r\n`,
      ),
      Buffer.from(content),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('outcomes from Freddie Mac performance files', () => {
  it('label every loan of a simulated history as the training loader does (cross-language)', () => {
    const outcomes = new PerformanceOutcomes({ maxLoans: 1e6 });
    outcomes.startFile('perf');
    pushAll(outcomes, readFileSync(py.perf), 7_777);
    outcomes.endFile();
    const labels = labelsOf(outcomes, py.orig);
    const labelled = Object.fromEntries([...labels].filter(([, l]) => l !== null));
    expect(Object.keys(labelled).length).toBe(py.stats.labelled);
    expect(labelled).toEqual(py.labels);
    const c = outcomes.counts();
    const s = py.stats;
    expect({
      defaults: c.defaults,
      full: c.non_defaults_full_window,
      prepaid: c.non_defaults_prepaid_early,
      censored: c.censored,
      removed: c.removed,
      without: c.without_performance,
    }).toEqual({
      defaults: s.defaults,
      full: s.non_defaults_full_window,
      prepaid: s.non_defaults_prepaid_early,
      censored: s.dropped_short_history,
      removed: s.dropped_removed_other,
      without: s.without_performance,
    });
    // The cut makes every category occur, so the comparison covers each branch of the rule.
    expect(
      Math.min(c.defaults, c.non_defaults_full_window, c.non_defaults_prepaid_early, c.censored, c.removed),
    ).toBeGreaterThan(0);
  });

  it('does not depend on the order of the performance lines or how files split them', () => {
    const lines = readFileSync(py.perf, 'utf8').trimEnd().split('\n');
    const reversed = lines.slice().reverse();
    const half = Math.floor(reversed.length / 2);
    const outcomes = new PerformanceOutcomes({ maxLoans: 1e6 });
    outcomes.startFile('a');
    pushAll(outcomes, Buffer.from(`${reversed.slice(0, half).join('\r\n')}\r\n`), 1_000);
    outcomes.endFile();
    outcomes.startFile('b');
    pushAll(outcomes, Buffer.from(reversed.slice(half).join('\n')), 333); // no final line break
    outcomes.endFile();
    const labelled = Object.fromEntries([...labelsOf(outcomes, py.orig)].filter(([, l]) => l !== null));
    expect(labelled).toEqual(py.labels);
    expect(outcomes.counts()).toMatchObject({ files: 2, performance_rows: lines.length });
  });

  it('refuses a line it cannot read, naming the file, the line and the field', () => {
    const good = 'F1|200101|1000|0|1|359|||||5|0|200101|||||||||||||63||||||1000';
    const cases: [string, string, RegExp][] = [
      [`${good}\nF1|2001|1000|0`, 'perf.txt, line 2', /fields/],
      [`${good}\nF1|200113|1000|0|1|359||||`, 'perf.txt, line 2, monthly_reporting_period', /YYYYMM, got "200113"/],
      [`${good}\nF1|200102|1000|3x|1|359||||`, 'perf.txt, line 2, current_loan_delinquency_status', /got "3x"/],
      [`${good}\n\nF1|200102|1000|0|1|359|||A1|`, 'perf.txt, line 3, zero_balance_code', /got "A1"/],
      [`|200102|1000|0|1|359||||`, 'perf.txt, line 1, loan_sequence_number', /is empty/],
    ];
    for (const [text, field, message] of cases) {
      const outcomes = new PerformanceOutcomes({ maxLoans: 10 });
      outcomes.startFile('perf.txt');
      let err: unknown;
      try {
        outcomes.push(Buffer.from(text));
        outcomes.endFile();
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(TapeError);
      const e = err as TapeError;
      expect(e.kind).toBe('layout');
      expect(e.details[0]?.field).toBe(field);
      expect(e.details[0]?.message).toMatch(message);
    }
  });

  it('holds one entry a loan, refusing more loans than the limit (memory bounded by loans, not rows)', () => {
    const outcomes = new PerformanceOutcomes({ maxLoans: 2 });
    outcomes.startFile('p');
    const rows = (id: string) =>
      Array.from(
        { length: 50 },
        (_, m) => `${id}|${2001 + Math.floor(m / 12)}${String((m % 12) + 1).padStart(2, '0')}|1|0|||||`,
      ).join('\n');
    outcomes.push(Buffer.from(`${rows('A')}\n${rows('B')}\n`));
    expect(outcomes.counts()).toMatchObject({ performance_rows: 100, performance_loans: 2 });
    expect(() => outcomes.push(Buffer.from('C|200101|1|0|||||\n'))).toThrow(/more than 2 loans/);
  });

  it('refuses a loan the tape holds twice (the outcome is taken once)', () => {
    const outcomes = new PerformanceOutcomes({ maxLoans: 10 });
    outcomes.startFile('p');
    outcomes.push(Buffer.from('A|200101|1|3|||||\n'));
    const loan = { loan_sequence_number: 'A', first_payment_date: 200101 };
    expect(outcomes.outcome(loan)).toEqual({ label: 1 });
    const again = outcomes.outcome(loan);
    expect('problem' in again && again.problem.field).toBe('loan_sequence_number');
    expect(outcomes.outcome({ loan_sequence_number: 'Z', first_payment_date: 200101 })).toEqual({ label: null });
    expect(outcomes.counts()).toMatchObject({ defaults: 1, without_performance: 1 });
  });
});

describe('POST /pools/backtest and the CLI with performance files', () => {
  const BOUNDARY = 'x-perf-boundary-7';
  const post = async (body: Buffer, query = '') => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: `/pools/backtest${query}`,
      payload: body,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
    return { status: res.statusCode, body: res.json() };
  };
  const STATS = () => ({
    labelled: py.stats.labelled,
    censored: py.stats.dropped_short_history,
    removed: py.stats.dropped_removed_other,
    without_performance: py.stats.without_performance,
  });

  it("answer the report of the same loans with the loader's labels as a default_36m column, and count censored and removed loans", async () => {
    const perf = readFileSync(py.perf);
    const orig = readFileSync(py.orig);
    const r = await post(
      multipart(BOUNDARY, [
        ['performance', perf, 'text/plain'],
        ['tape', orig, 'text/plain'],
      ]),
    );
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    expect(r.body.format).toBe('freddie');
    expect(r.body.counts).toMatchObject({ ...STATS(), outcomes: 'performance', refused: 0, rows: 3000 });
    expect(r.body.counts.unlabelled).toBe(3000 - (py.stats.labelled as number));
    expect(r.body.performance).toMatchObject({ files: 1, defaults: py.stats.defaults });
    // The same loans as a JSON tape whose default_36m is the Python loader's label (null: unlabelled).
    const loans = originations(py.orig).map((loan) => ({
      ...Object.fromEntries(LOAN_FIELDS.map((f) => [f.name, loan[f.name]])),
      default_36m: py.labels[loan.loan_sequence_number as string] ?? null,
    }));
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/pools/backtest',
      payload: JSON.stringify({ loans }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode, res.body.slice(0, 500)).toBe(200);
    const column = res.json();
    for (const k of ['loans', 'defaults', 'auc', 'ks', 'gini', 'brier', 'calibration', 'psi', 'light'])
      expect(r.body[k], k).toEqual(column[k]);
    // Two performance files (the lines split between them) answer the same.
    const lines = perf.toString('utf8').trimEnd().split('\n');
    const two = await post(
      multipart(BOUNDARY, [
        ['performance', `${lines.slice(0, 5000).join('\n')}\n`],
        ['performance', lines.slice(5000).join('\n')],
        ['tape', orig],
      ]),
    );
    expect(two.body.auc).toEqual(r.body.auc);
    expect(two.body.performance.files).toBe(2);
  }, 60_000);

  it('refuse a bad body with a 400 naming the part, the line and the field', async () => {
    const orig = readFileSync(py.orig);
    const good = 'F1|200101|1000|0|1|359|||||5|0|200101|||||||||||||63||||||1000\n';
    const cases: [Buffer, string, RegExp][] = [
      [
        multipart(BOUNDARY, [
          ['performance', `${good}F1|20010|1000|0|1|359||||\n`],
          ['tape', orig],
        ]),
        'body.performance[0], line 2, monthly_reporting_period',
        /YYYYMM/,
      ],
      [
        multipart(BOUNDARY, [
          ['tape', ''],
          ['performance', good],
        ]),
        'body.performance',
        /before the tape/,
      ],
      [
        multipart(BOUNDARY, [
          ['performance', good],
          ['loans', orig],
        ]),
        'body.loans',
        /not a part/,
      ],
      [multipart(BOUNDARY, [['performance', good]]), 'body.tape', /is required/],
      [
        multipart(BOUNDARY, [
          ['performance', good],
          ['tape', orig],
        ]).subarray(0, 200),
        'body',
        /closing boundary/,
      ],
      [
        multipart(BOUNDARY, [
          ['performance', good],
          ['tape', orig],
        ]),
        'performance',
        /label no loan/,
      ],
      // A Freddie Mac tape without performance files has no outcome.
      [multipart(BOUNDARY, [['tape', orig]]), 'default_36m', /performance files/],
    ];
    for (const [body, field, message] of cases) {
      const r = await post(body);
      expect(r.status, `${field}: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(400);
      expect(r.body.details?.[0]?.field, JSON.stringify(r.body).slice(0, 300)).toBe(field);
      expect(r.body.details[0].message).toMatch(message);
    }
    const noBoundary = await (await build()).inject({
      method: 'POST',
      url: '/pools/backtest',
      payload: 'x',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(noBoundary.statusCode).toBe(400);
    expect(noBoundary.json().details[0].field).toBe('headers.content-type');
  }, 60_000);

  it('the CLI reads --performance files (exit status of the lights; 1 and the line on a bad file)', async () => {
    const out = join(tempDir('perf-cli-'), 'report.json');
    const r = await runScript('src/cli/score.ts', ['backtest', py.orig, '--performance', py.perf, '--json', out]);
    expect([0, 3, 4], r.stderr).toContain(r.code);
    expect(r.stdout).toMatch(/censored \d+, removed \d+/);
    const a = JSON.parse(readFileSync(out, 'utf8'));
    expect(a.counts).toMatchObject(STATS());
    const bad = join(tempDir('perf-bad-'), 'svcg.txt');
    writeFileSync(bad, 'F1|200101|1000|0|1|359||||\nF1|200102|1000|Z|1|359||||\n');
    const refused = await runScript('src/cli/score.ts', ['backtest', py.orig, '--performance', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${bad}, line 2, current_loan_delinquency_status`);
  }, 120_000);
});

describe('the multipart reader', () => {
  it('hands each part its bytes whatever the chunking', () => {
    const body = multipart('b0undary', [
      ['performance', 'a|b\r\n--b0undar\r\n-- not a boundary'],
      ['tape', ''],
      ['tape', Buffer.from([0, 1, 2, 13, 10, 45, 45])],
    ]);
    const read = (size: number) => {
      const parts: [string, Buffer][] = [];
      const reader = new MultipartReader('b0undary', (part) => {
        const got: Buffer[] = [];
        return {
          push: (c) => {
            got.push(Buffer.from(c));
          },
          end: () => {
            parts.push([part.name, Buffer.concat(got)]);
          },
        };
      });
      pushAll(reader, body, size);
      reader.end();
      return parts.map(([n, b]) => [n, b.toString('latin1')]);
    };
    const whole = read(body.length);
    expect(whole).toEqual([
      ['performance', 'a|b\r\n--b0undar\r\n-- not a boundary'],
      ['tape', ''],
      ['tape', '\x00\x01\x02\r\n--'],
    ]);
    for (const size of [1, 2, 3, 5, 7, 11, 13]) expect(read(size), String(size)).toEqual(whole);
  });

  it('waits for a sink that answers a promise, and reads on after it, in any pieces', async () => {
    const random = seededRandom(23);
    const tape = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256));
    const body = multipart('xYz', [
      ['scenario', '{"name": "s"}'],
      ['tape', tape],
      ['tape', 'x\r\n--xY'],
    ]);
    for (let trial = 0; trial < 40; trial++) {
      const parts: [string, Buffer][] = [];
      let open = 0; // sink promises not settled yet
      let pushedWhileOpen = 0;
      const reader = new MultipartReader('xYz', (part) => {
        const got: Buffer[] = [];
        return {
          push: (c) => {
            if (open > 0) pushedWhileOpen++;
            got.push(Buffer.from(c));
            if (random() < 0.5) return undefined;
            open++;
            return new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
              open--;
            });
          },
          end: () => {
            if (open > 0) pushedWhileOpen++;
            parts.push([part.name, Buffer.concat(got)]);
          },
        };
      });
      let waits = 0;
      for (let i = 0; i < body.length; ) {
        const size = 1 + Math.floor(random() * 700);
        const wait = reader.push(body.subarray(i, i + size));
        if (wait !== undefined) {
          waits++;
          // Pushing again before the promise settles is a caller's error, refused.
          expect(() => reader.push(Buffer.alloc(1))).toThrow(/before its last promise settled/);
          await wait;
        }
        i += size;
      }
      reader.end();
      expect(waits).toBeGreaterThan(0);
      expect(pushedWhileOpen).toBe(0);
      expect(parts.map(([n, b]) => [n, b.toString('latin1')])).toEqual([
        ['scenario', '{"name": "s"}'],
        ['tape', tape.toString('latin1')],
        ['tape', 'x\r\n--xY'],
      ]);
    }
  });
});
