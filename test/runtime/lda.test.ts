/**
 * LDA is a family of its own: the artifact carries the class means, the shared covariance and the priors,
 * and the runtime derives the discriminant at load (src/runtime/lda.ts, a Cholesky solve with ml-matrix).
 * Checked against scikit-learn's coef_, intercept_ and probabilities, recorded by `npm run train` in
 * model-artifacts/reference/holdout.json.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DocumentReader } from '../../src/runtime/check.js';
import { deriveDiscriminant, loadModelDocument, MAX_LDA_COLUMNS, MIN_PIVOT_RATIO } from '../../src/runtime/index.js';
import { loadLda } from '../../src/runtime/lda.js';
import { readReference } from '../helpers/reference.js';

const ARTIFACTS = process.env.ARTIFACTS_DIR
  ? pathToFileURL(`${process.env.ARTIFACTS_DIR.replace(/\/$/, '')}/`)
  : new URL('../../model-artifacts/', import.meta.url);
const read = (path: string) => JSON.parse(readFileSync(new URL(path, ARTIFACTS), 'utf8'));

/**
 * Tolerances (docs/ARTIFACT_FORMAT.md), measured on the shipped model: max |Δcoef| 6.4e-14 (4.1e-14 of
 * max |coef|), |Δintercept| 1.6e-14, and on every one of the 5,603 reference rows |Δprobability| ≤ 5.5e-14
 * and |Δmargin| ≤ 2.6e-13.
 */
const COEF_TOLERANCE = 1e-12;
const PROBABILITY_TOLERANCE = 1e-12;

describe('the shipped LDA artifact', () => {
  const doc = read('lda/1.0.0.json') as { model: Record<string, unknown>; columns: unknown[] };
  const reference = readReference(ARTIFACTS); // loans + their scenario features (`records`)
  const expected = reference.models['lda/1.0.0'];

  it('carries the class means, the shared covariance and the priors, not a collapsed discriminant', () => {
    const c = doc.columns.length;
    expect(Object.keys(doc.model).sort()).toEqual(['covariance', 'means', 'priors', 'reference']);
    const means = doc.model.means as number[][];
    expect(means.map((m) => m.length)).toEqual([c, c]);
    const covariance = doc.model.covariance as number[][];
    expect(covariance.length).toBe(c);
    for (const row of covariance) expect(row.length).toBe(c);
    expect((doc.model.priors as number[]).length).toBe(2);
  });

  it("derives scikit-learn's coef_ and intercept_", () => {
    const derived = loadLda(new DocumentReader('lda'), doc.model, doc.columns.length);
    const coef = expected?.coef as number[];
    expect(derived.coefficients.length).toBe(coef.length);
    const scale = Math.max(...coef.map(Math.abs));
    let worst = 0;
    coef.forEach((v, j) => {
      worst = Math.max(worst, Math.abs((derived.coefficients[j] as number) - v) / scale);
    });
    expect(worst).toBeLessThanOrEqual(COEF_TOLERANCE);
    const intercept = expected?.intercept as number;
    expect(Math.abs(derived.intercept - intercept) / (1 + Math.abs(intercept))).toBeLessThanOrEqual(COEF_TOLERANCE);
  });

  it("gives scikit-learn's probabilities and margins on every reference row", () => {
    const got = loadModelDocument(doc, 'lda/1.0.0.json').scoreMany(reference.records);
    const want = expected as { probability: number[]; margin: number[] };
    expect(got.probability.length).toBe(want.probability.length);
    for (let i = 0; i < got.probability.length; i++) {
      const dp = Math.abs((got.probability[i] as number) - (want.probability[i] as number));
      const dm = Math.abs((got.margin[i] as number) - (want.margin[i] as number));
      if (!(dp <= PROBABILITY_TOLERANCE && dm <= 1e-12)) expect.fail(`row ${i}: Δp ${dp}, Δmargin ${dm}`);
    }
  });
});

/** A two-column LDA artifact by its parameters. */
function artifact(model: Record<string, unknown>) {
  return {
    format: 'loan-default-model/1',
    name: 'toy',
    family: 'lda',
    version: '1.0.0',
    label: 'default',
    decision_threshold: 0.5,
    fields: [
      { name: 'a', kind: 'numeric', min: -10, max: 10 },
      { name: 'b', kind: 'numeric', min: -10, max: 10 },
    ],
    columns: [
      { name: 'a', op: 'numeric', field: 'a' },
      { name: 'b', op: 'numeric', field: 'b' },
    ],
    model,
  };
}
const params = (covariance: number[][], extra: Record<string, unknown> = {}) => ({
  means: [
    [0, 0],
    [1, 2],
  ],
  covariance,
  priors: [0.75, 0.25],
  ...extra,
});

