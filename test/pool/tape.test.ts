import { describe, expect, it } from 'vitest';
import { DelimitedReader } from '../../src/pool/delimited.js';
import {
  parseNumber,
  poolAnswer,
  ResultBuffer,
  TapeError,
  type TapeOptions,
  type TapeResult,
  TapeScorer,
} from '../../src/pool/index.js';
import { PoolScorer } from '../../src/pool/scorer.js';
import { type StrataLoan, Stratifier } from '../../src/pool/strata.js';
import { type LoanRecord, loadModelFile } from '../../src/runtime/index.js';
import { exampleLoan, holdoutLoans, withScenario } from '../helpers/app.js';
import { baselinePds, close, expectedPool, sameBreakdown, toCsv, toFreddie } from './helpers.js';

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');

const HEADER =
  'credit_score,first_payment_date,first_time_homebuyer_flag,mi_percent,number_of_units,occupancy_status,cltv,dti,original_upb,ltv,original_interest_rate,channel,amortization_type,property_state,property_type,loan_purpose,original_loan_term,number_of_borrowers,loan_sequence_number';
const ROW = '690,200607,N,25,1,P,95,42,312000,95,6.75,B,FRM,FL,SF,P,360,1,F06Q10000042';

/** Scores `text` pushed in pieces of `piece` bytes (all at once by default). */
function score(text: string | Buffer, options: Partial<TapeOptions> = {}, piece = 0): TapeResult {
  const tape = new TapeScorer({ model: xgboost, lgd: 0.35, onError: 'fail', maxRows: 1e9, format: 'auto', ...options });
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  if (piece <= 0) tape.push(bytes);
  else for (let i = 0; i < bytes.length; i += piece) tape.push(bytes.subarray(i, i + piece));
  return tape.end();
}

function refusal(text: string, options: Partial<TapeOptions> = {}): TapeError {
  try {
    score(text, options);
  } catch (err) {
    if (err instanceof TapeError) return err;
    throw err;
  }
  throw new Error('the tape was accepted');
}

/** The problems of a refused tape as `where message` lines. */
function problems(err: TapeError, format: 'csv' | 'json' = 'csv'): string[] {
  return [
    ...err.details.map((d) => `${d.field} ${d.message}`),
    ...err.rejected.flatMap((r) =>
      r.problems.map(
        (p) => `${format === 'json' ? `loans[${r.row}]` : `line ${r.row}`}${p.field ? `.${p.field}` : ''} ${p.message}`,
      ),
    ),
  ];
}

