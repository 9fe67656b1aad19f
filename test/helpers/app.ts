import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import type { LoanRecord } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

/** A ready app on the shipped models (or as `env` says), closed after the test. */
export async function build(env: Record<string, string> = {}): Promise<FastifyInstance> {
  // One thread for tapes unless a test asks for more: worker threads started from the TypeScript
  // sources (through tsx) take a second or so each, in every app built (test/pool/route-threads.test.ts).
  // No warm-up unless a test asks for it (test/runtime/warm.test.ts, test/service/registry.test.ts).
  const app = buildApp(loadConfig({ LOG_LEVEL: 'silent', POOL_THREADS: '1', MODEL_WARMUP_MS: '0', ...env }), {
    logger: false,
  });
  open.push(app);
  await app.ready();
  return app;
}

const reference = JSON.parse(
  readFileSync(new URL('../../model-artifacts/reference/holdout.json', import.meta.url), 'utf8'),
) as { loans: LoanRecord[]; kinds: string[] };

/** Ordinary holdout loans of the reference set: valid loan records, with missing values among them. */
export const holdoutLoans: LoanRecord[] = reference.loans.filter((_, i) => reference.kinds[i] === 'holdout');

export const exampleLoan = {
  loan_sequence_number: 'F06Q10000042',
  credit_score: 690,
  first_payment_date: 200607,
  first_time_homebuyer_flag: 'N',
  mi_percent: 25,
  number_of_units: 1,
  occupancy_status: 'P',
  cltv: 95,
  dti: 42,
  original_upb: 312000,
  ltv: 95,
  original_interest_rate: 6.75,
  channel: 'B',
  amortization_type: 'FRM',
  property_state: 'FL',
  property_type: 'SF',
  loan_purpose: 'P',
  original_loan_term: 360,
  number_of_borrowers: 1,
} as const;

export const MODEL_NAMES = ['gradient_boosting', 'lda', 'logistic_regression', 'xgboost'];

/** The scenario a request that names none is scored under. */
export const BASELINE = checkScenario('baseline').scenario as Scenario;

/** What a scenario-conditional model encodes for `loan` under `scenario` (baseline by default). */
export const withScenario = (loan: LoanRecord, scenario: Scenario = BASELINE): LoanRecord =>
  scenarioRecord(loan, scenario);

/** One named V2 input per loan field, as an Open Inference Protocol client sends columns. */
export function v2Columns(rows: readonly LoanRecord[]) {
  return LOAN_FIELDS.filter((f) => f.name !== 'loan_sequence_number').map((f) => ({
    name: f.name,
    shape: [rows.length],
    datatype: f.kind === 'numeric' ? 'FP64' : 'BYTES',
    data: rows.map((r) => r[f.name] ?? null),
  }));
}
