import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { loadModelFile } from '../../src/runtime/index.js';
import { isScenarioFeature, SCENARIO_FEATURES } from '../../src/scenario/index.js';
import { build, v2Columns as columns, holdoutLoans, withScenario } from '../helpers/app.js';
import { featuresModelDocument, modelDirCopy } from '../helpers/models.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The Open Inference Protocol (KServe V2) REST routes: shapes checked against the protocol's own
 * examples and schemas (kserve/open-inference-protocol, "REST/HTTP" spec), values against the runtime.
 */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
const loans = holdoutLoans.slice(0, 200);

/**
 * The shipped models plus `xgboost_features` and `lda_features`: the same artifacts as models of arbitrary
 * features, which take a [N, C] feature tensor (the shipped ones read scenario features and refuse one).
 */
function tensorModelDir(): string {
  const { dir } = modelDirCopy();
  for (const name of ['xgboost', 'lda']) {
    const doc = featuresModelDocument(`model-artifacts/${name}/1.0.0.json`);
    doc.name = `${name}_features`;
    mkdirSync(join(dir, `${name}_features`));
    writeFileSync(join(dir, `${name}_features`, '1.0.0.json'), JSON.stringify(doc));
  }
  return dir;
}
const tensorApp = () => build({ MODEL_DIR: tensorModelDir() });

/** $inference_response and $metadata_model_response of the protocol, as checks. */
function expectInferenceResponse(body: Record<string, unknown>) {
  expect(typeof body.model_name).toBe('string');
  expect(typeof body.model_version).toBe('string');
  expect(Array.isArray(body.outputs)).toBe(true);
  for (const o of body.outputs as Record<string, unknown>[]) {
    expect(Object.keys(o).sort()).toEqual(['data', 'datatype', 'name', 'shape']);
    const size = (o.shape as number[]).reduce((a, b) => a * b, 1);
    expect((o.data as unknown[]).length).toBe(size);
  }
}

