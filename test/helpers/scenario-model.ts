import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCENARIO_FEATURES } from '../../src/scenario/index.js';
import { tempDir } from './temp.js';

/**
 * A model directory with two hand-written logistic regressions whose PD a test computes by hand:
 * `house_prices` reads the credit score and the five scenario features (columns unscaled: margin =
 * intercept + Σ coefficient × value), `plain` reads the credit score only.
 */
export const HOUSE_PRICES = {
  intercept: -3,
  coefficients: {
    credit_score: -0.004,
    hpi_change_12m: -1.5,
    hpi_change_36m: -0.5,
    hpi_trough_36m: -2,
    mtm_cltv_trough: 0.01,
    note_rate_spread: 0.2,
  },
  impute: 0,
} as const;

const creditScore = {
  name: 'credit_score',
  kind: 'numeric',
  missing_values: [9999],
  min: 300,
  max: 850,
  unit: 'FICO points',
  description: 'Borrower credit score at origination.',
};

/** The training support stored in house_prices (as the pipeline writes `training.support`). */
export const HOUSE_PRICES_SUPPORT = {
  credit_score: { min: 500, p01: 580, p99: 810, max: 820 },
  hpi_trough_36m: { min: -0.69, p01: -0.5, p99: 0, max: 0 },
  hpi_change_12m: { min: -0.3, p01: -0.2, p99: 0.1, max: 0.12 },
  first_payment_date: { min: 199901, p01: 199903, p99: 201009, max: 201012 },
  unknown_field: { min: 0, p01: 0, p99: 1, max: 1 },
};

function linear(
  name: string,
  fields: readonly { name: string }[],
  coefficients: readonly number[],
  intercept: number,
  training: object = {},
) {
  return {
    format: 'loan-default-model/1',
    name,
    family: 'logistic_regression',
    version: '1.0.0',
    description: `${name}: a hand-written test model`,
    label: 'test label',
    decision_threshold: 0.05,
    fields,
    columns: fields.map((f) => ({
      op: 'numeric',
      name: f.name,
      field: f.name,
      impute: HOUSE_PRICES.impute,
      center: 0,
      scale: 1,
    })),
    model: { coefficients, intercept, reference: fields.map(() => 0) },
    training,
  };
}

export function scenarioModelDir(): string {
  const dir = tempDir('scenario-models-');
  const scenarioFields = SCENARIO_FEATURES.map((name) => ({
    name,
    kind: 'numeric',
    missing_values: [],
    min: -1000,
    max: 1000,
    unit: '',
    description: name,
  }));
  const fields = [creditScore, ...scenarioFields];
  const models = {
    house_prices: linear(
      'house_prices',
      fields,
      fields.map((f) => HOUSE_PRICES.coefficients[f.name as keyof typeof HOUSE_PRICES.coefficients]),
      HOUSE_PRICES.intercept,
      { support: HOUSE_PRICES_SUPPORT },
    ),
    plain: linear('plain', [creditScore], [HOUSE_PRICES.coefficients.credit_score], HOUSE_PRICES.intercept),
  };
  for (const [name, doc] of Object.entries(models)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, '1.0.0.json'), JSON.stringify(doc));
  }
  return dir;
}

/** The house_prices model's margin for a record holding the credit score and the scenario features (null: imputed). */
export function housePricesMargin(record: Readonly<Record<string, unknown>>): number {
  let m: number = HOUSE_PRICES.intercept;
  for (const [name, c] of Object.entries(HOUSE_PRICES.coefficients)) {
    const v = record[name];
    m += c * (typeof v === 'number' && v !== 9999 ? v : HOUSE_PRICES.impute);
  }
  return m;
}
