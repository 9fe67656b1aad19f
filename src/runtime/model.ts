import { createHash } from 'node:crypto';
import { MODEL_NAME, MODEL_VERSION } from '../contract/index.js';
import { artifactRange, assertFinite, checkEvaluatorBound } from './bounds.js';
import { DocumentReader } from './check.js';
import { ArtifactError, EncodingError } from './errors.js';
import type { Evaluator, EvaluatorOptions } from './evaluator.js';
import { type RowExplainer, sumByField } from './explain.js';
import { FAMILIES, type FamilyCapabilities, type ModelFamily } from './families/index.js';
import {
  type ColumnSpec,
  compileEncoder,
  type Encoder,
  type FieldSpec,
  type LoanRecord,
  type NumericField,
  parseColumns,
  parseFields,
} from './features.js';
import { type FileReader, type ReadOptions, readBoundedFile } from './read.js';

export const ARTIFACT_FORMAT = 'loan-default-model/1';

export interface ModelInfo {
  readonly name: string;
  readonly family: string;
  /** What the family can do (missing values, explanation, link), from its module (families/). */
  readonly capabilities: FamilyCapabilities;
  readonly version: string;
  readonly description: string;
  /** What `probability_of_default` means: the label the model was trained on. */
  readonly label: string;
  /** PD at or above which a loan is classed as a default. */
  readonly decisionThreshold: number;
  /** SHA-256 of the artifact's bytes (hex). */
  readonly sha256: string;
  /** Where it was loaded from (a path, or the caller's label). */
  readonly source: string;
  /** The artifact's training metadata, as written by the pipeline. */
  readonly training: Readonly<Record<string, unknown>>;
  /**
   * What the model reads: `loan-record` (the default) means its fields are loan-record fields, served by
   * `/predict` and pools; `features` means arbitrary named numeric features, served by the Open Inference
   * Protocol routes only (a model a user trained on another data set).
   */
  readonly inputs: ModelInputs;
}

export type ModelInputs = 'loan-record' | 'features';

export interface Score {
  readonly probability: number;
  /** Log-odds: the model's raw output before the logistic link. */
  readonly margin: number;
}

/**
 * An exact additive explanation of one loan's margin, in log-odds (explain.ts):
 * baseValue + Σ columns = baseValue + Σ fields = margin, up to floating-point rounding.
 */
export interface Explanation extends Score {
  /** The model's expected margin: linear models at the training means, trees over the training covers. */
  readonly baseValue: number;
  /** Contribution of each column, in the artifact's column order. */
  readonly columns: Float64Array;
  /** Contribution of each loan field (the sum over its columns), in the artifact's field order; 0 when unused. */
  readonly fields: Readonly<Record<string, number>>;
}

export interface BatchScores {
  readonly probability: Float64Array;
  readonly margin: Float64Array;
}

/** The first row whose probability or margin is not finite, or -1 (finite by construction: a fault otherwise). */
export function firstNonFinite(scores: {
  readonly probability: ArrayLike<number>;
  readonly margin: ArrayLike<number>;
}): number {
  const { probability, margin } = scores;
  for (let i = 0; i < probability.length; i++) {
    if (!Number.isFinite(probability[i]) || !Number.isFinite(margin[i])) return i;
  }
  return -1;
}

export interface LoadOptions extends EvaluatorOptions {
  /** Families to accept (default: `FAMILIES`, families/index.ts). */
  readonly families?: readonly ModelFamily[];
  /**
   * The range each numeric field's inputs are held to, for the margin bound checked at load
   * (bounds.ts); default: the artifact's own `min`/`max`.
   */
  readonly fieldRange?: (field: NumericField, inputs: ModelInputs) => { min: number; max: number } | undefined;
}

/**
 * Most rows encoded and scored together in a batch. Generated tree code runs fastest over many rows
 * at once (see codegen.ts); this bounds the encoding buffer (16,384 × 57 float32 ≈ 3.7 MB).
 */
const CHUNK_ROWS = 16_384;

/** A loaded, validated model: encodes loan records and scores them. */
export class Model implements ModelInfo {
  readonly name: string;
  readonly family: string;
  readonly capabilities: FamilyCapabilities;
  readonly version: string;
  readonly description: string;
  readonly label: string;
  readonly decisionThreshold: number;
  readonly sha256: string;
  readonly source: string;
  readonly training: Readonly<Record<string, unknown>>;
  readonly inputs: ModelInputs;
  readonly fields: readonly FieldSpec[];
  readonly columns: readonly ColumnSpec[];
  readonly evaluator: Evaluator;
  private readonly encoder: Encoder;
  private readonly scratch: Float32Array | Float64Array;
  private chunk: Float32Array | Float64Array | undefined;
  /** Column j comes from field columnField[j] (index into `fields`): explanations group by it. */
  private readonly columnField: Int32Array;
  private readonly fieldSums: Float64Array;
  /** One row's column contributions and base value (`explainFieldsOfRows`), allocated on first use. */
  private columnScratch: Float64Array | undefined;

