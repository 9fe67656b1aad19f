import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import {
  BacktestTape,
  type BacktestTapeOptions,
  backtestAnswer,
  TapeError,
  TapeThreads,
} from '../../src/pool/index.js';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';

/**
 * POST /pools/backtest's tape on worker threads (issue 23 "Speed"): the answer of one thread, byte for byte
 * (JSON), over many small groups and small pushes, CRLF and quoted line breaks across group boundaries,
 * refused rows under fail and skip, a challenger, `by`, `drift_by`, and baseline fields dropped from drift.
 */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
/** The shipped model with a baseline whose bins do not fit two fields (numeric edges for codes): both dropped. */
const dir = tempDir('backtest-threads-');
const document = JSON.parse(readFileSync('model-artifacts/xgboost/1.0.0.json', 'utf8'));
for (const field of ['property_state', 'channel']) {
  document.training.stability_baseline.fields[field] = { edges: [1, 2], counts: [5, 5, 5], missing: 0 };
}
writeFileSync(join(dir, 'misfit.json'), JSON.stringify(document));
const misfit = await loadModelFile(join(dir, 'misfit.json'));

const two = new TapeThreads({ size: 2, compileTrees: true, warmupMs: 0 });
const three = new TapeThreads({ size: 3, compileTrees: true, warmupMs: 0 });
afterAll(async () => {
  await Promise.all([two.close(), three.close()]);
});

const historical = checkScenario('historical').scenario as Scenario;
const loans = holdoutLoans.slice(0, 300);
/** Outcomes: mostly 0/1 from a hash of the row, some unknown (empty). */
const outcomes = loans.map((_, i) => (i % 11 === 4 ? '' : (i * 7919) % 13 < 3 ? '1' : '0'));

const NAMES = [...LOAN_FIELDS.map((f) => f.name), 'default_36m'];
function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
function tapeCsv(rows: readonly LoanRecord[], eol = '\n', labels: readonly string[] = outcomes): string {
  const lines = [NAMES.join(',')];
  rows.forEach((loan, i) => {
    lines.push(NAMES.map((n) => (n === 'default_36m' ? (labels[i] as string) : cell(loan[n]))).join(','));
  });
  return lines.join(eol) + eol;
}

const csv = tapeCsv(loans);
/** Bad rows, bad outcomes and loans the historical scenario cannot place (refused by a scenario model). */
const badLines = tapeCsv(loans.map((l, i) => (i % 23 === 9 ? { ...l, first_payment_date: 206001 } : l)))
  .trim()
  .split('\n');
for (let i = 5; i < badLines.length; i += 37) badLines[i] = 'not,a,loan';
for (let i = 17; i < badLines.length; i += 41) badLines[i] = badLines[i]?.replace(/,[01]?$/, ',2') as string;
const bad = `${badLines.join('\n')}\n`;

interface Outcome {
  answer?: string;
  refusal?: { kind: string; message: string; rejected: unknown; count: number };
  blocks: number;
  /** The most runs out at once. */
  inFlight: number;
}

async function run(
  text: string,
  model: Model,
  threads?: TapeThreads,
  options: Partial<BacktestTapeOptions> = {},
  piece = 997,
): Promise<Outcome> {
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && !('bytes' in artifact)) throw new Error(artifact.why);
  const challenger = options.challenger;
  const second = threads === undefined || challenger === undefined ? undefined : await threads.artifact(challenger);
  if (second !== undefined && !('bytes' in second)) throw new Error(second.why);
  const tape = new BacktestTape({
    model,
    scenario: historical,
    onError: 'fail',
    maxRows: 1e9,
    format: 'auto',
    chunkRows: 13,
    groupRecords: 41,
    ...options,
    ...(artifact === undefined
      ? {}
      : {
          threads: {
            pool: threads as TapeThreads,
            artifact: artifact.bytes,
            ...(second === undefined ? {} : { challenger: second.bytes }),
          },
        }),
  });
  const bytes = Buffer.from(text);
  try {
    for (let i = 0; i < bytes.length; i += piece) await tape.push(bytes.subarray(i, i + piece));
    const result = await tape.end();
    return {
      answer: JSON.stringify(backtestAnswer(result, model, 'historical', challenger)),
      blocks: tape.blocks,
      inFlight: tape.maxInFlightSeen,
    };
  } catch (err) {
    if (!(err instanceof TapeError)) throw err;
    return {
      refusal: { kind: err.kind, message: err.message, rejected: err.rejected, count: err.rejectedCount },
      blocks: tape.blocks,
      inFlight: tape.maxInFlightSeen,
    };
  }
}

async function same(text: string, model: Model, options: Partial<BacktestTapeOptions> = {}) {
  const one = await run(text, model, undefined, options);
  const [a, b] = await Promise.all([run(text, model, two, options, 4093), run(text, model, three, options, 613)]);
  expect(one.blocks).toBe(0);
  expect(a.blocks).toBeGreaterThan(3);
  // Memory: at most twice the threads' runs out at once, even when a push holds several groups (the input waits).
  expect(a.inFlight).toBeLessThanOrEqual(4);
  expect(b.inFlight).toBeLessThanOrEqual(6);
  expect({ ...a, blocks: 0, inFlight: 0 }).toEqual(one);
  expect({ ...b, blocks: 0, inFlight: 0 }).toEqual(one);
  return one;
}

