import { LOAN_FIELD_BY_NAME } from '../loan/record.js';
import { checkLoan, type LoanProblem } from '../loan/validate.js';
import { beyondFloat32, type EncodingError, FLOAT32_MAX, type LoanRecord, type Model } from '../runtime/index.js';
import { featureWriter, isScenarioFeature, type Scenario } from '../scenario/index.js';
import { invalid, type ServingError, tooManyRows } from './errors.js';
import { modelReadsScenario } from './scenario.js';

/**
 * Open Inference Protocol (KServe V2) tensors, decoded without HTTP: an inference request gives either
 * one input per model field (shape [N] or [N, 1]; numbers as FP32, FP64 or INT*, codes as BYTES; null
 * is a missing value; each value within its declared datatype's range), or a single numeric tensor
 * [N, C] holding the model's feature row (its C columns, in the order the metadata lists). Named inputs
 * of a loan model become loan records checked by the loan validator (src/loan/validate.ts); a feature
 * tensor becomes the model's rows. Every refusal is a ServingError (400, or 413 past MAX_BATCH).
 *
 * A model that reads house-price scenario features (src/scenario) takes named loan fields only: the
 * service computes the features from the request's `parameters.scenario`, so they are not inputs, and a
 * feature tensor (which would have to carry them) is refused.
 */

export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

/** Every datatype but BOOL and BYTES: the ones a number is sent as. */
const NUMERIC: ReadonlySet<string> = new Set(DATATYPES.filter((d) => d !== 'BOOL' && d !== 'BYTES'));

export const OUTPUTS = ['predict_proba', 'predict', 'log_odds'] as const;
export type OutputName = (typeof OUTPUTS)[number];

/** One input tensor of a request, as the route's schema admits it. */
export interface InputTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly data: readonly unknown[];
}

/** What a request's inputs hold: a model's feature rows, or records (loan records for a loan model). */
export type Decoded =
  | { readonly kind: 'rows'; readonly n: number; readonly values: Float32Array | Float64Array }
  | { readonly kind: 'records'; readonly records: LoanRecord[] };

/**
 * The inputs of a request for `model`, decoded and checked; at most `limit` rows. With `scenario`
 * (when the model, or its shadow, reads scenario features), loan records come with their features.
 */
export function decodeInputs(
  model: Model,
  inputs: readonly InputTensor[],
  limit: number,
  scenario?: Scenario,
): Decoded {
  for (const [i, input] of inputs.entries()) {
    if (input.parameters?.binary_data_size !== undefined) {
      throw invalid(
        `inputs[${i}].parameters.binary_data_size: the binary tensor extension is not supported; send JSON data`,
      );
    }
  }
  const first = inputs[0] as InputTensor;
  const isTensor = inputs.length === 1 && first.shape.length === 2 && !model.fields.some((f) => f.name === first.name);
  if (isTensor) {
    if (modelReadsScenario(model)) {
      throw invalid(
        `inputs[0] (${first.name}): model ${model.name} reads house-price scenario features, which the service computes ` +
          'from parameters.scenario (default baseline): send the loan fields as named inputs, not a feature tensor',
      );
    }
    return { kind: 'rows', ...tensorRows(model, first, limit) };
  }
  return { kind: 'records', records: namedRecords(model, inputs, limit, scenario) };
}

/** The outputs asked for (all but log_odds by default), unknown names refused. */
export function requestedOutputs(
  outputs: readonly { name: string; parameters?: Readonly<Record<string, unknown>> }[] | undefined,
): OutputName[] {
  if (!outputs || outputs.length === 0) return ['predict_proba', 'predict'];
  return outputs.map((o, i) => {
    if (!(OUTPUTS as readonly string[]).includes(o.name)) {
      throw invalid(
        `outputs[${i}].name: unknown output ${JSON.stringify(o.name)}; this model has ${OUTPUTS.join(', ')}`,
      );
    }
    if (o.parameters?.binary_data === true) {
      throw invalid(`outputs[${i}].parameters.binary_data: the binary tensor extension is not supported`);
    }
    return o.name as OutputName;
  });
}

