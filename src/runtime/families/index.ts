/**
 * The model families, one module each. `FAMILIES` is the one list: the runtime's default, the
 * service's plugins (plugins/models/family-plugin.ts, one per entry) and the loader's dependencies all
 * read it. The Python side's list is scripts/loanmodel/families.py (test/runtime/families.test.ts
 * checks the two agree).
 */
import type { ModelFamily } from './family.js';
import { gradientBoostingFamily } from './gradient-boosting.js';
import { ldaFamily } from './lda.js';
import { logisticRegressionFamily } from './logistic-regression.js';
import { xgboostFamily } from './xgboost.js';

export type { FamilyCapabilities, ModelFamily } from './family.js';
export { gradientBoostingFamily, ldaFamily, logisticRegressionFamily, xgboostFamily };

export const FAMILIES: readonly ModelFamily[] = [
  logisticRegressionFamily,
  ldaFamily,
  gradientBoostingFamily,
  xgboostFamily,
];

/** The same list, under the name the runtime's API has exported it by. */
export const BUILTIN_FAMILIES = FAMILIES;
