/**
 * Parity with the libraries that trained the models: every reference row of every shipped model.
 * The oracle is model-artifacts/reference/holdout.json, written by `npm run train` from
 * scikit-learn's `predict_proba` / `decision_function` and XGBoost's `predict` (docs/ARTIFACT_FORMAT.md).
 * Each row is a loan and its scenario: the models read the loan plus the scenario features that
 * src/scenario/index.ts computes (`scenarioRecord`), which must equal the ones Python computed.
 * The records go through the artifact's own encoder here, so encoding is checked too.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModelDocument, type Model } from '../../src/runtime/index.js';
import { SCENARIO_FEATURES, SCENARIO_NAMES, scenarioFeatures } from '../../src/scenario/index.js';
import { readReference, referenceScenario } from '../helpers/reference.js';

// ARTIFACTS_DIR lets CI check a freshly trained set; by default, the shipped artifacts.
const ARTIFACTS = process.env.ARTIFACTS_DIR
  ? pathToFileURL(`${process.env.ARTIFACTS_DIR.replace(/\/$/, '')}/`)
  : new URL('../../model-artifacts/', import.meta.url);
const reference = readReference(ARTIFACTS);
/** `key` is `<name>/<version>`: the artifact's path under the model directory, without `.json`. */
const readArtifact = (key: string): unknown => JSON.parse(readFileSync(new URL(`${key}.json`, ARTIFACTS), 'utf8'));

/** Tolerances of the issue, per family: trees 1e-6 on the probability, linear models 1e-12. */
const TOLERANCE: Record<string, number> = {
  xgboost: 1e-6,
  gradient_boosting: 1e-6,
  logistic_regression: 1e-12,
  lda: 1e-12,
};
/** Every version the pipeline ships has reference predictions (training.MODELS). */
const SHIPPED = ['gradient_boosting/1.0.0', 'lda/1.0.0', 'logistic_regression/1.0.0', 'xgboost/1.0.0', 'xgboost/1.1.0'];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

describe('reference set', () => {
  it('has at least 5,000 holdout loans, missing values and threshold probes', () => {
    const count = (k: string) => reference.kinds.filter((x) => x === k).length;
    expect(reference.loans.length).toBe(reference.kinds.length);
    expect(count('holdout')).toBeGreaterThanOrEqual(5000);
    expect(reference.kinds.filter((k) => k.includes('threshold')).length).toBeGreaterThanOrEqual(200);
    expect(reference.loans.some((l) => Object.values(l).includes(null))).toBe(true);
    expect(reference.loans.some((l) => l.credit_score === 9999)).toBe(true);
    expect(Object.keys(reference.models).sort()).toEqual(SHIPPED);
  });

  it('gives every row a scenario: every preset, historical and custom paths', () => {
    expect(reference.scenarios).toHaveLength(reference.loans.length);
    expect(reference.features).toHaveLength(reference.loans.length);
    const names = new Set(reference.scenarios.map((s) => (typeof s === 'string' ? s : 'custom')));
    for (const name of [...SCENARIO_NAMES, 'custom']) expect(names, name).toContain(name);
    expect(reference.kinds.some((k) => k.endsWith('_scenario'))).toBe(true);
  });

  it('computes the scenario features Python computed, on every row (within 1e-12, NaN as null alike)', () => {
    let worst = 0;
    reference.loans.forEach((loan, i) => {
      const got = scenarioFeatures(loan, referenceScenario(reference.scenarios[i]));
      const want = reference.features[i] as Record<string, number | null>;
      for (const name of SCENARIO_FEATURES) {
        const g = got[name];
        const w = want[name];
        if (w === null || w === undefined) {
          if (!Number.isNaN(g)) expect.fail(`row ${i} ${name}: ${g}, Python null`);
        } else if (!(Math.abs(g - w) <= 1e-12)) expect.fail(`row ${i} ${name}: ${g} !== ${w}`);
        else worst = Math.max(worst, Math.abs(g - w));
      }
      const record = reference.records[i] as Record<string, unknown>;
      for (const name of SCENARIO_FEATURES) {
        expect(record[name] === null, `row ${i} ${name}`).toBe(Number.isNaN(got[name]));
      }
    });
    expect(worst).toBeLessThanOrEqual(1e-12);
  });
});

