/**
 * The artifact's `fields` and `columns` (src/runtime/features.ts): every malformed spec is refused at
 * load with the exact path and reason (product behaviour for people importing models), and the
 * encoder turns loan records into rows as documented. Models are loaded inside each test, not at
 * module load, so a mutation run attributes the load-time code to these tests. Written for the
 * survivors of `npm run mutation` (docs/MUTATION.md).
 */
import { describe, expect, it } from 'vitest';
import { EncodingError, loadModelDocument } from '../../src/runtime/index.js';
import { expectRefused } from '../helpers/refusal.js';

const baseFields = () => [
  { name: 'a', kind: 'numeric', missing_values: [999] },
  { name: 'd', kind: 'numeric', missing_values: [] },
  { name: 'c', kind: 'categorical', levels: ['P', 'I', 'S'], missing_values: ['9'] },
];
const baseColumns = () => [
  { name: 'a', op: 'numeric', field: 'a' },
  { name: 'c_I', op: 'one_hot', field: 'c', level: 'I' },
];

function doc(fields: unknown[] = baseFields(), columns: unknown = baseColumns()) {
  const count = Array.isArray(columns) ? columns.length : 2;
  return {
    format: 'loan-default-model/1',
    name: 'enc',
    family: 'logistic_regression',
    version: '1.0.0',
    label: 'x',
    decision_threshold: 0.5,
    fields,
    columns,
    model: { coefficients: new Array(count).fill(0), intercept: 0 },
  };
}

/** `baseFields()` with field `i` patched. */
function withField(i: number, patch: Record<string, unknown>) {
  const fields: Record<string, unknown>[] = baseFields();
  fields[i] = { ...fields[i], ...patch };
  return doc(fields);
}

/** A document whose only column is `column` (besides column `a`). */
const withColumn = (column: Record<string, unknown>) =>
  doc(baseFields(), [{ name: 'a', op: 'numeric', field: 'a' }, column]);

describe('fields refused at load, by path and reason', () => {
  it.each([
    ['fields not an array', doc('x' as unknown as unknown[]), 'fields', /^expected an array/],
    ['no fields', doc([]), 'fields', /^a model must read at least one field$/],
    ['a name that is not a string', withField(1, { name: 5 }), 'fields[1].name', /^expected a string/],
    ['a duplicate name', withField(1, { name: 'a' }), 'fields[1].name', /^duplicate field "a"$/],
    ['a kind that is not a string', withField(1, { kind: 5 }), 'fields[1].kind', /^expected a string/],
    [
      'an unknown kind',
      withField(1, { kind: 'text' }),
      'fields[1].kind',
      /^unknown field kind "text" \(expected "numeric" or "categorical"\)$/,
    ],
    ['a description that is not a string', withField(0, { description: 5 }), 'fields[0].description', /string/],
    ['missing_values not an array', withField(0, { missing_values: 'x' }), 'fields[0].missing_values', /array/],
    [
      'a numeric sentinel that is not a number',
      withField(0, { missing_values: [1, 'x'] }),
      'fields[0].missing_values[1]',
      /finite number/,
    ],
    ['a min that is not a number', withField(0, { min: 'x' }), 'fields[0].min', /finite number/],
    ['a max that is not a number', withField(0, { max: 'x' }), 'fields[0].max', /finite number/],
    ['a unit that is not a string', withField(0, { unit: 5 }), 'fields[0].unit', /string/],
    ['levels not an array', withField(2, { levels: 'PIS' }), 'fields[2].levels', /array/],
    ['a level that is not a string', withField(2, { levels: ['P', 3] }), 'fields[2].levels[1]', /string/],
    ['no levels', withField(2, { levels: [] }), 'fields[2].levels', /^a categorical field needs at least one level$/],
    [
      'a categorical sentinel that is not a string',
      withField(2, { missing_values: [9] }),
      'fields[2].missing_values[0]',
      /string/,
    ],
  ])('%s', expectRefused);

  it('accepts the optional descriptive keys when well formed and keeps them on the model', () => {
    const fields: Record<string, unknown>[] = baseFields();
    fields[0] = { ...fields[0], description: 'the a', unit: 'points', min: 0, max: 1000 };
    fields[2] = { ...fields[2], description: 'the c' };
    const m = loadModelDocument(doc(fields), 'm.json');
    expect(Array.from(m.encode({ a: 5, c: 'I' }))).toEqual([5, 1]);
    // Strict: a field without a description has no `description` key at all.
    expect(m.fields).toStrictEqual([
      { name: 'a', kind: 'numeric', missingValues: [999], min: 0, max: 1000, unit: 'points', description: 'the a' },
      { name: 'd', kind: 'numeric', missingValues: [] },
      { name: 'c', kind: 'categorical', levels: ['P', 'I', 'S'], missingValues: ['9'], description: 'the c' },
    ]);
    const bare = loadModelDocument(doc(), 'm.json');
    expect(bare.fields.map((f) => Object.keys(f).sort())).toEqual([
      ['kind', 'missingValues', 'name'],
      ['kind', 'missingValues', 'name'],
      ['kind', 'levels', 'missingValues', 'name'],
    ]);
  });
});