/** The output tensors of scored rows: predict_proba [N, 2], predict [N] (INT64), log_odds [N]. */
export function outputTensors(
  wanted: readonly OutputName[],
  threshold: number,
  probability: ArrayLike<number>,
  margin: ArrayLike<number>,
) {
  const n = probability.length;
  return wanted.map((name) => {
    if (name === 'predict_proba') {
      const data = new Array<number>(2 * n);
      for (let i = 0; i < n; i++) {
        data[2 * i] = 1 - (probability[i] as number);
        data[2 * i + 1] = probability[i] as number;
      }
      return { name, datatype: 'FP64', shape: [n, 2], data };
    }
    if (name === 'predict') {
      return { name, datatype: 'INT64', shape: [n], data: Array.from(probability, (p) => (p >= threshold ? 1 : 0)) };
    }
    return { name, datatype: 'FP64', shape: [n], data: Array.from(margin) };
  });
}

/** The 400 for a value the encoder refused (a model of arbitrary features), naming the input and row. */
export function encodingRefusal(err: EncodingError): ServingError {
  return invalid(`inputs[${err.field}].data[${err.index ?? 0}]: ${err.reason}`);
}

/** The 400 for a row without a finite score. */
export function nonFiniteRefusal(where: string, row: number): ServingError {
  return invalid(`${where}: row ${row} gives no finite score (a missing value the model cannot handle)`);
}

/** Nested or flat data, flattened row-major, with the element count the shape promises. */
export function flatten(data: readonly unknown[], shape: readonly number[], where: string): unknown[] {
  const flat: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (Array.isArray(v)) {
      if (depth >= shape.length) throw invalid(`${where}.data: nested deeper than the shape ${JSON.stringify(shape)}`);
      for (const x of v) walk(x, depth + 1);
    } else {
      flat.push(v);
    }
  };
  for (const v of data) walk(v, 1);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected) {
    throw invalid(`${where}.data: has ${flat.length} values but the shape ${JSON.stringify(shape)} needs ${expected}`);
  }
  return flat;
}

function checkRows(n: number, limit: number, where: string): void {
  if (n > limit) throw tooManyRows(n, limit, where);
}

