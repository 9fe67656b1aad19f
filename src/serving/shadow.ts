import type { LoanRecord, Model } from '../runtime/index.js';
import type { PredictionRecorder } from './record.js';

/** Where a failed shadow is reported (pino's `error`). */
export interface ShadowLog {
  error(details: object, message: string): void;
}

/**
 * The shadow version scores the loan records its champion(s) answered, after the response is on its
 * way: never returned, never able to fail the request, compared in the metrics only. It runs when a
 * request named no version and sent loan records (a V2 feature tensor is one version's columns, which
 * another version need not share). `served[i]` answered loan i with PD `answered[i]`.
 */
export function scoreShadow(
  recorder: PredictionRecorder,
  log: ShadowLog,
  shadow: Model,
  served: readonly Model[],
  loans: readonly LoanRecord[],
  answered: ArrayLike<number>,
): void {
  setImmediate(() => {
    for (const [champion, indices] of groupBy(served)) {
      if (champion === shadow) continue;
      try {
        const all = indices.length === loans.length;
        const shadowPd = shadow.scoreMany(all ? loans : indices.map((i) => loans[i] as LoanRecord)).probability;
        recorder.shadow(champion, shadow, all ? answered : indices.map((i) => answered[i] as number), shadowPd);
      } catch (err) {
        recorder.shadowFailed(champion, shadow);
        log.error({ err, model: shadow.name, shadow: shadow.version }, 'shadow scoring failed');
      }
    }
  });
}

/** Indices of `served` grouped by model, in first-seen order. */
export function groupBy(served: readonly Model[]): Map<Model, number[]> {
  const groups = new Map<Model, number[]>();
  served.forEach((m, i) => {
    const list = groups.get(m);
    if (list) list.push(i);
    else groups.set(m, [i]);
  });
  return groups;
}
