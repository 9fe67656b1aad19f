import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TapeError, TapeThreads } from '../../src/pool/index.js';
import { type LifetimeOptions, LifetimeTape } from '../../src/pool/lifetime.js';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { scenarioModelDir } from '../helpers/scenario-model.js';
import { toCsv, toFreddie } from './helpers.js';

/**
 * POST /pools/lifetime's tape on worker threads (issue 22 "Speed"): the answer of one thread, bit for bit,
 * over many groups (small groups, small pushes), under several scenarios, with unplaced loans and rejected
 * rows, for a scenario-conditional model and one that reads no scenario.
 */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const plain = await loadModelFile(join(scenarioModelDir(), 'plain', '1.0.0.json'));
const houses = await loadModelFile(join(scenarioModelDir(), 'house_prices', '1.0.0.json'));
const two = new TapeThreads({ size: 2, compileTrees: true, warmupMs: 0 });
const three = new TapeThreads({ size: 3, compileTrees: true, warmupMs: 0 });
afterAll(async () => {
  await Promise.all([two.close(), three.close()]);
});

const ALL = ['baseline', 'adverse', 'severely_adverse', 'historical'].map((n) => checkScenario(n).scenario as Scenario);
const loans = holdoutLoans.slice(0, 300);
/** Loans outside the historical market (projected on flat house prices by a model that reads no scenario). */
const late = loans.map((l, i) => (i % 7 === 3 ? { ...l, first_payment_date: 202406 } : l));
const csv = toCsv(late);
const badLines = csv.trim().split('\n');
for (let i = 5; i < badLines.length; i += 37) badLines[i] = 'not,a,loan';
const bad = `${badLines.join('\n')}\n`;

interface Outcome {
  answer?: string;
  refusal?: { kind: string; message: string; rejected: unknown; count: number };
  blocks: number;
}

async function run(
  text: string,
  model: Model,
  threads?: TapeThreads,
  options: Partial<LifetimeOptions> = {},
  piece = 997,
): Promise<Outcome> {
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && !('bytes' in artifact)) throw new Error(artifact.why);
  const tape = new LifetimeTape({
    model,
    scenarios: ALL,
    loss: { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 },
    onError: 'fail',
    maxRows: 1e9,
    format: 'auto',
    chunkRows: 13,
    groupRecords: 41,
    asOf: 202001,
    ...options,
    ...(artifact === undefined ? {} : { threads: { pool: threads as TapeThreads, artifact: artifact.bytes } }),
  });
  const bytes = Buffer.from(text);
  try {
    for (let i = 0; i < bytes.length; i += piece) await tape.push(bytes.subarray(i, i + piece));
    const result = await tape.end();
    return { answer: JSON.stringify(result), blocks: tape.blocks };
  } catch (err) {
    if (!(err instanceof TapeError)) throw err;
    return {
      refusal: { kind: err.kind, message: err.message, rejected: err.rejected, count: err.rejectedCount },
      blocks: tape.blocks,
    };
  }
}

async function same(text: string, model: Model, options: Partial<LifetimeOptions> = {}) {
  const one = await run(text, model, undefined, options);
  const [a, b] = await Promise.all([run(text, model, two, options, 4093), run(text, model, three, options, 613)]);
  expect(one.blocks).toBe(0);
  expect(a.blocks).toBeGreaterThan(3);
  expect({ ...a, blocks: 0 }).toEqual(one);
  expect({ ...b, blocks: 0 }).toEqual(one);
  return one;
}

