/**
 * What scenario features cost a tape (issue 21 item 3): a CSV tape of `--n` loans (the reference
 * holdout loans, repeated) scored on this thread by TapeRun, in-process, with
 *   plain        the shipped logistic regression (57 columns)
 *   scenario     the same with the five scenario features appended (contract scenario_fields; made-up
 *                coefficients), each loan's features computed, under baseline; "no features": that
 *                model with the features left missing (imputed), its five extra columns' cost alone
 *   historical   the scenario model under `historical` (the market check on every loan too)
 *   xgboost      the shipped XGBoost model, for scale: what a real model's tape costs a loan
 * and, marked "dictionary records", the same tapes read into records built as the scorer built them before
 * (properties added one by one: V8 dictionary-mode objects) instead of its fast-property records,
 * interleaved (plain, scenario, historical, xgboost, …) for `--rounds` rounds; medians, and the
 * extra µs a loan over plain. Run under the benchmark lock:
 *
 *   flock /work/wt/bench.lock node --import tsx scripts/bench-scenario-tape.ts [--n 100000] [--rounds 5]
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTRACT } from '../src/contract/index.js';
import { LOAN_FIELDS } from '../src/loan/record.js';
import { TapeRun } from '../src/pool/index.js';
import { loadModelFile, type Model } from '../src/runtime/index.js';
import { checkScenario, SCENARIO_FEATURES, type Scenario } from '../src/scenario/index.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } },
});
const N = Number(values.n);
const ROUNDS = Number(values.rounds);

const reference = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as {
  loans: Record<string, unknown>[];
  kinds: string[];
};
// Loans the historical market places (first payments 1999–2019), so no row is refused.
const loans = reference.loans.filter(
  (l, i) => reference.kinds[i] === 'holdout' && (l.first_payment_date as number) < 201901,
);
const names = LOAN_FIELDS.map((f) => f.name);
const lines = [names.join(',')];
for (let i = 0; i < N; i++) {
  const loan = loans[i % loans.length] as Record<string, unknown>;
  lines.push(names.map((n) => (loan[n] === null || loan[n] === undefined ? '' : String(loan[n]))).join(','));
}
const tape = Buffer.from(`${lines.join('\n')}\n`);

// The shipped logistic regression, and a copy reading the scenario features too (unscaled columns).
const lrPath = 'model-artifacts/logistic_regression/1.0.0.json';
const lr = JSON.parse(readFileSync(lrPath, 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'bench-scenario-'));
mkdirSync(join(dir, 'house_prices'));
const coefficients = [-1.5, -0.5, -2, 0.01, 0.2];
writeFileSync(
  join(dir, 'house_prices', '1.0.0.json'),
  JSON.stringify({
    ...lr,
    name: 'house_prices',
    fields: [...lr.fields, ...CONTRACT.scenario_fields.map((f) => ({ ...f, missing_values: [] }))],
    columns: [
      ...lr.columns,
      ...SCENARIO_FEATURES.map((name) => ({ op: 'numeric', name, field: name, impute: 0, center: 0, scale: 1 })),
    ],
    model: {
      ...lr.model,
      coefficients: [...lr.model.coefficients, ...coefficients],
      reference: [...lr.model.reference, 0, 0, 0, 0, 0],
    },
  }),
);
const plain = await loadModelFile(lrPath);
const housePrices = await loadModelFile(join(dir, 'house_prices', '1.0.0.json'));
const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const resolve = (name: string) => checkScenario(name).scenario as Scenario;

const CHUNK_ROWS = 16_384; // the scorer's default chunk
/** Records as the scorer made them before (dictionary mode), for the comparison. */
function dictionaryRecords(): Record<string, unknown>[] {
  return Array.from({ length: CHUNK_ROWS }, () => {
    const record: Record<string, unknown> = {};
    for (const f of LOAN_FIELDS) record[f.name] = null;
    for (const name of SCENARIO_FEATURES) record[name] = null;
    record.loan_sequence_number = undefined;
    return record;
  });
}

async function time(model: Model, scenario: Scenario | undefined, dictionary = false): Promise<number> {
  const run = new TapeRun({
    chunkRows: CHUNK_ROWS,
    ...(dictionary ? { slots: dictionaryRecords() } : {}),
    model,
    lgd: 0.35,
    onError: 'fail',
    maxRows: Number.POSITIVE_INFINITY,
    format: 'csv',
    ...(scenario === undefined ? {} : { scenario }),
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < tape.length; i += 1 << 20) await run.push(tape.subarray(i, i + (1 << 20)));
  const result = await run.end();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.figures.loan_count !== N) throw new Error(`scored ${result.figures.loan_count} of ${N}`);
  return ms;
}

const cases: [string, Model, Scenario | undefined, boolean][] = [
  ['plain', plain, undefined, false],
  ['scenario, no features', housePrices, undefined, false],
  ['scenario (baseline)', housePrices, resolve('baseline'), false],
  ['scenario (historical)', housePrices, resolve('historical'), false],
  ['xgboost', xgboost, undefined, false],
  ['plain, dictionary records', plain, undefined, true],
  ['scenario (baseline), dictionary', housePrices, resolve('baseline'), true],
  ['xgboost, dictionary records', xgboost, undefined, true],
];
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, model, scenario, dict] of cases) await time(model, scenario, dict); // warm-up round, not counted
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, model, scenario, dict] of cases) times.get(name)?.push(await time(model, scenario, dict));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = median(times.get('plain') as number[]);
console.log(`${N} loans, one thread, medians of ${ROUNDS} interleaved rounds (Node ${process.version})`);
for (const [name] of cases) {
  const m = median(times.get(name) as number[]);
  const extra = ((m - base) * 1000) / N;
  console.log(
    `${name.padEnd(32)} ${m.toFixed(0).padStart(6)} ms  ×${(m / base).toFixed(3)} of plain  ${extra >= 0 ? '+' : ''}${extra.toFixed(2)} µs a loan`,
  );
}
