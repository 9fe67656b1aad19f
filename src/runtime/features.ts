import { type DocumentReader, describe } from './check.js';
import { EncodingError } from './errors.js';

/**
 * The artifact's description of how a loan record becomes the model's feature row
 * (docs/ARTIFACT_FORMAT.md): `fields` are loan-record fields with their kinds and missing-value
 * sentinels, `columns` the operations that turn them into numbers.
 */

/** A loan record as the runtime sees it: field name → value. Extra fields are ignored. */
export type LoanRecord = Readonly<Record<string, unknown>>;

export interface NumericField {
  readonly name: string;
  readonly kind: 'numeric';
  readonly missingValues: readonly number[];
  readonly min?: number;
  readonly max?: number;
  readonly unit?: string;
  readonly description?: string;
}

export interface CategoricalField {
  readonly name: string;
  readonly kind: 'categorical';
  readonly levels: readonly string[];
  readonly missingValues: readonly string[];
  readonly description?: string;
}

export type FieldSpec = NumericField | CategoricalField;

export type Derivation = 'year';

export type ColumnSpec =
  | {
      readonly op: 'numeric';
      readonly name: string;
      readonly field: string;
      readonly derive?: Derivation;
      readonly impute?: number;
      readonly center?: number;
      readonly scale?: number;
    }
  | { readonly op: 'is_missing'; readonly name: string; readonly field: string }
  | {
      readonly op: 'one_hot';
      readonly name: string;
      readonly field: string;
      readonly derive?: Derivation;
      readonly level: string | number;
    };

const DERIVATIONS: readonly string[] = ['year'];

export function parseFields(r: DocumentReader, value: unknown): FieldSpec[] {
  const items = r.array(value, 'fields');
  if (items.length === 0) r.fail('fields', 'a model must read at least one field');
  const seen = new Set<string>();
  return items.map((item, i) => {
    const path = `fields[${i}]`;
    const o = r.object(item, path);
    const name = r.string(o.name, `${path}.name`);
    if (seen.has(name)) r.fail(`${path}.name`, `duplicate field ${JSON.stringify(name)}`);
    seen.add(name);
    const kind = r.string(o.kind, `${path}.kind`);
    const description = o.description === undefined ? undefined : r.string(o.description, `${path}.description`);
    const missingRaw = o.missing_values === undefined ? [] : r.array(o.missing_values, `${path}.missing_values`);
    if (kind === 'numeric') {
      const missingValues = missingRaw.map((m, j) => r.finite(m, `${path}.missing_values[${j}]`));
      const field: NumericField = {
        name,
        kind,
        missingValues,
        ...(o.min === undefined ? {} : { min: r.finite(o.min, `${path}.min`) }),
        ...(o.max === undefined ? {} : { max: r.finite(o.max, `${path}.max`) }),
        ...(o.unit === undefined ? {} : { unit: r.string(o.unit, `${path}.unit`) }),
        ...(description === undefined ? {} : { description }),
      };
      return field;
    }
    if (kind === 'categorical') {
      const levels = r.array(o.levels, `${path}.levels`).map((l, j) => r.string(l, `${path}.levels[${j}]`));
      if (levels.length === 0) r.fail(`${path}.levels`, 'a categorical field needs at least one level');
      const missingValues = missingRaw.map((m, j) => r.string(m, `${path}.missing_values[${j}]`));
      const field: CategoricalField = {
        name,
        kind,
        levels,
        missingValues,
        ...(description === undefined ? {} : { description }),
      };
      return field;
    }
    return r.fail(`${path}.kind`, `unknown field kind ${JSON.stringify(kind)} (expected "numeric" or "categorical")`);
  });
}