describe('LifetimeTape on worker threads', () => {
  it('answers what one thread answers, bit for bit: the shipped model under the four scenarios', async () => {
    const one = await same(toCsv(loans), xgboost);
    const answer = JSON.parse(one.answer as string);
    expect(answer.loanCount).toBe(300);
    expect(answer.scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(ALL.map((s) => s.name));
    // The scenarios differ (a scenario-conditional model: a PD per scenario).
    expect(answer.scenarios[0].expected_loss_lifetime).not.toBe(answer.scenarios[2].expected_loss_lifetime);
  }, 120_000);

  it('a model that reads no scenario: unplaced loans flagged and listed in input order', async () => {
    const one = await same(csv, plain);
    const answer = JSON.parse(one.answer as string);
    const historical = answer.scenarios[3];
    expect(historical.unplaced.count).toBe(late.filter((l) => l.first_payment_date === 202406).length);
    expect(historical.unplaced.rows.slice(0, 3)).toEqual([5, 12, 19]);
  }, 120_000);

  it('a scenario-conditional model refuses the loans a scenario cannot place, and bad rows, as one thread', async () => {
    const refused = await same(bad, houses);
    expect(refused.refusal?.kind).toBe('invalid_rows');
    const skipped = await same(bad, houses, { onError: 'skip' });
    const answer = JSON.parse(skipped.answer as string);
    expect(answer.rejectedCount).toBeGreaterThan(8);
    expect(answer.loanCount + answer.rejectedCount).toBe(300);
  }, 120_000);

  it('Freddie Mac tapes, one scenario, too many rows', async () => {
    await same(toFreddie(loans), xgboost, { scenarios: [ALL[1] as Scenario] });
    const tooMany = await same(toCsv(loans), plain, { maxRows: 250 });
    expect(tooMany.refusal?.kind).toBe('too_many_rows');
  }, 120_000);

  it('quoted records with line breaks across group boundaries, CRLF line ends, blank lines', async () => {
    // Identifiers of 1 to 3 lines: records on both sides of many group boundaries (41 records).
    const quoted = loans.map((l, i) => ({
      ...l,
      loan_sequence_number: i % 3 === 0 ? `L${i}\n"x",\ny` : i % 3 === 1 ? `L${i},\nz` : `L${i}`,
    }));
    const text = toCsv(quoted, '\r\n').replace(/\r\n(L1\d,)/g, '\r\n\r\n$1');
    expect(text).toContain('\r\n\r\nL11,');
    const one = await same(text, xgboost, { scenarios: [ALL[0] as Scenario, ALL[3] as Scenario] });
    const answer = JSON.parse(one.answer as string);
    expect(answer.loanCount).toBe(300);
    expect(answer.rows).toBe(300);
  }, 120_000);

  it('seasoned loans (loan_age, current_upb) read on the workers: one thread’s answer, refusals included', async () => {
    const names = `${csv.split('\n')[0]},loan_age,current_upb`;
    const seasoned = (bad?: number) =>
      `${[
        names,
        ...csv
          .trim()
          .split('\n')
          .slice(1)
          .map((line, i) => {
            if (i === bad) return `${line},12,`;
            const upb = loans[i]?.original_upb as number;
            return i % 4 === 0 ? `${line},${i % 130},${Math.round(upb * 0.7)}` : `${line},,`;
          }),
      ].join('\n')}\n`;
    const one = await same(seasoned(), plain);
    const origination = JSON.parse((await run(csv, plain)).answer as string);
    const answer = JSON.parse(one.answer as string);
    expect(answer.loanCount).toBe(300);
    expect(answer.scenarios[0].initial_balance).toBeLessThan(origination.scenarios[0].initial_balance);
    // A stale age from an earlier tape's row never reaches a later tape's loans on the same workers.
    const again = await run(csv, plain, two);
    expect(JSON.parse(again.answer as string)).toEqual(origination);
    const refused = await same(seasoned(77), plain);
    expect(refused.refusal?.kind).toBe('invalid_rows');
    expect(JSON.stringify(refused.refusal?.rejected)).toContain('current_upb');
  }, 120_000);

  it('the chunk size and the group size change nothing but the last bits of the sums', async () => {
    const a = JSON.parse(
      (await run(toCsv(loans), plain, undefined, { groupRecords: 8192, chunkRows: 4096 })).answer as string,
    );
    const b = JSON.parse((await run(toCsv(loans), plain, undefined, { chunkRows: 4096 })).answer as string);
    expect(b.scenarios[0].expected_loss_lifetime).toBeCloseTo(a.scenarios[0].expected_loss_lifetime, 6);
    expect(b.stratification.loans).toBe(a.stratification.loans);
  });
});

describe('POST /pools/lifetime on worker threads', () => {
  it('answers as one thread does: JSON and CSV, several scenarios, refusals, the per-loan CSV', async () => {
    const requests = [
      { url: '/pools/lifetime?scenario=baseline,adverse,severely_adverse,historical', payload: toCsv(loans) },
      { url: '/pools/lifetime?scenario=historical,adverse&model=lda&on_error=skip', payload: csv, accept: 'text/csv' },
      { url: '/pools/lifetime', payload: bad },
      { url: '/pools/lifetime?on_error=skip&scenario=adverse', payload: bad },
      { url: '/pools/lifetime', payload: toFreddie(loans) },
      // The per-loan CSV: each run's rows come back from its worker and are written in tape order.
      { url: '/pools/lifetime?scenario=baseline,historical&loans=csv&on_error=skip', payload: csv },
    ];
    const answers = async (threads: string) => {
      const app = await build({ POOL_THREADS: threads, MODEL_WARMUP_MS: '0' });
      const out: { status: number; body: string; headers: unknown }[] = [];
      for (const { url, payload, accept } of requests) {
        const res = await app.inject({
          method: 'POST',
          url,
          payload,
          headers: { 'content-type': 'text/csv', ...(accept ? { accept } : {}) },
        });
        const pool = Object.fromEntries(Object.entries(res.headers).filter(([k]) => k.startsWith('x-pool-')));
        out.push({ status: res.statusCode, body: res.body, headers: pool });
      }
      await app.close();
      return out;
    };
    const [one, twoThreads] = await Promise.all([answers('1'), answers('2')]);
    expect(twoThreads).toEqual(one);
    expect(one.map((a) => a.status)).toEqual([200, 200, 400, 200, 200, 200]);
    expect(one[5]?.body.split('\n').length).toBeGreaterThan(2 * 250);
  }, 120_000);
});

describe('LifetimeTape, the same loans in any layout', () => {
  it('answers the same figures for a CSV tape (a header, blank lines), a Freddie Mac file and a JSON tape', async () => {
    // Groups of 8 records: numbered by their lines, a CSV tape's loans would be shifted by its header and
    // its blank lines against the same loans in a Freddie Mac file or a JSON tape, and summed in other groups.
    const many = Array.from({ length: 600 }, (_, i) => holdoutLoans[(i * 7) % holdoutLoans.length] as LoanRecord);
    const rows = toCsv(many).split('\n');
    const spaced = rows.map((r, i) => (i % 5 === 3 ? `  \r\n${r}` : r)).join('\n');
    const options = { groupRecords: 8, onError: 'skip' as const };
    const figures = (o: Outcome) => {
      const { format: _f, bytes: _b, ...rest } = JSON.parse(o.answer as string);
      return rest;
    };
    const fromCsv = figures(await same(spaced, xgboost, options));
    expect(fromCsv.loanCount).toBe(600);
    expect(figures(await same(toFreddie(many), xgboost, options))).toEqual(fromCsv);
    expect(figures(await run(JSON.stringify({ loans: many }), xgboost, undefined, options))).toEqual(fromCsv);
  }, 120_000);
});