describe('pool figures', () => {
  const loans = holdoutLoans.slice(0, 3000);

  it('score a scenario-conditional model under the default scenario when none is given, never on imputed features', () => {
    const some = loans.slice(0, 200);
    const result = score(toCsv(some), { chunkRows: 64 });
    expect(result.scenario).toBe('baseline');
    const sum = baselinePds(xgboost, some).reduce((a, b) => a + b, 0);
    expect(result.figures.average_pd).toBeCloseTo(sum / some.length, 15);
  });

  it('hold the stratification: the Stratifier over each loan as read with its PD, in input order', () => {
    const strata = new Stratifier();
    const result = score(toCsv(loans), {
      chunkRows: 700,
      onScored: (batch) => {
        for (let i = 0; i < batch.count; i++) {
          strata.add(batch.loans[i] as unknown as StrataLoan, batch.probability[i] as number);
        }
      },
    });
    const answer = poolAnswer(xgboost, 0.35, result);
    expect(answer.stratification).toEqual(strata.figures());
    expect(answer.stratification?.loans).toBe(3000);
    expect(answer.stratification?.original_upb).toBe(answer.total_original_upb);
    expect(answer.stratification?.weighted_averages.credit_score.value).toBeGreaterThan(600);
    expect(answer.stratification?.weighted_averages.loan_age.value).toBeNull();
    const states = answer.stratification?.strata.state ?? [];
    expect(states.map((s) => [s.stratum, s.loans])).toEqual(answer.by_state.map((b) => [b.band, b.loans]));
  });

  it('equal an independent computation from Model.scoreMany, for every breakdown', () => {
    for (const [model, lgd] of [
      [xgboost, 0.35],
      [lda, 0.6],
    ] as const) {
      const result = score(toCsv(loans), { model, lgd, chunkRows: 700 });
      const answer = poolAnswer(model, lgd, result);
      const expected = expectedPool(model, loans, lgd);
      expect(answer.rejected.count).toBe(0);
      expect(answer.loan_count).toBe(expected.loan_count);
      expect(answer.total_original_upb).toBe(expected.total_original_upb);
      for (const k of ['average_pd', 'upb_weighted_pd', 'expected_loss', 'expected_loss_rate'] as const) {
        expect(close(answer[k], expected[k]), `${k}: ${answer[k]} vs ${expected[k]}`).toBe(true);
      }
      expect(sameBreakdown(answer.pd_bands, expected.pd_bands)).toEqual([]);
      expect(sameBreakdown(answer.by_fico, expected.by_fico)).toEqual([]);
      expect(sameBreakdown(answer.by_ltv, expected.by_ltv)).toEqual([]);
      expect(sameBreakdown(answer.by_dti, expected.by_dti)).toEqual([]);
      expect(sameBreakdown(answer.by_state, expected.by_state)).toEqual([]);
      expect(sameBreakdown(answer.by_vintage, expected.by_vintage)).toEqual([]);
      // Fixed bands always come in the same order, "missing" last.
      expect(answer.by_fico.map((b) => b.band)).toEqual([
        '<620',
        '620-660',
        '660-700',
        '700-740',
        '740-780',
        '>=780',
        'missing',
      ]);
      expect(answer.by_fico.at(-1)?.loans).toBeGreaterThan(0); // the holdout has missing scores
      expect(answer.by_state.map((b) => b.band)).toEqual([...answer.by_state.map((b) => b.band)].sort());
    }
  });

  it('gives every loan the PD the runtime gives it, in input order, whatever the chunking', () => {
    const some = loans.slice(0, 1000);
    const expected = baselinePds(xgboost, some);
    for (const chunkRows of [7, 333, 16_384]) {
      const buffer = new ResultBuffer(xgboost.decisionThreshold);
      score(toCsv(some), { chunkRows, onScored: (b) => buffer.add(b) }, 4093);
      const rows = [...buffer.csv()].join('').trim().split('\n').slice(1);
      expect(rows).toHaveLength(some.length);
      const mismatches = rows.filter((line, i) => {
        const [row, id, pd] = line.split(',');
        // Rows are line numbers: the header is line 1.
        return Number(row) !== i + 2 || id !== (some[i]?.loan_sequence_number ?? '') || Number(pd) !== expected[i];
      });
      expect(mismatches).toEqual([]);
    }
  });

  it('reads CSV, Freddie Mac and JSON tapes of the same loans to the same figures', () => {
    const some = loans.slice(0, 500);
    const csv = poolAnswer(xgboost, 0.35, score(toCsv(some)));
    const freddie = poolAnswer(xgboost, 0.35, score(toFreddie(some)));
    const json = poolAnswer(xgboost, 0.35, score(JSON.stringify({ loans: some })));
    expect(freddie.format).toBe('freddie');
    expect(json.format).toBe('json');
    const { format: _a, ...a } = csv;
    const { format: _b, ...b } = freddie;
    const { format: _c, rows: _r, ...c } = json;
    expect(b).toEqual(a);
    const { rows: _r2, ...a2 } = a;
    expect(c).toEqual(a2);
  });

  it('does not depend on where the chunks of the body split', () => {
    const some = loans.slice(0, 60);
    const texts = [toCsv(some), toCsv(some, '\r\n'), toFreddie(some), JSON.stringify({ loans: some }, null, 1)];
    for (const text of texts) {
      const whole = score(text).figures;
      for (const piece of [1, 2, 3, 7, 64]) expect(score(text, {}, piece).figures).toEqual(whole);
    }
  });
});

