import { XGBOOST_RULES } from '../contract/index.js';
import type { DocumentReader } from './check.js';
import { xgboostBaseMargin } from './link.js';
import { XGBOOST_SPLITS } from './split.js';
import { buildEnsemble, type TreeEnsemble, type TreeInput } from './trees.js';

/**
 * Reads a booster document as XGBoost's `save_model("*.json")` writes it (1.7, 2.x and 3.x) into a
 * flat ensemble, refusing what this runtime cannot score exactly rather than mis-scoring it.
 */

const OBJECTIVES = new Set(XGBOOST_RULES.objectives);
const MARGIN_OBJECTIVES = new Set(XGBOOST_RULES.margin_objectives);
const BOOSTERS = new Set(XGBOOST_RULES.boosters);

/** `base_score` is "5E-1" up to 3.0 and "[5E-1]" (a vector, one per target) since 3.1. */
function parseBaseScore(r: DocumentReader, value: unknown, path: string): number {
  if (typeof value === 'string') {
    const s = value.trim();
    if (s.startsWith('[')) {
      let items: unknown;
      try {
        items = JSON.parse(s);
      } catch {
        return r.fail(path, `cannot read ${JSON.stringify(s)} as a number or a vector of numbers`);
      }
      const list = r.array(items, path);
      if (list.length !== 1) r.fail(path, `expected one base score (one target), got ${list.length}`);
      return r.numeric(list[0], `${path}[0]`);
    }
  }
  return r.numeric(value, path);
}

function parseDefaultLeft(r: DocumentReader, value: unknown, path: string, n: number): Uint8Array {
  const items = r.array(value, path);
  if (items.length !== n) r.fail(path, `expected ${n} values, got ${items.length}`);
  const out = new Uint8Array(n);
  items.forEach((v, i) => {
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else r.fail(`${path}[${i}]`, `expected true/false or 0/1, got ${JSON.stringify(v)}`);
  });
  return out;
}