describe('columns refused at load, by path and reason', () => {
  it.each([
    ['columns not an array', doc(baseFields(), 'x'), 'columns', /^expected an array/],
    ['no columns', doc(baseFields(), []), 'columns', /^a model needs at least one column$/],
    ['a name that is not a string', withColumn({ name: 5, op: 'numeric', field: 'd' }), 'columns[1].name', /string/],
    [
      'a duplicate name',
      withColumn({ name: 'a', op: 'numeric', field: 'd' }),
      'columns[1].name',
      /^duplicate column "a"$/,
    ],
    ['a field that is not a string', withColumn({ name: 'x', op: 'numeric', field: 5 }), 'columns[1].field', /string/],
    [
      'an unknown field',
      withColumn({ name: 'x', op: 'numeric', field: 'zz' }),
      'columns[1].field',
      /^refers to "zz", which is not in fields$/,
    ],
    ['an op that is not a string', withColumn({ name: 'x', op: 5, field: 'd' }), 'columns[1].op', /string/],
    [
      'an unknown op',
      withColumn({ name: 'x', op: 'log', field: 'd' }),
      'columns[1].op',
      /^unknown column op "log" \(expected numeric, is_missing or one_hot\)$/,
    ],
    [
      'a derivation that is not a string',
      withColumn({ name: 'x', op: 'numeric', field: 'd', derive: 5 }),
      'columns[1].derive',
      /string/,
    ],
    [
      'an unknown derivation',
      withColumn({ name: 'x', op: 'numeric', field: 'd', derive: 'month' }),
      'columns[1].derive',
      /^unknown derivation "month"$/,
    ],
    [
      'a derivation of a categorical field',
      withColumn({ name: 'x', op: 'one_hot', field: 'c', derive: 'year', level: 2006 }),
      'columns[1].derive',
      /^"year" needs a numeric field$/,
    ],
    [
      '"numeric" on a categorical field',
      withColumn({ name: 'x', op: 'numeric', field: 'c' }),
      'columns[1].op',
      /^"numeric" on categorical field c$/,
    ],
    [
      'a center that is not a number',
      withColumn({ name: 'x', op: 'numeric', field: 'd', center: 'x', scale: 1 }),
      'columns[1].center',
      /finite number/,
    ],
    [
      'a scale that is not a number',
      withColumn({ name: 'x', op: 'numeric', field: 'd', center: 1, scale: 'x' }),
      'columns[1].scale',
      /finite number/,
    ],
    [
      'a center without a scale',
      withColumn({ name: 'x', op: 'numeric', field: 'd', center: 1 }),
      'columns[1]',
      /^center and scale must be given together$/,
    ],
    [
      'a scale without a center',
      withColumn({ name: 'x', op: 'numeric', field: 'd', scale: 2 }),
      'columns[1]',
      /^center and scale must be given together$/,
    ],
    [
      'a zero scale',
      withColumn({ name: 'x', op: 'numeric', field: 'd', center: 1, scale: 0 }),
      'columns[1].scale',
      /^scale must not be 0$/,
    ],
    [
      'an impute that is not a number',
      withColumn({ name: 'x', op: 'numeric', field: 'd', impute: 'x' }),
      'columns[1].impute',
      /finite number/,
    ],
    [
      'is_missing with a derivation',
      withColumn({ name: 'x', op: 'is_missing', field: 'd', derive: 'year' }),
      'columns[1].derive',
      /^"is_missing" takes no derivation$/,
    ],
    [
      'a categorical level that is not a string',
      withColumn({ name: 'x', op: 'one_hot', field: 'c', level: 5 }),
      'columns[1].level',
      /string/,
    ],
    [
      'a categorical level not among the levels',
      withColumn({ name: 'x', op: 'one_hot', field: 'c', level: 'Z' }),
      'columns[1].level',
      /^"Z" is not a level of c$/,
    ],
    [
      'a numeric level that is not a number',
      withColumn({ name: 'x', op: 'one_hot', field: 'd', derive: 'year', level: '2006' }),
      'columns[1].level',
      /finite number/,
    ],
  ])('%s', expectRefused);
});