export function parseColumns(r: DocumentReader, value: unknown, fields: readonly FieldSpec[]): ColumnSpec[] {
  const items = r.array(value, 'columns');
  if (items.length === 0) r.fail('columns', 'a model needs at least one column');
  const byName = new Map(fields.map((f) => [f.name, f]));
  const seen = new Set<string>();
  return items.map((item, i) => {
    const path = `columns[${i}]`;
    const o = r.object(item, path);
    const name = r.string(o.name, `${path}.name`);
    if (seen.has(name)) r.fail(`${path}.name`, `duplicate column ${JSON.stringify(name)}`);
    seen.add(name);
    const fieldName = r.string(o.field, `${path}.field`);
    const field = byName.get(fieldName);
    if (!field) r.fail(`${path}.field`, `refers to ${JSON.stringify(fieldName)}, which is not in fields`);
    const op = r.string(o.op, `${path}.op`);
    let derive: Derivation | undefined;
    if (o.derive !== undefined) {
      const d = r.string(o.derive, `${path}.derive`);
      if (!DERIVATIONS.includes(d)) r.fail(`${path}.derive`, `unknown derivation ${JSON.stringify(d)}`);
      if (field.kind !== 'numeric') r.fail(`${path}.derive`, `"${d}" needs a numeric field`);
      derive = d as Derivation;
    }
    const withDerive = derive === undefined ? {} : { derive };
    switch (op) {
      case 'numeric': {
        if (field.kind !== 'numeric') r.fail(`${path}.op`, `"numeric" on categorical field ${fieldName}`);
        const center = o.center === undefined ? undefined : r.finite(o.center, `${path}.center`);
        const scale = o.scale === undefined ? undefined : r.finite(o.scale, `${path}.scale`);
        if ((center === undefined) !== (scale === undefined)) {
          r.fail(path, 'center and scale must be given together');
        }
        if (scale === 0) r.fail(`${path}.scale`, 'scale must not be 0');
        return {
          op,
          name,
          field: fieldName,
          ...withDerive,
          ...(o.impute === undefined ? {} : { impute: r.finite(o.impute, `${path}.impute`) }),
          ...(center === undefined ? {} : { center, scale }),
        };
      }
      case 'is_missing':
        if (derive !== undefined) r.fail(`${path}.derive`, '"is_missing" takes no derivation');
        return { op, name, field: fieldName };
      case 'one_hot': {
        const level = o.level;
        if (field.kind === 'categorical' && derive === undefined) {
          const l = r.string(level, `${path}.level`);
          if (!field.levels.includes(l)) r.fail(`${path}.level`, `${JSON.stringify(l)} is not a level of ${fieldName}`);
          return { op, name, field: fieldName, level: l };
        }
        return { op, name, field: fieldName, ...withDerive, level: r.finite(level, `${path}.level`) };
      }
      default:
        return r.fail(
          `${path}.op`,
          `unknown column op ${JSON.stringify(op)} (expected numeric, is_missing or one_hot)`,
        );
    }
  });
}

/** The largest float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Whether a finite double rounds to ±Infinity as a float32 (XGBoost and scikit-learn then refuse the row). */
export function beyondFloat32(x: number): boolean {
  return Number.isFinite(x) && !Number.isFinite(Math.fround(x));
}

/** Writes one loan's feature row into `out` at `offset`. Throws `EncodingError` on a bad value. */
export type Encoder = (loan: LoanRecord, out: Float64Array | Float32Array, offset: number) => void;

/**
 * Compiles the spec into an encoder. Per loan, each field is read and classified once (missing or a
 * valid value), then every column is a table lookup: no string work in the per-column loop.
 */
