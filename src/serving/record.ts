import type { LoanRecord, Model, Score } from '../runtime/index.js';

/**
 * What is recorded per prediction: every scoring call that answers a client (POST /predict, V2
 * inference) is observed once (its model and version, the time it took, the PDs it gave), and a
 * shadow's comparison or failure is recorded by shadow.ts. Tapes (POST /pools/score) keep their own
 * per-tape counters. The recorder is plugins/metrics.ts's `predictionMetrics`.
 */
export interface PredictionRecorder {
  observe(model: Model, seconds: number, probabilities: ArrayLike<number>): void;
  shadow(champion: Model, shadow: Model, championPd: ArrayLike<number>, shadowPd: ArrayLike<number>): void;
  shadowFailed(champion: Model, shadow: Model): void;
}

/** Probabilities and margins of the rows of one scoring call, in their order. */
export interface Scores {
  readonly probability: ArrayLike<number>;
  readonly margin: ArrayLike<number>;
}

const single = (s: Score): Scores => ({ probability: [s.probability], margin: [s.margin] });

/** Scores `loans` with `model` and records the call. One loan takes the single-row evaluator (~1 µs less). */
export function scoreRecorded(recorder: PredictionRecorder, model: Model, loans: readonly LoanRecord[]): Scores {
  const t0 = performance.now();
  const scores = loans.length === 1 ? single(model.score(loans[0] as LoanRecord)) : model.scoreMany(loans);
  recorder.observe(model, (performance.now() - t0) / 1000, scores.probability);
  return scores;
}

/** Scores `n` feature rows laid out for `model` (a V2 [N, C] tensor) and records the call. */
export function scoreRowsRecorded(
  recorder: PredictionRecorder,
  model: Model,
  rows: Float64Array | Float32Array,
  n: number,
) {
  const t0 = performance.now();
  const margin = model.marginsOfRows(rows, n);
  const probability = Float64Array.from(margin, (m) => model.evaluator.probability(m));
  recorder.observe(model, (performance.now() - t0) / 1000, probability);
  return { probability, margin };
}