describe('BacktestTape on worker threads', () => {
  it('answers what one thread answers, byte for byte: a challenger, by, drift_by, unlabelled loans', async () => {
    const one = await same(csv, xgboost, {
      challenger: lda,
      by: ['vintage', 'state', 'fico_band', 'channel'],
      driftBy: 'first_payment_month',
    });
    const answer = JSON.parse(one.answer as string);
    expect(answer.counts.labelled + answer.counts.unlabelled).toBe(300);
    expect(answer.counts.unlabelled).toBe(outcomes.filter((o) => o === '').length);
    expect(answer.challenger.model).toBe('lda');
    expect(answer.by.vintage.length).toBeGreaterThan(1);
    expect(answer.drift.by.length).toBeGreaterThan(1);
  }, 120_000);

  it('refused rows: the refusal under fail, the answer under skip, as one thread', async () => {
    const refused = await same(bad, xgboost, { by: ['vintage'] });
    expect(refused.refusal?.kind).toBe('invalid_rows');
    const skipped = await same(bad, xgboost, { onError: 'skip', by: ['vintage'], challenger: lda });
    const answer = JSON.parse(skipped.answer as string);
    expect(answer.counts.refused).toBeGreaterThan(20);
    expect(answer.counts.labelled + answer.counts.unlabelled + answer.counts.refused).toBe(300);
    const reasons = JSON.stringify(answer.rejected.rows);
    expect(reasons).toContain('default_36m');
    expect(reasons).toContain('first_payment_date');
  }, 120_000);

  it('quoted records with line breaks across group boundaries, CRLF line ends, blank lines', async () => {
    const quoted = loans.map((l, i) => ({
      ...l,
      loan_sequence_number: i % 3 === 0 ? `L${i}\n"x",\ny` : i % 3 === 1 ? `L${i},\nz` : `L${i}`,
    }));
    const text = tapeCsv(quoted, '\r\n').replace(/\r\n(L1\d,)/g, '\r\n\r\n$1');
    expect(text).toContain('\r\n\r\nL11,');
    const one = await same(text, xgboost, { by: ['vintage'], driftBy: 'vintage' });
    expect(JSON.parse(one.answer as string).counts.rows).toBe(300);
  }, 120_000);

  it('baseline fields whose bins do not fit are dropped from drift in the same order; too many rows', async () => {
    const one = await same(csv, misfit);
    const skipped = JSON.parse(one.answer as string).drift.skipped.map((s: { field: string }) => s.field);
    expect(skipped).toEqual(expect.arrayContaining(['property_state', 'channel']));
    const tooMany = await same(csv, xgboost, { maxRows: 250 });
    expect(tooMany.refusal?.kind).toBe('too_many_rows');
  }, 120_000);
});

describe('BacktestTape on one thread', () => {
  it('throws a refusal from push at once, not as a promise nobody awaits (the multipart reader pushes synchronously)', async () => {
    const { toFreddie } = await import('./helpers.js');
    const tape = new BacktestTape({
      model: xgboost,
      scenario: historical,
      onError: 'fail',
      maxRows: 1e9,
      format: 'auto',
    });
    let pushed: unknown;
    expect(() => {
      pushed = tape.push(Buffer.from(toFreddie(loans.slice(0, 3))));
    }).toThrow(/no outcome column/);
    expect(pushed).toBeUndefined();
  });
});

describe('POST /pools/backtest on worker threads', () => {
  it('answers as one thread does: CSV, JSON, refusals, a challenger', async () => {
    const json = JSON.stringify({
      loans: loans.map((l, i) => ({ ...l, default_36m: outcomes[i] === '' ? null : Number(outcomes[i]) })),
    });
    const requests = [
      { url: '/pools/backtest?by=vintage,state&drift_by=first_payment_month', payload: csv },
      { url: '/pools/backtest?challenger=lda&by=fico_band', payload: csv },
      { url: '/pools/backtest', payload: bad },
      { url: '/pools/backtest?on_error=skip&by=channel', payload: bad },
      { url: '/pools/backtest', payload: json, type: 'application/json' },
    ];
    const answers = async (threads: string) => {
      const app = await build({ POOL_THREADS: threads, MODEL_WARMUP_MS: '0' });
      const out: { status: number; body: string }[] = [];
      for (const { url, payload, type } of requests) {
        const res = await app.inject({
          method: 'POST',
          url,
          payload,
          headers: { 'content-type': type ?? 'text/csv' },
        });
        out.push({ status: res.statusCode, body: res.body });
      }
      await app.close();
      return out;
    };
    const [one, twoThreads] = await Promise.all([answers('1'), answers('2')]);
    expect(twoThreads).toEqual(one);
    expect(one.map((a) => a.status)).toEqual([200, 200, 400, 200, 200]);
  }, 120_000);
});
