import { readFileSync } from 'node:fs';
import type { LoanRecord } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';

/**
 * model-artifacts/reference/holdout.json (written by `npm run train`, scripts/loanmodel/scenario_training.py):
 * per row the loan, its kind, its scenario (a preset name, `historical` or a custom path) and the five scenario
 * features Python computed (NaN as null); the libraries' outputs are on loan + those features.
 */
export interface ReferenceSet {
  loans: LoanRecord[];
  kinds: string[];
  scenarios: unknown[];
  features: Record<string, number | null>[];
  models: Record<string, { probability: number[]; margin: number[]; coef?: number[]; intercept?: number }>;
  /** What the models encode: `scenarioRecord(loan, checkScenario(scenario).scenario)`, computed here in TypeScript. */
  records: LoanRecord[];
}

/** The scenario a reference row names; throws on a spec `checkScenario` refuses. */
export function referenceScenario(spec: unknown): Scenario {
  const { scenario, problems } = checkScenario(spec);
  if (!scenario) throw new Error(`reference scenario refused: ${JSON.stringify(problems)}`);
  return scenario;
}

const cache = new Map<string, ReferenceSet>();

/** The reference set under `dir` (a URL of a model directory, with its trailing slash), read once. */
export function readReference(dir: URL): ReferenceSet {
  const key = dir.href;
  const hit = cache.get(key);
  if (hit) return hit;
  const raw = JSON.parse(readFileSync(new URL('reference/holdout.json', dir), 'utf8')) as Omit<ReferenceSet, 'records'>;
  const scenarios = new Map<string, Scenario>();
  const records = raw.loans.map((loan, i) => {
    const spec = raw.scenarios[i];
    const id = JSON.stringify(spec);
    let scenario = scenarios.get(id);
    if (!scenario) {
      scenario = referenceScenario(spec);
      scenarios.set(id, scenario);
    }
    return scenarioRecord(loan, scenario) as LoanRecord;
  });
  const set = { ...raw, records };
  cache.set(key, set);
  return set;
}

/** The shipped model directory's URL. */
export const SHIPPED_MODELS = new URL('../../model-artifacts/', import.meta.url);