describe('LDA by its parameters', () => {
  it('derives w = Σ⁻¹(μ1 − μ0) and b = −½(μ1 + μ0)·w + log(p1/p0)', () => {
    // Σ = [[2, 1], [1, 2]]: Σ⁻¹ = [[2, −1], [−1, 2]] / 3, so w = [0, 1] and b = −½ · 2 + log(1/3).
    const model = loadModelDocument(
      artifact(
        params([
          [2, 1],
          [1, 2],
        ]),
      ),
    );
    const d = deriveDiscriminant(
      [Float64Array.of(0, 0), Float64Array.of(1, 2)],
      [Float64Array.of(2, 1), Float64Array.of(1, 2)],
      [0.75, 0.25],
    );
    expect(Array.from(d.coefficients)).toEqual([0, 1].map((v) => expect.closeTo(v, 15)));
    expect(d.intercept).toBeCloseTo(-1 + Math.log(1 / 3), 15);
    const s = model.score({ a: 3, b: 4 });
    expect(s.margin).toBeCloseTo(4 - 1 + Math.log(1 / 3), 14);
    expect(model.capabilities).toEqual({ acceptsMissing: false, explanation: 'linear', link: 'logistic' });
  });

  it('refuses a covariance that is not positive definite, naming the file and the column', () => {
    const cases: [string, number[][], RegExp][] = [
      [
        'singular',
        [
          [1, 2],
          [2, 4],
        ],
        /column 1 is \(nearly\) a linear combination/,
      ],
      [
        'indefinite',
        [
          [1, 2],
          [2, 1],
        ],
        /not positive definite: column 1/,
      ],
      [
        'no variance',
        [
          [0, 0],
          [0, 1],
        ],
        /column 0 has no variance/,
      ],
      [
        'negative variance',
        [
          [1, 0],
          [0, -1],
        ],
        /column 1 has no variance/,
      ],
      [
        'nearly singular',
        [
          [1, 1],
          [1, 1 + MIN_PIVOT_RATIO / 10],
        ],
        /column 1 is \(nearly\)/,
      ],
    ];
    for (const [what, covariance, problem] of cases) {
      const load = () => loadModelDocument(artifact(params(covariance)), `${what}.json`);
      expect(load, what).toThrow(problem);
      expect(load, what).toThrow(`${what}.json: model.covariance: not positive definite: column`);
    }
    // Just above the limit the solve goes ahead (w = [(ε − 1)/ε, 1/ε] for Σ = [[1, 1], [1, 1 + ε]]).
    const eps = MIN_PIVOT_RATIO * 10;
    const d = deriveDiscriminant(
      [Float64Array.of(0, 0), Float64Array.of(1, 2)],
      [Float64Array.of(1, 1), Float64Array.of(1, 1 + eps)],
      [0.5, 0.5],
    );
    expect((d.coefficients[1] as number) * eps).toBeCloseTo(1, 4);
  });

  it('refuses a malformed section with the path and the reason', () => {
    const sym = [
      [2, 1],
      [1, 2],
    ];
    const refused: [Record<string, unknown>, RegExp][] = [
      [
        params([
          [2, 1],
          [1.5, 2],
        ]),
        /model\.covariance: not symmetric: \[1\]\[0\] ≠ \[0\]\[1\]/,
      ],
      [params([[2, 1]]), /model\.covariance: expected 2 rows \(one per column\), got 1/],
      [params([[2, 1], [1]]), /model\.covariance\[1\]: expected 2 values, got 1/],
      [params(sym, { means: [[0, 0]] }), /model\.means: expected 2 class means \(binary LDA\), got 1/],
      [params(sym, { means: [[0, 0], [1]] }), /model\.means\[1\]: expected 2 values, got 1/],
      [params(sym, { priors: [1, 0] }), /model\.priors\[0\]: must lie in \(0, 1\), got 1/],
      [params(sym, { priors: [0.5] }), /model\.priors: expected 2 values, got 1/],
      [params(sym, { coefficients: [1, 1] }), /model\.coefficients: an LDA given by means, covariance, priors derives/],
      [{ means: params(sym).means, covariance: sym }, /model\.priors: missing: an LDA given by its parameters needs/],
      [params(sym, { reference: [0] }), /model\.reference: expected 2 values, got 1/],
      [
        params([
          [2, 1],
          [1, Number.NaN],
        ]),
        /model\.covariance\[1\]\[1\]: expected a finite number/,
      ],
    ];
    for (const [model, problem] of refused) expect(() => loadModelDocument(artifact(model))).toThrow(problem);
  });

  it('refuses more columns than MAX_LDA_COLUMNS before reading the covariance', () => {
    const sym = [
      [2, 1],
      [1, 2],
    ];
    const reader = new DocumentReader('wide.json');
    let read = 0;
    const model = new Proxy(params(sym), {
      get(target, key) {
        if (key === 'means' || key === 'covariance') read++;
        return target[key as keyof typeof target];
      },
    });
    expect(() => loadLda(reader, model, MAX_LDA_COLUMNS + 1)).toThrow(
      `wide.json: model.covariance: ${MAX_LDA_COLUMNS + 1} columns: an LDA given by its parameters has at most ${MAX_LDA_COLUMNS}`,
    );
    // Presence was checked, no values were read.
    expect(read).toBe(2);
  });

  it('still reads the collapsed coefficients and intercept (LDA imports, artifacts written before)', () => {
    const model = loadModelDocument(artifact({ coefficients: [1, 2], intercept: 0.5 }));
    expect(model.score({ a: 1, b: 1 }).margin).toBe(3.5);
  });
});