  constructor(info: ModelInfo, fields: readonly FieldSpec[], columns: readonly ColumnSpec[], evaluator: Evaluator) {
    this.name = info.name;
    this.family = info.family;
    this.capabilities = info.capabilities;
    this.version = info.version;
    this.description = info.description;
    this.label = info.label;
    this.decisionThreshold = info.decisionThreshold;
    this.sha256 = info.sha256;
    this.source = info.source;
    this.training = info.training;
    this.inputs = info.inputs;
    this.fields = fields;
    this.columns = columns;
    this.evaluator = evaluator;
    this.encoder = compileEncoder(fields, columns);
    this.scratch = this.newRows(1);
    const fieldIndex = new Map(fields.map((f, i) => [f.name, i]));
    this.columnField = Int32Array.from(columns, (c) => fieldIndex.get(c.field) as number);
    this.fieldSums = new Float64Array(fields.length);
  }

  get columnCount(): number {
    return this.columns.length;
  }

  /** A zeroed buffer for `n` rows of this model's feature row type. */
  newRows(n: number): Float32Array | Float64Array {
    const size = n * this.columns.length;
    return this.evaluator.rowType === 'float32' ? new Float32Array(size) : new Float64Array(size);
  }

  /** The loan's feature row (a fresh array). Throws `EncodingError` naming a bad field. */
  encode(loan: LoanRecord): Float32Array | Float64Array {
    const row = this.newRows(1);
    this.encoder(loan, row, 0);
    return row;
  }

  /** Writes the loan's feature row into `rows` at row index `index`. */
  encodeInto(loan: LoanRecord, rows: Float32Array | Float64Array, index: number): void {
    this.encoder(loan, rows, index * this.columns.length);
  }

  score(loan: LoanRecord): Score {
    this.encoder(loan, this.scratch, 0);
    const margin = this.evaluator.margin(this.scratch, 0);
    return { margin, probability: this.evaluator.probability(margin) };
  }

  /** Whether `explain` works for this model (see `explainUnavailable` when not). */
  get explainable(): boolean {
    return this.evaluator.explain !== undefined;
  }

  /** Why this model cannot explain, or undefined when it can. */
  get explainUnavailable(): string | undefined {
    return this.evaluator.explain ? undefined : (this.evaluator.explainUnavailable ?? 'no explainer');
  }

  /** The evaluator's row explainer; throws when the model cannot explain. */
  private explainer(): RowExplainer {
    const explain = this.evaluator.explain;
    if (!explain) throw new Error(`model ${this.name} cannot explain: ${this.explainUnavailable}`);
    return explain;
  }

  /**
   * Scores one loan and explains its margin exactly (explain.ts). Throws `EncodingError` on a bad
   * field, and an `Error` when the model cannot explain (`explainable` is false).
   */
  explain(loan: LoanRecord): Explanation {
    const explain = this.explainer();
    this.encoder(loan, this.scratch, 0);
    const margin = this.evaluator.margin(this.scratch, 0);
    const n = this.columns.length;
    const out = new Float64Array(n + 1);
    explain(this.scratch, 0, out);
    assertFinite(out, `model ${this.name} ${this.version} explained a row`);
    const sums = sumByField(out.subarray(0, n), this.columnField, this.fieldSums);
    const fields: Record<string, number> = {};
    this.fields.forEach((f, i) => {
      fields[f.name] = sums[i] as number;
    });
    return {
      margin,
      probability: this.evaluator.probability(margin),
      baseValue: out[n] as number,
      columns: out.subarray(0, n),
      fields,
    };
  }

