import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOAN_FIELDS, type LoanField } from '../../src/loan/record.js';
import { build, exampleLoan } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';
import { toCsv } from '../pool/helpers.js';

/**
 * One loan validator (issue 19): a random loan record, valid or broken in any field, is accepted or
 * refused alike by every path that reads loan records (POST /predict, V2 named inputs, a CSV tape, a
 * JSON tape), and refused with the same message for the same field problem. A CSV cell is text, so
 * there only the reason is compared (the part before ", got …": a cell is quoted as the client wrote it).
 */

const CASES = Number(process.env.PROP_CASES ?? 160);

type Loan = Record<string, unknown>;
type Problem = { field: string; message: string };

type Variant = { value: unknown; absent?: boolean };

/** The values of `field` a test sends: valid, missing in an allowed way, or broken in each way a client breaks it. */
function variants(field: LoanField, random: () => number): Variant[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  if (field.kind === 'numeric') {
    const span = field.max - field.min;
    const inRange = field.integer
      ? field.min + Math.floor(random() * (span + 1))
      : Math.round((field.min + random() * span) * 100) / 100;
    const list: Variant[] = [
      { value: inRange },
      { value: field.max + 1 + Math.floor(random() * 50) },
      { value: field.min - 1 - Math.floor(random() * 50) },
      { value: null },
      { value: String(inRange) },
      { value: undefined, absent: true },
      { value: field.sentinel ?? inRange },
      { value: field.integer ? inRange + 0.5 : inRange },
      { value: true },
    ];
    if (field.unit === 'YYYYMM') list.push({ value: 200600 }, { value: 200613 + Math.floor(random() * 80) });
    return list;
  }
  if (field.kind === 'code') {
    const codes = Object.keys(field.codes);
    return [
      { value: pick(codes) },
      { value: pick(codes).toLowerCase() },
      { value: 'ZZ' },
      { value: null },
      { value: field.sentinel ?? pick(codes) },
      { value: 7 },
      { value: undefined, absent: true },
      { value: '' },
    ];
  }
  return [
    { value: 'F06Q10000042' },
    { value: 'X'.repeat(field.maxLength + 1) },
    { value: undefined, absent: true },
    { value: '' },
    { value: 12 },
  ];
}

function mutate(field: LoanField, random: () => number): Variant {
  const list = variants(field, random);
  return list[Math.floor(random() * list.length)] as Variant;
}

/** One loan per field and variant: the example with that one value changed. */
function sweep(random: () => number): Loan[] {
  return LOAN_FIELDS.flatMap((field) =>
    variants(field, random).map(({ value, absent }) => {
      const loan: Loan = { ...exampleLoan };
      if (absent) delete loan[field.name];
      else loan[field.name] = value;
      return loan;
    }),
  );
}

/** A loan of the example's values with 0 to 2 fields changed (and, sometimes, an unknown field). */
function randomLoan(random: () => number): Loan {
  const loan: Loan = { ...exampleLoan };
  const changes = Math.floor(random() * 3);
  for (let k = 0; k < changes; k++) {
    const field = LOAN_FIELDS[Math.floor(random() * LOAN_FIELDS.length)] as LoanField;
    const { value, absent } = mutate(field, random);
    if (absent) delete loan[field.name];
    else loan[field.name] = value;
  }
  if (random() < 0.12) {
    const field = LOAN_FIELDS[Math.floor(random() * LOAN_FIELDS.length)] as LoanField;
    loan[random() < 0.5 ? `${field.name}x` : `${field.name.toUpperCase()}_${'q'.repeat(70)}`] = 1;
  }
  return loan;
}

let app: FastifyInstance;
beforeAll(async () => {
  app = await build();
});

async function viaPredict(loan: Loan): Promise<Problem[]> {
  const res = await app.inject({ method: 'POST', url: '/predict?model=xgboost', payload: loan });
  if (res.statusCode === 200) return [];
  expect(res.statusCode, res.body).toBe(400);
  return res.json().details as Problem[];
}

async function viaJsonTape(loan: Loan): Promise<Problem[]> {
  const res = await app.inject({
    method: 'POST',
    url: '/pools/score?model=xgboost',
    payload: JSON.stringify({ loans: [loan] }),
    headers: { 'content-type': 'application/json' },
  });
  if (res.statusCode === 200) return [];
  expect(res.statusCode, res.body).toBe(400);
  return (res.json().details as Problem[]).map((p) => ({ ...p, field: p.field.replace(/^loans\[0\]\.?/, '') }));
}