export function compileEncoder(fields: readonly FieldSpec[], columns: readonly ColumnSpec[]): Encoder {
  const fieldIndex = new Map(fields.map((f, i) => [f.name, i]));
  const numericSentinels = fields.map((f) => (f.kind === 'numeric' ? new Set<number>(f.missingValues) : null));
  const categoricalMissing = fields.map((f) => (f.kind === 'categorical' ? new Set<string>(f.missingValues) : null));
  const levelCodes = fields.map((f) => (f.kind === 'categorical' ? new Map(f.levels.map((l, i) => [l, i])) : null));

  // Column programs, flattened into typed arrays for the loop below.
  const n = columns.length;
  const colOp = new Uint8Array(n); // 0 numeric, 1 is_missing, 2 one_hot
  const colField = new Int32Array(n);
  const colYear = new Uint8Array(n);
  const colImpute = new Float64Array(n).fill(Number.NaN);
  const colCenter = new Float64Array(n);
  const colScale = new Float64Array(n);
  const colScaled = new Uint8Array(n);
  const colLevel = new Float64Array(n); // level code (categorical) or level value (numeric)
  columns.forEach((c, j) => {
    const fi = fieldIndex.get(c.field) as number;
    colField[j] = fi;
    if (c.op === 'numeric') {
      colOp[j] = 0;
      colYear[j] = c.derive === 'year' ? 1 : 0;
      if (c.impute !== undefined) colImpute[j] = c.impute;
      if (c.center !== undefined && c.scale !== undefined) {
        colScaled[j] = 1;
        colCenter[j] = c.center;
        colScale[j] = c.scale;
      }
    } else if (c.op === 'is_missing') {
      colOp[j] = 1;
    } else {
      colOp[j] = 2;
      colYear[j] = c.derive === 'year' ? 1 : 0;
      const codes = levelCodes[fi];
      colLevel[j] = codes && typeof c.level === 'string' ? (codes.get(c.level) as number) : (c.level as number);
    }
  });

  const names = fields.map((f) => f.name);
  const isNumeric = fields.map((f) => f.kind === 'numeric');
  const levelsText = fields.map((f) => (f.kind === 'categorical' ? f.levels.join(', ') : ''));
  const fieldMissing = new Uint8Array(fields.length);
  const fieldValue = new Float64Array(fields.length);

  return (loan, out, offset) => {
    // Tree models read float32 rows: a number beyond its range would become ±Infinity, which the libraries refuse.
    const float32 = out instanceof Float32Array;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const v = loan[name];
      if (v === null || v === undefined) {
        fieldMissing[i] = 1;
        continue;
      }
      if (isNumeric[i]) {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new EncodingError(name, `must be a finite number, got ${describe(v)}`);
        }
        fieldMissing[i] = (numericSentinels[i] as Set<number>).has(v) ? 1 : 0;
        fieldValue[i] = v;
      } else {
        if (typeof v !== 'string') throw new EncodingError(name, `must be a string code, got ${describe(v)}`);
        if ((categoricalMissing[i] as Set<string>).has(v)) {
          fieldMissing[i] = 1;
          continue;
        }
        const code = (levelCodes[i] as Map<string, number>).get(v);
        if (code === undefined) {
          throw new EncodingError(name, `unknown code ${JSON.stringify(v)} (expected one of ${levelsText[i]})`);
        }
        fieldMissing[i] = 0;
        fieldValue[i] = code;
      }
    }
    for (let j = 0; j < n; j++) {
      const fi = colField[j] as number;
      const missing = fieldMissing[fi] === 1;
      const op = colOp[j];
      if (op === 1) {
        out[offset + j] = missing ? 1 : 0;
        continue;
      }
      let x = fieldValue[fi] as number;
      if (colYear[j] === 1) x = Math.floor(x / 100);
      if (op === 2) {
        out[offset + j] = !missing && x === colLevel[j] ? 1 : 0;
        continue;
      }
      if (missing) x = colImpute[j] as number;
      if (colScaled[j] === 1) x = (x - (colCenter[j] as number)) / (colScale[j] as number);
      if (float32 && beyondFloat32(x)) {
        throw new EncodingError(
          names[fi] as string,
          `${x} is beyond the float32 range (±${FLOAT32_MAX}) the model reads`,
        );
      }
      out[offset + j] = x;
    }
  };
}
