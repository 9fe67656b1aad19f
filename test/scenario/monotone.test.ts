import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { loadModelFile, type Model } from '../../src/runtime/index.js';
import { seededRandom } from '../../src/runtime/random.js';
import { checkScenario, describeScenarios, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { holdoutLoans } from '../helpers/app.js';

/**
 * The served models under scenarios (issue 21 item 3): PD never falls when house prices fall, checked on
 * random loans and random paths, and a custom path equal to a preset gives the preset's PD exactly. Every
 * served model is checked: gradient boosting too, since it is a HistGradientBoostingClassifier with
 * monotone constraints (docs/MODELS.md).
 */

const MONOTONE = [
  'logistic_regression/1.0.0',
  'lda/1.0.0',
  'gradient_boosting/1.0.0',
  'xgboost/1.0.0',
  'xgboost/1.1.0',
];
const models: Record<string, Model> = {};
for (const m of MONOTONE) models[m] = await loadModelFile(`model-artifacts/${m}.json`);
const scenario = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const pd = (model: Model, loan: Record<string, unknown>, s: Scenario) =>
  model.score(scenarioRecord(loan, s)).probability;

const random = seededRandom(2121);
const loans = Array.from(
  { length: 300 },
  () => holdoutLoans[Math.floor(random() * holdoutLoans.length)] as Record<string, unknown>,
);

describe.each(MONOTONE)('%s', (name) => {
  const model = models[name] as Model;

  it('never lowers a PD from baseline to adverse to severely_adverse', () => {
    const [b, a, s] = ['baseline', 'adverse', 'severely_adverse'].map(scenario) as [Scenario, Scenario, Scenario];
    for (const loan of loans) {
      const p = [pd(model, loan, b), pd(model, loan, a), pd(model, loan, s)];
      expect(p[1], JSON.stringify(loan)).toBeGreaterThanOrEqual(p[0] as number);
      expect(p[2], JSON.stringify(loan)).toBeGreaterThanOrEqual(p[1] as number);
    }
  });

  it('never lowers a PD when a random path is lowered in every quarter', () => {
    for (const loan of loans.slice(0, 100)) {
      const national = Array.from({ length: 12 }, () => (random() - 0.55) * 0.1);
      const lower = national.map((x) => x - random() * 0.04);
      const state = loan.property_state as string;
      const up = scenario({ national, states: { [state]: national } });
      const down = scenario({ national: lower, states: { [state]: lower } });
      expect(pd(model, loan, down)).toBeGreaterThanOrEqual(pd(model, loan, up));
    }
  });
});

/** A loan with `fields` moved by `step` within the contract's range; undefined where one of them is missing. */
function moved(loan: Record<string, unknown>, fields: readonly string[], step: number) {
  const out = { ...loan };
  for (const name of fields) {
    const spec = LOAN_FIELDS.find((f) => f.name === name) as { min?: number; max?: number; sentinel?: number };
    const v = loan[name];
    if (typeof v !== 'number' || v === spec.sentinel) return undefined;
    out[name] = Math.min(
      spec.max ?? Number.POSITIVE_INFINITY,
      Math.max(spec.min ?? Number.NEGATIVE_INFINITY, v + step),
    );
  }
  return out;
}

describe.each(MONOTONE)('%s: credit attributes', (name) => {
  const model = models[name] as Model;
  const baseline = scenario('baseline');
  for (const [fields, step] of [
    [['credit_score'], -20],
    [['ltv'], 5],
    [['cltv'], 5],
    [['ltv', 'cltv'], 5],
    [['dti'], 5],
  ] as const) {
    it(`never lowers a PD when ${fields.join(' and ')} ${step < 0 ? 'falls' : fields.length > 1 ? 'rise' : 'rises'} by ${Math.abs(step)}`, () => {
      let checks = 0;
      const violations: string[] = [];
      for (const loan of loans) {
        const worse = moved(loan, fields, step);
        if (worse === undefined) continue;
        checks++;
        const [p0, p1] = [pd(model, loan, baseline), pd(model, worse, baseline)];
        if (p1 < p0) violations.push(`${loan.loan_sequence_number}: ${p0} → ${p1}`);
      }
      expect(checks).toBeGreaterThan(250);
      expect(violations).toEqual([]);
    });
  }
});

describe('custom paths and presets', () => {
  it('a custom path equal to a preset (its national path times each state multiplier) gives the same PD, bit for bit', () => {
    for (const preset of describeScenarios().filter((s) => s.kind === 'preset')) {
      const national = preset.national as number[];
      const beta = preset.state_multipliers as Record<string, number>;
      const custom = scenario({
        name: `as ${preset.name}`,
        national,
        states: Object.fromEntries(Object.entries(beta).map(([st, b]) => [st, national.map((x) => x * b)])),
      });
      for (const model of Object.values(models)) {
        for (const loan of loans.slice(0, 50)) {
          expect(pd(model, loan, custom)).toBe(pd(model, loan, scenario(preset.name)));
        }
      }
    }
  });
});