/** A CSV tape of one loan, when the loan can be written as one: every required column present, no unknown field. */
function csvOf(loan: Loan): string | undefined {
  if (Object.keys(loan).some((k) => !LOAN_FIELDS.some((f) => f.name === k))) return undefined;
  if (LOAN_FIELDS.some((f) => f.required && !Object.hasOwn(loan, f.name))) return undefined;
  // A value whose JSON type a text cell cannot tell apart (a number sent as a string, a code sent as a number).
  for (const f of LOAN_FIELDS) {
    const v = loan[f.name];
    if (f.kind === 'numeric' && typeof v === 'string' && !Number.isNaN(Number(v))) return undefined;
    if (f.kind !== 'numeric' && typeof v === 'number') return undefined;
    if (typeof v === 'boolean' || v === '') return undefined;
  }
  return toCsv([loan as never]);
}

async function viaCsvTape(csv: string): Promise<Problem[]> {
  const res = await app.inject({
    method: 'POST',
    url: '/pools/score?model=xgboost',
    payload: csv,
    headers: { 'content-type': 'text/csv' },
  });
  if (res.statusCode === 200) return [];
  expect(res.statusCode, res.body).toBe(400);
  return (res.json().details as Problem[]).map((p) => ({ ...p, field: p.field.replace(/^line 2,? ?/, '') }));
}

/** V2 named inputs, when every value fits its field's datatype (numbers FP64, codes BYTES) and no field is unknown. */
function v2Of(loan: Loan) {
  const inputs = [];
  for (const [name, v] of Object.entries(loan)) {
    const field = LOAN_FIELDS.find((f) => f.name === name);
    if (!field) return undefined;
    const numeric = field.kind === 'numeric';
    if (v !== null && typeof v !== (numeric ? 'number' : 'string')) return undefined;
    inputs.push({ name, shape: [1], datatype: numeric ? 'FP64' : 'BYTES', data: [v] });
  }
  return { inputs };
}

async function viaV2(body: object): Promise<string | undefined> {
  const res = await app.inject({ method: 'POST', url: '/v2/models/xgboost/infer', payload: body });
  if (res.statusCode === 200) return undefined;
  expect(res.statusCode, res.body).toBe(400);
  return res.json().error as string;
}

const reason = (p: Problem) => ({ field: p.field, message: p.message.replace(/, got .*$/, '') });
const sorted = (ps: readonly Problem[]) => [...ps].sort((a, b) => (a.field + a.message < b.field + b.message ? -1 : 1));

describe('one loan validator: every path that reads a loan record', () => {
  it('accepts and refuses the same records (every field × every variant, then random ones), naming the same field with the same message', async () => {
    const random = seededRandom(Number(process.env.PROP_SEED ?? 19));
    const mismatches: string[] = [];
    let refused = 0;
    const loans = [...sweep(random), ...Array.from({ length: CASES }, () => randomLoan(random))];
    for (const loan of loans) {
      const predicted = await viaPredict(loan);
      if (predicted.length > 0) refused++;
      const json = await viaJsonTape(loan);
      if (JSON.stringify(sorted(json)) !== JSON.stringify(sorted(predicted))) {
        mismatches.push(`JSON tape ${JSON.stringify(json)} vs /predict ${JSON.stringify(predicted)}`);
      }
      const csv = csvOf(loan);
      if (csv !== undefined) {
        const cells = await viaCsvTape(csv);
        if (JSON.stringify(sorted(cells).map(reason)) !== JSON.stringify(sorted(predicted).map(reason))) {
          mismatches.push(`CSV tape ${JSON.stringify(cells)} vs /predict ${JSON.stringify(predicted)}`);
        }
      }
      const v2 = v2Of(loan);
      if (v2 !== undefined) {
        const error = await viaV2(v2);
        const expected = predicted.map((p) => `(${p.field}).data[0]: ${p.message}`);
        const missing = predicted.map((p) => `inputs: ${p.field} (row 0): ${p.message}`);
        const same =
          error === undefined ? predicted.length === 0 : [...expected, ...missing].some((e) => error.endsWith(e));
        if (!same) mismatches.push(`V2 ${JSON.stringify(error)} vs /predict ${JSON.stringify(predicted)}`);
      }
    }
    expect(refused).toBeGreaterThan(loans.length / 4);
    expect(refused).toBeLessThan(loans.length);
    expect(mismatches).toEqual([]);
  }, 120_000);
});
