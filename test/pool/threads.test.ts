import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PoolAggregator } from '../../src/pool/aggregate.js';
import { DelimitedReader } from '../../src/pool/delimited.js';
import {
  GROUP_RECORDS,
  poolAnswer,
  ResultBuffer,
  TapeError,
  TapeRun,
  type TapeRunOptions,
  TapeThreads,
} from '../../src/pool/index.js';
import { PoolScorer } from '../../src/pool/scorer.js';
import { Stratifier } from '../../src/pool/strata.js';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { holdoutLoans } from '../helpers/app.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { toCsv, toFreddie } from './helpers.js';

/**
 * Tapes on worker threads give the one-thread answer, byte for byte: the summary, the per-loan CSV
 * and JSON, the refusals and their rows, over many run boundaries (small runs, small pushes).
 */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
const scenarioModels = scenarioModelDir();
const housePrices = await loadModelFile(join(scenarioModels, 'house_prices', '1.0.0.json'));
/** A model that reads no scenario feature (the shipped ones all read them). */
const plainModel = await loadModelFile(join(scenarioModels, 'plain', '1.0.0.json'));
const two = new TapeThreads({ size: 2, compileTrees: true });
const three = new TapeThreads({ size: 3, compileTrees: true });
afterAll(async () => {
  await Promise.all([two.close(), three.close()]);
});

interface Outcome {
  answer?: string;
  csv?: string;
  json?: string;
  lines?: string;
  refusal?: { kind: string; message: string; rejected: unknown; count: number; details: unknown };
  blocks: number;
  maxInFlight: number;
}

/** Scores `text` pushed `piece` bytes at a time; on `threads` when given. */
async function run(
  text: string | Buffer,
  options: Partial<TapeRunOptions> & { model?: Model } = {},
  threads?: TapeThreads,
  piece = 997,
): Promise<Outcome> {
  const model = options.model ?? xgboost;
  const results = new ResultBuffer(model.decisionThreshold, options.reasons === true);
  const lines: string[] = [];
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && !('bytes' in artifact)) throw new Error(artifact.why);
  const tape = new TapeRun({
    model,
    lgd: 0.35,
    onError: 'fail',
    maxRows: 1e9,
    format: 'auto',
    results,
    onLines: (t) => lines.push(typeof t === 'string' ? t : Buffer.from(t).toString('utf8')),
    blockBytes: 1500,
    // Small groups of records: the stratification's sums are folded over many group boundaries.
    groupRecords: 8,
    ...options,
    ...(threads === undefined || artifact === undefined
      ? {}
      : { threads: { pool: threads, artifact: artifact.bytes } }),
  });
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const stats = () => ({ blocks: tape.blocks, maxInFlight: tape.maxInFlightSeen });
  try {
    for (let i = 0; i < bytes.length; i += piece) {
      const wait = tape.push(bytes.subarray(i, i + piece));
      if (wait !== undefined) await wait;
    }
    const result = await tape.end();
    const answer = poolAnswer(model, 0.35, result);
    return {
      answer: JSON.stringify(answer),
      csv: [...results.csv(7)].join(''),
      json: [...results.json(5)].join(''),
      lines: lines.join(''),
      ...stats(),
    };
  } catch (err) {
    if (!(err instanceof TapeError)) throw err;
    return {
      refusal: {
        kind: err.kind,
        message: err.message,
        rejected: err.rejected,
        count: err.rejectedCount,
        details: err.details,
      },
      ...stats(),
    };
  }
}

/** The same tape on one, two and three threads: the same outcome; answers how many runs went out. */
async function same(text: string | Buffer, options: Partial<TapeRunOptions> & { model?: Model } = {}, piece = 997) {
  const one = await run(text, options, undefined, piece);
  const [a, b] = await Promise.all([run(text, options, two, piece), run(text, options, three, piece)]);
  const strip = ({ blocks: _b, maxInFlight: _m, ...rest }: Outcome) => rest;
  expect(strip(a)).toEqual(strip(one));
  expect(strip(b)).toEqual(strip(one));
  return { one, threaded: a };
}

/** The pool figures of an answer (its PoolAggregator figures, in their order). */
const poolFigures = (answer: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(new PoolAggregator(0.35).figures()).map((k) => [k, answer[k]]));

const loans = holdoutLoans.slice(0, 600);
const csv = toCsv(loans);

