import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelSet } from '../../src/registry.js';
import { buildRoutes } from '../../src/routing.js';
import { type LoanRecord, loadModelDocument, type Model } from '../../src/runtime/index.js';
import { ServingError } from '../../src/serving/errors.js';
import { Serving } from '../../src/serving/index.js';

import { chooseModels, findModel, notFound, servedVersions, shadowOf, tapeModel } from '../../src/serving/policy.js';
import type { PredictionRecorder } from '../../src/serving/record.js';
import { requestScenario } from '../../src/serving/scenario.js';
import { artifact, stump, xgboostBooster } from '../fixtures/tiny-models.js';
import { holdoutLoans, v2Columns } from '../helpers/app.js';

const BASELINE = requestScenario(undefined, undefined);

/** The serving policy without HTTP: which model and version answer, the not-found wording, the records. */

const document = JSON.parse(readFileSync('model-artifacts/xgboost/1.0.0.json', 'utf8')) as Record<string, unknown>;
const v1 = loadModelDocument(document, 'xgboost/1.0.0.json');
const v2 = loadModelDocument({ ...document, version: '1.1.0' }, 'xgboost/1.1.0.json');
const features = loadModelDocument(
  { ...artifact('xgboost', { booster: xgboostBooster([stump(0.5, true)]) }, { inputs: 'features' }), name: 'tiny' },
  'tiny/1.0.0.json',
);

function modelSet(routing?: unknown): ModelSet {
  const versions = new Map<string, readonly Model[]>([
    ['xgboost', [v1, v2]],
    ['tiny', [features]],
  ]);
  return new ModelSet(versions, buildRoutes(routing, versions, 'routing.json'), 1);
}

function refusal(fn: () => unknown): ServingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServingError);
    return err as ServingError;
  }
  throw new Error('expected a refusal');
}

const loans = holdoutLoans.slice(0, 200);

describe('which model and version answer', () => {
  it('without a version: the default; with one: that version, and no shadow', () => {
    const set = modelSet({ models: { xgboost: { default: '1.0.0', shadow: '1.1.0' } } });
    const [byDefault] = chooseModels(set, 'xgboost', undefined);
    expect(servedVersions(byDefault as never, loans).every((m) => m === v1)).toBe(true);
    expect(shadowOf(byDefault?.route, byDefault?.pinned !== undefined)).toBe(v2);
    const [pinned] = chooseModels(set, 'xgboost', '1.1.0');
    expect(servedVersions(pinned as never, loans).every((m) => m === v2)).toBe(true);
    expect(shadowOf(pinned?.route, pinned?.pinned !== undefined)).toBeUndefined();
  });

  it('with an A/B split: the arm of each loan, the same on every call (sticky), both arms used', () => {
    const set = modelSet({ models: { xgboost: { split: { '1.0.0': 50, '1.1.0': 50 } } } });
    const [chosen] = chooseModels(set, 'xgboost', undefined);
    const first = servedVersions(chosen as never, loans);
    expect(servedVersions(chosen as never, loans)).toEqual(first);
    expect(new Set(first)).toEqual(new Set([v1, v2]));
    expect(chosen?.candidates).toEqual([v1, v2]);
  });

  it('"all" is every loan model and takes no version; a features model is not for loans', () => {
    const set = modelSet();
    expect(chooseModels(set, 'all', undefined).map((c) => c.name)).toEqual(['xgboost']);
    expect(refusal(() => chooseModels(set, 'all', '1.0.0')).code).toBe('VERSION_WITHOUT_MODEL');
    const e = refusal(() => chooseModels(set, 'tiny', undefined));
    expect([e.kind, e.code]).toEqual(['invalid', 'MODEL_NOT_FOR_LOANS']);
  });

  it('a tape: one loan model, one version (the default unless named); "all" refused on query.model', () => {
    const set = modelSet({ models: { xgboost: { split: { '1.0.0': 50, '1.1.0': 50 } } } });
    expect(tapeModel(set, 'xgboost', undefined)).toBe(set.get('xgboost'));
    expect(tapeModel(set, 'xgboost', '1.0.0')).toBe(v1);
    expect(refusal(() => tapeModel(set, 'all', undefined)).details?.[0]?.field).toBe('query.model');
    expect(refusal(() => tapeModel(set, 'tiny', undefined)).kind).toBe('not-found');
  });

  it('V2: any model, its default or the version named', () => {
    const set = modelSet();
    expect(findModel(set, 'tiny')).toBe(features);
    expect(findModel(set, 'xgboost', '1.0.0')).toBe(v1);
  });
});