describe('Open Inference Protocol: server and model metadata', () => {
  it('answers the health, server and model metadata routes with the protocol shapes', async () => {
    const app = await build();
    expect((await app.inject('/v2/health/live')).json()).toEqual({ live: true });
    expect((await app.inject('/v2/health/ready')).json()).toEqual({ ready: true });
    const server = (await app.inject('/v2')).json();
    expect(Object.keys(server).sort()).toEqual(['extensions', 'name', 'version']);
    expect(server.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    const meta = (await app.inject('/v2/models/xgboost')).json();
    expect(meta).toMatchObject({
      name: 'xgboost',
      versions: ['1.0.0', '1.1.0'],
      platform: 'loan-default-model/xgboost',
    });
    // The loan fields are its inputs; the scenario features are computed by the service, not sent.
    expect(meta.inputs).toHaveLength(xgboost.fields.filter((f) => !isScenarioFeature(f.name)).length);
    expect(meta.inputs[0]).toEqual({ name: 'credit_score', datatype: 'FP64', shape: [-1] });
    expect(meta.outputs.map((o: { name: string }) => o.name)).toEqual(['predict_proba', 'predict', 'log_odds']);
    expect(meta.parameters.tensor_input).toBeUndefined();
    expect(meta.parameters.scenario_features).toEqual([...SCENARIO_FEATURES]);
    expect((await app.inject('/v2/models/xgboost/versions/1.1.0')).json().name).toBe('xgboost');
    expect((await app.inject('/v2/models/xgboost/ready')).json()).toEqual({ name: 'xgboost', ready: true });
    expect((await app.inject('/v2/models/xgboost/versions/1.1.0/ready')).json()).toEqual({
      name: 'xgboost',
      ready: true,
    });
  });
});

describe('Open Inference Protocol: inference', () => {
  it('scores loans sent as named columns, exactly as the runtime does, and echoes the id', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/xgboost/infer',
      payload: { id: 'req-42', inputs: columns(loans) },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expectInferenceResponse(body);
    expect(body).toMatchObject({ model_name: 'xgboost', model_version: '1.0.0', id: 'req-42' });
    const [proba, predict] = body.outputs;
    expect(proba).toMatchObject({ name: 'predict_proba', datatype: 'FP64', shape: [loans.length, 2] });
    expect(predict).toMatchObject({ name: 'predict', datatype: 'INT64', shape: [loans.length] });
    const expected = xgboost.scoreMany(loans.map((l) => withScenario(l))).probability;
    loans.forEach((_, i) => {
      expect(proba.data[2 * i + 1]).toBe(expected[i]);
      expect(proba.data[2 * i]).toBe(1 - (expected[i] as number));
      expect(predict.data[i]).toBe((expected[i] as number) >= xgboost.decisionThreshold ? 1 : 0);
    });
    const pinned = await app.inject({
      method: 'POST',
      url: '/v2/models/xgboost/versions/1.1.0/infer',
      payload: { inputs: columns(loans.slice(0, 3)) },
    });
    expect(pinned.json().model_version).toBe('1.1.0');
  });

  it('takes the feature row as one [N, C] tensor, flat or nested, FP32 or FP64', async () => {
    const app = await tensorApp();
    const meta = (await app.inject('/v2/models/xgboost_features')).json();
    expect(meta.parameters.tensor_input.shape).toEqual([-1, xgboost.columnCount]);
    const rows = xgboost.newRows(loans.length);
    loans.forEach((l, i) => {
      xgboost.encodeInto(withScenario(l), rows, i);
    });
    const flat = Array.from(rows, (v) => (Number.isNaN(v) ? null : v));
    const margins = xgboost.marginsOfRows(rows, loans.length);
    const C = xgboost.columnCount;
    const nested = loans.map((_, i) => flat.slice(i * C, (i + 1) * C));
    for (const [datatype, data] of [
      ['FP32', flat],
      ['FP64', nested],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/xgboost_features/infer',
        payload: {
          inputs: [{ name: 'input-0', shape: [loans.length, C], datatype, data }],
          outputs: [{ name: 'log_odds' }],
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      const [out] = res.json().outputs;
      expect(out.name).toBe('log_odds');
      expect(out.data).toEqual(Array.from(margins));
    }
    // A linear model's feature row has no missing-value branch: null is refused, not turned into NaN.
    const linear = await app.inject({
      method: 'POST',
      url: '/v2/models/lda_features/infer',
      payload: {
        inputs: [
          {
            name: 'x',
            shape: [1, lda.columnCount],
            datatype: 'FP64',
            data: [null, ...Array(lda.columnCount - 1).fill(0)],
          },
        ],
      },
    });
    expect(linear.statusCode).toBe(400);
    expect(linear.json().error).toMatch(/inputs\[0\] \(x\)\.data\[0\].*null \(missing\) is not accepted/);
  });

  it('answers bad requests with {"error": "..."}, 400 for the request and 404 for the model', async () => {
    const app = await build();
    // The protocol's own example request: valid V2, but not this model's inputs.
    const example = {
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
      ],
      outputs: [{ name: 'output0' }],
    };
    const one = columns(loans.slice(0, 1));
    const withInput = (name: string, change: Record<string, unknown>) =>
      one.map((i) => (i.name === name ? { ...i, ...change } : i));
    const cases: [string, unknown, number, RegExp][] = [
      [
        '/v2/models/xgboost/infer',
        example,
        400,
        /outputs\[0\]\.name: unknown output "output0"; this model has predict_proba, predict, log_odds/,
      ],
      [
        '/v2/models/xgboost/infer',
        { ...example, outputs: undefined },
        400,
        /inputs\[0\] \(input0\)\.name: not an input of model xgboost/,
      ],
      ['/v2/models/nope/infer', { inputs: one }, 404, /no model named "nope"; available: /],
      [
        '/v2/models/xgboost/versions/9.9.9/infer',
        { inputs: one },
        404,
        /no version "9\.9\.9"; loaded: 1\.0\.0, 1\.1\.0/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: withInput('credit_score', { data: [900] }) },
        400,
        /\(credit_score\)\.data\[0\]: must be an integer from 300 to 850/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: withInput('credit_score', { data: ['700'] }) },
        400,
        /\(credit_score\)\.data\[0\]: must be a finite number or null/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: withInput('channel', { datatype: 'FP64' }) },
        400,
        /channel is a code: send BYTES/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: withInput('ltv', { shape: [2] }) },
        400,
        /\(ltv\)\.shape: 2 rows, but the first input has 1|\(ltv\)\.data: has 1 values but the shape \[2\] needs 2/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: one.filter((i) => i.name !== 'credit_score') },
        400,
        /credit_score.*is required/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: one, outputs: [{ name: 'output0' }] },
        400,
        /outputs\[0\]\.name: unknown output "output0"/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: one, outputs: [{ name: 'predict', parameters: { binary_data: true } }] },
        400,
        /binary tensor extension is not supported/,
      ],
      [
        '/v2/models/xgboost/infer',
        { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
        400,
        /reads house-price scenario features.*send the loan fields as named inputs, not a feature tensor/,
      ],
      ['/v2/models/xgboost/infer', { inputs: 'none' }, 400, /inputs must be array/],
      ['/v2/models/xgboost/infer', { inputs: one, extra: 1 }, 400, /extra is not a known field/],
    ];
    for (const [url, payload, status, message] of cases) {
      const res = await app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
      expect(res.statusCode, `${url} ${JSON.stringify(payload).slice(0, 120)}: ${res.body}`).toBe(status);
      expect(Object.keys(res.json())).toEqual(['error']);
      expect(res.json().error).toMatch(message);
    }
    const notJson = await app.inject({
      method: 'POST',
      url: '/v2/models/xgboost/infer',
      payload: '{"inputs": [',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.statusCode).toBe(400);
    expect(Object.keys(notJson.json())).toEqual(['error']);
    expect((await app.inject('/v2/models/nope')).json()).toEqual({ error: expect.stringMatching(/no model named/) });
    expect((await app.inject('/v2/nowhere')).statusCode).toBe(404);
  });
});

