import type { DocumentReader } from './check.js';

/** Logistic regression and binary LDA: margin = x · coefficients + intercept. */
export interface LinearModel {
  readonly coefficients: Float64Array;
  readonly intercept: number;
  /**
   * The point explanations are measured from (the training means of the encoded columns), when the
   * artifact has it: contribution j = coefficients[j] · (x[j] − reference[j]). Scoring ignores it.
   */
  readonly reference?: Float64Array;
}

export function loadLinear(r: DocumentReader, model: Record<string, unknown>, columnCount: number): LinearModel {
  const items = r.array(model.coefficients, 'model.coefficients');
  if (items.length !== columnCount) {
    r.fail('model.coefficients', `feature count mismatch: ${items.length} coefficients for ${columnCount} columns`);
  }
  return {
    coefficients: r.finiteArray(items, 'model.coefficients'),
    intercept: r.finite(model.intercept, 'model.intercept'),
    ...readReference(r, model, columnCount),
  };
}

/** The optional `model.reference` (the training means of the columns), as a spread. */
export function readReference(
  r: DocumentReader,
  model: Record<string, unknown>,
  columnCount: number,
): { reference?: Float64Array } {
  return model.reference === undefined
    ? {}
    : { reference: r.finiteArray(model.reference, 'model.reference', columnCount) };
}

/** The margin of the row starting at `offset`, summed left to right. */
export function linearMargin(model: LinearModel, x: Float64Array, offset: number): number {
  const c = model.coefficients;
  let s = 0;
  for (let j = 0; j < c.length; j++) s += (c[j] as number) * (x[offset + j] as number);
  return s + model.intercept;
}
