/**
 * The scoring runtime as a library: load a model artifact, validate it, score loans.
 *
 *   const model = await loadModelFile('model-artifacts/xgboost.json');
 *   model.score({ credit_score: 700, ltv: 80, ... }).probability;
 *
 * No Fastify (or any HTTP) import anywhere under src/runtime.
 */
export { artifactRange, assertFinite, type FieldRange, MAX_MARGIN_BOUND } from './bounds.js';
export { describe as describeValue } from './check.js';
export { ArtifactError, EncodingError } from './errors.js';
export type { Evaluator, EvaluatorOptions } from './evaluator.js';
export { linearExplainer, nodeExpectations, type RowExplainer, sumByField, treeBaseValue } from './explain.js';
export {
  BUILTIN_FAMILIES,
  FAMILIES,
  type FamilyCapabilities,
  gradientBoostingFamily,
  ldaFamily,
  logisticRegressionFamily,
  type ModelFamily,
  xgboostFamily,
} from './families/index.js';
export type { ColumnSpec, FieldSpec, LoanRecord } from './features.js';
export { beyondFloat32, FLOAT32_MAX } from './features.js';
export { type Discriminant, deriveDiscriminant, MAX_LDA_COLUMNS, MIN_PIVOT_RATIO } from './lda.js';
export { logit, sigmoid } from './link.js';
export {
  ARTIFACT_FORMAT,
  type BatchScores,
  type Explanation,
  type FileLoadOptions,
  firstNonFinite,
  type LoadOptions,
  loadModelDocument,
  loadModelFile,
  Model,
  type ModelInfo,
  type ModelInputs,
  type Score,
} from './model.js';
export { DEFAULT_MAX_ARTIFACT_BYTES, type FileReader, type ReadOptions, readBoundedFile } from './read.js';
export {
  DEFAULT_TABLE_BYTES,
  gaussLegendre01,
  type TreeShapOptions,
  type TreeShapPlan,
  treeShapAlgorithm2,
  treeShapExplainer,
  treeShapPlan,
} from './treeshap.js';
