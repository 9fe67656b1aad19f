/**
 * Every list of problems a 4xx answer carries (validation `details`, a tape header's problems, a
 * tape row's problems) holds at most MAX_PROBLEMS entries and counts the ones it leaves out, so that
 * an answer stays small whatever the input (issue 18: a header of a million empty columns made a
 * 69 MB answer).
 */

/** Most problems listed in one answer (or one tape row); the others are only counted. */
export const MAX_PROBLEMS = 100;

/** A list of problems that keeps the first `max` and counts the rest. */
export class ProblemList<T> {
  readonly items: T[] = [];
  /** Problems found beyond the first `max`. */
  omitted = 0;

  constructor(readonly max: number = MAX_PROBLEMS) {}

  /** True while another problem would be listed (callers skip costly wording when false). */
  get open(): boolean {
    return this.items.length < this.max;
  }

  get size(): number {
    return this.items.length + this.omitted;
  }

  push(item: T): void {
    if (this.items.length < this.max) this.items.push(item);
    else this.omitted++;
  }
}

/** The first `max` of `list`, and how many were left out (added to `alreadyOmitted`). */
export function capProblems<T>(
  list: readonly T[],
  alreadyOmitted = 0,
  max: number = MAX_PROBLEMS,
): { items: readonly T[]; omitted: number } {
  if (list.length <= max) return { items: list, omitted: alreadyOmitted };
  return { items: list.slice(0, max), omitted: alreadyOmitted + list.length - max };
}
