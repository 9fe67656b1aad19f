import { readFileSync } from 'node:fs';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS, type LoanField } from '../../src/loan/record.js';
import type { LoanRecord } from '../../src/runtime/index.js';
import { build } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';
import { makeKey } from './helpers.js';

/**
 * Thousands of generated malformed requests against the real app (API keys on, small limits):
 * every answer must be a 4xx in the project's error shape with a message that says what is wrong,
 * naming the field where there is one, and revealing nothing of the server; afterwards the app must
 * still score loans exactly as the reference predictions say. Seeded: the seed is printed, and
 * FUZZ_SEED=<seed> replays a run (FUZZ_COUNT changes its length).
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);

/** Seeded: the same seed gives the same run. */
function prng(seed: number) {
  const next = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const reference = JSON.parse(
  readFileSync(new URL('../../model-artifacts/reference/holdout.json', import.meta.url), 'utf8'),
) as { loans: LoanRecord[]; kinds: string[]; scenarios: unknown[]; models: Record<string, { probability: number[] }> };
const holdout = reference.loans.map((loan, i) => ({ loan, i })).filter(({ i }) => reference.kinds[i] === 'holdout');
/** Holdout rows the libraries scored under baseline, the scenario of a request that names none. */
const baselineHoldout = holdout.filter(({ i }) => reference.scenarios[i] === 'baseline');

const LIMITS = { MAX_BATCH: 400, BODY_LIMIT: 1024 * 1024, POOL_MAX_ROWS: 50, POOL_MAX_BYTES: 256 * 1024 };
const key = makeKey('fuzzer', ['predict']);
const AUTH = { authorization: key.auth };

interface Case {
  kind: string;
  request: InjectOptions;
  /** Acceptable statuses (all 4xx). */
  status: readonly number[];
  code?: string;
  /** The field the answer must name (in `details`, or in the message). */
  field?: string;
}

const BIG = [1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 + 1, -(2 ** 63)];
const WRONG_TYPES: readonly unknown[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '700',
  '',
  ' ',
  '٧٠٠', // Arabic-Indic digits
  '７００', // full-width digits
  '𝟕𝟎𝟎',
  '\u0000',
  '\ud800',
  'null',
  true,
  false,
  {},
  [],
  [700],
  { $gt: 0 },
  { valueOf: 700 },
];

function deep(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** The JSON text of deep(depth, leaf), built as text: JSON.stringify itself overflows its stack. */
function deepText(depth: number, leaf = '1'): string {
  let open = '';
  let close = '';
  for (let i = depth - 1; i >= 0; i--) {
    open += i % 2 === 0 ? '[' : '{"a":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}${leaf}${close}`;
}

/** A loan as JSON text with `field` set to the raw JSON `value`. */
function loanText(loan: Record<string, unknown>, field: string, value: string): string {
  const rest = JSON.stringify({ ...loan, [field]: 0 });
  return rest.replace(`"${field}":0`, `"${field}":${value}`);
}

/** A value certainly invalid for `f` (never null, never its sentinel). */
function invalidValue(rng: Rng, f: LoanField): unknown {
  const r = rng.next();
  if (f.kind === 'numeric') {
    if (r < 0.3) return rng.pick(WRONG_TYPES);
    if (r < 0.45) return rng.pick(BIG);
    if (r < 0.55 && f.integer) return f.min + 0.5;
    if (r < 0.6) return deep(rng.int(2, 50), f.example);
    let v = r < 0.8 ? f.min - 1 - rng.int(0, 1000) : f.max + 1 + rng.int(0, 1000);
    if (v === f.sentinel) v += 1;
    return v;
  }
  if (f.kind === 'code') {
    if (r < 0.4) return rng.pick(WRONG_TYPES.filter((w) => typeof w !== 'string' || !(w in f.codes)));
    if (r < 0.5) return rng.int(-5, 5);
    let s = randomString(rng, rng.int(1, 6));
    while (s in f.codes || s === f.sentinel) s += 'x';
    return s;
  }
  return r < 0.5 ? 'L'.repeat(f.maxLength + 1 + rng.int(0, 100)) : rng.pick([42, true, {}, [], ['F06Q']]);
}

function randomString(rng: Rng, length: number): string {
  const alphabets = ['abcXYZ019', 'αβγδЖЯ', '漢字テスト', '🙂🚀💥', ' \t-_.:/\\?&=%#', '\u200b\u202e\ufeff'];
  let s = '';
  for (let i = 0; i < length; i++) s += rng.pick([...rng.pick(alphabets)]);
  return s;
}

const ALL_FIELDS = new Set([...LOAN_FIELDS.map((f) => f.name), 'model', 'version', 'loans']);

function validLoan(rng: Rng): Record<string, unknown> {
  return { ...(rng.pick(holdout).loan as Record<string, unknown>) };
}

const json = (payload: unknown, query = ''): InjectOptions => ({
  method: 'POST',
  url: `/predict${query}`,
  headers: { ...AUTH, 'content-type': 'application/json' },
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
});

const tape = (payload: string | Buffer, type = 'text/csv', query = '', extra: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: `/pools/score${query}`,
  headers: { ...AUTH, 'content-type': type, ...extra },
  payload,
});

function csvOf(loans: Record<string, unknown>[]): string {
  const header = LOAN_FIELDS.map((f) => f.name);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return `${header.join(',')}\n${loans.map((l) => header.map((h) => cell(l[h])).join(',')).join('\n')}\n`;
}

const QUERIES = ['', '?model=xgboost', '?model=all', '?explain=true', '?model=lda&explain=true', '?explain=false'];

/** The generators: each makes one malformed request and says how it must be answered. */
const GENERATORS: Record<string, (rng: Rng) => Case> = {
  predictBadField(rng) {
    const f = rng.pick(LOAN_FIELDS);
    const loan = validLoan(rng);
    if (f.required && rng.next() < 0.2) delete loan[f.name];
    else loan[f.name] = invalidValue(rng, f);
    return {
      kind: 'predict single: bad field',
      request: json(loan, rng.pick(QUERIES)),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: f.name,
    };
  },
  predictBatchBadField(rng) {
    const loans = Array.from({ length: rng.int(1, 8) }, () => validLoan(rng));
    const i = rng.int(0, loans.length - 1);
    const f = rng.pick(LOAN_FIELDS);
    (loans[i] as Record<string, unknown>)[f.name] = invalidValue(rng, f);
    return {
      kind: 'predict batch: bad field',
      request: json({ loans }, rng.pick(QUERIES)),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: `loans[${i}].${f.name}`,
    };
  },
  predictUnknownField(rng) {
    // No "/": plugins/errors.ts shows a field name "a/b" as "a.b" (it reads Ajv's JSON-pointer paths).
    let name = randomString(rng, rng.int(1, 12)).replaceAll('/', '|');
    while (ALL_FIELDS.has(name) || name === '__proto__' || name === 'constructor') name += '_';
    const loan = { ...validLoan(rng), [name]: rng.pick([1, 'x', null, {}]) };
    return {
      kind: 'predict: unknown field',
      request: json(loan),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: name,
    };
  },
  predictBadQuery(rng) {
    const loan = validLoan(rng);
    const which = rng.int(0, 3);
    if (which === 0) {
      const model = rng.pick(['XGBoost', '1model', 'a'.repeat(65), 'x-y', '💥', '', 'all;drop']);
      return {
        kind: 'predict: malformed ?model',
        request: json(loan, `?model=${encodeURIComponent(model)}`),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.model',
      };
    }
    if (which === 1) {
      return {
        kind: 'predict: unknown ?model',
        request: json(loan, `?model=nope_${rng.int(0, 1e6)}`),
        status: [404],
        code: 'MODEL_NOT_FOUND',
      };
    }
    if (which === 2) {
      const explain = rng.pick(['1', 'yes', 'TRUE', 'True', '', 'true ', 'truee', '%00']);
      return {
        kind: 'predict: malformed ?explain',
        request: json(loan, `?explain=${encodeURIComponent(explain)}`),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.explain',
      };
    }
    const name = `q${randomString(rng, 3).replace(/[^\w]/g, '')}${rng.int(0, 99)}`;
    return {
      kind: 'predict: unknown query parameter',
      request: json(loan, `?${name}=1`),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: `query.${name}`,
    };
  },
  predictTruncated(rng) {
    const body = JSON.stringify(rng.next() < 0.5 ? validLoan(rng) : { loans: [validLoan(rng), validLoan(rng)] });
    const cut = rng.int(1, body.length - 1);
    return {
      kind: 'predict: truncated JSON',
      request: json(body.slice(0, cut)),
      status: [400],
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    };
  },
  predictNotJson(rng) {
    const payload = rng.pick([
      '{"credit_score": NaN}',
      '{"credit_score": Infinity}',
      '{"credit_score": -Infinity}',
      "{'credit_score': 700}",
      '{"credit_score": 700,}',
      '{"credit_score": 0x2BC}',
      '\u0000\u0001\u0002',
      '<loan><credit_score>700</credit_score></loan>',
    ]);
    return { kind: 'predict: not JSON', request: json(payload), status: [400], code: 'FST_ERR_CTP_INVALID_JSON_BODY' };
  },
  predictEmpty(rng) {
    return {
      kind: 'predict: empty body',
      request: json(rng.pick(['', ''])),
      status: [400],
      code: 'FST_ERR_CTP_EMPTY_JSON_BODY',
    };
  },
  predictNotObject(rng) {
    const payload = rng.pick(['[]', '[{}]', '"loan"', '42', 'null', 'true', '[[[[[]]]]]']);
    return {
      kind: 'predict: not an object',
      request: json(payload),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: 'body',
    };
  },
  predictOverflow(rng) {
    const f = rng.pick(LOAN_FIELDS.filter((x) => x.kind === 'numeric'));
    const literal = rng.pick(['1e999', '-1e999', '1e400', '123456789012345678901234567890e300']);
    const body = loanText(validLoan(rng), f.name, literal);
    return {
      kind: 'predict: number overflowing to Infinity',
      request: json(body),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: f.name,
    };
  },
  predictDeep(rng) {
    const depth = rng.pick([100, 1000, 10_000, 50_000]);
    if (rng.next() < 0.5) {
      return {
        kind: 'predict: deep nesting in a field',
        request: json(loanText(validLoan(rng), 'credit_score', deepText(depth))),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'credit_score',
      };
    }
    return {
      kind: 'predict: deeply nested body',
      request: json(`${'['.repeat(depth)}${']'.repeat(depth)}`),
      status: [400],
      code: 'VALIDATION_FAILED',
      field: 'body',
    };
  },
  predictProto(rng) {
    const loan = JSON.stringify(validLoan(rng)).slice(1, -1);
    const payload = rng.pick([
      `{"__proto__": {"polluted": true}, ${loan}}`,
      `{${loan}, "__proto__": {"isAdmin": true}}`,
      `{"constructor": {"prototype": {"polluted": true}}, ${loan}}`,
      `{"loans": [{${loan}, "__proto__": {"polluted": 1}}]}`,
      `{"loans": [{"constructor": {"prototype": {"polluted": 1}}, ${loan}}]}`,
    ]);
    return {
      kind: 'predict: prototype poisoning',
      request: json(payload),
      status: [400],
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    };
  },
  predictContentType(rng) {
    const type = rng.pick([
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'text/csv',
      'application/octet-stream',
      'image/png',
      'application/jsonx',
    ]);
    return {
      kind: 'predict: wrong content type',
      request: { ...json(validLoan(rng)), headers: { ...AUTH, 'content-type': type } },
      status: [415],
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    };
  },
  predictOversizedBatch(rng) {
    const n = rng.int(LIMITS.MAX_BATCH + 1, LIMITS.MAX_BATCH + 300);
    const loan = validLoan(rng);
    return {
      kind: 'predict: batch over MAX_BATCH',
      request: json({ loans: Array(n).fill(loan) }),
      status: [413],
      code: 'BATCH_TOO_LARGE',
    };
  },
  predictOversizedExplain(rng) {
    // 4 models × more than 250 loans is over the 1,000 explanations of one request.
    const n = rng.int(251, LIMITS.MAX_BATCH);
    return {
      kind: 'predict: explain=true over 1,000 loan-model pairs',
      request: json({ loans: Array(n).fill(validLoan(rng)) }, '?model=all&explain=true'),
      status: [413],
      code: 'EXPLAIN_BATCH_TOO_LARGE',
    };
  },
  predictOverBodyLimit(rng) {
    const pad = 'x'.repeat(LIMITS.BODY_LIMIT + rng.int(1, 100_000));
    return {
      kind: 'predict: body over BODY_LIMIT',
      request: json(`{"loan_sequence_number": "${pad}"}`),
      status: [413],
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    };
  },
  badAuthorization(rng) {
    const authorization = rng.pick([
      'Bearer',
      'Bearer ',
      `Bearer ${key.token.slice(0, -1)}`,
      `Bearer ${key.token}=`,
      `bearer  ${'A'.repeat(rng.int(1, 600))}`,
      `Basic ${Buffer.from('fuzzer:secret').toString('base64')}`,
      `Bearer ${randomString(rng, 8).replace(/[^\x20-\x7e]/g, 'q')}`,
      `Token ${key.token}`,
      key.token,
    ]);
    return {
      kind: 'auth: bad Authorization header',
      request: { ...json(validLoan(rng)), headers: { 'content-type': 'application/json', authorization } },
      status: [401],
      code: 'UNAUTHORIZED',
    };
  },
  poolBadRow(rng) {
    const loans = Array.from({ length: rng.int(1, 10) }, () => validLoan(rng));
    const i = rng.int(0, loans.length - 1);
    const f = rng.pick(LOAN_FIELDS.filter((x) => x.kind !== 'text'));
    const bad = rng.pick(['abc', 'NaN', 'Infinity', '1e999', '-5', '٧٠٠', '12.5.1', '"', '999999999999']);
    (loans[i] as Record<string, unknown>)[f.name] = f.kind === 'code' ? `${bad}Z` : bad;
    return {
      kind: 'pool CSV: bad cell',
      request: tape(csvOf(loans), 'text/csv', rng.pick(['', '?model=lda', '?loans=true'])),
      status: [400],
      code: 'VALIDATION_FAILED',
      // A lone quote breaks the CSV itself: the answer names the line, not a field.
      ...(bad === '"' ? { field: `line ${i + 2}` } : { field: f.name }),
    };
  },
  poolBadHeader(rng) {
    const loans = [validLoan(rng)];
    const csv = csvOf(loans);
    const column = `col_${randomString(rng, 4).replace(/[^\w]/g, 'q')}`;
    const mutated = rng.next() < 0.5 ? csv.replace('credit_score', column) : csv.replace('\n', `,${column}\n`);
    return { kind: 'pool CSV: bad header', request: tape(mutated), status: [400] };
  },
  poolGarbage(rng) {
    const bytes = Buffer.alloc(rng.int(1, 3000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
    const payload = rng.pick([
      bytes,
      Buffer.from(`credit_score,ltv\n${'1,'.repeat(rng.int(1, 50))}\n`),
      Buffer.from('a|b|c\n1|2\n'),
      Buffer.from(`"${'x'.repeat(rng.int(1, 500))}`),
    ]);
    return { kind: 'pool CSV: garbage', request: tape(payload), status: [400] };
  },
  poolMultipart(rng) {
    // A scenario part and a tape (POST /pools/score, /pools/lifetime), each body broken one way.
    const boundary = `b${rng.int(0, 1e9)}`;
    const route = rng.pick(['/pools/score', '/pools/lifetime']);
    const part = (name: string, content: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${content}\r\n`;
    const csv = csvOf([validLoan(rng)]);
    const path = JSON.stringify({ national: Array(12).fill(-0.01) });
    const end = `--${boundary}--\r\n`;
    const broken: [string, string, string][] = [
      ['scenario after the tape', part('tape', csv) + part('scenario', path) + end, 'body.scenario'],
      [
        'scenario not JSON',
        part('scenario', rng.pick(['adverse', '{national: [1]}', '[', 'NaN'])) + part('tape', csv) + end,
        'body.scenario',
      ],
      [
        'scenario too long',
        part('scenario', JSON.stringify({ national: Array(20_000).fill(0.01) })) + part('tape', csv) + end,
        'body.scenario',
      ],
      [
        'scenario invalid',
        part('scenario', rng.pick(['{"national": "down"}', '"mars"', '{"national": [9]}'])) + part('tape', csv) + end,
        'scenario',
      ],
      ['no tape', part('scenario', path) + end, 'body.tape'],
      ['two tapes', part('tape', csv) + part('tape', csv) + end, 'body.tape'],
      ['another part', part(rng.pick(['loans', 'file', 'performance']), csv) + end, 'body.'],
      ['no closing boundary', (part('scenario', path) + part('tape', csv)).slice(0, -rng.int(1, 20)), 'body'],
      ['no boundary line', `${csv}\r\n`, 'body'],
    ];
    const [what, body, field] = rng.pick(broken);
    const noBoundary = rng.int(0, 9) === 0;
    return {
      kind: `pool multipart: ${noBoundary ? 'no boundary parameter' : what}`,
      request: {
        method: 'POST' as const,
        url: route,
        headers: {
          ...AUTH,
          'content-type': noBoundary ? 'multipart/form-data' : `multipart/form-data; boundary=${boundary}`,
        },
        payload: body,
      },
      status: [400],
      code: 'VALIDATION_FAILED',
      field: noBoundary ? 'headers.content-type' : field,
    };
  },
  poolEmpty() {
    return { kind: 'pool: empty body', request: tape(''), status: [400], code: 'INVALID_TAPE' };
  },
  poolBadQuery(rng) {
    const csv = csvOf([validLoan(rng)]);
    const which = rng.int(0, 4);
    if (which === 0) {
      const lgd = rng.pick(['NaN', 'Infinity', '-1', '0', '1.5', '1e999', 'abc', '', '0x1', '1,5']);
      return {
        kind: 'pool: bad ?lgd',
        request: tape(csv, 'text/csv', `?lgd=${encodeURIComponent(lgd)}`),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.lgd',
      };
    }
    if (which === 1) {
      return {
        kind: 'pool: bad ?on_error',
        request: tape(csv, 'text/csv', `?on_error=${rng.pick(['ignore', 'SKIP', ''])}`),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.on_error',
      };
    }
    if (which === 2) {
      return {
        kind: 'pool: ?format not matching the content type',
        request: tape(csv, 'text/csv', '?format=json'),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.format',
      };
    }
    if (which === 3) {
      return {
        kind: 'pool: ?model=all',
        request: tape(csv, 'text/csv', '?model=all'),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: 'query.model',
      };
    }
    return {
      kind: 'pool: unknown model',
      request: tape(csv, 'text/csv', `?model=zz${rng.int(0, 999)}`),
      status: [404],
      code: 'MODEL_NOT_FOUND',
    };
  },
  poolTooManyRows(rng) {
    const loans = Array.from({ length: rng.int(LIMITS.POOL_MAX_ROWS + 1, LIMITS.POOL_MAX_ROWS + 40) }, () =>
      validLoan(rng),
    );
    return { kind: 'pool: over POOL_MAX_ROWS', request: tape(csvOf(loans)), status: [413], code: 'TAPE_TOO_LARGE' };
  },
  poolTooManyBytes(rng) {
    const row = csvOf([validLoan(rng)]).split('\n')[1] as string;
    const rows = Math.ceil((LIMITS.POOL_MAX_BYTES + 1000) / row.length);
    const csv = `${LOAN_FIELDS.map((f) => f.name).join(',')}\n${Array(rows).fill(row).join('\n')}\n`;
    return {
      kind: 'pool: over POOL_MAX_BYTES',
      request: tape(csv),
      status: [413],
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    };
  },
  poolContentType(rng) {
    const which = rng.int(0, 1);
    if (which === 0) {
      return {
        kind: 'pool: wrong content type',
        request: tape(
          csvOf([validLoan(rng)]),
          rng.pick(['text/plain', 'application/xml', 'text/tab-separated-values']),
        ),
        status: [415],
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      };
    }
    return {
      kind: 'pool: compressed body',
      request: tape(csvOf([validLoan(rng)]), 'text/csv', '', { 'content-encoding': rng.pick(['gzip', 'br', 'x']) }),
      status: [415],
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    };
  },
  poolJson(rng) {
    const loans = Array.from({ length: rng.int(1, 5) }, () => validLoan(rng));
    const which = rng.int(0, 5);
    if (which === 0) {
      const text = JSON.stringify({ loans });
      return {
        kind: 'pool JSON: truncated',
        request: tape(text.slice(0, rng.int(1, text.length - 1)), 'application/json'),
        status: [400],
      };
    }
    if (which === 1) {
      const i = rng.int(0, loans.length - 1);
      const f = rng.pick(LOAN_FIELDS);
      (loans[i] as Record<string, unknown>)[f.name] = invalidValue(rng, f);
      return {
        kind: 'pool JSON: bad field',
        request: tape(JSON.stringify({ loans }), 'application/json'),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: f.name,
      };
    }
    if (which === 2) {
      const element = JSON.stringify(loans[0]).slice(1, -1);
      return {
        kind: 'pool JSON: prototype keys',
        request: tape(
          `{"loans": [{"__proto__": {"polluted": true}, ${element}}, {"constructor": {"prototype": {"x": 1}}, ${element}}]}`,
          'application/json',
        ),
        status: [400],
        code: 'VALIDATION_FAILED',
        field: '__proto__',
      };
    }
    if (which === 3) {
      return {
        kind: 'pool JSON: loans is not an array of loans',
        request: tape(
          rng.pick(['{"loans": {}}', '{"loans": 1}', '{"loans": [1, "x", null]}', '[]', '{}', '"loans"']),
          'application/json',
        ),
        status: [400],
      };
    }
    if (which === 4) {
      return {
        kind: 'pool JSON: deep nesting',
        request: tape(`{"loans": [${deepText(rng.pick([100, 5000, 50_000]))}]}`, 'application/json'),
        status: [400],
      };
    }
    // A loan whose credit score is missing (null) has no number to replace: give the first one a score,
    // so that the literal is always there (a run whose loans all lacked one sent a valid tape).
    (loans[0] as Record<string, unknown>).credit_score = 700;
    const literal = rng.pick(['NaN', 'Infinity']);
    const text = JSON.stringify({ loans }).replace('"credit_score":700', `"credit_score":${literal}`);
    if (!text.includes(literal)) throw new Error('the NaN/Infinity case did not place its literal');
    return {
      kind: 'pool JSON: NaN and Infinity literals',
      request: tape(text, 'application/json'),
      status: [400],
    };
  },
  modelName(rng) {
    const name = rng.pick([
      'a'.repeat(rng.int(65, 300)),
      '..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2fpackage.json',
      encodeURIComponent(randomString(rng, rng.int(1, 10))),
      'XGBOOST',
      'xgboost%00',
      `nope${rng.int(0, 1000)}`,
    ]);
    const suffix = rng.pick(['', '/versions', '/versions/9.9.9', '/versions/latest', '/versions/..%2F1.0.0']);
    return {
      kind: 'GET /models/{name}: bad name',
      request: { method: 'GET', url: `/models/${name}${suffix}`, headers: AUTH },
      // 414: a path parameter over Fastify's maxParamLength (100).
      status: [400, 404, 414],
    };
  },
  unknownRoute(rng) {
    const which = rng.int(0, 2);
    if (which === 0) {
      // No dot segments ("." or ".."): URL parsers resolve them (light-my-request turns "/." into "/", the
      // page), as clients do before sending; over the wire Node leaves them and the route is not found.
      const path = Array.from({ length: rng.int(1, 4) }, () => {
        const segment = encodeURIComponent(randomString(rng, rng.int(1, 8)));
        return /^\.+$/.test(segment) ? `${segment}x` : segment;
      }).join('/');
      return {
        kind: 'unknown route',
        request: { method: rng.pick(['GET', 'POST', 'DELETE']), url: `/${path}`, headers: AUTH },
        status: [404],
        code: 'ROUTE_NOT_FOUND',
      };
    }
    if (which === 1) {
      const [method, url] = rng.pick([
        ['PUT', '/predict'],
        ['DELETE', '/predict'],
        ['PATCH', '/predict'],
        ['GET', '/predict'],
        ['GET', '/pools/score'],
        ['POST', '/models'],
        ['DELETE', '/models/xgboost'],
        ['OPTIONS', '/predict'],
        ['POST', '/health/live'],
      ] as const);
      return {
        kind: 'known route, wrong method',
        request: { method, url, headers: AUTH },
        status: [404],
        code: 'ROUTE_NOT_FOUND',
      };
    }
    return {
      kind: 'very long URL',
      request: { method: 'GET', url: `/${'x'.repeat(rng.int(2000, 16000))}`, headers: AUTH },
      status: [404, 414],
    };
  },
};

const LEAK = /\/work\/|\/home\/|\/root\/|node_modules|\.ts:\d+|\.js:\d+|\bat [\w.<>]+ \(|Error: /;

describe('fuzz: malformed requests', () => {
  it(`answers ${COUNT} generated malformed requests with clear 4xx errors, and still scores exactly`, async () => {
    console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} npx vitest run test/security/fuzz.test.ts)`);
    const app = await build({
      API_KEYS: key.line,
      MAX_BATCH: String(LIMITS.MAX_BATCH),
      BODY_LIMIT: String(LIMITS.BODY_LIMIT),
      POOL_MAX_ROWS: String(LIMITS.POOL_MAX_ROWS),
      POOL_MAX_BYTES: String(LIMITS.POOL_MAX_BYTES),
    });
    const check = { loans: baselineHoldout.slice(0, 40).map((h) => h.loan) };
    const score = async () => {
      const res = await app.inject({
        ...json(check, '?model=all'),
        headers: { ...AUTH, 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(200);
      return res.json() as {
        results: { results: { model: string; version: string; probability_of_default: number }[] }[];
      };
    };
    const before = await score();

    const rng = prng(SEED);
    const names = Object.keys(GENERATORS);
    const failures: string[] = [];
    const seen = new Map<string, number>();
    for (let n = 0; n < COUNT && failures.length < 20; n++) {
      const name = names[n % names.length] as string; // every generator, in turn
      const c = (GENERATORS[name] as (rng: Rng) => Case)(rng);
      seen.set(c.kind, (seen.get(c.kind) ?? 0) + 1);
      const res = await app.inject(c.request);
      const where = `#${n} ${c.kind}: ${c.request.method} ${String(c.request.url).slice(0, 80)} → ${res.statusCode}`;
      const problem = (() => {
        if (!c.status.includes(res.statusCode)) return `status ${res.statusCode}, expected ${c.status.join(' or ')}`;
        if (!/^application\/json/.test(String(res.headers['content-type'])))
          return `content type ${res.headers['content-type']}`;
        let body: { statusCode?: unknown; code?: unknown; error?: unknown; message?: unknown; details?: unknown };
        try {
          body = res.json();
        } catch {
          return 'the body is not JSON';
        }
        if (body.statusCode !== res.statusCode) return `body.statusCode ${body.statusCode}`;
        if (typeof body.code !== 'string' || body.code === '') return 'no code';
        if (typeof body.error !== 'string' || body.error === '') return 'no error text';
        if (typeof body.message !== 'string' || body.message.length < 10)
          return `unclear message ${JSON.stringify(body.message)}`;
        if (/undefined|\[object Object\]/.test(body.message))
          return `message shows internals: ${body.message.slice(0, 200)}`;
        if (c.code !== undefined && body.code !== c.code) return `code ${body.code}, expected ${c.code}`;
        if (LEAK.test(res.body)) return `the answer reveals internals: ${res.body.slice(0, 300)}`;
        if (c.field !== undefined) {
          const details = Array.isArray(body.details) ? (body.details as { field: string; message: string }[]) : [];
          const named = details.find((d) => d.field === c.field || d.field.includes(c.field as string));
          if (!named && !body.message.includes(c.field))
            return `the answer does not name ${c.field}: ${res.body.slice(0, 300)}`;
          if (named && named.message.length < 5) return `no reason for ${c.field}: ${JSON.stringify(named)}`;
        }
        if (res.statusCode === 401 && !String(res.headers['www-authenticate']).startsWith('Bearer'))
          return 'no WWW-Authenticate';
        return undefined;
      })();
      if (problem) failures.push(`${where}: ${problem}`);
    }
    console.log(
      `fuzz: ${[...seen.values()].reduce((a, b) => a + b, 0)} requests in ${seen.size} kinds: ${[...seen]
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
    );
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(40);

    // Still up, still exact: the same answers as before the fuzzing, and the libraries' reference PDs.
    const after = await score();
    expect(after).toEqual(before);
    const tolerance: Record<string, number> = {
      xgboost: 1e-6,
      gradient_boosting: 1e-6,
      logistic_regression: 1e-12,
      lda: 1e-12,
    };
    let compared = 0;
    after.results.forEach((loan, k) => {
      for (const r of loan.results) {
        const ref = reference.models[`${r.model}/${r.version}`]?.probability[baselineHoldout[k]?.i as number];
        if (ref === undefined) continue;
        expect(Math.abs(r.probability_of_default - ref), `${r.model}/${r.version} loan ${k}`).toBeLessThanOrEqual(
          tolerance[r.model] ?? 1e-6,
        );
        compared++;
      }
    });
    expect(compared).toBeGreaterThanOrEqual(check.loans.length * 4);
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.prototype).not.toHaveProperty('isAdmin');
  }, 60_000);
});
