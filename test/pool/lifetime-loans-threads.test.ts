import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOANS_HOLD_CHARS } from '../../plugins/routes/lifetime.js';
import { TapeError, TapeThreads } from '../../src/pool/index.js';
import { type LifetimeOptions, LifetimeTape } from '../../src/pool/lifetime.js';
import { LoanCsv } from '../../src/pool/lifetime-loans.js';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { scenarioModelDir } from '../helpers/scenario-model.js';
import { tempDir } from '../helpers/temp.js';
import { postStreamed, toCsv } from './helpers.js';

/**
 * The per-loan lifetime CSV (?loans=csv, the CLI's --loans) on worker threads (issue 22): each run's rows come
 * back with the run's figures and are written in tape order, so the CSV is the one thread's, byte for byte, on
 * 1, 2 and 3 threads, over many runs (small groups), with rejected rows skipped; runs out stay bounded.
 */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const houses = await loadModelFile(join(scenarioModelDir(), 'house_prices', '1.0.0.json'));
const two = new TapeThreads({ size: 2, compileTrees: true, warmupMs: 0 });
const three = new TapeThreads({ size: 3, compileTrees: true, warmupMs: 0 });
afterAll(async () => {
  await Promise.all([two.close(), three.close()]);
});

const ALL = ['baseline', 'adverse', 'severely_adverse', 'historical'].map((n) => checkScenario(n).scenario as Scenario);
const loans = holdoutLoans.slice(0, 300).map((l, i) => ({
  ...l,
  // Identifiers that need quoting, and loans the historical market cannot place (refused by `houses`).
  loan_sequence_number: i % 11 === 4 ? `L${i},"q"\nx` : `L${i}`,
  first_payment_date: i % 23 === 9 ? 202406 : l.first_payment_date,
}));
const lines = toCsv(loans as LoanRecord[])
  .trim()
  .split('\n');
for (let i = 7; i < lines.length; i += 41) lines[i] = 'not,a,loan';
const bad = `${lines.join('\n')}\n`;

async function perLoan(
  text: string,
  model: Model,
  threads?: TapeThreads,
  options: Partial<LifetimeOptions> = {},
  piece = 997,
): Promise<{ csv: string; refusal?: string; blocks: number; writes: number; maxInFlight: number }> {
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && !('bytes' in artifact)) throw new Error(artifact.why);
  const out: string[] = [];
  const scenarios = options.scenarios ?? ALL;
  const tape = new LifetimeTape({
    model,
    scenarios,
    loss: { timing: 'seasoning', prepayment: { kind: 'scenario' }, recoveryLag: 12 },
    onError: 'skip',
    maxRows: 1e9,
    format: 'auto',
    chunkRows: 13,
    groupRecords: 41,
    maxInFlight: 2,
    ...options,
    loans: new LoanCsv(
      scenarios.map((s) => s.name),
      (text) => out.push(typeof text === 'string' ? text : Buffer.from(text).toString('utf8')),
    ),
    ...(artifact === undefined ? {} : { threads: { pool: threads as TapeThreads, artifact: artifact.bytes } }),
  });
  const bytes = Buffer.from(text);
  let refusal: string | undefined;
  try {
    for (let i = 0; i < bytes.length; i += piece) await tape.push(bytes.subarray(i, i + piece));
    await tape.end();
  } catch (err) {
    if (!(err instanceof TapeError)) throw err;
    refusal = `${err.kind}: ${err.message}`;
  }
  return {
    csv: out.join(''),
    ...(refusal === undefined ? {} : { refusal }),
    blocks: tape.blocks,
    writes: out.length,
    maxInFlight: tape.maxInFlightSeen,
  };
}