export function loadXGBoost(r: DocumentReader, model: Record<string, unknown>, columnCount: number): TreeEnsemble {
  const booster = r.object(model.booster, 'model.booster');
  const learner = r.object(booster.learner, 'model.booster.learner');
  const lp = 'model.booster.learner';

  const objective = r.object(learner.objective, `${lp}.objective`);
  const objectiveName = r.string(objective.name, `${lp}.objective.name`);
  if (!OBJECTIVES.has(objectiveName)) {
    r.fail(
      `${lp}.objective.name`,
      `unsupported objective ${JSON.stringify(objectiveName)} (supported: ${[...OBJECTIVES].join(', ')})`,
    );
  }

  const gb = r.object(learner.gradient_booster, `${lp}.gradient_booster`);
  const boosterName = r.string(gb.name, `${lp}.gradient_booster.name`);
  if (!BOOSTERS.has(boosterName)) {
    r.fail(
      `${lp}.gradient_booster.name`,
      `unsupported booster ${JSON.stringify(boosterName)} (only ${[...BOOSTERS].join(', ')}; dart and gblinear are refused)`,
    );
  }

  const mp = r.object(learner.learner_model_param, `${lp}.learner_model_param`);
  const numClass = mp.num_class === undefined ? 0 : r.numeric(mp.num_class, `${lp}.learner_model_param.num_class`);
  if (numClass > XGBOOST_RULES.max_classes)
    r.fail(`${lp}.learner_model_param.num_class`, `multi-class models (${numClass} classes) are not supported`);
  const numTarget =
    mp.num_target === undefined
      ? XGBOOST_RULES.targets
      : r.numeric(mp.num_target, `${lp}.learner_model_param.num_target`);
  if (numTarget !== XGBOOST_RULES.targets)
    r.fail(`${lp}.learner_model_param.num_target`, `multi-target models (${numTarget} targets) are not supported`);
  const numFeature = r.numeric(mp.num_feature, `${lp}.learner_model_param.num_feature`);
  if (numFeature !== columnCount) {
    r.fail(
      `${lp}.learner_model_param.num_feature`,
      `feature count mismatch: the booster has ${numFeature} features, the artifact ${columnCount} columns`,
    );
  }
  const baseScore = parseBaseScore(r, mp.base_score, `${lp}.learner_model_param.base_score`);
  // binary:logitraw starts from base_score itself (a margin, any float32); the logistic objectives from its logit.
  const raw = MARGIN_OBJECTIVES.has(objectiveName);
  if (raw && !Number.isFinite(Math.fround(baseScore))) {
    r.fail(
      `${lp}.learner_model_param.base_score`,
      `a binary:logitraw base_score must be a finite float32, got ${baseScore}`,
    );
  }
  if (!raw && !(baseScore > 0 && baseScore < 1)) {
    r.fail(`${lp}.learner_model_param.base_score`, `a logistic base_score must lie in (0, 1), got ${baseScore}`);
  }

  const gbModel = r.object(gb.model, `${lp}.gradient_booster.model`);
  const mpath = `${lp}.gradient_booster.model`;
  const rawTrees = r.array(gbModel.trees, `${mpath}.trees`);
  const treeInfo = r.array(gbModel.tree_info, `${mpath}.tree_info`);
  if (treeInfo.length !== rawTrees.length) {
    r.fail(`${mpath}.tree_info`, `has ${treeInfo.length} entries for ${rawTrees.length} trees`);
  }
  treeInfo.forEach((g, i) => {
    if (r.numeric(g, `${mpath}.tree_info[${i}]`) !== 0)
      r.fail(`${mpath}.tree_info[${i}]`, 'trees for more than one output group (multi-class) are not supported');
  });

  const trees: TreeInput[] = rawTrees.map((raw, ti) => {
    const tp = `${mpath}.trees[${ti}]`;
    const t = r.object(raw, tp);
    const param = t.tree_param === undefined ? {} : r.object(t.tree_param, `${tp}.tree_param`);
    if (
      param.size_leaf_vector !== undefined &&
      r.numeric(param.size_leaf_vector, `${tp}.tree_param.size_leaf_vector`) > 1
    ) {
      r.fail(`${tp}.tree_param.size_leaf_vector`, 'vector-leaf (multi-target) trees are not supported');
    }
    const left = r.integerArray(t.left_children, `${tp}.left_children`);
    const n = left.length;
    const right = r.integerArray(t.right_children, `${tp}.right_children`, n);
    const feature = r.integerArray(t.split_indices, `${tp}.split_indices`, n);
    const conditions = r.finiteArray(t.split_conditions, `${tp}.split_conditions`, n);
    const defaultLeft = parseDefaultLeft(r, t.default_left, `${tp}.default_left`, n);
    if (t.split_type !== undefined) {
      r.array(t.split_type, `${tp}.split_type`).forEach((s, i) => {
        if (s !== 0)
          r.fail(`${tp}.split_type[${i}]`, 'categorical splits are not supported (train with one-hot columns)');
      });
    }
    if (t.categories !== undefined && r.array(t.categories, `${tp}.categories`).length > 0) {
      r.fail(`${tp}.categories`, 'categorical splits are not supported (train with one-hot columns)');
    }
    // XGBoost stores thresholds and leaf values as float32 and compares in float32.
    const threshold = new Float64Array(n);
    const leafValue = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = Math.fround(conditions[i] as number);
      if (left[i] === -1) leafValue[i] = v;
      else threshold[i] = v;
    }
    // Node covers (sum of hessians) for TreeSHAP, as XGBoost holds them: float32. Every booster
    // that save_model writes has them; a document without them scores but cannot be explained.
    let cover: Float64Array | undefined;
    if (t.sum_hessian !== undefined) {
      cover = r.finiteArray(t.sum_hessian, `${tp}.sum_hessian`, n);
      for (let i = 0; i < n; i++) cover[i] = Math.fround(cover[i] as number);
    }
    return { left, right, feature, threshold, defaultLeft, leafValue, cover };
  });

  return buildEnsemble(
    r,
    `${mpath}.trees`,
    trees,
    {
      comparison: XGBOOST_SPLITS.comparison,
      rowType: XGBOOST_SPLITS.rowType,
      accumulation: 'float32',
      baseMargin: raw ? Math.fround(baseScore) : xgboostBaseMargin(baseScore),
      columnCount,
    },
    'sum_hessian',
  );
}

/** `"missing": <value>` in the `learner.attributes.scikit_learn` string (a JSON text that may hold NaN). */
const RECORDED_MISSING = /"missing"\s*:\s*([^,}\s]+)/;

/**
 * The value the model treats as missing besides NaN (`model.missing`, docs/ARTIFACT_FORMAT.md), or
 * undefined when only NaN is. `XGBClassifier(missing=v)` records v in `learner.attributes.scikit_learn`;
 * an artifact whose booster records a value that `model.missing` does not carry is refused: it would
 * score that value as a number where XGBoost treats it as missing.
 */
export function xgboostMissingValue(r: DocumentReader, model: Record<string, unknown>): number | undefined {
  const path = 'model.missing';
  let missing: number | undefined;
  if (model.missing !== undefined) {
    missing = r.finite(model.missing, path);
    if (!Number.isFinite(Math.fround(missing))) r.fail(path, `must be a float32 number, got ${missing}`);
  }
  const booster = r.object(model.booster, 'model.booster');
  const learner = r.object(booster.learner, 'model.booster.learner');
  const attributes = learner.attributes;
  const sk =
    attributes !== null && typeof attributes === 'object'
      ? (attributes as Record<string, unknown>).scikit_learn
      : undefined;
  const match = typeof sk === 'string' ? RECORDED_MISSING.exec(sk) : null;
  const text = match?.[1];
  const recorded = text === undefined || text === 'null' || text === 'NaN' ? Number.NaN : Number(text);
  if (text !== undefined && !Number.isNaN(recorded) && Math.fround(recorded) !== Math.fround(missing ?? Number.NaN)) {
    r.fail(
      path,
      `the booster was trained with missing=${text} (learner.attributes.scikit_learn) but the artifact's model.missing is ${missing ?? 'absent'}: ` +
        'values equal to it would be scored as numbers; import the model again with scripts/import_model.py',
    );
  }
  return missing;
}