describe('CSV edge cases', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and numbers rows by their first line', () => {
    const text = `${HEADER}\n${ROW.replace('F06Q10000042', '"id, with ""comma""\nand a line break"')}\n${ROW.replace(',FL,', ',"FL",')}\n`;
    const buffer = new ResultBuffer(xgboost.decisionThreshold);
    const result = score(text, { onScored: (b) => buffer.add(b) });
    expect(result.rows).toBe(2);
    const out = [...buffer.csv()].join('');
    expect(out).toContain('\n2,"id, with ""comma""\nand a line break",');
    expect(out).toMatch(/\n4,F06Q10000042,/); // the second loan starts on line 4
  });

  it('accepts a UTF-8 BOM, CRLF line ends, blank lines, columns in any order, no identifier column', () => {
    const cols = HEADER.split(',');
    const vals = ROW.split(',');
    const order = cols.map((_, i) => i).reverse();
    const header = order.map((i) => cols[i]).join(',');
    const row = order.map((i) => vals[i]).join(',');
    const text = `\uFEFF${header}\r\n\r\n${row}\r\n   \r\n${row}`;
    const result = score(text);
    expect(result.rows).toBe(2);
    expect(result.figures.average_pd).toBe(xgboost.score(withScenario(exampleLoan)).probability);
    const noId = `${cols.slice(0, -1).join(',')}\n${vals.slice(0, -1).join(',')}\n`;
    expect(score(noId).rows).toBe(1);
  });

  it('treats empty cells and Freddie Mac sentinels as missing, the same as null in /predict', () => {
    const sentinels = ROW.replace('690,', '9999,').replace(',42,', ',999,').replace(',P,95', ',9,95');
    const empties = ROW.replace('690,', ',').replace(',42,', ',,').replace(',P,95', ',,95');
    const expected = xgboost.score(
      withScenario({ ...exampleLoan, credit_score: null, dti: null, occupancy_status: null }),
    );
    for (const row of [sentinels, empties]) {
      const result = score(`${HEADER}\n${row}\n`);
      expect(result.figures.average_pd).toBe(expected.probability);
      expect(result.figures.by_fico.find((b) => b.band === 'missing')?.loans).toBe(1);
      expect(result.figures.by_dti.find((b) => b.band === 'missing')?.loans).toBe(1);
    }
  });

  it('parses numbers strictly: the same double as Number(), nothing else', () => {
    const n = (s: string) => parseNumber(Buffer.from(s), 0, s.length);
    for (const s of [
      '0',
      '690',
      '6.75',
      '7.375',
      '-3.5',
      '.5',
      '5.',
      '0.1',
      '123456789012345',
      '1e3',
      '+2',
      '1.23456789012345678',
    ])
      expect(n(s)).toBe(Number(s));
    for (const s of ['12abc', '1e999', ' ', ' 7', '7 ', '0x10', 'Infinity', 'NaN', '-', '.', '1,5', '1..2', '--1'])
      expect(n(s)).toBeNaN();
  });

  it('names every bad row and field with /predict wording and the line number (header = line 1)', () => {
    const rows = [
      ROW.replace('690,', '12abc,'),
      ROW.replace('690,', '1e999,'),
      ROW.replace('690,', ' ,'),
      ROW.replace('690,', '900,'),
      ROW.replace(',FL,', ',XX,'),
      ROW.replace(',FRM,', ',,'),
      ROW.replace('200607', '200613'),
      ROW.replace(',360,', ',360.5,'),
      ROW.split(',').slice(1).join(','),
      ROW,
    ];
    const err = refusal(`${HEADER}\n${rows.join('\n')}\n`);
    expect(err.kind).toBe('invalid_rows');
    expect(err.rejectedCount).toBe(9);
    expect(problems(err)).toEqual([
      'line 2.credit_score must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "12abc"',
      'line 3.credit_score must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "1e999"',
      'line 4.credit_score must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got " "',
      'line 5.credit_score must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "900"',
      'line 6.property_state must be a two-letter USPS state code, got "XX"',
      'line 7.amortization_type must be one of "FRM", "ARM", got an empty cell',
      'line 8.first_payment_date month 13 of 200613 is not 01–12 (YYYYMM)',
      'line 9.original_loan_term must be an integer from 60 to 480 (months), got "360.5"',
      'line 10 has 18 fields; the header has 19',
    ]);
    expect(err.rejected[0]?.loan_sequence_number).toBe('F06Q10000042');
  });

  it('reads a quoted header, and answers an empty pool when every row is skipped', () => {
    const quoted = HEADER.split(',')
      .map((h) => `"${h}"`)
      .join(',');
    expect(score(`${quoted}\n${ROW}\n`).rows).toBe(1);
    const result = score(`${HEADER}\nx\ny\n`, { onError: 'skip' });
    expect(result.rejectedCount).toBe(2);
    expect(result.figures).toMatchObject({ loan_count: 0, total_original_upb: 0, average_pd: null, expected_loss: 0 });
  });

  it('skips bad rows under on_error=skip, and lists them', () => {
    const text = `${HEADER}\n${ROW}\n${ROW.replace('690,', 'abc,')}\n${ROW}\n`;
    const result = score(text, { onError: 'skip' });
    expect(result.rows).toBe(3);
    expect(result.figures.loan_count).toBe(2);
    expect(result.rejectedCount).toBe(1);
    expect(poolAnswer(xgboost, 0.35, result).rejected.rows).toEqual([
      {
        row: 3,
        loan_sequence_number: 'F06Q10000042',
        problems: [
          {
            field: 'line 3, credit_score',
            message: 'must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "abc"',
          },
        ],
      },
    ]);
  });

  it('refuses unknown, duplicate and missing header columns, naming them', () => {
    const err = refusal(`${HEADER.replace('credit_score', 'credit_scor').replace('dti', 'ltv')}\n${ROW}\n`);
    expect(err.kind).toBe('layout');
    expect(problems(err)).toEqual([
      'line 1 (header) column 1, "credit_scor", is not a loan-record field (did you mean credit_score?)',
      'line 1 (header) column "ltv" appears twice',
      'line 1 (header) the required column "credit_score" is missing',
      'line 1 (header) the required column "dti" is missing',
    ]);
    expect(refusal(`${HEADER},default_36m\n${ROW},0\n`).details[0]?.message).toMatch(
      /default_36m.*not a loan-record field/,
    );
  });

  it("says which route reads another route's column (a seasoned loan's, an observed outcome)", () => {
    const after = HEADER.split(',').length;
    expect(problems(refusal(`${HEADER},loan_age,current_upb\n${ROW},12,180000\n`))).toEqual([
      `line 1 (header) column ${after + 1}, "loan_age", is not a loan-record field (a seasoned loan's age: only POST /pools/lifetime reads it)`,
      `line 1 (header) column ${after + 2}, "current_upb", is not a loan-record field (a seasoned loan's balance: only POST /pools/lifetime reads it)`,
    ]);
    expect(refusal(`${HEADER},default_36m\n${ROW},0\n`).details[0]?.message).toMatch(
      /"default_36m", is not a loan-record field \(an observed outcome: only POST \/pools\/backtest reads it\)$/,
    );
    const json = refusal(JSON.stringify({ loans: [{ ...exampleLoan, loan_age: 12 }] }), { format: 'json' });
    expect(problems(json, 'json')).toEqual([
      "loans[0].loan_age is not a known field (a seasoned loan's age: only POST /pools/lifetime reads it)",
    ]);
  });

  it('refuses broken quoting row by row, and an unclosed quote at the end', () => {
    const text = `${HEADER}\n${ROW.replace('F06Q10000042', 'ab"c')}\n${ROW.replace('F06Q10000042', '"ab"c')}\n${ROW.replace('F06Q10000042', '"open')}\n`;
    const err = refusal(text, { onError: 'fail' });
    expect(problems(err)).toEqual([
      'line 2 a quote inside the unquoted field 19 (quote the whole field)',
      'line 3 characters after the closing quote of field 19',
      'line 4 a quoted field is never closed (a quote is missing)',
    ]);
  });

  it('refuses an empty tape, a header without loans, and a record over 1 MiB', () => {
    expect(refusal('').message).toMatch(/the tape is empty/);
    expect(refusal('\n\n').message).toMatch(/the tape is empty/);
    expect(refusal(`${HEADER}\n`).message).toBe('the tape holds no loans');
    expect(refusal(`${HEADER}\n"${'x'.repeat(1.1 * 1024 * 1024)}`).kind).toBe('unreadable');
  });

  it('stops at the row and byte limits', () => {
    const text = `${HEADER}\n${ROW}\n${ROW}\n${ROW}\n`;
    expect(score(text, { maxRows: 3 }).rows).toBe(3);
    expect(refusal(text, { maxRows: 2 }).kind).toBe('too_many_rows');
    expect(refusal(text, { maxBytes: 100 }).kind).toBe('too_many_bytes');
  });
});