describe('not found, in one wording on every route', () => {
  it('names the model or version asked for (bounded) and what is loaded', () => {
    const set = modelSet();
    for (const e of [refusal(() => findModel(set, 'nope')), refusal(() => chooseModels(set, 'nope', undefined))]) {
      expect([e.kind, e.code]).toEqual(['not-found', 'MODEL_NOT_FOUND']);
      expect(e.message).toMatch(/^no model named "nope"; available: /);
    }
    expect(refusal(() => chooseModels(set, 'nope', undefined)).message).toBe(
      'no model named "nope"; available: xgboost, all',
    );
    for (const e of [
      refusal(() => findModel(set, 'xgboost', '9.9.9')),
      refusal(() => chooseModels(set, 'xgboost', '9.9.9')),
      refusal(() => tapeModel(set, 'xgboost', '9.9.9')),
    ]) {
      expect(e.message).toBe('model xgboost has no version "9.9.9"; loaded: 1.0.0, 1.1.0');
      expect(e.code).toBe('MODEL_VERSION_NOT_FOUND');
    }
    expect(notFound.model('x'.repeat(1000), []).message.length).toBeLessThan(100);
    expect(notFound.version('xgboost', 'v'.repeat(1000), set).message.length).toBeLessThan(100);
  });
});

describe('what is recorded per prediction', () => {
  const recorder = () => {
    const calls: { model: string; rows: number }[] = [];
    const r: PredictionRecorder = {
      observe: (model, _seconds, pd) => calls.push({ model: `${model.name}@${model.version}`, rows: pd.length }),
      shadow: () => {},
      shadowFailed: () => {},
    };
    return { r, calls };
  };
  const log = { error: () => {} };

  it('one observation per scoring call: per version of a split, and for V2 inference', () => {
    const { r, calls } = recorder();
    const set = modelSet({ models: { xgboost: { split: { '1.0.0': 50, '1.1.0': 50 } } } });
    const serving = new Serving({ current: set }, r, log);
    const [answered] = serving.predict('xgboost', undefined, loans, {
      explain: false,
      batch: true,
      scenario: BASELINE,
    });
    const served = answered?.served ?? [];
    expect(calls).toEqual([
      { model: `xgboost@${served[0]?.version}`, rows: served.filter((m) => m === served[0]).length },
      {
        model: `xgboost@${served.find((m) => m !== served[0])?.version}`,
        rows: served.filter((m) => m !== served[0]).length,
      },
    ]);
    calls.length = 0;
    // One loan as named columns (the shipped models read scenario features: a feature tensor is refused).
    serving.infer(v1, v2Columns([loans[0] as LoanRecord]), 10, true);
    expect(calls).toEqual([{ model: 'xgboost@1.0.0', rows: 1 }]);
  });

  it('refuses a loan breaking the record rules before scoring anything, naming it in a batch', () => {
    const { r, calls } = recorder();
    const serving = new Serving({ current: modelSet() }, r, log);
    const bad = [loans[0], { ...loans[1], first_payment_date: 200600 }] as LoanRecord[];
    const e = refusal(() =>
      serving.predict('xgboost', undefined, bad, { explain: false, batch: true, scenario: BASELINE }),
    );
    expect([e.kind, e.code, e.details]).toEqual([
      'invalid',
      'VALIDATION_FAILED',
      [{ field: 'loans[1].first_payment_date', message: 'month 0 of 200600 is not 01–12 (YYYYMM)' }],
    ]);
    expect(calls).toEqual([]);
  });
});