describe('encoder', () => {
  const columns = [
    { name: 'a', op: 'numeric', field: 'a', impute: 7 },
    { name: 'a_missing', op: 'is_missing', field: 'a' },
    { name: 'a_scaled', op: 'numeric', field: 'a', impute: 700, center: 720, scale: 40 },
    { name: 'year', op: 'numeric', field: 'd', derive: 'year' },
    { name: 'vintage_2006', op: 'one_hot', field: 'd', derive: 'year', level: 2006 },
    { name: 'd_is_3', op: 'one_hot', field: 'd', level: 3 },
    { name: 'c_I', op: 'one_hot', field: 'c', level: 'I' },
    { name: 'c_missing', op: 'is_missing', field: 'c' },
  ];
  const load = () => loadModelDocument(doc(baseFields(), columns), 'm.json');

  it('encodes values, sentinels, codes, scaling and the derived year in column order', () => {
    const m = load();
    expect(Array.from(m.encode({ a: 760, d: 200611, c: 'I' }))).toEqual([760, 0, 1, 2006, 1, 0, 1, 0]);
    expect(Array.from(m.encode({ a: 999, d: 3, c: '9' }))).toEqual([7, 1, -0.5, 0, 0, 1, 0, 1]);
    expect(Array.from(m.encode({ a: null, d: 200512 }))).toEqual([7, 1, -0.5, 2005, 0, 0, 0, 1]);
  });

  it('ignores fields the model does not read, whatever their names', () => {
    const m = load();
    const loan = { a: 760, d: 200611, c: 'I', undefined: 'x', null: 5, constructor: 'y', extra: [1] };
    expect(Array.from(m.encode(loan))).toEqual([760, 0, 1, 2006, 1, 0, 1, 0]);
  });

  it('names the field and lists the levels for an unknown code', () => {
    const m = load();
    expect(() => m.encode({ a: 1, d: 1, c: 'X' })).toThrow(EncodingError);
    expect(() => m.encode({ a: 1, d: 1, c: 'X' })).toThrow(/^c: unknown code "X" \(expected one of P, I, S\)$/);
  });

  it('refuses infinite and non-number values of a numeric field, naming it', () => {
    const m = load();
    for (const [v, text] of [
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [Number.NaN, 'NaN'],
      ['5', 'the string "5"'],
    ] as const) {
      expect(() => m.encode({ a: v, d: 1, c: 'P' })).toThrow(`a: must be a finite number, got ${text}`);
    }
  });
});
