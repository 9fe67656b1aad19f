import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { type LoanRecord, loadModelDocument, loadModelFile } from '../../src/runtime/index.js';
import { ServingError } from '../../src/serving/errors.js';
import {
  checkRange,
  decodeInputs,
  flatten,
  type InputTensor,
  numeric,
  outputTensors,
  requestedOutputs,
} from '../../src/serving/oip.js';
import { artifact, stump, xgboostBooster } from '../fixtures/tiny-models.js';
import { exampleLoan, holdoutLoans } from '../helpers/app.js';
import { featuresModelDocument } from '../helpers/models.js';

/** Open Inference Protocol tensors decoded without HTTP (src/serving/oip.ts). */

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
// The same models taking a feature tensor (the shipped ones read scenario features, so they refuse one).
const xgboostFeatures = loadModelDocument(featuresModelDocument('model-artifacts/xgboost/1.0.0.json'));
const ldaFeatures = loadModelDocument(featuresModelDocument('model-artifacts/lda/1.0.0.json'));
const features = { inputs: 'features' };
const tiny = loadModelDocument(artifact('xgboost', { booster: xgboostBooster([stump(0.5, true)]) }, features));
const tinyLinear = loadModelDocument(artifact('logistic_regression', { coefficients: [1, 2], intercept: 0 }, features));

/** The refusal `fn` throws: its kind and message. */
function refusal(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServingError);
    const e = err as ServingError;
    return { kind: e.kind, message: e.message };
  }
  throw new Error('expected a refusal');
}

const named = (rows: readonly LoanRecord[]): InputTensor[] =>
  LOAN_FIELDS.filter((f) => f.name !== 'loan_sequence_number').map((f) => ({
    name: f.name,
    shape: [rows.length],
    datatype: f.kind === 'numeric' ? 'FP64' : 'BYTES',
    data: rows.map((r) => r[f.name] ?? null),
  }));

describe('named inputs', () => {
  it('become the loan records the inputs hold, null for missing values', () => {
    const loans = holdoutLoans.slice(0, 3);
    const decoded = decodeInputs(xgboost, named(loans), 10);
    expect(decoded.kind).toBe('records');
    if (decoded.kind !== 'records') return;
    for (const [i, record] of decoded.records.entries()) {
      for (const f of LOAN_FIELDS) {
        if (f.name !== 'loan_sequence_number') expect(record[f.name]).toEqual(loans[i]?.[f.name] ?? null);
      }
    }
  });

  it('refuse a loan value as the loan validator words it, naming the input and row', () => {
    const inputs = named([exampleLoan, { ...exampleLoan, credit_score: 900 }]);
    expect(refusal(() => decodeInputs(xgboost, inputs, 10))).toEqual({
      kind: 'invalid',
      message:
        'inputs[0] (credit_score).data[1]: must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got the number 900',
    });
    const month = named([{ ...exampleLoan, first_payment_date: 200613 }]);
    expect(refusal(() => decodeInputs(xgboost, month, 10)).message).toBe(
      'inputs[1] (first_payment_date).data[0]: month 13 of 200613 is not 01–12 (YYYYMM)',
    );
    const absent = named([exampleLoan]).filter((i) => i.name !== 'dti');
    expect(refusal(() => decodeInputs(xgboost, absent, 10)).message).toBe(
      'inputs: dti (row 0): is required (send null when the value is not available)',
    );
  });

  it('refuse more rows than the limit with a too-large refusal', () => {
    const inputs = named(holdoutLoans.slice(0, 3));
    expect(refusal(() => decodeInputs(xgboost, inputs, 2))).toEqual({
      kind: 'too-large',
      message: 'inputs[0] (credit_score): at most 2 rows per request (MAX_BATCH); got 3',
    });
  });

  it('refuse a code sent as numbers, a name given twice and mismatched row counts', () => {
    const inputs = named([exampleLoan]);
    const channel = inputs.findIndex((i) => i.name === 'channel');
    const asNumber = inputs.map((i, k) => (k === channel ? { ...i, datatype: 'FP64', data: [1] } : i));
    expect(refusal(() => decodeInputs(xgboost, asNumber, 10)).message).toMatch(
      /\(channel\)\.datatype: channel is a code: send BYTES/,
    );
    expect(refusal(() => decodeInputs(xgboost, [...inputs, inputs[0] as InputTensor], 10)).message).toMatch(
      /credit_score is given twice/,
    );
    const twoRows = inputs.map((i, k) => (k === 3 ? { ...i, shape: [2], data: [i.data[0], i.data[0]] } : i));
    expect(refusal(() => decodeInputs(xgboost, twoRows, 10)).message).toMatch(/2 rows, but the first input has 1/);
  });

  it('of a features model: every input required, null only where the family has a missing branch', () => {
    const a = { name: 'a', shape: [1], datatype: 'FP64', data: [null] };
    const b = { name: 'b', shape: [1], datatype: 'FP64', data: [1] };
    expect(decodeInputs(tiny, [a, b], 10)).toEqual({ kind: 'records', records: [{ a: null, b: 1 }] });
    expect(refusal(() => decodeInputs(tiny, [a], 10)).message).toBe(
      'inputs: missing b (send null values for missing data)',
    );
    expect(refusal(() => decodeInputs(tinyLinear, [a, b], 10)).message).toMatch(
      /^inputs\[0\] \(a\)\.data\[0\]: null \(missing\) is not accepted: logistic_regression models of arbitrary features/,
    );
  });
});

