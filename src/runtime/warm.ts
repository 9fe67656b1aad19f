import type { FieldSpec, LoanRecord } from './features.js';
import type { Model } from './model.js';
import { seededRandom } from './random.js';

/**
 * Warm-up: runs a freshly loaded model over synthetic inputs before it serves, so that V8 has
 * optimised its code (the generated tree functions, the packed single-row walk, the encoder, the
 * explainer) before the first real request arrives. Without it the first batches after a start or a
 * hot reload ran 7–15× slower than later ones (docs/PERFORMANCE.md, "No cold start").
 *
 * The inputs are drawn from the artifact's own description of its fields (numeric ranges, levels,
 * missing values), from a fixed seed, so a warm-up does the same work every time and needs nothing
 * but the model. They cover every path the service takes: batches (`scoreMany`: the generated block
 * functions), single rows (`score`: the packed layout or the single-row functions) and explanations.
 *
 * It yields to the event loop between slices (a hot reload warms the new set while the old one keeps
 * serving) and stops early when `signal` aborts or the time budget is spent.
 */

export interface WarmPlan {
  /**
   * Rows scored from the set that reaches every leaf (coverage.ts), in passes over the set, each pass
   * as a batch (and row by row, unless the plan scores no single loans), for tree models with
   * generated code: after the first pass no tree
   * comparison is left without type feedback, and the rest is what V8 needs to see before it
   * optimises (at least 4 passes).
   */
  readonly coverageRows: number;
  /** Batches of synthetic loans scored with `scoreMany`, and their size. */
  readonly batches: number;
  readonly batchRows: number;
  /** Single loans scored with `score`. */
  readonly singles: number;
  /** Loans explained (when the model can explain). */
  readonly explains: number;
  /** Most wall-clock time spent on one model, in ms; past it the warm-up stops where it is. */
  readonly budgetMs: number;
}

/**
 * Measured on the former shipped XGBoost model (300 trees, depth 6; docs/PERFORMANCE.md, "No cold start"; the
 * retrained one, 130 trees of depth 3, has 929 leaves and 74 covering rows):
 * cold, its 1,000-loan batches settle from 60–150 ms to ~4 ms after about 30 batches, and a new set
 * of loans made them slow again; after this plan (573 covering rows, 70 passes) the first batch of
 * loans it has never seen takes ~4.5 ms. 1–2 s of CPU for that model, much less for the others.
 */
export const DEFAULT_WARM_PLAN: WarmPlan = {
  coverageRows: 40_000,
  batches: 40,
  batchRows: 1024,
  singles: 4000,
  explains: 200,
  budgetMs: 5000,
};

export interface WarmReport {
  readonly model: string;
  readonly version: string;
  /** Passes over the leaf-covering rows, and how many rows (reached leaves) there were. */
  readonly coveragePasses: number;
  readonly coverageRows: number;
  readonly batches: number;
  readonly singles: number;
  readonly explains: number;
  readonly ms: number;
  /** Why it stopped before the plan's end: `budget`, `aborted`, or the error a synthetic row met. */
  readonly stopped?: string;
}

/** Default range of a numeric field that states none: wide enough to reach both sides of most splits. */
const FALLBACK_RANGE = { min: -1000, max: 1000 };

function drawValue(field: FieldSpec, next: () => number): unknown {
  const u = next();
  if (field.kind === 'categorical') {
    // One row in 50 takes a missing value (null, or one of the field's own missing codes).
    if (u < 0.02) {
      const missing = field.missingValues;
      return missing.length > 0 && u < 0.01 ? missing[Math.floor(next() * missing.length)] : null;
    }
    return field.levels[Math.floor(next() * field.levels.length)] ?? null;
  }
  if (u < 0.02) {
    const missing = field.missingValues;
    return missing.length > 0 && u < 0.01 ? missing[Math.floor(next() * missing.length)] : null;
  }
  const min = Number.isFinite(field.min) ? (field.min as number) : FALLBACK_RANGE.min;
  const max = Number.isFinite(field.max) ? (field.max as number) : FALLBACK_RANGE.max;
  const v = min + next() * (max - min);
  // Whole numbers half the time: thresholds often sit between integers (scores, terms, counts).
  return next() < 0.5 ? Math.round(v) : v;
}

