import type { DocumentReader } from '../check.js';
import type { Evaluator, EvaluatorOptions } from '../evaluator.js';

/** What a family can do, declared once in its module: the service reads these, never the family's name. */
export interface FamilyCapabilities {
  /**
   * Feature rows may hold NaN (a missing value the trees send down a learnt default branch). When false,
   * every column must be present: the routes refuse a missing value rather than score NaN.
   */
  readonly acceptsMissing: boolean;
  /** How `explain` splits a margin: coefficient × (x − training mean), or path-dependent TreeSHAP. */
  readonly explanation: 'linear' | 'treeshap';
  /** Margin → probability: the logistic function in double, or rounded to float32 as XGBoost returns it. */
  readonly link: 'logistic' | 'logistic-float32';
}

/** A model family: its name in artifacts, what it is, how to read its `model` section, what it can do. */
export interface ModelFamily {
  readonly family: string;
  readonly description: string;
  readonly capabilities: FamilyCapabilities;
  load(r: DocumentReader, model: Record<string, unknown>, columnCount: number, options: EvaluatorOptions): Evaluator;
}
