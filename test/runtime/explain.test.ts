/**
 * Explanations: exact additive contributions in log-odds (src/runtime/explain.ts, treeshap.ts).
 * Oracles: XGBoost's own pred_contribs on every reference row (model-artifacts/reference/contributions.json),
 * exact Shapley values by enumerating every subset of a tree's features (brute force, on toy trees,
 * random trees with repeated features and the shipped gradient-boosting trees), Algorithm 2 of
 * Lundberg et al., and numbers worked out by hand on a two-tree model.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DocumentReader } from '../../src/runtime/check.js';
import { loadGradientBoosting } from '../../src/runtime/gbm.js';
import {
  ArtifactError,
  type Explanation,
  gaussLegendre01,
  type LoanRecord,
  loadModelDocument,
  type Model,
  treeShapAlgorithm2,
  treeShapExplainer,
} from '../../src/runtime/index.js';
import { loadLda } from '../../src/runtime/lda.js';
import { loadLinear } from '../../src/runtime/linear.js';
import type { TreeEnsemble } from '../../src/runtime/trees.js';
import { artifact, stump, xgboostBooster } from '../fixtures/tiny-models.js';
import { seededRandom } from '../helpers/random.js';
import { readReference } from '../helpers/reference.js';

const ARTIFACTS = process.env.ARTIFACTS_DIR
  ? pathToFileURL(`${process.env.ARTIFACTS_DIR.replace(/\/$/, '')}/`)
  : new URL('../../model-artifacts/', import.meta.url);
const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(path, ARTIFACTS), 'utf8'));
// Each row: the loan plus its scenario features (test/helpers/reference.ts), as the models read it.
const reference = readReference(ARTIFACTS);
const contributions = readJson('reference/contributions.json') as {
  rows: number;
  models: Record<string, { columns: string[]; contributions: number[][] }>;
};
const models: Record<string, Model> = {};
for (const name of ['logistic_regression', 'lda', 'gradient_boosting', 'xgboost']) {
  models[name] = loadModelDocument(readJson(`${name}/1.0.0.json`), `${name}/1.0.0.json`);
}
const model = (name: string) => models[name] as Model;

/** Every reference row explained once per model (XGBoost: ~1 ms a row), shared by the tests below. */
const explainedCache = new Map<string, Explanation[]>();
const explained = (name: string): Explanation[] => {
  let list = explainedCache.get(name);
  if (!list) {
    list = reference.records.map((loan) => model(name).explain(loan));
    explainedCache.set(name, list);
  }
  return list;
};
const SLOW = { timeout: 120_000 };

/** Base value + Σ contributions, summed in double. */
const total = (base: number, values: ArrayLike<number>) => {
  let s = base;
  for (let j = 0; j < values.length; j++) s += values[j] as number;
  return s;
};

// --- Brute force: exact Shapley values of the path-dependent game, by enumerating subsets ----------

/** E[tree | the features in `known` are x's]: unknown splits weigh both children by cover. */
function conditional(e: TreeEnsemble, node: number, x: Float32Array, known: Set<number>): number {
  const l = e.left[node] as number;
  if (l === -1) return e.leafValue[node] as number;
  const r = e.right[node] as number;
  const f = e.feature[node] as number;
  if (known.has(f)) {
    const v = x[f] as number;
    const t = e.threshold[node] as number;
    const left = Number.isNaN(v) ? e.defaultLeft[node] === 1 : e.comparison === 'lt' ? v < t : v <= t;
    return conditional(e, left ? l : r, x, known);
  }
  const c = e.cover as Float64Array;
  return (
    ((c[l] as number) * conditional(e, l, x, known) + (c[r] as number) * conditional(e, r, x, known)) /
    (c[node] as number)
  );
}

