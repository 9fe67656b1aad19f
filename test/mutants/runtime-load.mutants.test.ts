/**
 * Load-time refusals of malformed scikit-learn gradient boosting (src/runtime/gbm.ts) and LDA
 * (src/runtime/lda.ts) artifacts: each is refused with the exact path in the document and the reason,
 * which is what a person importing a model reads. Documents are loaded inside each test, so a
 * mutation run attributes the load-time code to these tests. Written for the survivors of
 * `npm run mutation` (docs/MUTATION.md).
 */
import { describe, expect, it } from 'vitest';
import { loadModelDocument, MIN_PIVOT_RATIO } from '../../src/runtime/index.js';
import { artifact, sklearnStump } from '../fixtures/tiny-models.js';
import { expectRefused, refusal } from '../helpers/refusal.js';

/** A two-tree gradient boosting artifact; `patch` overrides model keys, `tree1` keys of the second tree. */
function gbm(patch: Record<string, unknown> = {}, tree1: Record<string, unknown> = {}) {
  return artifact('gradient_boosting', {
    init_margin: 0.25,
    learning_rate: 0.5,
    trees: [sklearnStump(0.5, 0), { ...sklearnStump(1.5, 1), ...tree1 }],
    ...patch,
  });
}

describe('gradient boosting refused at load, by path and reason', () => {
  it('loads the well-formed document and scores init_margin + learning_rate × leaves', () => {
    const m = loadModelDocument(gbm(), 'm.json');
    // a = 0 goes left in tree 0 (-1), b = 2 goes right in tree 1 (+2).
    expect(m.score({ a: 0, b: 2 }).margin).toBe(0.25 + 0.5 * -1 + 0.5 * 2);
    expect(m.score({ a: 1, b: 0 }).margin).toBe(0.25 + 0.5 * 2 + 0.5 * -1);
  });

  it.each([
    ['init_margin not a number', gbm({ init_margin: 'x' }), 'model.init_margin', /^expected a finite number/],
    ['learning_rate not a number', gbm({ learning_rate: null }), 'model.learning_rate', /^expected a finite number/],
    ['a zero learning_rate', gbm({ learning_rate: 0 }), 'model.learning_rate', /^must be positive, got 0$/],
    ['a negative learning_rate', gbm({ learning_rate: -0.1 }), 'model.learning_rate', /^must be positive, got -0.1$/],
    ['trees not an array', gbm({ trees: {} }), 'model.trees', /^expected an array/],
    ['no trees', gbm({ trees: [] }), 'model.trees', /^the ensemble has no trees$/],
    [
      'children_left not an array',
      gbm({}, { children_left: 'x' }),
      'model.trees[1].children_left',
      /^expected an array/,
    ],
    [
      'children_right of the wrong length',
      gbm({}, { children_right: [2, -1] }),
      'model.trees[1].children_right',
      /^expected 3 values, got 2$/,
    ],
    ['feature of the wrong length', gbm({}, { feature: [1] }), 'model.trees[1].feature', /^expected 3 values, got 1$/],
    [
      'threshold with a non-number',
      gbm({}, { threshold: [1.5, 'x', -2] }),
      'model.trees[1].threshold[1]',
      /^expected a finite number/,
    ],
    ['value of the wrong length', gbm({}, { value: [0, 1] }), 'model.trees[1].value', /^expected 3 values, got 2$/],
    [
      'missing_go_to_left of the wrong length',
      gbm({}, { missing_go_to_left: [1, 0] }),
      'model.trees[1].missing_go_to_left',
      /^expected 3 values, got 2$/,
    ],
    [
      'missing_go_to_left with a value other than 0 or 1',
      gbm({}, { missing_go_to_left: [1, 0, 2] }),
      'model.trees[1].missing_go_to_left[2]',
      /^expected 0 or 1, got 2$/,
    ],
    [
      'missing_go_to_left with a negative value',
      gbm({}, { missing_go_to_left: [-1, 0, 0] }),
      'model.trees[1].missing_go_to_left[0]',
      /^expected 0 or 1, got -1$/,
    ],
  ])('%s', expectRefused);

  it('sends a missing value the way missing_go_to_left says', () => {
    const left = loadModelDocument(gbm({}, { missing_go_to_left: [1, 0, 0] }), 'm.json');
    const right = loadModelDocument(gbm({}, { missing_go_to_left: [0, 0, 0] }), 'm.json');
    expect(left.score({ a: 0, b: null }).margin).toBe(0.25 - 0.5 - 0.5);
    expect(right.score({ a: 0, b: null }).margin).toBe(0.25 - 0.5 + 1);
  });
});

/** A two-column LDA given by its parameters; `patch` overrides model keys. */
function lda(patch: Record<string, unknown> = {}) {
  return artifact('lda', {
    means: [
      [0, 0],
      [1, 2],
    ],
    covariance: [
      [1, 0],
      [0, 1],
    ],
    priors: [0.75, 0.25],
    ...patch,
  });
}

describe('LDA refused at load, by path and reason', () => {
  it('derives the discriminant of a well-formed document', () => {
    const m = loadModelDocument(lda(), 'm.json');
    // w = Σ⁻¹(μ1 − μ0) = (1, 2); b = −½ (μ0 + μ1)·w + log(π1 / π0) = −2.5 + log(1/3).
    expect(m.score({ a: 1, b: 1 }).margin).toBeCloseTo(3 - 2.5 + Math.log(1 / 3), 12);
  });

  it.each([
    [
      'means without covariance',
      lda({ covariance: undefined, priors: undefined }),
      'model.covariance',
      /^missing: an LDA given by its parameters needs means, covariance, priors$/,
    ],
    [
      'means and covariance without priors',
      lda({ priors: undefined }),
      'model.priors',
      /^missing: an LDA given by its parameters needs means, covariance, priors$/,
    ],
    [
      'parameters with coefficients',
      lda({ coefficients: [1, 2] }),
      'model.coefficients',
      /^an LDA given by means, covariance, priors derives its discriminant: drop coefficients$/,
    ],
    [
      'parameters with an intercept',
      lda({ intercept: 0 }),
      'model.intercept',
      /^an LDA given by means, covariance, priors derives its discriminant: drop intercept$/,
    ],
    ['means not an array', lda({ means: 'x' }), 'model.means', /^expected an array/],
    ['covariance not an array', lda({ covariance: 'x' }), 'model.covariance', /^expected an array/],
    ['a prior of 0', lda({ priors: [0, 1] }), 'model.priors[0]', /^must lie in \(0, 1\), got 0$/],
    ['a prior of 1', lda({ priors: [0.5, 1] }), 'model.priors[1]', /^must lie in \(0, 1\), got 1$/],
    ['a negative prior', lda({ priors: [-0.5, 0.5] }), 'model.priors[0]', /^must lie in \(0, 1\), got -0.5$/],
  ])('%s', expectRefused);

  it('refuses a covariance whose pivot is below MIN_PIVOT_RATIO × the variance, for a variance above 1', () => {
    // Σ = [[d, x], [x, d]] has a second Cholesky pivot d − x²/d ≈ 1e-9: below 1e-10 × 100, a singular
    // covariance for the runtime, though above 1e-10 / 100.
    const d = 100;
    const x = Math.sqrt(d * d - d * 1e-9);
    const r = refusal(
      lda({
        covariance: [
          [d, x],
          [x, d],
        ],
      }),
    );
    expect(MIN_PIVOT_RATIO).toBe(1e-10);
    expect(r.path).toBe('model.covariance');
    expect(r.problem).toMatch(
      /^not positive definite: column 1 is \(nearly\) a linear combination of the columns before it/,
    );
  });
});