describe('Open Inference Protocol: the declared datatype bounds its values', () => {
  /** One loan as named columns, with `name` sent as `datatype` holding `value`. */
  const oneLoan = (name: string, datatype: string, value: unknown) =>
    columns(loans.slice(0, 1)).map((c) => (c.name === name ? { ...c, datatype, data: [value] } : c));

  it('refuses a value outside its datatype with 400, naming the input and the range', async () => {
    const app = await build();
    const cases: [string, string, unknown, RegExp][] = [
      ['credit_score', 'INT8', 700, /inputs\[\d+\] \(credit_score\)\.data\[0\]: 700 is outside INT8 \(-128 to 127\)/],
      ['credit_score', 'UINT8', 700, /700 is outside UINT8 \(0 to 255\)/],
      ['credit_score', 'UINT16', -1, /-1 is outside UINT16/],
      ['original_upb', 'INT16', 312000, /\(original_upb\).*312000 is outside INT16/],
      ['original_upb', 'FP16', 312000, /\(original_upb\).*312000 is outside FP16/],
      ['original_upb', 'FP32', 1e308, /\(original_upb\).*1e\+308 is outside FP32/],
      ['original_upb', 'INT32', 2 ** 31, /outside INT32/],
      ['original_upb', 'INT64', 2 ** 63, /outside INT64/],
      ['original_upb', 'UINT32', 2 ** 32, /outside UINT32/],
      ['original_upb', 'UINT64', 2 ** 64, /outside UINT64/],
    ];
    for (const [name, datatype, value, message] of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/xgboost/infer',
        payload: { inputs: oneLoan(name, datatype, value) },
      });
      expect(res.statusCode, `${name} ${datatype} ${value}: ${res.body}`).toBe(400);
      expect(res.json().error).toMatch(message);
    }
    // In range: scored.
    for (const [name, datatype, value] of [
      ['credit_score', 'INT16', 700],
      ['credit_score', 'UINT16', 700],
      ['original_upb', 'INT32', 312000],
      ['original_upb', 'FP32', 312000],
      ['ltv', 'FP16', 95],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/xgboost/infer',
        payload: { inputs: oneLoan(name, datatype, value) },
      });
      expect(res.statusCode, `${name} ${datatype} ${value}: ${res.body}`).toBe(200);
    }
  });

  it('refuses a feature tensor value outside its datatype', async () => {
    const app = await tensorApp();
    const C = xgboost.columnCount;
    for (const [datatype, value] of [
      ['FP32', 1e308],
      ['FP16', 70000],
      ['INT8', 200],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/xgboost_features/infer',
        payload: { inputs: [{ name: 'x', shape: [1, C], datatype, data: [value, ...Array(C - 1).fill(0)] }] },
      });
      expect(res.statusCode, `${datatype} ${value}`).toBe(400);
      expect(res.json().error).toMatch(new RegExp(`inputs\\[0\\] \\(x\\)\\.data\\[0\\].*outside ${datatype}`));
    }
  });
});

