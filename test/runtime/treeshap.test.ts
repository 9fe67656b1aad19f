/**
 * TreeSHAP's precomputed tables (src/runtime/treeshap.ts, `treeShapPlan`): on random ensembles built
 * for the edge cases (test/helpers/ensembles.ts: ties on thresholds, NaN going both default ways,
 * ±Infinity, lone leaves, repeated features on a path, every split mode) with random covers, zero
 * covers included, the tables, the quadrature scan and Algorithm 2 agree; the table budget is a
 * bound (at it: tables; one entry less: the scan), and each fallback is taken where it should be.
 * `Model.explainFieldsOfRows` (the batch entry point) gives what `Model.explain` gives. Parity with
 * XGBoost's pred_contribs and brute force is in explain.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TABLE_BYTES, loadModelDocument, treeShapAlgorithm2, treeShapPlan } from '../../src/runtime/index.js';
import type { TreeEnsemble } from '../../src/runtime/trees.js';
import { randomEnsemble } from '../helpers/ensembles.js';
import { seededRandom } from '../helpers/random.js';
import { readReference } from '../helpers/reference.js';

/** `e` with covers: leaves 0 (one in eight) to 9, a split the sum of its children (at least 1). */
function withCovers(e: TreeEnsemble, seed: number): TreeEnsemble {
  const rnd = seededRandom(seed);
  const cover = new Float64Array(e.left.length);
  const fill = (node: number): number => {
    const l = e.left[node] as number;
    if (l === -1) {
      cover[node] = rnd() < 0.125 ? 0 : 1 + Math.floor(rnd() * 9);
      return cover[node] as number;
    }
    let c = fill(l) + fill(e.right[node] as number);
    if (c === 0) {
      // A split needs cover (the loader refuses 0): give its two leaves some.
      cover[l] = 1;
      cover[e.right[node] as number] = 2;
      c = 3;
    }
    cover[node] = c;
    return c;
  };
  for (let t = 0; t < e.treeCount; t++) fill(e.roots[t] as number);
  return { ...e, cover };
}

const VALUES = [Number.NaN, Number.NEGATIVE_INFINITY, -2.5, -0, 0, 0.1, 0.5, 0.7, 1, 3.25, 5, Number.POSITIVE_INFINITY];

/** Double rows also take values that differ from a threshold only beyond float32 precision. */
const DOUBLES = [...VALUES, 1 + 2 ** -30, 1 - 2 ** -30, 0.1 + 2 ** -40, 0.1 - 2 ** -40];