function withIds(rows: readonly LoanRecord[], id: (i: number) => string): LoanRecord[] {
  return rows.map((l, i) => ({ ...l, loan_sequence_number: id(i) }));
}

// The first test waits for five worker threads to start from the TypeScript sources (through tsx) and load
// the model: about a second each on an idle machine, far more on a loaded one; a bound, not a timing.
describe('tapes on worker threads', { timeout: 60_000 }, () => {
  it('give the one-thread answer for a CSV tape, cut into many runs', async () => {
    const { one, threaded } = await same(csv);
    expect(one.answer).toContain('"loan_count":600');
    expect(threaded.blocks).toBeGreaterThan(20);
  });

  it('give the one-thread answer with CRLF, a byte order mark, no last line feed, blank lines', async () => {
    const crlf = toCsv(loans, '\r\n');
    await same(`\ufeff${crlf.slice(0, -2)}`);
    const lines = csv.split('\n');
    await same(`\n\n${lines.slice(0, 100).join('\n')}\n\n  \n${lines.slice(100).join('\n')}`);
  });

  it('give the one-thread answer with quoted fields holding commas, quotes and line breaks', async () => {
    const odd = withIds(loans, (i) =>
      i % 7 === 0 ? `ID,${i}\n"q"\r\nx` : i % 11 === 0 ? `=SUM(${i})` : i % 13 === 0 ? `é${i}` : `L${i}`,
    );
    await same(toCsv(odd));
    await same(toCsv(odd, '\r\n'), {}, 61);
    // A quote never closed: the rest of the tape is one record, refused the same way.
    await same(`${toCsv(loans.slice(0, 50)).trim()}\n"unclosed,${'x'.repeat(30)}\n${toCsv(loans.slice(0, 50))}`);
  });

  it('give the one-thread answer with invalid rows, skipped or failing the tape', async () => {
    const lines = csv.trim().split('\n');
    for (let i = 5; i < lines.length; i += 37)
      lines[i] = i % 2 ? 'not,a,loan' : (lines[i] as string).replace(/,\d+,/, ',abc,');
    const bad = `${lines.join('\n')}\n`;
    const skipped = await same(bad, { onError: 'skip' });
    expect(skipped.one.answer).toMatch(/"rejected":\{"count":17/);
    const failed = await same(bad, { onError: 'fail', maxListed: 5 });
    expect(failed.one.refusal?.kind).toBe('invalid_rows');
    expect(failed.one.refusal?.count).toBe(17);
  });

  it('give the one-thread answer for Freddie Mac tapes, other models and reasons', async () => {
    await same(toFreddie(loans));
    await same(csv, { model: lda });
    const { one } = await same(toCsv(loans.slice(0, 60)), { reasons: true });
    expect(one.json).toContain('"reasons":[{"code":');
  });

  it('give the one-thread answer for a scenario model, under a preset, a custom path and historical', async () => {
    const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
    const custom = resolve({
      name: 'mine',
      national: new Array(16).fill(-0.03),
      states: { CA: new Array(12).fill(-0.08) },
    });
    for (const scenario of [resolve('severely_adverse'), custom]) {
      const { one } = await same(csv, { model: housePrices, scenario });
      // Each loan scored on its record with the scenario's features (the model's margin is known).
      const expected = loans.map((l) => 1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(l, scenario)))));
      const pd = (one.csv as string)
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split(',')[2]));
      for (const [i, p] of pd.entries()) expect(p).toBeCloseTo(expected[i] as number, 14);
      expect(one.answer).toContain(`"scenario":"${scenario.name}"`);
    }
    // historical: a loan whose first payment is outside the market is a rejected row, the same on every thread.
    const outside = loans.map((l, i) => (i % 50 === 7 ? { ...l, first_payment_date: 202501 } : l));
    const skipped = await same(toCsv(outside), {
      model: housePrices,
      scenario: resolve('historical'),
      onError: 'skip',
    });
    expect(skipped.one.answer).toMatch(
      /"rejected":\{"count":12,"rows":\[\{"row":9,"loan_sequence_number":"[^"]*","problems":\[\{"field":"line 9, first_payment_date"/,
    );
    const failed = await same(toCsv(outside), { model: housePrices, scenario: resolve('historical') });
    expect(failed.one.refusal?.count).toBe(12);
    // A model without scenario features ignores the scenario, and its answer names none.
    const plain = await same(csv, { model: plainModel, scenario: resolve('adverse') });
    expect(plain.one.answer).toBe((await run(csv, { model: plainModel })).answer);
    expect(plain.one.answer).not.toContain('"scenario"');
  }, 60_000);

  it('refuse as one thread does: too many rows, too many bytes, a record too long, empty tapes', async () => {
    await same(csv, { maxRows: 333 });
    await same(csv, { maxBytes: 40_000 });
    await same(csv, { maxBytes: 40_000, maxRows: 100 });
    await same(`${csv}${'9'.repeat(1024 * 1024 + 10)}`, {}, 64 * 1024);
    await same('');
    await same('\ufeff');
    await same(csv.split('\n')[0] as string);
    await same('credit_score,nonsense\n1,2\n');
  });

  it('add no loan to the pool figures or the stratification on this thread: the workers sum each group', async () => {
    const adds = [vi.spyOn(Stratifier.prototype, 'add'), vi.spyOn(PoolAggregator.prototype, 'add')];
    const merges = [vi.spyOn(Stratifier.prototype, 'merge'), vi.spyOn(PoolAggregator.prototype, 'merge')];
    try {
      const threaded = await run(csv, { groupRecords: 16 }, two);
      expect(threaded.answer).toContain('"loan_count":600');
      expect(threaded.answer).toContain('"stratification":{"loans":600');
      // Worker threads have their own copies of the classes: these count this thread's calls only.
      for (const add of adds) expect(add).not.toHaveBeenCalled();
      // One sum a group of 16 records (600 loans).
      for (const merge of merges) expect(merge).toHaveBeenCalledTimes(Math.ceil(600 / 16));
    } finally {
      for (const spy of [...adds, ...merges]) spy.mockRestore();
    }
  });

  it('fold the sums group by group in input order: the same bits on 1, 2 and 3 threads, not as runs arrive', async () => {
    // 20,000 records: three groups of GROUP_RECORDS, refused rows in each, skipped.
    const many = withIds(
      Array.from({ length: 20_000 }, (_, i) => holdoutLoans[i % holdoutLoans.length] as LoanRecord),
      (i) => `M${i}`,
    );
    const lines = toCsv(many).trim().split('\n');
    for (let i = 1_000; i < lines.length; i += 2_999) lines[i] = 'not,a,loan';
    const tape = `${lines.join('\n')}\n`;
    const options = { onError: 'skip' as const, groupRecords: GROUP_RECORDS, blockBytes: 64 * 1024, reasons: false };
    const { one, threaded } = await same(tape, options, 256 * 1024);
    expect(threaded.blocks).toBe(3);
    const answer = JSON.parse(one.answer as string);
    expect(answer.rejected.count).toBe(7);
    expect(answer.loan_count).toBe(20_000 - 7);
    expect(answer.stratification.loans).toBe(20_000 - 7);
    // The groups' sums, as the workers answer them; added in input order they give the answer's figures...
    const scorer = new PoolScorer({ model: xgboost, lgd: 0.35, onError: 'skip', maxRows: 1e9, parts: true });
    const reader = new DelimitedReader('csv', scorer);
    reader.push(Buffer.from(tape));
    reader.end();
    scorer.finish();
    const parts = scorer.takeParts();
    // Records 0 to 19,999 (lines 2 to 20,001: the header is line 1), three refused in each of the first two
    // groups, one in the last.
    expect(parts.map((p) => p.pool.count)).toEqual([8192 - 3, 8192 - 3, 3616 - 1]);
    const folded = (order: readonly number[]) => {
      const pool = new PoolAggregator(0.35);
      const strata = new Stratifier();
      for (const i of order) {
        const part = parts[i] as (typeof parts)[number];
        pool.merge(part.pool);
        strata.merge(part.strata as NonNullable<typeof part.strata>);
      }
      return { pool: JSON.stringify(pool.figures()), strata: JSON.stringify(strata.figures()) };
    };
    const inOrder = folded([0, 1, 2]);
    expect(inOrder.strata).toBe(JSON.stringify(answer.stratification));
    expect(inOrder.pool).toBe(JSON.stringify(poolFigures(answer)));
    // ...and in another order (as runs might arrive) other bits: so the equality above is no luck. ((a + b) + c
    // against (a + c) + b and (b + c) + a: two sums in either order are the same, addition being commutative.)
    for (const order of [
      [0, 2, 1],
      [1, 2, 0],
    ]) {
      const other = folded(order);
      expect(other.strata).not.toBe(inOrder.strata);
      expect(other.pool).not.toBe(inOrder.pool);
    }
  }, 120_000);

  it('keep at most the bound of runs out at a time', async () => {
    const big = toCsv(holdoutLoans.slice(0, 3000));
    const out = await run(big, { maxInFlight: 2 }, two, 500);
    expect(out.blocks).toBeGreaterThan(50);
    expect(out.maxInFlight).toBeLessThanOrEqual(2);
    expect(out.maxInFlight).toBeGreaterThan(0);
  });

  it('cut a tape that comes in one piece (a request injected whole) into runs too, the bound out at a time', async () => {
    const big = toCsv(holdoutLoans.slice(0, 3000));
    const [one, whole] = await Promise.all([
      run(big, { maxInFlight: 2 }, undefined, big.length),
      run(big, { maxInFlight: 2 }, two, big.length),
    ]);
    expect(whole.answer).toBe(one.answer);
    expect(whole.lines).toBe(one.lines);
    expect(whole.blocks).toBeGreaterThan(50);
    expect(whole.maxInFlight).toBeLessThanOrEqual(2);
  });
});

