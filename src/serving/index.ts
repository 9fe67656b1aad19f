import { recordProblem } from '../loan/validate.js';
import { ProblemList } from '../problems.js';
import type { ModelSet } from '../registry.js';
import { EncodingError, firstNonFinite, type LoanRecord, type Model } from '../runtime/index.js';
import type { Scenario } from '../scenario/index.js';
import { ServingError, type ServingProblem } from './errors.js';
import { decodeInputs, encodingRefusal, type InputTensor, nonFiniteRefusal } from './oip.js';
import { type Chosen, chooseModels, findModel, servedVersions, shadowOf, tapeModel } from './policy.js';
import { type PredictionRecorder, type Scores, scoreRecorded, scoreRowsRecorded } from './record.js';
import { modelReadsScenario, resolveScenario, scenarioRecords } from './scenario.js';
import { groupBy, type ShadowLog, scoreShadow } from './shadow.js';

export { type DomainFlag, outOfDomain } from './domain.js';
export { ServingError } from './errors.js';
export type { Chosen } from './policy.js';
export { notFound } from './policy.js';
export type { PredictionRecorder, Scores } from './record.js';
export {
  DEFAULT_SCENARIO,
  MAX_QUERY_SCENARIO_CHARS,
  modelReadsScenario,
  queryScenario,
  requestScenario,
  resolveScenario,
  scenarioRecords,
} from './scenario.js';

const BASELINE = resolveScenario(undefined);

/** Most (loan, model) explanations one request may ask for: about 1.3 s of XGBoost TreeSHAP. */
export const MAX_EXPLANATIONS = 1000;

/** What one model answered for the loans of a /predict request. */
export interface Answered {
  /** The version that answered each loan. */
  readonly served: readonly Model[];
  readonly scores: Scores;
  /** What the models encoded: each loan with its scenario features when a model reads them. */
  readonly records: readonly LoanRecord[];
}

/**
 * The serving core, without HTTP (plugins/serving.ts decorates the app with it as `app.serving`):
 * the routes parse and shape, this decides which model and version answer (policy.ts), checks the
 * loans' record rules (src/loan/validate.ts), scores, records (record.ts), runs the shadow (shadow.ts)
 * and refuses with ServingError (404 not found, 400 invalid, 413 too large).
 */
export class Serving {
  constructor(
    private readonly registry: { readonly current: ModelSet },
    private readonly recorder: PredictionRecorder,
    private readonly log: ShadowLog,
  ) {}

  /** This request's models, whatever a reload does meanwhile. */
  get models(): ModelSet {
    return this.registry.current;
  }

  /**
   * POST /predict: `loans` (already of the loan schema's shape and values) scored by model `name`
   * ("all": every loan model), each loan by the version the policy chooses, under `scenario` for the
   * models that read one. `batch` names the fields of refused loans `loans[i].field`.
   */
  predict(
    name: string,
    version: string | undefined,
    loans: readonly LoanRecord[],
    options: { explain: boolean; batch: boolean; scenario: Scenario },
  ): Answered[] {
    const chosen = chooseModels(this.registry.current, name, version);
    if (options.explain) checkExplainable(chosen, loans.length);
    checkRecordRules(loans, options.batch);
    const records = scenarioRecords(loans, options.scenario, candidates(chosen), options.batch);
    return chosen.map((c) => {
      const served = servedVersions(c, loans);
      const scores = this.scoreServed(served, records);
      // A non-finite value would be a runtime fault (loan records are imputed), never something to put in JSON.
      const bad = firstNonFinite(scores);
      if (bad >= 0) throw new Error(`${served[bad]?.name} produced ${scores.probability[bad]}`);
      const shadow = shadowOf(c.route, c.pinned !== undefined);
      if (shadow) scoreShadow(this.recorder, this.log, shadow, served, records, scores.probability);
      return { served, scores, records };
    });
  }

  /** Any model for V2 (its default version, or the one named). */
  find(name: string, version?: string): Model {
    return findModel(this.registry.current, name, version);
  }

  /** The model and version that score a whole tape (POST /pools/score). */
  tapeModel(name: string, version: string | undefined): Model {
    return tapeModel(this.registry.current, name, version);
  }