describe('Freddie Mac layout', () => {
  const line = (loan: LoanRecord) => toFreddie([loan]).trim();

  it('is detected from the first line, reads sentinels and blanks as missing, trims padded cells', () => {
    const padded = line(exampleLoan).replace('|P|95|', '|P |95|');
    const missing = line({ ...exampleLoan, credit_score: 9999, dti: null, occupancy_status: '9' });
    const result = score(`${padded}\n${missing}\n`);
    expect(result.format).toBe('freddie');
    const expected = baselinePds(xgboost, [
      exampleLoan,
      { ...exampleLoan, credit_score: null, dti: null, occupancy_status: null },
    ]);
    expect(result.figures.average_pd).toBe(((expected[0] as number) + (expected[1] as number)) / 2);
  });

  it('refuses lines with too few fields and bad values, by line number (first loan = line 1)', () => {
    const good = line(exampleLoan);
    const err = refusal(`${good}\n${good.split('|').slice(0, 20).join('|')}\n${good.replace('|FL|', '|ZZ|')}\n`);
    expect(problems(err)).toEqual([
      'line 2 has 20 fields; a Freddie Mac origination record has 26 to 32',
      'line 3.property_state must be a two-letter USPS state code, got "ZZ"',
    ]);
  });
});

describe('JSON tapes', () => {
  it('check each loan as /predict does, naming loans[i].field', () => {
    const loans = [
      exampleLoan,
      { ...exampleLoan, credit_score: '700' },
      { ...exampleLoan, dti: undefined, credit_scor: 700 },
      42,
    ];
    const err = refusal(JSON.stringify({ loans }), { format: 'json' });
    expect(problems(err, 'json')).toEqual([
      'loans[1].credit_score must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got the string "700"',
      'loans[2].credit_scor is not a known field (did you mean credit_score?)',
      'loans[2].dti is required (send null when the value is not available)',
      'loans[3] must be a loan (a JSON object), got the number 42',
    ]);
  });

  it('skips a BOM however the first bytes arrive, and reads escapes in strings', () => {
    const text = `\uFEFF ${JSON.stringify({ loans: [{ ...exampleLoan, loan_sequence_number: 'a "q" \\ {[' }] })}`;
    for (const piece of [0, 1, 2]) {
      const result = score(text, { format: 'json' }, piece);
      expect(result.figures.average_pd).toBe(xgboost.score(withScenario(exampleLoan)).probability);
    }
  });

  it('refuses what is not {"loans": [...]}', () => {
    expect(refusal('[]', { format: 'json' }).details).toEqual([
      { field: 'body', message: 'must be a JSON object {"loans": [...]}, got an array' },
    ]);
    expect(refusal('{"model": "lda", "loans": []}', { format: 'json' }).details[0]?.field).toBe('model');
    expect(refusal('{}', { format: 'json' }).details[0]?.field).toBe('loans');
    expect(refusal('{"loans": {}}', { format: 'json' }).details[0]?.field).toBe('loans');
    expect(refusal('{"loans": [}', { format: 'json' }).kind).toBe('unreadable');
    expect(refusal('{"loans": [{"a": }]}', { format: 'json' }).message).toMatch(/loans\[0\]/);
    expect(refusal('{"loans": [] } x', { format: 'json' }).kind).toBe('unreadable');
    expect(refusal('{"loans": [', { format: 'json' }).message).toMatch(/ends before/);
    expect(refusal('{"loans": []}', { format: 'json' }).message).toBe('the tape holds no loans');
  });
});

describe('record slots made as rows arrive (scorer.ts slotAt)', () => {
  it('a 20-loan tape makes 20 records, not a chunk of 16,384 (a fixed ~5 ms a request before)', () => {
    const slots: Record<string, unknown>[] = [];
    const scorer = new PoolScorer({ model: xgboost, lgd: 0.35, onError: 'fail', maxRows: 1e9, slots });
    const reader = new DelimitedReader('csv', scorer);
    reader.push(Buffer.from(`${HEADER}\n${Array.from({ length: 20 }, () => ROW).join('\n')}\n`));
    reader.end();
    scorer.finish();
    expect(slots.length).toBe(20);
    // Reused by the next scorer given them: no record more for as many rows.
    const again = new PoolScorer({ model: xgboost, lgd: 0.35, onError: 'fail', maxRows: 1e9, slots });
    const next = new DelimitedReader('csv', again);
    next.push(Buffer.from(`${HEADER}\n${Array.from({ length: 20 }, () => ROW).join('\n')}\n`));
    next.end();
    again.finish();
    expect(slots.length).toBe(20);
  });
});