describe('the same loans in any layout', { timeout: 60_000 }, () => {
  it('are summed by groups of records, not of lines: CSV, Freddie Mac and JSON answer the same figures', async () => {
    // Groups of 8 records: a CSV tape's header, its blank lines and its quoted line breaks shift its lines
    // against the records; a Freddie Mac file has no header; a JSON tape has no lines at all.
    const many = Array.from({ length: 10_000 }, (_, i) => holdoutLoans[(i * 7) % holdoutLoans.length] as LoanRecord);
    const ids = withIds(many, (i) => (i % 9 === 4 ? `ID ${i}\nsecond line` : `L${i}`));
    const rows = toCsv(ids).split(/\n(?=\d|[A-Z])/);
    const spaced = rows.map((r, i) => (i % 5 === 3 ? `\n  \r\n${r}` : r)).join('\n');
    const figures = (o: Outcome) => {
      const { format: _f, ...rest } = JSON.parse(o.answer as string);
      return rest;
    };
    const options = { groupRecords: 8, blockBytes: 16_000 };
    const csvAnswer = figures((await same(spaced, options)).one);
    expect(csvAnswer.loan_count).toBe(10_000);
    expect(figures((await same(toFreddie(many), options)).one)).toEqual(csvAnswer);
    expect(figures(await run(JSON.stringify({ loans: ids }), options))).toEqual(csvAnswer);
    expect(figures((await same(toCsv(many), options)).one)).toEqual(csvAnswer);
  });
});