/** Rows on and around the thresholds, NaN and infinities included, of the ensemble's row type. */
function rows(e: TreeEnsemble, seed: number, n: number): (Float32Array | Float64Array)[] {
  const rnd = seededRandom(seed);
  const pool = e.rowType === 'float64' ? DOUBLES : VALUES;
  return Array.from({ length: n }, () => {
    const row = e.rowType === 'float64' ? new Float64Array(e.columnCount) : new Float32Array(e.columnCount);
    for (let c = 0; c < row.length; c++) row[c] = pool[Math.floor(rnd() * pool.length)] as number;
    return row;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Explains `e` by every method on `n` rows; returns the largest difference from Algorithm 2. */
function worstAgainstAlgorithm2(e: TreeEnsemble, seed: number, n: number, options = {}): number {
  const plan = treeShapPlan(e, options);
  const reference = treeShapAlgorithm2(e);
  if (!plan || !reference) throw new Error('no covers');
  const a = new Float64Array(e.columnCount + 1);
  const b = new Float64Array(e.columnCount + 1);
  let worst = 0;
  for (const row of rows(e, seed, n)) {
    a.fill(Number.NaN); // every entry must be written
    plan.explain(row, 0, a);
    reference(row, 0, b);
    worst = Math.max(worst, maxAbsDiff(a, b));
  }
  return worst;
}

describe('TreeSHAP tables = the quadrature scan = Algorithm 2 on random ensembles', () => {
  for (const comparison of ['lt', 'le', 'le-float64'] as const) {
    for (const depth of [1, 2, 3, 4, 6, 8]) {
      it(`${comparison}, depth ≤ ${depth}: 60 ensembles × 25 rows`, () => {
        for (let seed = 1; seed <= 60; seed++) {
          const e = withCovers(randomEnsemble(seed * 31 + depth, comparison, depth), seed);
          const plan = treeShapPlan(e);
          expect(plan?.method).toBe('tables');
          expect(worstAgainstAlgorithm2(e, seed, 25), `seed ${seed}`).toBeLessThan(1e-12);
          // (Trees that are all lone leaves need no table at all.)
          const fallback = plan?.tableBytes === 0 ? 'tables' : e.maxDepth > 8 ? 'algorithm2' : 'quadrature';
          expect(treeShapPlan(e, { tableBytes: 0 })?.method).toBe(fallback);
          expect(worstAgainstAlgorithm2(e, seed, 25, { tableBytes: 0 }), `seed ${seed}, scan`).toBeLessThan(1e-12);
        }
      });
    }
  }

  it('deeper than the quadrature scan handles (depth 12): tables when they fit, else Algorithm 2', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const e = withCovers(randomEnsemble(seed, 'lt', 12), seed);
      if (e.maxDepth <= 8) continue;
      expect(treeShapPlan(e)?.method).toBe('tables');
      expect(worstAgainstAlgorithm2(e, seed, 10), `seed ${seed}`).toBeLessThan(1e-12);
      expect(treeShapPlan(e, { tableBytes: 0 })?.method).toBe('algorithm2');
    }
  });
});

describe('the table budget', () => {
  it('is a bound: tables at exactly their size, the quadrature scan one entry below', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const e = withCovers(randomEnsemble(seed, 'le', 6), seed);
      const bytes = treeShapPlan(e)?.tableBytes as number;
      expect(treeShapPlan(e, { tableBytes: bytes })?.method).toBe('tables');
      if (bytes > 0) expect(treeShapPlan(e, { tableBytes: bytes - 8 })?.method).toBe('quadrature');
    }
  });

  it('a path of more than 16 distinct features gets no table', () => {
    // A chain of 17 splits on 17 different columns (leaves hang off each split), then one of 16.
    const chain = (length: number): TreeEnsemble => {
      const n = 2 * length + 1;
      const left = new Int32Array(n).fill(-1);
      const right = new Int32Array(n).fill(-1);
      const feature = new Int32Array(n);
      const cover = new Float64Array(n);
      for (let k = 0; k < length; k++) {
        left[2 * k] = 2 * k + 1; // a leaf
        right[2 * k] = 2 * k + 2; // the rest of the chain
        feature[2 * k] = k;
      }
      for (let i = n - 1; i >= 0; i--)
        cover[i] = left[i] === -1 ? 1 : (cover[i + 1] as number) + (cover[i + 2] as number);
      return {
        comparison: 'lt',
        rowType: 'float32',
        accumulation: 'float32',
        baseMargin: 0,
        columnCount: length,
        treeCount: 1,
        roots: Int32Array.of(0),
        left,
        right,
        feature,
        threshold: new Float64Array(n).fill(0.5),
        defaultLeft: new Uint8Array(n),
        leafValue: Float64Array.from({ length: n }, (_, i) => (left[i] === -1 ? i / 10 : 0)),
        maxDepth: length,
        cover,
      };
    };
    expect(treeShapPlan(chain(17))?.method).toBe('algorithm2');
    const sixteen = chain(16);
    expect(treeShapPlan(sixteen, { tableBytes: 1 << 30 })?.method).toBe('tables');
    expect(worstAgainstAlgorithm2(sixteen, 3, 5, { tableBytes: 1 << 30 })).toBeLessThan(1e-12);
  });

  it('the shipped XGBoost model gets tables within the default budget, shown in its evaluator summary', () => {
    const url = new URL('../../model-artifacts/xgboost/1.0.0.json', import.meta.url);
    const model = loadModelDocument(JSON.parse(readFileSync(url, 'utf8')), 'xgboost/1.0.0.json');
    expect(model.evaluator.summary.explain_method).toBe('tables');
    const bytes = model.evaluator.summary.explain_table_bytes as number;
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(DEFAULT_TABLE_BYTES);
  });
});

describe('Model.explainFieldsOfRows: many encoded rows into one array', () => {
  const dir = new URL('../../model-artifacts/', import.meta.url);
  const read = (path: string): unknown => JSON.parse(readFileSync(new URL(path, dir), 'utf8'));
  const loans = readReference(dir).records.slice(0, 40); // loans + their scenario features
  for (const name of ['xgboost', 'gradient_boosting', 'logistic_regression']) {
    it(`${name}: the same numbers as explain(loan), field by field, and the base value`, () => {
      const model = loadModelDocument(read(`${name}/1.0.0.json`), `${name}/1.0.0.json`);
      const rows = model.newRows(loans.length);
      for (const [i, loan] of loans.entries()) model.encodeInto(loan, rows, i);
      const F = model.fields.length;
      const out = model.explainFieldsOfRows(rows, loans.length);
      expect(out).toHaveLength(loans.length * (F + 1));
      loans.forEach((loan, i) => {
        const e = model.explain(loan);
        expect(Array.from(out.subarray(i * (F + 1), (i + 1) * (F + 1)))).toEqual([
          ...model.fields.map((f) => e.fields[f.name]),
          e.baseValue,
        ]);
      });
      expect(() => model.explainFieldsOfRows(rows, loans.length, new Float64Array(F))).toThrow(RangeError);
    });
  }
});