describe('a model of arbitrary features dropped into the model directory', () => {
  const fixtures = 'test/fixtures/byom';
  const reference = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8')) as {
    models: Record<string, { probability: (number | null)[]; margin: (number | null)[] }>;
  };
  const rows = parse(readFileSync(join(fixtures, 'breast_cancer_sample.csv')), { columns: true }) as Record<
    string,
    string
  >[];
  const features = Object.keys(rows[0] as Record<string, string>);

  it('is served by /v2 with the library’s predictions, and refused by /predict', async () => {
    const dir = tempDir('byom-');
    cpSync('model-artifacts', dir, { recursive: true });
    for (const name of ['breast_cancer_xgboost', 'breast_cancer_logistic']) {
      cpSync(join(fixtures, name), join(dir, name), { recursive: true });
    }
    const app = await build({ MODEL_DIR: dir });
    const listed = (await app.inject('/models'))
      .json()
      .models.find((m: { name: string }) => m.name === 'breast_cancer_xgboost');
    expect(listed).toMatchObject({ inputs: 'features', family: 'xgboost' });
    // "all" means every loan model: the features model is not among them.
    const all = await app.inject({ method: 'POST', url: '/predict?model=all', payload: holdoutLoans[0] });
    expect(all.json().results.map((r: { model: string }) => r.model)).not.toContain('breast_cancer_xgboost');
    const refused = await app.inject({
      method: 'POST',
      url: '/predict?model=breast_cancer_xgboost',
      payload: holdoutLoans[0],
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'MODEL_NOT_FOR_LOANS' });
    expect(refused.json().message).toContain('/v2/models/breast_cancer_xgboost/infer');

    const inputs = features.map((name) => ({
      name,
      shape: [rows.length],
      datatype: 'FP64',
      data: rows.map((r) => (r[name] === '' ? null : Number(r[name]))),
    }));
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/breast_cancer_xgboost/infer',
      payload: { inputs, outputs: [{ name: 'predict_proba' }, { name: 'log_odds' }] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const [proba, margin] = res.json().outputs as { data: number[] }[];
    const expected = reference.models.breast_cancer_xgboost;
    expect(expected?.probability).toHaveLength(rows.length);
    rows.forEach((_, i) => {
      // The same margins bit for bit; probabilities within the parity tolerance of trees (XGBoost
      // applies the sigmoid in float32, the runtime in double and then rounds to float32).
      expect(margin?.data[i], `row ${i}`).toBe(expected?.margin[i]);
      const gap = Math.abs((proba?.data[2 * i + 1] as number) - (expected?.probability[i] as number));
      expect(gap, `row ${i}`).toBeLessThanOrEqual(1e-6);
    });
    // The logistic regression of the same example: rows with missing values have no library answer
    // (null in the reference) and are refused; the others match within the linear tolerance.
    const logistic = reference.models.breast_cancer_logistic;
    const complete = rows.flatMap((_, i) => (logistic?.probability[i] === null ? [] : [i]));
    expect(complete.length).toBeGreaterThan(40);
    const linear = await app.inject({
      method: 'POST',
      url: '/v2/models/breast_cancer_logistic/infer',
      payload: {
        inputs: inputs.map((x) => ({ ...x, shape: [complete.length], data: complete.map((i) => x.data[i]) })),
      },
    });
    expect(linear.statusCode, linear.body).toBe(200);
    const linearPd = linear.json().outputs[0].data as number[];
    complete.forEach((row, k) => {
      expect(
        Math.abs((linearPd[2 * k + 1] as number) - (logistic?.probability[row] as number)),
        `row ${row}`,
      ).toBeLessThanOrEqual(1e-12);
    });
    const withNull = await app.inject({
      method: 'POST',
      url: '/v2/models/breast_cancer_logistic/infer',
      payload: { inputs },
    });
    expect(withNull.statusCode).toBe(400);
    expect(withNull.json().error).toMatch(
      /data\[\d+\]: null \(missing\) is not accepted: logistic_regression models of arbitrary features/,
    );

    const missing = await app.inject({
      method: 'POST',
      url: '/v2/models/breast_cancer_xgboost/infer',
      payload: { inputs: inputs.slice(1) },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatch(/inputs: missing mean radius/);
  });
  it("honours XGBoost's missing value in V2 inputs and refuses values beyond float32 (issue 17)", async () => {
    const dir = tempDir('byom-missing-');
    cpSync('model-artifacts', dir, { recursive: true });
    const doc = JSON.parse(readFileSync(join(fixtures, 'breast_cancer_xgboost/1.0.0.json'), 'utf8'));
    doc.model.booster.learner.attributes = { scikit_learn: '{"missing": -999}' };
    doc.model.missing = -999;
    mkdirSync(join(dir, 'breast_cancer_xgboost'));
    writeFileSync(join(dir, 'breast_cancer_xgboost/1.0.0.json'), JSON.stringify(doc));
    const app = await build({ MODEL_DIR: dir });
    const inputs = (missing: number | null) =>
      features.map((name) => ({
        name,
        shape: [rows.length],
        datatype: 'FP64',
        data: rows.map((r) => (r[name] === '' ? missing : Number(r[name]))),
      }));
    const infer = (payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/v2/models/breast_cancer_xgboost/infer', payload });
    const margins = async (payload: object) => {
      const res = await infer({ ...payload, outputs: [{ name: 'log_odds' }] });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().outputs[0].data as number[];
    };
    const expected = reference.models.breast_cancer_xgboost?.margin;
    expect(await margins({ inputs: inputs(null) })).toEqual(expected);
    expect(await margins({ inputs: inputs(-999) })).toEqual(expected);
    const tensor = (missing: number | null, datatype = 'FP64') => ({
      inputs: [
        {
          name: 'input',
          shape: [rows.length, features.length],
          datatype,
          data: rows.map((r) => features.map((f) => (r[f] === '' ? missing : Number(r[f])))),
        },
      ],
    });
    expect(await margins(tensor(-999))).toEqual(expected);

    const big = inputs(null);
    (big[3] as { data: (number | null)[] }).data[2] = 1e39;
    const named = await infer({ inputs: big });
    expect(named.statusCode).toBe(400);
    expect(named.json().error).toMatch(/mean area.*1e\+39 is beyond the float32 range/);
    const t = tensor(null);
    ((t.inputs[0] as { data: (number | null)[][] }).data[2] as (number | null)[])[3] = -1e39;
    const flat = await infer(t);
    expect(flat.statusCode).toBe(400);
    expect(flat.json().error).toMatch(/row 2, column mean area\): -1e\+39 is beyond the float32 range/);
  });
});