describe('a tape worker that crashes', { timeout: 60_000 }, () => {
  it('fails its tape with an error (not a refusal), is replaced, and the next tape succeeds', async () => {
    const threads = new TapeThreads({ size: 2, compileTrees: true, crashMarker: 'CRASH-NOW' });
    try {
      const crashing = toCsv(withIds(loans, (i) => (i === 400 ? 'CRASH-NOW' : `L${i}`)));
      await expect(run(crashing, {}, threads)).rejects.toThrow(/tape worker stopped/);
      expect(threads.replaced).toBe(1);
      const after = await run(csv, {}, threads);
      expect(after.answer).toBe((await run(csv)).answer);
    } finally {
      await threads.close();
    }
  });
});

describe('tape workers that cannot start', () => {
  it('are not started again and again: the tapes stay on one thread, saying why', async () => {
    let started = 0;
    const logged: string[] = [];
    const threads = new TapeThreads({
      size: 2,
      compileTrees: true,
      log: (m) => logged.push(m),
      spawn: () => {
        started++;
        return new Worker('throw new Error("no worker here")', { eval: true });
      },
    });
    try {
      const artifact = await threads.artifact(xgboost);
      expect(artifact).toEqual({
        // Two workers fail at once: whichever reports first names the reason, its error or its exit.
        why: expect.stringMatching(
          /^tape worker threads cannot start: a worker (failed: no worker here|stopped \(exit code 1\))/,
        ),
      });
      expect(started).toBeLessThanOrEqual(2);
      expect(logged.length).toBeGreaterThan(0);
    } finally {
      await threads.close();
    }
  });
});