  /**
   * Scores many loans in blocks. A bad loan throws `EncodingError` with `index` set to its position.
   */
  scoreMany(loans: readonly LoanRecord[]): BatchScores {
    const n = loans.length;
    const margin = new Float64Array(n);
    const probability = new Float64Array(n);
    const stride = this.columns.length;
    const rows = Math.min(n, CHUNK_ROWS);
    if (this.chunk === undefined || this.chunk.length < rows * stride) this.chunk = this.newRows(rows);
    const chunk = this.chunk;
    for (let start = 0; start < n; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, n - start);
      for (let i = 0; i < count; i++) {
        try {
          this.encoder(loans[start + i] as LoanRecord, chunk, i * stride);
        } catch (err) {
          if (err instanceof EncodingError) throw err.at(start + i);
          throw err;
        }
      }
      this.evaluator.margins(chunk, count, stride, margin.subarray(start, start + count));
    }
    for (let i = 0; i < n; i++) probability[i] = this.evaluator.probability(margin[i] as number);
    return { margin, probability };
  }

  /**
   * Explains `n` already-encoded rows (row-major, `columnCount` values each, as `encodeInto` writes
   * them) by loan field, for pools: row i's contribution per field, in `fields` order, goes to
   * `out[i·(F+1) + f]` and its base value to `out[i·(F+1) + F]`, F = `fields.length`. The same
   * numbers as `explain(loan).fields` and `.baseValue`, without an object per row; margins come from
   * `marginsOfRows`. Throws like `explain` when the model cannot explain or a value is not finite.
   */
  explainFieldsOfRows(
    rows: Float32Array | Float64Array,
    n: number,
    out = new Float64Array(n * (this.fields.length + 1)),
  ): Float64Array {
    const explain = this.explainer();
    const C = this.columns.length;
    const F = this.fields.length;
    if (out.length < n * (F + 1)) throw new RangeError(`out holds ${out.length} values; ${n} rows need ${n * (F + 1)}`);
    if (this.columnScratch === undefined) this.columnScratch = new Float64Array(C + 1);
    const columns = this.columnScratch;
    for (let i = 0; i < n; i++) {
      explain(rows, i * C, columns);
      assertFinite(columns, `model ${this.name} ${this.version} explained a row`);
      out.set(sumByField(columns.subarray(0, C), this.columnField, this.fieldSums), i * (F + 1));
      out[i * (F + 1) + F] = columns[C] as number;
    }
    return out;
  }

  /** Margins of `n` already-encoded rows (row-major, `columnCount` values each). */
  marginsOfRows(rows: Float32Array | Float64Array, n: number, out = new Float64Array(n)): Float64Array {
    this.evaluator.margins(rows, n, this.columns.length, out);
    return out;
  }
}

function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Validates an artifact document and builds its model. `source` names it in error messages. */
export function loadModelDocument(
  document: unknown,
  source = '<artifact>',
  options: LoadOptions & { sha256?: string } = {},
): Model {
  const r = new DocumentReader(source);
  const doc = r.object(document, '');
  const format = doc.format;
  if (format !== ARTIFACT_FORMAT) {
    r.fail(
      'format',
      `unsupported artifact format ${JSON.stringify(format)} (this runtime reads ${JSON.stringify(ARTIFACT_FORMAT)})`,
    );
  }
  const name = r.string(doc.name, 'name');
  if (!MODEL_NAME.test(name))
    r.fail('name', `${JSON.stringify(name)} is not a valid model name (lower case, digits, _)`);
  const familyName = r.string(doc.family, 'family');
  const families = options.families ?? FAMILIES;
  const family = families.find((f) => f.family === familyName);
  if (!family) {
    r.fail(
      'family',
      `unknown model family ${JSON.stringify(familyName)} (known: ${families.map((f) => f.family).join(', ')})`,
    );
  }
  const version = r.string(doc.version, 'version');
  if (!MODEL_VERSION.test(version)) r.fail('version', `${JSON.stringify(version)} is not a MAJOR.MINOR.PATCH version`);
  const decisionThreshold = r.finite(doc.decision_threshold, 'decision_threshold');
  if (!(decisionThreshold > 0 && decisionThreshold < 1)) {
    r.fail('decision_threshold', `must lie in (0, 1), got ${decisionThreshold}`);
  }
  const inputs = doc.inputs === undefined ? 'loan-record' : r.string(doc.inputs, 'inputs');
  if (inputs !== 'loan-record' && inputs !== 'features') {
    r.fail('inputs', `must be "loan-record" or "features", got ${JSON.stringify(inputs)}`);
  }
  const fields = parseFields(r, doc.fields);
  const columns = parseColumns(r, doc.columns, fields);
  const evaluator = (family as ModelFamily).load(r, r.object(doc.model, 'model'), columns.length, options);
  const fieldRange = options.fieldRange;
  const range = fieldRange ? (f: NumericField) => fieldRange(f, inputs as ModelInputs) : artifactRange;
  checkEvaluatorBound(source, evaluator, fields, columns, range);
  const info: ModelInfo = {
    name,
    family: familyName,
    capabilities: (family as ModelFamily).capabilities,
    version,
    description: doc.description === undefined ? '' : r.string(doc.description, 'description'),
    label: r.string(doc.label, 'label'),
    decisionThreshold,
    sha256: options.sha256 ?? sha256(JSON.stringify(document)),
    source,
    training: doc.training === undefined ? {} : r.object(doc.training, 'training'),
    inputs: inputs as ModelInputs,
  };
  return new Model(info, fields, columns, evaluator);
}

/** How `loadModelFile` reads: bounded (read.ts), or by a caller's reader. */
export interface FileLoadOptions extends LoadOptions, ReadOptions {
  readonly read?: FileReader;
}

/**
 * Reads (regular files only, at most `maxBytes`: read.ts), hashes, validates and builds the artifact
 * at `path`. Errors name the file.
 */
export async function loadModelFile(path: string, options: FileLoadOptions = {}): Promise<Model> {
  const bytes = await (options.read ?? readBoundedFile)(path, options);
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new ArtifactError(path, '', `not valid JSON: ${(err as Error).message}`);
  }
  return loadModelDocument(document, path, { ...options, sha256: sha256(bytes) });
}