describe('a [N, C] feature tensor', () => {
  it('is refused for a model that reads scenario features, which the service computes', () => {
    const c = xgboost.columnCount;
    const data = Array(c).fill(0);
    expect(
      refusal(() => decodeInputs(xgboost, [{ name: 'x', shape: [1, c], datatype: 'FP64', data }], 10)).message,
    ).toMatch(/reads house-price scenario features.*send the loan fields as named inputs/);
  });

  it("becomes the model's rows, in its row type", () => {
    const c = xgboostFeatures.columnCount;
    const data = Array.from({ length: 2 * c }, (_, k) => (k % 7) + 0.1);
    const decoded = decodeInputs(xgboostFeatures, [{ name: 'x', shape: [2, c], datatype: 'FP64', data }], 10);
    expect(decoded.kind).toBe('rows');
    if (decoded.kind !== 'rows') return;
    expect(decoded.n).toBe(2);
    expect(Array.from(decoded.values)).toEqual(
      data.map((x) => (xgboostFeatures.evaluator.rowType === 'float32' ? Math.fround(x) : x)),
    );
  });

  it('refuses a wrong width, a non-numeric datatype, null without a missing branch and beyond float32', () => {
    const c = ldaFeatures.columnCount;
    const row = (v: unknown) => [{ name: 'x', shape: [1, c], datatype: 'FP64', data: [v, ...Array(c - 1).fill(0)] }];
    expect(
      refusal(() => decodeInputs(ldaFeatures, [{ name: 'x', shape: [1, c + 1], datatype: 'FP64', data: [] }], 10))
        .message,
    ).toMatch(new RegExp(`C = ${c} columns .*; got C = ${c + 1}$`));
    expect(
      refusal(() => decodeInputs(ldaFeatures, [{ ...(row(0)[0] as InputTensor), datatype: 'BYTES' }], 10)).message,
    ).toMatch(/a feature tensor is numeric/);
    expect(refusal(() => decodeInputs(ldaFeatures, row(null), 10)).message).toMatch(
      /data\[0\] \(row 0, column .*\): null \(missing\) is not accepted: lda models have no missing-value branch in their feature row$/,
    );
    const x = xgboostFeatures.columnCount;
    const wide = [{ name: 'x', shape: [1, x], datatype: 'FP64', data: [1e39, ...Array(x - 1).fill(0)] }];
    expect(refusal(() => decodeInputs(xgboostFeatures, wide, 10)).message).toMatch(
      /1e\+39 is beyond the float32 range/,
    );
  });
});

describe('datatypes', () => {
  it('hold the values of their range, both ends included (INT64/UINT64: their highest double excluded)', () => {
    expect(() => checkRange(127, 'INT8', 'at')).not.toThrow();
    expect(refusal(() => checkRange(128, 'INT8', 'at')).message).toBe('at: 128 is outside INT8 (-128 to 127)');
    expect(refusal(() => checkRange(-1, 'UINT8', 'at')).message).toBe('at: -1 is outside UINT8 (0 to 255)');
    expect(refusal(() => checkRange(2 ** 63, 'INT64', 'at')).message).toBe(
      `at: ${2 ** 63} is outside INT64 (-9223372036854775808 to 9223372036854775807)`,
    );
    expect(refusal(() => checkRange(65505, 'FP16', 'at')).message).toMatch(/outside FP16/);
    expect(() => checkRange(1e308, 'FP64', 'at')).not.toThrow();
  });

  it('read numbers: null as NaN, FP32 rounded, whole numbers for INT*, strings refused', () => {
    expect(numeric(null, 'FP64', 'at')).toBeNaN();
    expect(numeric(0.1, 'FP32', 'at')).toBe(Math.fround(0.1));
    expect(numeric(0.1, 'FP64', 'at')).toBe(0.1);
    expect(refusal(() => numeric(1.5, 'INT32', 'at')).message).toBe('at: INT32 needs a whole number, got 1.5');
    expect(refusal(() => numeric('1', 'FP64', 'at')).message).toBe(
      'at: must be a finite number or null (missing), got "1"',
    );
  });

  it('flatten nested data row-major, with the count the shape promises', () => {
    expect(
      flatten(
        [
          [1, 2],
          [3, 4],
        ],
        [2, 2],
        'in',
      ),
    ).toEqual([1, 2, 3, 4]);
    expect(refusal(() => flatten([1, 2, 3], [2, 2], 'in')).message).toBe(
      'in.data: has 3 values but the shape [2,2] needs 4',
    );
    expect(refusal(() => flatten([[[1]]], [1, 1], 'in')).message).toMatch(/nested deeper than the shape/);
  });
});

describe('outputs', () => {
  it('default to predict_proba and predict; unknown names and binary data refused', () => {
    expect(requestedOutputs(undefined)).toEqual(['predict_proba', 'predict']);
    expect(requestedOutputs([{ name: 'log_odds' }])).toEqual(['log_odds']);
    expect(refusal(() => requestedOutputs([{ name: 'nope' }])).message).toMatch(/unknown output "nope"/);
    expect(refusal(() => requestedOutputs([{ name: 'predict', parameters: { binary_data: true } }])).message).toMatch(
      /binary tensor extension/,
    );
  });

  it('are shaped as the protocol says', () => {
    expect(outputTensors(['predict_proba', 'predict', 'log_odds'], 0.5, [0.25, 0.75], [-1, 1])).toEqual([
      { name: 'predict_proba', datatype: 'FP64', shape: [2, 2], data: [0.75, 0.25, 0.25, 0.75] },
      { name: 'predict', datatype: 'INT64', shape: [2], data: [0, 1] },
      { name: 'log_odds', datatype: 'FP64', shape: [2], data: [-1, 1] },
    ]);
  });
});