/** A number of `datatype` (rounded to float32 for FP32 and FP16), NaN for null; refused otherwise. */
export function numeric(v: unknown, datatype: string, where: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalid(`${where}: must be a finite number or null (missing), got ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  if (datatype.startsWith('INT') || datatype.startsWith('UINT')) {
    if (!Number.isInteger(v)) throw invalid(`${where}: ${datatype} needs a whole number, got ${v}`);
  }
  checkRange(v, datatype, where);
  return datatype === 'FP32' || datatype === 'FP16' ? Math.fround(v) : v;
}

/**
 * The values each numeric datatype can hold: [lowest, highest], both included. INT64 and UINT64
 * bounds are powers of two, exact as doubles: their highest value (2^63 − 1, 2^64 − 1) is not, so
 * those two exclude their upper bound. Floats: the largest finite value (FP16 65504, FP32
 * 3.4028234663852886e38); FP64 takes any finite number.
 */
const RANGES: Readonly<Record<string, readonly [number, number, 'included' | 'excluded']>> = {
  INT8: [-(2 ** 7), 2 ** 7 - 1, 'included'],
  INT16: [-(2 ** 15), 2 ** 15 - 1, 'included'],
  INT32: [-(2 ** 31), 2 ** 31 - 1, 'included'],
  INT64: [-(2 ** 63), 2 ** 63, 'excluded'],
  UINT8: [0, 2 ** 8 - 1, 'included'],
  UINT16: [0, 2 ** 16 - 1, 'included'],
  UINT32: [0, 2 ** 32 - 1, 'included'],
  UINT64: [0, 2 ** 64, 'excluded'],
  FP16: [-65504, 65504, 'included'],
  FP32: [-FLOAT32_MAX, FLOAT32_MAX, 'included'],
};

/** A 400 for a value its declared datatype cannot hold (`INT8` 700, `FP32` 1e308), naming the range. */
export function checkRange(v: number, datatype: string, where: string): void {
  const range = RANGES[datatype];
  if (range === undefined) return;
  const [low, high, upper] = range;
  if (v >= low && (upper === 'included' ? v <= high : v < high)) return;
  const highest = upper === 'included' ? String(high) : String(BigInt(high) - BigInt(1));
  throw invalid(`${where}: ${v} is outside ${datatype} (${BigInt(low)} to ${highest})`);
}

/** A family's declared capability (XGBoost trees send NaN down a learnt default branch; the others need complete rows). */
function acceptsMissing(model: Model): boolean {
  return model.capabilities.acceptsMissing;
}

/** One [N, C] tensor: the feature rows as the model's evaluator reads them. */
function tensorRows(model: Model, input: InputTensor, limit: number) {
  const [n, c] = input.shape as [number, number];
  const where = `inputs[0] (${input.name})`;
  checkRows(n, limit, where);
  if (c !== model.columnCount) {
    throw invalid(
      `${where}.shape: a [N, C] tensor is the model's feature row, C = ${model.columnCount} columns (see the model metadata's parameters.tensor_input); got C = ${c}`,
    );
  }
  if (!NUMERIC.has(input.datatype))
    throw invalid(`${where}.datatype: a feature tensor is numeric (FP32, FP64, INT*), got ${input.datatype}`);
  const flat = flatten(input.data, input.shape, where);
  const values = model.newRows(n);
  const missingOk = acceptsMissing(model);
  for (let k = 0; k < flat.length; k++) {
    const at = `${where}.data[${k}] (row ${Math.floor(k / c)}, column ${model.columns[k % c]?.name})`;
    if (flat[k] === null && !missingOk) {
      throw invalid(
        `${at}: null (missing) is not accepted: ${model.family} models have no missing-value branch in their feature row` +
          (model.inputs === 'loan-record' ? '; send the loan fields by name to have missing values imputed' : ''),
      );
    }
    values[k] = float32Row(model, numeric(flat[k], input.datatype, at), at);
  }
  return { n, values };
}

/**
 * A tree model's feature row is float32 (XGBoost and scikit-learn cast their input): a number beyond that
 * range would be scored as ±Infinity, where the libraries refuse the row. (Named inputs are checked by the
 * encoder, which names the field.)
 */
function float32Row(model: Model, x: number, at: string): number {
  // numeric() already rounded FP32/FP16 data: an overflow there is ±Infinity.
  if (model.evaluator.rowType === 'float32' && (beyondFloat32(x) || Math.abs(x) === Number.POSITIVE_INFINITY)) {
    throw invalid(`${at}: ${x} is beyond the float32 range (±${FLOAT32_MAX}) that ${model.family} models read`);
  }
  return x;
}

/** One input per field: rows built as records; a loan model's checked by the loan validator. */
function namedRecords(
  model: Model,
  inputs: readonly InputTensor[],
  limit: number,
  scenario: Scenario | undefined,
): LoanRecord[] {
  const fields = new Map(model.fields.map((f) => [f.name, f]));
  const isLoan = model.inputs === 'loan-record';
  let n = -1;
  const columns: [number, string, unknown[], string][] = [];
  const seen = new Set<string>();
  for (const [i, input] of inputs.entries()) {
    const where = `inputs[${i}] (${input.name})`;
    if (isLoan && isScenarioFeature(input.name)) {
      throw invalid(
        `${where}.name: ${input.name} is a scenario feature, computed by the service from parameters.scenario; it is not an input`,
      );
    }
    const field = fields.get(input.name);
    const loanField = isLoan ? LOAN_FIELD_BY_NAME.get(input.name) : undefined;
    if (!field && !loanField) {
      const known = [...fields.keys()];
      throw invalid(
        `${where}.name: not an input of model ${model.name}; its inputs are ${known.slice(0, 30).join(', ')}${known.length > 30 ? ', …' : ''}`,
      );
    }
    if (seen.has(input.name)) throw invalid(`${where}.name: ${input.name} is given twice`);
    seen.add(input.name);
    if (input.shape.length === 2 && input.shape[1] !== 1)
      throw invalid(`${where}.shape: a named input is [N] or [N, 1], got ${JSON.stringify(input.shape)}`);
    const rows = input.shape[0] as number;
    if (n === -1) n = rows;
    else if (rows !== n) throw invalid(`${where}.shape: ${rows} rows, but the first input has ${n}`);
    checkRows(rows, limit, where);
    const textual = loanField ? loanField.kind !== 'numeric' : field?.kind === 'categorical';
    if (textual && input.datatype !== 'BYTES')
      throw invalid(`${where}.datatype: ${input.name} is a code: send BYTES (strings), got ${input.datatype}`);
    if (!textual && !NUMERIC.has(input.datatype))
      throw invalid(`${where}.datatype: ${input.name} is numeric: send FP32, FP64 or INT*, got ${input.datatype}`);
    columns.push([i, input.name, flatten(input.data, input.shape, where), input.datatype]);
  }
  const records: Record<string, unknown>[] = Array.from({ length: n }, () => ({}));
  for (const [i, name, values, datatype] of columns) {
    values.forEach((v, r) => {
      const at = `inputs[${i}] (${name}).data[${r}]`;
      if (datatype === 'BYTES') {
        if (v !== null && typeof v !== 'string')
          throw invalid(`${at}: must be a string or null, got ${JSON.stringify(v)?.slice(0, 40)}`);
        (records[r] as Record<string, unknown>)[name] = v;
      } else {
        const x = numeric(v, datatype, at);
        (records[r] as Record<string, unknown>)[name] = Number.isNaN(x) ? null : x;
      }
    });
  }
  if (!isLoan) {
    const absent = [...fields.keys()].filter((f) => !seen.has(f));
    if (absent.length > 0) {
      throw invalid(`inputs: missing ${absent.slice(0, 20).join(', ')} (send null values for missing data)`);
    }
    if (!acceptsMissing(model)) {
      // The encoder would pass NaN on: only XGBoost has a learnt branch for it (scikit-learn refuses NaN).
      for (const [i, input] of inputs.entries()) {
        const r = records.findIndex((record) => record[input.name] === null);
        if (r >= 0) {
          throw invalid(
            `inputs[${i}] (${input.name}).data[${r}]: null (missing) is not accepted: ${model.family} models of arbitrary features have no missing-value handling`,
          );
        }
      }
    }
    return records;
  }
  // Loan records: the loan validator, as for POST /predict and tapes; the first problem is answered.
  const inputIndex = new Map(inputs.map((x, i) => [x.name, i]));
  const at = (name: string, r: number) =>
    inputIndex.has(name) ? `inputs[${inputIndex.get(name)}] (${name}).data[${r}]` : `inputs: ${name} (row ${r})`;
  const problems: LoanProblem[] = [];
  for (const [r, record] of records.entries()) {
    if (!checkLoan(record, problems)) {
      const [problem] = problems as [LoanProblem];
      throw invalid(`${at(problem.field, r)}: ${problem.message}`);
    }
    // Under historical, a loan outside the market has no path: refused, never imputed.
    const problem = scenario === undefined ? undefined : featureWriter(scenario).problem(record);
    if (problem !== undefined) throw invalid(`${at(problem.field, r)}: ${problem.message}`);
  }
  if (scenario === undefined) return records;
  const writer = featureWriter(scenario);
  return records.map((record) => writer.record(record));
}
