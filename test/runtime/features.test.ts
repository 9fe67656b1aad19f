import { describe, expect, it } from 'vitest';
import { EncodingError, loadModelDocument } from '../../src/runtime/index.js';

const fields = [
  { name: 'credit_score', kind: 'numeric', missing_values: [9999], min: 300, max: 850 },
  { name: 'first_payment_date', kind: 'numeric', missing_values: [] },
  { name: 'occupancy_status', kind: 'categorical', levels: ['P', 'I', 'S'], missing_values: ['9'] },
];
const columns = [
  { name: 'credit_score', op: 'numeric', field: 'credit_score', impute: 700, center: 720, scale: 40 },
  { name: 'credit_score_missing', op: 'is_missing', field: 'credit_score' },
  { name: 'first_payment_year', op: 'numeric', field: 'first_payment_date', derive: 'year' },
  { name: 'vintage_2006', op: 'one_hot', field: 'first_payment_date', derive: 'year', level: 2006 },
  { name: 'occupancy_I', op: 'one_hot', field: 'occupancy_status', level: 'I' },
  { name: 'occupancy_S', op: 'one_hot', field: 'occupancy_status', level: 'S' },
  { name: 'occupancy_missing', op: 'is_missing', field: 'occupancy_status' },
];
const model = loadModelDocument({
  format: 'loan-default-model/1',
  name: 'enc',
  family: 'logistic_regression',
  version: '1.0.0',
  label: 'x',
  decision_threshold: 0.1,
  fields,
  columns,
  model: { coefficients: columns.map(() => 0), intercept: 0 },
});

describe('encoder', () => {
  it('applies numeric, derived year, one-hot and missing indicators in column order', () => {
    const row = model.encode({ credit_score: 760, first_payment_date: 200611, occupancy_status: 'I' });
    expect(Array.from(row)).toEqual([(760 - 720) / 40, 0, 2006, 1, 1, 0, 0]);
  });

  it('treats null, absent and Freddie Mac sentinels alike as missing', () => {
    for (const loan of [
      { credit_score: 9999, first_payment_date: 200301, occupancy_status: '9' },
      { credit_score: null, first_payment_date: 200301, occupancy_status: null },
      { first_payment_date: 200301 },
    ]) {
      expect(Array.from(model.encode(loan))).toEqual([(700 - 720) / 40, 1, 2003, 0, 0, 0, 1]);
    }
  });

  it('refuses a number sent as a string, an unknown code and a code sent as a number', () => {
    const bad = (loan: Record<string, unknown>, message: RegExp) => {
      expect(() => model.encode(loan)).toThrow(EncodingError);
      expect(() => model.encode(loan)).toThrow(message);
    };
    bad(
      { credit_score: '700', first_payment_date: 200301 },
      /^credit_score: must be a finite number, got the string "700"/,
    );
    bad({ credit_score: Number.NaN, first_payment_date: 200301 }, /credit_score: must be a finite number, got NaN/);
    bad({ occupancy_status: 'X' }, /occupancy_status: unknown code "X" \(expected one of P, I, S\)/);
    bad({ occupancy_status: 9 }, /occupancy_status: must be a string code, got the number 9/);
  });

  it('names the position of a bad loan in a batch', () => {
    const loans = [{ credit_score: 700 }, { credit_score: 710 }, { credit_score: 'high' }];
    try {
      model.scoreMany(loans);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EncodingError);
      expect((err as EncodingError).index).toBe(2);
      expect((err as EncodingError).field).toBe('credit_score');
      expect((err as Error).message).toMatch(/^loans\[2\]\.credit_score: /);
    }
  });
});
