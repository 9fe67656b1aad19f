import { ProblemList } from '../problems.js';
import type { LoanRecord, Model } from '../runtime/index.js';
import {
  checkScenario,
  DEFAULT_SCENARIO,
  featureWriter,
  readsScenario,
  type Scenario,
  sameScenarios,
} from '../scenario/index.js';
import { ServingError, type ServingProblem } from './errors.js';

/**
 * The scenario a request is scored under (issue 21; docs/API.md, "Scenarios"): a scenario-conditional
 * model reads, besides the loan, house-price features computed from a scenario (src/scenario). A request
 * names one (`baseline`, `adverse`, `severely_adverse`, `historical`) or sends a custom path; without
 * one it is DEFAULT_SCENARIO. Models that read no scenario feature ignore it.
 */

export { DEFAULT_SCENARIO };

/** Most characters of a custom path sent in a query string (URL-encoded JSON, decoded). */
export const MAX_QUERY_SCENARIO_CHARS = 8192;

/**
 * A scenario in a query string: a name, or a custom path as URL-encoded JSON (a value starting with
 * `{`, at most MAX_QUERY_SCENARIO_CHARS characters once decoded). Refused (400 VALIDATION_FAILED,
 * named `scenario`) when it is too long or not JSON; what it holds is checked by requestScenario.
 */
export function queryScenario(text: string | undefined): unknown {
  if (text === undefined || !text.trimStart().startsWith('{')) return text;
  const refuse = (message: string) =>
    new ServingError('invalid', 'VALIDATION_FAILED', '', [{ field: 'scenario', message }]);
  if (text.length > MAX_QUERY_SCENARIO_CHARS) {
    throw refuse(
      `a custom path in the query is at most ${MAX_QUERY_SCENARIO_CHARS} characters, got ${text.length}: send a longer one in the body`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw refuse(`a custom path in the query must be URL-encoded JSON: ${(err as Error).message}`);
  }
}

const described = (spec: unknown) =>
  typeof spec === 'object' && spec !== null ? 'a custom path' : String(JSON.stringify(spec)).slice(0, 80);

/**
 * The request's scenario from the body (a name or a custom path; null is none) and the query (a name, or a
 * custom path parsed by queryScenario): both only when they give the same scenario (the same name, or the
 * same custom path however written: sameScenarios), else 400 SCENARIO_CONFLICT; refused (400
 * VALIDATION_FAILED, the problems named `scenario…`) unless valid. `where` names the two places in the
 * conflict's message (the CLI's are a tape and an option).
 */
export function requestScenario(
  given: unknown,
  fromQuery: unknown,
  where: { body: string; query: string } = { body: 'the body', query: 'the query' },
): Scenario {
  // `"scenario": null` is no scenario, as a loan field's null is no value: the query's, else the default.
  const fromBody = given === null ? undefined : given;
  if (fromBody !== undefined && fromQuery !== undefined && !(typeof fromBody === 'string' && fromBody === fromQuery)) {
    const body = checkScenario(fromBody).scenario;
    const query = checkScenario(fromQuery).scenario;
    if (body === undefined || query === undefined || !sameScenarios([body], [query])) {
      throw new ServingError(
        'invalid',
        'SCENARIO_CONFLICT',
        `scenario is ${described(fromBody)} in ${where.body} but ${described(fromQuery)} in ${where.query}; send one`,
      );
    }
    return body;
  }
  return resolveScenario(fromBody ?? fromQuery);
}

/**
 * A scenario as a request gives it (a name, a custom path, undefined: DEFAULT_SCENARIO), resolved;
 * refused (400 VALIDATION_FAILED, the problems named `field…`) unless valid.
 */
export function resolveScenario(spec: unknown, field = 'scenario'): Scenario {
  const check = checkScenario(spec ?? DEFAULT_SCENARIO, field);
  if (check.scenario) return check.scenario;
  throw new ServingError('invalid', 'VALIDATION_FAILED', '', check.problems, check.omitted);
}

const reads = new WeakMap<Model, boolean>();

/** Does this model read scenario features (so its answers name the scenario)? */
export function modelReadsScenario(model: Model): boolean {
  let r = reads.get(model);
  if (r === undefined) {
    r = readsScenario(model.fields);
    reads.set(model, r);
  }
  return r;
}

/**
 * The records the models encode: each loan with its scenario features when any of `models` reads
 * them (the same loans otherwise). A loan the scenario cannot place (under `historical`, a first payment
 * outside its market) is refused, never imputed; `batch` names its fields `loans[i].field`.
 */
export function scenarioRecords(
  loans: readonly LoanRecord[],
  scenario: Scenario,
  models: Iterable<Model>,
  batch: boolean,
): readonly LoanRecord[] {
  let any = false;
  for (const m of models) any ||= modelReadsScenario(m);
  if (!any) return loans;
  let problems: ProblemList<ServingProblem> | undefined;
  const writer = featureWriter(scenario);
  const records = loans.map((loan, i) => {
    const problem = writer.problem(loan);
    if (problem !== undefined) {
      problems ??= new ProblemList<ServingProblem>();
      problems.push(batch ? { field: `loans[${i}].${problem.field}`, message: problem.message } : problem);
    }
    return writer.record(loan) as LoanRecord;
  });
  if (problems) throw new ServingError('invalid', 'VALIDATION_FAILED', '', problems.items, problems.omitted);
  return records;
}
