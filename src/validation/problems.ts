/**
 * What the statistics refuse, as {field, message} problems a route can turn into a 4xx (like src/loan/validate.ts
 * and src/loss/validate.ts). A statistic never answers NaN: input it cannot use (no loans, one class only, a
 * score that is not a finite number, a PD outside [0, 1]) throws a ValidationInputError naming the field.
 */
export interface StatisticProblem {
  readonly field: string;
  readonly message: string;
}

/** Thrown for input a statistic cannot use; `problems` names the fields and reasons. */
export class ValidationInputError extends RangeError {
  readonly problems: readonly StatisticProblem[];
  constructor(problems: readonly StatisticProblem[]) {
    super(problems.map((p) => `${p.field} ${p.message}`).join('; '));
    this.name = 'ValidationInputError';
    this.problems = problems;
  }
}

/** Throws a ValidationInputError when there are problems. */
export function refuse(problems: readonly StatisticProblem[]): void {
  if (problems.length > 0) throw new ValidationInputError(problems);
}

/** Throws for one problem. */
export function fail(field: string, message: string): never {
  throw new ValidationInputError([{ field, message }]);
}

/** A probability parameter in (0, 1) exclusive, e.g. a significance level. */
export function checkOpenUnit(field: string, x: number): void {
  if (!(Number.isFinite(x) && x > 0 && x < 1)) fail(field, `must be a number strictly between 0 and 1, got ${x}`);
}

/** How many of the ascending `a` are below `v` (the index of the first ≥ v). */
export function lowerBound(a: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