/** `n` synthetic inputs for `model`, from its fields' ranges and levels (deterministic in `seed`). */
export function syntheticInputs(model: Pick<Model, 'fields'>, n: number, seed = 20_261_206): LoanRecord[] {
  const next = seededRandom(seed);
  const rows: LoanRecord[] = [];
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = {};
    for (const field of model.fields) row[field.name] = drawValue(field, next);
    rows.push(row as LoanRecord);
  }
  return rows;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The warm-up's work, as slices: the caller runs one slice per `next()` and may yield between them. */
function* warmSlices(model: Model, plan: WarmPlan, over: () => boolean, counts: Counts): Generator<void> {
  const covering = model.evaluator.warmRows?.();
  if (covering !== undefined && covering.count > 0) {
    counts.coverageRows = covering.count;
    const { rows, count } = covering;
    const stride = model.columnCount;
    const out = new Float64Array(count);
    const single = model.evaluator;
    const passes = Math.max(4, Math.ceil(plan.coverageRows / count));
    for (let pass = 0; pass < passes && !over(); pass++) {
      model.marginsOfRows(rows, count, out);
      yield;
      if (plan.singles > 0) {
        for (let i = 0; i < count; i++) single.margin(rows, i * stride);
        yield;
      }
      counts.coveragePasses++;
    }
  }
  // Interleaved, as traffic is: a slice of batches, of single rows and of explanations per turn of
  // the event loop, so each kind of code is optimised against the others' state.
  const inputs = syntheticInputs(model, Math.max(plan.batchRows, 1));
  const turns = Math.max(plan.batches, 1);
  const singlesPerTurn = Math.ceil(plan.singles / turns);
  const explainsPerTurn = model.explainable ? Math.ceil(plan.explains / turns) : 0;
  for (let turn = 0; turn < turns && !over(); turn++) {
    if (counts.batches < plan.batches) {
      model.scoreMany(inputs);
      counts.batches++;
    }
    for (let i = 0; i < singlesPerTurn && counts.singles < plan.singles; i++, counts.singles++) {
      model.score(inputs[(turn * singlesPerTurn + i) % inputs.length] as LoanRecord);
    }
    for (let i = 0; i < explainsPerTurn && counts.explains < plan.explains; i++, counts.explains++) {
      model.explain(inputs[(turn * explainsPerTurn + i) % inputs.length] as LoanRecord);
    }
    yield;
  }
}

interface Counts {
  coveragePasses: number;
  coverageRows: number;
  batches: number;
  singles: number;
  explains: number;
}

/** Runs the slices (`step` decides what happens between two), catching what a synthetic row meets. */
function runner(model: Model, plan: WarmPlan, signal: AbortSignal | undefined) {
  const started = performance.now();
  const counts: Counts = { coveragePasses: 0, coverageRows: 0, batches: 0, singles: 0, explains: 0 };
  let stopped: string | undefined;
  const over = (): boolean => {
    if (signal?.aborted) stopped = 'aborted';
    else if (performance.now() - started > plan.budgetMs) stopped = 'budget';
    return stopped !== undefined;
  };
  return {
    slices: warmSlices(model, plan, over, counts),
    fail(err: unknown) {
      stopped = (err as Error).message ?? String(err);
    },
    report(): WarmReport {
      return {
        model: model.name,
        version: model.version,
        ...counts,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(stopped === undefined ? {} : { stopped }),
      };
    },
  };
}

/**
 * Runs `plan` on `model`, yielding to the event loop between slices (a server keeps answering).
 * Never throws for what a synthetic row meets (a model that refuses one is still served: the report
 * says where the warm-up stopped); throws only if `signal` was aborted before it began.
 */
export async function warmModel(
  model: Model,
  plan: WarmPlan = DEFAULT_WARM_PLAN,
  signal?: AbortSignal,
): Promise<WarmReport> {
  signal?.throwIfAborted();
  const run = runner(model, plan, signal);
  try {
    for (const _ of run.slices) await yieldToLoop();
  } catch (err) {
    run.fail(err);
  }
  return run.report();
}

/** `warmModel` without yielding: for a thread that has nothing else to do (a tape worker). */
export function warmModelNow(model: Model, plan: WarmPlan = DEFAULT_WARM_PLAN): WarmReport {
  const run = runner(model, plan, undefined);
  try {
    for (const _ of run.slices) {
      // nothing between slices
    }
  } catch (err) {
    run.fail(err);
  }
  return run.report();
}

/** What a tape worker needs warm: batches only (no single rows, no explanations unless asked for). */
export const BATCH_WARM_PLAN: WarmPlan = { ...DEFAULT_WARM_PLAN, singles: 0, explains: 0, batches: 4 };