for (const key of SHIPPED) {
  const name = key.split('/')[0] as string;
  const doc = readArtifact(key);
  const expected = reference.models[key] as { probability: number[]; margin: number[] };
  const variants: [string, Model][] = [['default', loadModelDocument(doc, `${key}.json`)]];
  if (name === 'xgboost' || name === 'gradient_boosting') {
    variants.push(['plain walker', loadModelDocument(doc, `${key}.json`, { compileTrees: false })]);
  }
  describe(`${key} parity`, () => {
    for (const [mode, model] of variants) {
      it(`matches the library on every reference row, batch scoring (${mode})`, () => {
        const got = model.scoreMany(reference.records);
        const p = maxAbsDiff(got.probability, expected.probability);
        expect(p.max, `worst row ${p.at} (${reference.kinds[p.at]})`).toBeLessThanOrEqual(TOLERANCE[name] as number);
        const m = maxAbsDiff(got.margin, expected.margin);
        if (name === 'xgboost' || name === 'gradient_boosting') {
          // Same operations in the same order as the library: margins are bit-for-bit equal.
          expect(m.max, `worst margin row ${m.at} (${reference.kinds[m.at]})`).toBe(0);
        } else {
          expect(m.max).toBeLessThanOrEqual(1e-12);
        }
      });
    }
    it('scores single loans exactly as the batch does', () => {
      const model = variants[0]?.[1] as Model;
      const batch = model.scoreMany(reference.records);
      reference.records.forEach((loan, i) => {
        const one = model.score(loan);
        if (one.margin !== batch.margin[i]) expect.fail(`row ${i}: ${one.margin} !== ${batch.margin[i]}`);
      });
    });
  });
}

describe('gradient boosting compares double rows (HistGradientBoostingClassifier)', () => {
  it('is scored on float64 rows, and the reference rows tell float64 from float32 rows apart', () => {
    const doc = readArtifact('gradient_boosting/1.0.0') as { model: Record<string, unknown> };
    expect(doc.model.estimator).toBe('HistGradientBoostingClassifier');
    expect(doc.model.split_rows).toBe('float64');
    expect(loadModelDocument(doc).evaluator.rowType).toBe('float64');
    // The same trees on float32 rows (as a GradientBoostingClassifier artifact would be read) miss the
    // library on some reference rows: parity above holds because the rows are doubles.
    const asFloat32 = structuredClone(doc);
    delete asFloat32.model.estimator;
    delete asFloat32.model.split_rows;
    asFloat32.model.learning_rate = 1;
    const margins = loadModelDocument(asFloat32).scoreMany(reference.records).margin;
    const expected = (reference.models['gradient_boosting/1.0.0'] as { margin: number[] }).margin;
    expect(margins.filter((m, i) => m !== expected[i]).length).toBeGreaterThan(0);
  });
});

describe('XGBoost document layouts', () => {
  // The shipped booster (1.7) rewritten as 2.x and 3.x write it must score identically.
  const original = readArtifact('xgboost/1.0.0') as { model: { booster: Record<string, unknown> } };
  const reference17 = loadModelDocument(original).scoreMany(reference.records.slice(0, 500)).margin;
  const rewrite = (style: '2' | '3') => {
    const doc = structuredClone(original);
    const learner = doc.model.booster.learner as Record<string, Record<string, unknown>>;
    const param = learner.learner_model_param as Record<string, string>;
    const base = String(param.base_score).replace(/^\[|\]$/g, '');
    param.base_score = style === '3' ? `[${base}]` : base;
    param.num_target = '1';
    const trees = (learner.gradient_booster as { model: { trees: { default_left: unknown[] }[] } }).model.trees;
    for (const t of trees) t.default_left = t.default_left.map((d) => (d === true || d === 1 ? 1 : 0));
    doc.model.booster.version = style === '3' ? [3, 1, 0] : [2, 1, 4];
    return doc;
  };
  for (const style of ['2', '3'] as const) {
    it(`loads a ${style}.x-style document (base_score, default_left as 0/1) with identical margins`, () => {
      const got = loadModelDocument(rewrite(style)).scoreMany(reference.records.slice(0, 500)).margin;
      expect(Array.from(got)).toEqual(Array.from(reference17));
    });
  }
});