function treeFeatures(e: TreeEnsemble, node: number, out = new Set<number>()): Set<number> {
  if (e.left[node] === -1) return out;
  out.add(e.feature[node] as number);
  treeFeatures(e, e.left[node] as number, out);
  treeFeatures(e, e.right[node] as number, out);
  return out;
}

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/** Contributions per column, then the base value, by enumerating every subset of each tree's features. */
function bruteForce(e: TreeEnsemble, x: Float32Array): Float64Array {
  const out = new Float64Array(e.columnCount + 1);
  out[e.columnCount] = e.baseMargin;
  for (let t = 0; t < e.treeCount; t++) {
    const root = e.roots[t] as number;
    const features = [...treeFeatures(e, root)];
    const M = features.length;
    out[e.columnCount] = (out[e.columnCount] as number) + conditional(e, root, x, new Set());
    features.forEach((i, fi) => {
      const others = features.filter((_, k) => k !== fi);
      let phi = 0;
      for (let mask = 0; mask < 1 << others.length; mask++) {
        const S = new Set(others.filter((_, k) => mask & (1 << k)));
        const weight = (factorial(S.size) * factorial(M - S.size - 1)) / factorial(M);
        phi += weight * (conditional(e, root, x, new Set([...S, i])) - conditional(e, root, x, S));
      }
      out[i] = (out[i] as number) + phi;
    });
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

const gbmEnsemble = (doc: { model: unknown }, columns: number): TreeEnsemble =>
  loadGradientBoosting(new DocumentReader('test'), doc.model as Record<string, unknown>, columns);

// --- A two-tree model worked out by hand --------------------------------------------------------------

/**
 * Tree 1: a ≤ 0.5 ? 1 : 3, covers 10 → 4 | 6.          E = (4·1 + 6·3) / 10 = 2.2
 * Tree 2: a ≤ 0.5 ? (b ≤ 0.5 ? 0 : 4) : 2, covers 10 → 4 (1 | 3) | 6.
 *         E[b-node] = (1·0 + 3·4) / 4 = 3, E = (4·3 + 6·2) / 10 = 2.4. Base value 0 + 2.2 + 2.4 = 4.6.
 */
const twoTrees = (missingLeft = false) =>
  artifact('gradient_boosting', {
    init_margin: 0,
    learning_rate: 1,
    trees: [
      {
        children_left: [1, -1, -1],
        children_right: [2, -1, -1],
        feature: [0, -2, -2],
        threshold: [0.5, -2, -2],
        value: [0, 1, 3],
        cover: [10, 4, 6],
        ...(missingLeft ? { missing_go_to_left: [1, 0, 0] } : {}),
      },
      {
        children_left: [1, 2, -1, -1, -1],
        children_right: [4, 3, -1, -1, -1],
        feature: [0, 1, -2, -2, -2],
        threshold: [0.5, 0.5, -2, -2, -2],
        value: [0, 0, 0, 4, 2],
        cover: [10, 4, 1, 3, 6],
        ...(missingLeft ? { missing_go_to_left: [1, 0, 0, 0, 0] } : {}),
      },
    ],
  });

describe('two trees, by hand', () => {
  const toy = loadModelDocument(twoTrees());
  it('explains a = 0, b = 1 (left, then right at b)', () => {
    // Tree 1: φa = 1 − 2.2 = −1.2. Tree 2: v(∅) = 2.4, v(a) = 3, v(b) = (4·4 + 6·2)/10 = 2.8, v(ab) = 4:
    // φa = ½(0.6 + 1.2) = 0.9, φb = ½(0.4 + 1.0) = 0.7. Totals: a −0.3, b 0.7; 4.6 − 0.3 + 0.7 = 5 = 1 + 4.
    const e = toy.explain({ a: 0, b: 1 });
    expect(e.baseValue).toBeCloseTo(4.6, 14);
    expect(e.columns[0]).toBeCloseTo(-0.3, 14);
    expect(e.columns[1]).toBeCloseTo(0.7, 14);
    expect(e.fields).toEqual({ a: e.columns[0], b: e.columns[1] });
    expect(e.margin).toBe(5);
  });
  it('explains a = 1, b = 0 (right in both trees)', () => {
    // Tree 1: φa = 3 − 2.2 = 0.8. Tree 2: v(∅) = 2.4, v(a) = 2, v(b) = (4·0 + 6·2)/10 = 1.2, v(ab) = 2:
    // φa = ½(−0.4 + 0.8) = 0.2, φb = ½(−1.2 + 0) = −0.6. Totals: a 1.0, b −0.6; 4.6 + 0.4 = 5 = 3 + 2.
    const e = toy.explain({ a: 1, b: 0 });
    expect(e.columns[0]).toBeCloseTo(1.0, 14);
    expect(e.columns[1]).toBeCloseTo(-0.6, 14);
    expect(e.margin).toBe(5);
  });
  it('sends a missing value down the default branch', () => {
    // No missing_go_to_left: NaN goes right, as a = 1 does; with it, left, as a = 0 does.
    const right = toy.explain({ a: null, b: 0 });
    expect(right.columns[0]).toBeCloseTo(1.0, 14);
    expect(right.columns[1]).toBeCloseTo(-0.6, 14);
    const left = loadModelDocument(twoTrees(true)).explain({ a: 999, b: 1 });
    expect(left.columns[0]).toBeCloseTo(-0.3, 14);
    expect(left.columns[1]).toBeCloseTo(0.7, 14);
  });
  it('scales by the learning rate: leaf values, contributions and expected values alike', () => {
    const doc = twoTrees();
    (doc.model as { learning_rate: number }).learning_rate = 0.1;
    (doc.model as { init_margin: number }).init_margin = -2;
    const e = loadModelDocument(doc).explain({ a: 0, b: 1 });
    expect(e.baseValue).toBeCloseTo(-2 + 0.46, 14);
    expect(e.columns[0]).toBeCloseTo(-0.03, 14);
    expect(e.columns[1]).toBeCloseTo(0.07, 14);
    expect(e.margin).toBeCloseTo(-2 + 0.5, 14);
  });
  it('agrees with brute force and with Algorithm 2', () => {
    const ens = gbmEnsemble(twoTrees(), 2);
    const fast = treeShapExplainer(ens);
    const alg2 = treeShapAlgorithm2(ens);
    for (const row of [Float32Array.of(0, 1), Float32Array.of(1, 0), Float32Array.of(Number.NaN, 0.7)]) {
      const a = new Float64Array(3);
      const b = new Float64Array(3);
      fast?.(row, 0, a);
      alg2?.(row, 0, b);
      expect(maxAbsDiff(a, bruteForce(ens, row))).toBeLessThan(1e-14);
      expect(maxAbsDiff(b, bruteForce(ens, row))).toBeLessThan(1e-14);
    }
  });
});

// --- Random trees: repeated features, deep paths, missing values -------------------------------------

/** A deterministic generator, so a failure can be replayed. */
const random = seededRandom;

/** A random scikit-learn-style tree over `features` columns: covers add up, some splits repeat a feature. */
function randomTree(rand: () => number, features: number, maxDepth: number) {
  const t = { children_left: [] as number[], children_right: [] as number[], feature: [] as number[] };
  const threshold: number[] = [];
  const value: number[] = [];
  const cover: number[] = [];
  const missing: number[] = [];
  const grow = (depth: number, weight: number): number => {
    const id = t.children_left.length;
    t.children_left.push(-1);
    t.children_right.push(-1);
    t.feature.push(-2);
    threshold.push(-2);
    value.push(Math.round((rand() * 4 - 2) * 1000) / 1000);
    cover.push(weight);
    missing.push(rand() < 0.5 ? 1 : 0);
    if (depth < maxDepth && weight >= 2 && rand() < 0.85) {
      const leftWeight = 1 + Math.floor(rand() * (weight - 1));
      t.feature[id] = Math.floor(rand() * features);
      threshold[id] = Math.round(rand() * 100) / 100;
      t.children_left[id] = grow(depth + 1, leftWeight);
      t.children_right[id] = grow(depth + 1, weight - leftWeight);
    }
    return id;
  };
  grow(0, 50 + Math.floor(rand() * 1000));
  return { ...t, threshold, value, cover, missing_go_to_left: missing };
}

describe('random trees with repeated features', () => {
  for (const [seed, depth] of [
    [1, 3],
    [2, 5],
    [3, 6],
    [4, 8],
    [5, 10],
  ] as const) {
    it(`fast TreeSHAP = Algorithm 2 = brute force (seed ${seed}, depth ≤ ${depth})`, () => {
      const rand = random(seed);
      const columns = 4;
      const trees = Array.from({ length: 6 }, () => randomTree(rand, columns, depth));
      const ens = gbmEnsemble({ model: { init_margin: 0.25, learning_rate: 0.3, trees } }, columns);
      const fast = treeShapExplainer(ens);
      const alg2 = treeShapAlgorithm2(ens);
      const a = new Float64Array(columns + 1);
      const b = new Float64Array(columns + 1);
      for (let r = 0; r < 40; r++) {
        const row = Float32Array.from({ length: columns }, () => (rand() < 0.15 ? Number.NaN : rand()));
        fast?.(row, 0, a);
        alg2?.(row, 0, b);
        const oracle = bruteForce(ens, row);
        expect(maxAbsDiff(a, oracle)).toBeLessThan(1e-12);
        expect(maxAbsDiff(b, oracle)).toBeLessThan(1e-12);
      }
    });
  }

  it('HistGradientBoostingClassifier trees on double rows a hair (2^-40) either side of the thresholds', () => {
    const rand = random(6);
    const columns = 4;
    const trees = Array.from({ length: 6 }, () => randomTree(rand, columns, 6));
    const model = { estimator: 'HistGradientBoostingClassifier', split_rows: 'float64', init_margin: 0.25, trees };
    const ens = gbmEnsemble({ model }, columns);
    expect(ens.rowType).toBe('float64');
    const thresholds = trees.flatMap((t) => t.threshold.filter((_, i) => t.children_left[i] !== -1));
    const fast = treeShapExplainer(ens);
    const a = new Float64Array(columns + 1);
    for (let r = 0; r < 40; r++) {
      const row = Float64Array.from({ length: columns }, () => {
        const t = thresholds[Math.floor(rand() * thresholds.length)] as number;
        return rand() < 0.1 ? Number.NaN : t + (Math.floor(rand() * 3) - 1) * 2 ** -40;
      });
      fast?.(row, 0, a);
      expect(maxAbsDiff(a, bruteForce(ens, row as unknown as Float32Array))).toBeLessThan(1e-12);
    }
  });

  it('Gauss–Legendre nodes on [0, 1] integrate polynomials of degree 2n − 1 exactly', () => {
    for (let n = 1; n <= 6; n++) {
      const { nodes, weights } = gaussLegendre01(n);
      for (let k = 0; k <= 2 * n - 1; k++) {
        let s = 0;
        for (let q = 0; q < n; q++) s += (weights[q] as number) * (nodes[q] as number) ** k;
        expect(s).toBeCloseTo(1 / (k + 1), 14);
      }
    }
  });
});

// --- The shipped models, on every reference row -------------------------------------------------------

describe('XGBoost: TreeSHAP equals XGBoost pred_contribs', () => {
  const xgb = contributions.models['xgboost/1.0.0'] as { columns: string[]; contributions: number[][] };
  it('covers every reference row, with one value per column and the bias', () => {
    expect(contributions.rows).toBe(reference.records.length);
    expect(xgb.contributions).toHaveLength(reference.records.length);
    expect(xgb.columns).toEqual([...model('xgboost').columns.map((c) => c.name), 'bias']);
  });
  it('within 1e-5 on every row, every column and the bias (XGBoost computes in float32)', SLOW, () => {
    let worst = 0;
    let at = -1;
    explained('xgboost').forEach((e, i) => {
      const want = xgb.contributions[i] as number[];
      const got = [...e.columns, e.baseValue];
      const d = maxAbsDiff(got, want);
      if (d > worst) {
        worst = d;
        at = i;
      }
    });
    expect(worst, `worst row ${at} (${reference.kinds[at]})`).toBeLessThanOrEqual(1e-5);
  });
  it('the plain walker explains the same (explanations do not depend on compiled code)', () => {
    const walker = loadModelDocument(readJson('xgboost/1.0.0.json'), 'xgboost/1.0.0.json', { compileTrees: false });
    for (const loan of reference.records.slice(0, 50)) {
      expect(Array.from(walker.explain(loan).columns)).toEqual(Array.from(model('xgboost').explain(loan).columns));
    }
  });
});

describe('gradient boosting: TreeSHAP equals exact Shapley values', () => {
  it('matches brute force over every subset of each tree’s features on 60 reference rows', () => {
    const doc = readJson('gradient_boosting/1.0.0.json') as { model: Record<string, unknown> };
    const gbm = model('gradient_boosting');
    const ens = gbmEnsemble(doc, gbm.columnCount);
    const rows = reference.records.filter((_, i) => i % 97 === 0).slice(0, 60);
    for (const loan of rows) {
      const e = gbm.explain(loan);
      const oracle = bruteForce(ens, gbm.encode(loan) as Float32Array);
      expect(maxAbsDiff([...e.columns, e.baseValue], oracle)).toBeLessThan(1e-12);
    }
  });
});

describe('every model: contributions + base value = the margin, on every reference row', () => {
  for (const [name, tolerance] of [
    ['logistic_regression', 1e-9],
    ['lda', 1e-9],
    ['gradient_boosting', 1e-9],
    ['xgboost', 1e-5],
  ] as const) {
    it(`${name} (within ${tolerance})`, SLOW, () => {
      const m = model(name);
      const scores = m.scoreMany(reference.records);
      let worst = 0;
      explained(name).forEach((e, i) => {
        expect(e.margin).toBe(scores.margin[i]);
        worst = Math.max(worst, Math.abs(total(e.baseValue, e.columns) - e.margin));
        worst = Math.max(worst, Math.abs(total(e.baseValue, Object.values(e.fields)) - e.margin));
      });
      // XGBoost's margin is a float32 sum; the explanation is exact in double.
      expect(worst).toBeLessThanOrEqual(tolerance);
    });
  }
});

describe('linear models: coefficient × (value − training mean)', () => {
  for (const name of ['logistic_regression', 'lda']) {
    it(`${name}: contribution j = c_j (x_j − reference_j), base = intercept + Σ c_j reference_j`, () => {
      const doc = readJson(`${name}/1.0.0.json`) as { model: Record<string, unknown>; columns: unknown[] };
      // LDA's coefficients are derived at load from its means, covariance and priors (lda.ts).
      const read = name === 'lda' ? loadLda : loadLinear;
      const {
        coefficients: c,
        intercept,
        reference: ref,
      } = read(new DocumentReader(name), doc.model, doc.columns.length);
      if (ref === undefined) throw new Error(`${name} has no reference`);
      let base = intercept;
      c.forEach((cj, j) => {
        base += cj * (ref[j] as number);
      });
      const m = model(name);
      for (const loan of reference.records.slice(0, 200)) {
        const x = m.encode(loan);
        const e = m.explain(loan);
        expect(e.baseValue).toBe(base);
        c.forEach((cj, j) => {
          expect(e.columns[j]).toBe(cj * ((x[j] as number) - (ref[j] as number)));
        });
      }
    });
  }
});

describe('grouping by loan field', () => {
  it('sums one-hot, is_missing and derived-year columns into the field they come from', () => {
    for (const m of Object.values(models)) {
      const loan = reference.records[7] as LoanRecord;
      const e = m.explain(loan);
      expect(Object.keys(e.fields)).toEqual(m.fields.map((f) => f.name));
      for (const f of m.fields) {
        let s = 0;
        m.columns.forEach((c, j) => {
          if (c.field === f.name) s += e.columns[j] as number;
        });
        expect(e.fields[f.name]).toBe(s);
      }
    }
    // The linear models encode the state as one-hot columns and credit score with an is_missing column; the
    // vintage year is no feature of the scenario-conditional models (no column reads first_payment_date).
    const lr = model('logistic_regression');
    expect(lr.columns.filter((c) => c.field === 'property_state').length).toBeGreaterThan(1);
    expect(lr.columns.filter((c) => c.field === 'first_payment_date')).toEqual([]);
    expect(lr.columns.filter((c) => c.field === 'credit_score').map((c) => c.op)).toEqual(['numeric', 'is_missing']);
  });
});

// --- Artifacts without (or with broken) explanation data ----------------------------------------------

describe('artifact validation', () => {
  const linear = (extra: Record<string, unknown>) =>
    artifact('logistic_regression', { coefficients: [0.5, -1], intercept: 0.25, ...extra });

  it('a linear artifact without model.reference scores but cannot explain', () => {
    const m = loadModelDocument(linear({}));
    expect(m.score({ a: 1, b: 2 }).margin).toBe(0.5 - 2 + 0.25);
    expect(m.explainable).toBe(false);
    expect(m.explainUnavailable).toMatch(/model\.reference/);
    expect(() => m.explain({ a: 1, b: 2 })).toThrow(/cannot explain/);
  });
  it('a linear reference is explained from: base = the margin at the reference', () => {
    const e = loadModelDocument(linear({ reference: [2, 1] })).explain({ a: 1, b: 2 });
    expect(e.baseValue).toBe(0.25 + 1 - 1);
    expect(Array.from(e.columns)).toEqual([0.5 * (1 - 2), -1 * (2 - 1)]);
  });
  it('refuses a reference of the wrong length or with non-finite values', () => {
    expect(() => loadModelDocument(linear({ reference: [1] }))).toThrow(/model\.reference: expected 2 values/);
    expect(() => loadModelDocument(linear({ reference: [1, 'x'] }))).toThrow(ArtifactError);
  });
  it('refuses bad gradient-boosting covers, naming the tree', () => {
    const withCover = (cover: unknown, tree = 1) => {
      const doc = twoTrees();
      (doc.model as { trees: Record<string, unknown>[] }).trees[tree] = {
        ...(doc.model as { trees: Record<string, unknown>[] }).trees[tree],
        cover,
      };
      return doc;
    };
    expect(() => loadModelDocument(withCover([10, 4]))).toThrow(/model\.trees\[1\]\.cover: expected 5 values/);
    expect(() => loadModelDocument(withCover([10, 0, 1, 3, 6]))).toThrow(/split node 1 has cover 0/);
    expect(() => loadModelDocument(withCover([10, 4, -1, 3, 6]))).toThrow(/node 2 has cover -1/);
    expect(() => loadModelDocument(withCover(undefined, 0))).toThrow(/trees\[1\]: has a cover, unlike the first tree/);
  });
  it('trees without covers score but cannot explain', () => {
    const doc = twoTrees();
    for (const t of (doc.model as { trees: Record<string, unknown>[] }).trees) delete t.cover;
    const m = loadModelDocument(doc);
    expect(m.score({ a: 0, b: 1 }).margin).toBe(5);
    expect(m.explainUnavailable).toMatch(/no node covers/);
  });
  it('reads XGBoost sum_hessian as float32 covers, and refuses a bad one', () => {
    const booster = xgboostBooster([stump(0.5, true)]) as {
      learner: { gradient_booster: { model: { trees: { sum_hessian: unknown }[] } } };
    };
    const tree = booster.learner.gradient_booster.model.trees[0] as { sum_hessian: unknown };
    tree.sum_hessian = [10, 4, 6];
    // base_score 0.5 → base margin 0; E = (4·−0.4 + 6·0.6)/10 = 0.2; a = 0.4 goes left: φa = −0.4 − 0.2.
    const e = loadModelDocument(artifact('xgboost', { booster })).explain({ a: 0.4, b: 0 });
    expect(e.baseValue).toBeCloseTo(0.2, 7);
    expect(e.columns[0]).toBeCloseTo(-0.6, 7);
    tree.sum_hessian = [0, 4, 6];
    expect(() => loadModelDocument(artifact('xgboost', { booster }))).toThrow(/split node 0 has sum_hessian 0/);
    tree.sum_hessian = [10, 4];
    expect(() => loadModelDocument(artifact('xgboost', { booster }))).toThrow(/sum_hessian: expected 3 values/);
    delete (tree as { sum_hessian?: unknown }).sum_hessian;
    expect(loadModelDocument(artifact('xgboost', { booster })).explainable).toBe(false);
  });
});