describe('LifetimeTape’s per-loan CSV on worker threads', () => {
  it('is the one thread’s CSV byte for byte on 1, 2 and 3 threads: four scenarios, rejected rows skipped', async () => {
    for (const model of [xgboost, houses]) {
      const one = await perLoan(bad, model);
      const [a, b] = await Promise.all([perLoan(bad, model, two, {}, 4093), perLoan(bad, model, three, {}, 613)]);
      expect(one.blocks).toBe(0);
      // Projected on the workers, one run a group of 41 records: many runs, at most maxInFlight out at once.
      expect(a.blocks).toBeGreaterThan(5);
      expect(b.blocks).toBe(a.blocks);
      expect(Math.max(a.maxInFlight, b.maxInFlight)).toBeLessThanOrEqual(2);
      expect(a.csv).toBe(one.csv);
      expect(b.csv).toBe(one.csv);
      const rows = one.csv.split('\n').length;
      // 300 lines, every 41st refused; the scenario-conditional model also refuses the loans it cannot place.
      expect(rows).toBeGreaterThan(250 * (model === houses ? 3 : 4));
      // One write a run (and the header): memory holds a run's rows, not the tape's.
      expect(a.writes).toBeLessThanOrEqual(a.blocks + 1);
    }
  }, 180_000);

  it('a push of many groups at once keeps at most maxInFlight runs out (the rest wait to be sent)', async () => {
    const one = await perLoan(bad, xgboost, undefined, { scenarios: [ALL[0] as Scenario] });
    const whole = await perLoan(bad, xgboost, three, { scenarios: [ALL[0] as Scenario] }, bad.length);
    expect(whole.blocks).toBeGreaterThan(5);
    expect(whole.maxInFlight).toBeLessThanOrEqual(2);
    expect(whole.csv).toBe(one.csv);
  }, 120_000);

  it('a failing tape (on_error=fail) is refused as on one thread; a clean one gives the same CSV', async () => {
    const one = await perLoan(bad, xgboost, undefined, { onError: 'fail', scenarios: [ALL[2] as Scenario] });
    const a = await perLoan(bad, xgboost, two, { onError: 'fail', scenarios: [ALL[2] as Scenario] });
    expect(one.refusal).toMatch(/^invalid_rows/);
    expect(a.refusal).toBe(one.refusal);
    const clean = toCsv(holdoutLoans.slice(0, 200));
    const c1 = await perLoan(clean, xgboost, undefined, { onError: 'fail', scenarios: [ALL[0] as Scenario] });
    const c2 = await perLoan(clean, xgboost, two, { onError: 'fail', scenarios: [ALL[0] as Scenario] });
    expect(c2.blocks).toBeGreaterThan(3);
    expect(c2.csv).toBe(c1.csv);
  }, 120_000);
});

describe('POST /pools/lifetime?loans=csv on POOL_THREADS', () => {
  it('streams the one thread’s CSV byte for byte on 2 threads; a late refusal aborts the transfer', async () => {
    // Two groups of 8,192 lines and more: above the 1 MiB hold, so the answer streams while runs come back.
    const many = Array.from({ length: 9000 }, (_, i) => holdoutLoans[i % holdoutLoans.length] as LoanRecord);
    const url = '/pools/lifetime?model=lda&scenario=baseline,adverse&loans=csv';
    const send = (port: number, query: string, payload: string) => postStreamed(port, `${url}${query}`, payload);
    const withBadEnd = `${toCsv(many).trim()}\nnot,a,loan\n`;
    const answers = async (threads: string) => {
      const app = await build({ POOL_THREADS: threads, MODEL_WARMUP_MS: '0' });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as { port: number }).port;
      const good = await send(port, '&on_error=skip', withBadEnd);
      // on_error=fail: the bad last line is met after the answer started: the transfer is aborted.
      const late = await send(port, '', withBadEnd);
      await app.close();
      return { good, late };
    };
    const one = await answers('1');
    const twoThreads = await answers('2');
    expect(one.good.status).toBe(200);
    expect(one.good.complete).toBe(true);
    expect(one.good.body.length).toBeGreaterThan(LOANS_HOLD_CHARS);
    expect(one.good.body.split('\n').length).toBe(2 * 9000 + 2);
    expect(twoThreads.good.complete).toBe(true);
    expect(twoThreads.good.body).toBe(one.good.body);
    for (const { late } of [one, twoThreads]) {
      expect(late.status).toBe(200); // the answer had started
      expect(late.complete).toBe(false);
      expect(late.body.length).toBeLessThan(one.good.body.length);
    }
  }, 180_000);
});

describe('npm run score -- --lifetime --loans FILE --threads N', () => {
  it('writes the one thread’s file byte for byte on 2 threads (runs on the workers)', async () => {
    const dir = tempDir('lifetime-loans-threads-');
    const tape = join(dir, 'tape.csv');
    const many = Array.from({ length: 9000 }, (_, i) => holdoutLoans[i % holdoutLoans.length] as LoanRecord);
    writeFileSync(tape, toCsv(many));
    const run = async (threads: string) => {
      const file = join(dir, `loans-${threads}.csv`);
      const r = await runScript('src/cli/score.ts', [
        tape,
        '--lifetime',
        '--model',
        'lda',
        '--scenario',
        'baseline,severely_adverse',
        '--loans',
        file,
        '--json',
        '--threads',
        threads,
      ]);
      return { ...r, loans: readFileSync(file, 'utf8') };
    };
    const [one, twoThreads] = await Promise.all([run('1'), run('2')]);
    expect(one.code).toBe(0);
    expect(twoThreads.code).toBe(0);
    expect(twoThreads.loans).toBe(one.loans);
    expect(twoThreads.stdout).toBe(one.stdout);
    expect(one.loans.split('\n').length).toBe(2 * 9000 + 2);
  }, 180_000);
});
