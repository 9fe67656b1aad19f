import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { DocumentReader } from './check.js';
import { type LinearModel, loadLinear, readReference } from './linear.js';

/**
 * Binary linear discriminant analysis from its parameters: the class means μ0, μ1 (`means`, 2 × C),
 * the shared within-class covariance Σ (`covariance`, C × C) and the class priors p0, p1 (`priors`).
 * The discriminant is derived at load, as scikit-learn defines it for two classes:
 *
 *   w = Σ⁻¹ (μ1 − μ0)   (a Cholesky solve, ml-matrix)
 *   b = −½ (μ1 + μ0) · w + log p1 − log p0
 *
 * and the model scores margin = x · w + b, probability = sigmoid(margin), like logistic regression.
 */

/**
 * Smallest accepted Cholesky pivot relative to its diagonal entry (L_jj² / Σ_jj): below it, column j
 * is (nearly) a linear combination of the columns before it, and the solve would amplify rounding by
 * more than 1e10. The shipped model's smallest ratio is about 1e-4.
 */
export const MIN_PIVOT_RATIO = 1e-10;

/**
 * Most columns of an LDA given by its parameters: the Cholesky factorisation costs C³/6 multiply-adds,
 * run synchronously at load (about 2 s for 1,024 columns with ml-matrix), and C² covariance values; an
 * artifact with more is refused before any is read. (The collapsed form has no such cost.)
 */
export const MAX_LDA_COLUMNS = 1024;

export interface Discriminant {
  readonly coefficients: Float64Array;
  readonly intercept: number;
}

/**
 * w and b from the means, covariance and priors (validated: finite, shapes agree). Throws an `Error`
 * saying why when Σ is not symmetric or not (numerically) positive definite.
 */
export function deriveDiscriminant(
  means: readonly [Float64Array, Float64Array],
  covariance: readonly Float64Array[],
  priors: readonly [number, number],
): Discriminant {
  const [m0, m1] = means;
  const c = m0.length;
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < i; j++) {
      if ((covariance[i] as Float64Array)[j] !== (covariance[j] as Float64Array)[i]) {
        throw new Error(`not symmetric: [${i}][${j}] ≠ [${j}][${i}]`);
      }
    }
  }
  const sigma = new Matrix(covariance.map((row) => Array.from(row)));
  const cholesky = new CholeskyDecomposition(sigma);
  const l = cholesky.lowerTriangularMatrix;
  for (let j = 0; j < c; j++) {
    const diagonal = (covariance[j] as Float64Array)[j] as number;
    const pivot = l.get(j, j) ** 2;
    if (!(diagonal > 0) || !(pivot > MIN_PIVOT_RATIO * diagonal)) {
      throw new Error(
        `not positive definite: column ${j} ${diagonal > 0 ? 'is (nearly) a linear combination of the columns before it' : 'has no variance'} (Cholesky pivot ${pivot} for a variance of ${diagonal}); a singular covariance has no discriminant`,
      );
    }
  }
  const difference = Matrix.columnVector(Array.from(m1, (v, j) => v - (m0[j] as number)));
  const coefficients = Float64Array.from(cholesky.solve(difference).getColumn(0));
  let s = 0;
  for (let j = 0; j < c; j++) s += ((m0[j] as number) + (m1[j] as number)) * (coefficients[j] as number);
  const intercept = -0.5 * s + (Math.log(priors[1]) - Math.log(priors[0]));
  return { coefficients, intercept };
}

const PARAMETERS = ['means', 'covariance', 'priors'] as const;

/** The LDA `model` section: means/covariance/priors (derived here), or coefficients/intercept as is. */
export function loadLda(r: DocumentReader, model: Record<string, unknown>, columnCount: number): LinearModel {
  const present = PARAMETERS.filter((k) => model[k] !== undefined);
  if (present.length === 0) return loadLinear(r, model, columnCount);
  if (present.length < PARAMETERS.length) {
    const absent = PARAMETERS.filter((k) => model[k] === undefined);
    r.fail(`model.${absent[0]}`, `missing: an LDA given by its parameters needs ${PARAMETERS.join(', ')}`);
  }
  for (const k of ['coefficients', 'intercept']) {
    if (model[k] !== undefined) {
      r.fail(`model.${k}`, `an LDA given by ${PARAMETERS.join(', ')} derives its discriminant: drop ${k}`);
    }
  }
  if (columnCount > MAX_LDA_COLUMNS) {
    r.fail(
      'model.covariance',
      `${columnCount} columns: an LDA given by its parameters has at most ${MAX_LDA_COLUMNS} (the Cholesky solve at load grows as the cube)`,
    );
  }
  const rawMeans = r.array(model.means, 'model.means');
  if (rawMeans.length !== 2) r.fail('model.means', `expected 2 class means (binary LDA), got ${rawMeans.length}`);
  const means = [0, 1].map((k) => r.finiteArray(rawMeans[k], `model.means[${k}]`, columnCount)) as [
    Float64Array,
    Float64Array,
  ];
  const rows = r.array(model.covariance, 'model.covariance');
  if (rows.length !== columnCount) {
    r.fail('model.covariance', `expected ${columnCount} rows (one per column), got ${rows.length}`);
  }
  const covariance = rows.map((row, i) => r.finiteArray(row, `model.covariance[${i}]`, columnCount));
  const p = r.finiteArray(model.priors, 'model.priors', 2);
  p.forEach((v, k) => {
    if (!(v > 0 && v < 1)) r.fail(`model.priors[${k}]`, `must lie in (0, 1), got ${v}`);
  });
  let derived: Discriminant;
  try {
    derived = deriveDiscriminant(means, covariance, [p[0] as number, p[1] as number]);
  } catch (err) {
    return r.fail('model.covariance', (err as Error).message);
  }
  return { ...derived, ...readReference(r, model, columnCount) };
}