  /**
   * V2 inference: the request's inputs decoded for `model` and scored, under `scenario` when the model
   * (or its shadow) reads scenario features. `versionNamed`: the request named its version (then no
   * shadow runs).
   */
  infer(
    model: Model,
    inputs: readonly InputTensor[],
    limit: number,
    versionNamed: boolean,
    scenario: Scenario = BASELINE,
  ): Scores {
    const shadow = shadowOf(this.registry.current.routes.get(model.name), versionNamed);
    const reads = modelReadsScenario(model) || (shadow !== undefined && modelReadsScenario(shadow));
    const decoded = decodeInputs(model, inputs, limit, reads ? scenario : undefined);
    if (decoded.kind === 'rows') {
      const scores = scoreRowsRecorded(this.recorder, model, decoded.values, decoded.n);
      const bad = firstNonFinite(scores);
      if (bad >= 0) throw nonFiniteRefusal('inputs[0]', bad);
      return scores;
    }
    const { records } = decoded;
    let scores: Scores;
    try {
      scores = scoreRecorded(this.recorder, model, records);
    } catch (err) {
      if (err instanceof EncodingError) throw encodingRefusal(err);
      throw err;
    }
    const bad = firstNonFinite(scores);
    if (bad >= 0) throw nonFiniteRefusal('inputs', bad);
    if (shadow && shadow !== model) {
      scoreShadow(this.recorder, this.log, shadow, new Array(records.length).fill(model), records, scores.probability);
    }
    return scores;
  }

  /**
   * Scores every loan with the version chosen for it (`served[i]`): one call when they all share a
   * version (no split, or a single loan), else one call per version over its loans.
   */
  private scoreServed(served: readonly Model[], loans: readonly LoanRecord[]): Scores {
    const first = served[0] as Model;
    if (served.every((m) => m === first)) return scoreRecorded(this.recorder, first, loans);
    const probability = new Float64Array(loans.length);
    const margin = new Float64Array(loans.length);
    for (const [model, indices] of groupBy(served)) {
      const scores = scoreRecorded(
        this.recorder,
        model,
        indices.map((i) => loans[i] as LoanRecord),
      );
      indices.forEach((i, k) => {
        probability[i] = scores.probability[k] as number;
        margin[i] = scores.margin[k] as number;
      });
    }
    return { probability, margin };
  }
}

/** Every model a request may be scored by: each chosen model's versions and shadow. */
function* candidates(chosen: readonly Chosen[]): Iterable<Model> {
  for (const c of chosen) {
    yield* c.candidates;
    const shadow = shadowOf(c.route, c.pinned !== undefined);
    if (shadow) yield shadow;
  }
}

/** Explanations are bounded per request (TreeSHAP runs on the event loop) and need able models. */
function checkExplainable(chosen: readonly Chosen[], count: number): void {
  // TreeSHAP on the shipped XGBoost model costs ~1.3 ms a loan: a 10,000-loan batch with every model would block ~13 s.
  const explained = count * chosen.length;
  if (explained > MAX_EXPLANATIONS) {
    throw new ServingError(
      'too-large',
      'EXPLAIN_BATCH_TOO_LARGE',
      `explain=true explains at most ${MAX_EXPLANATIONS} loan-model pairs per request; this one asks for ${explained} (${count} loans × ${chosen.length} models)`,
    );
  }
  const unable = chosen.flatMap((c) => c.candidates).find((m) => !m.explainable);
  if (unable) {
    throw new ServingError(
      'invalid',
      'EXPLANATION_UNAVAILABLE',
      `model ${unable.name} ${unable.version} cannot explain its predictions: ${unable.explainUnavailable}; re-export it with the current pipeline`,
    );
  }
}

/** The record rules of loans whose values the schema already checked (the month of a YYYYMM date). */
function checkRecordRules(loans: readonly LoanRecord[], batch: boolean): void {
  let problems: ProblemList<ServingProblem> | undefined;
  for (let i = 0; i < loans.length; i++) {
    const problem = recordProblem(loans[i] as LoanRecord);
    if (problem === undefined) continue;
    problems ??= new ProblemList<ServingProblem>();
    problems.push(batch ? { field: `loans[${i}].${problem.field}`, message: problem.message } : problem);
  }
  if (problems) throw new ServingError('invalid', 'VALIDATION_FAILED', '', problems.items, problems.omitted);
}
