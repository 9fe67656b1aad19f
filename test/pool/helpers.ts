import { request } from 'node:http';
import { FREDDIE_POSITIONS } from '../../src/contract/index.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import type { LoanRecord, Model } from '../../src/runtime/index.js';
import { checkScenario, readsScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';

/** Each loan's PD as a tape scores it by default: under baseline when the model reads scenario features. */
export function baselinePds(model: Model, loans: readonly LoanRecord[]): Float64Array {
  const baseline = checkScenario('baseline').scenario as Scenario;
  return model.scoreMany(readsScenario(model.fields) ? loans.map((l) => scenarioRecord(l, baseline)) : loans)
    .probability;
}

/** Loan records → a CSV tape with a header of loan-record names (null → empty cell). */
export function toCsv(loans: readonly LoanRecord[], eol = '\n'): string {
  const names = LOAN_FIELDS.map((f) => f.name);
  const lines = [names.join(',')];
  for (const loan of loans) lines.push(names.map((n) => cell(loan[n])).join(','));
  return lines.join(eol) + eol;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 text → rows of cells (quoted cells may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** Freddie Mac origination lines (32 fields, no header) for loan records, as scripts/loanmodel/tape.py writes them. */
export function toFreddie(loans: readonly LoanRecord[]): string {
  return loans
    .map((loan) => {
      const fields = Array<string>(32).fill('');
      fields[23] = 'Other sellers';
      fields[24] = 'Other servicers';
      for (const [name, p] of Object.entries(FREDDIE_POSITIONS)) fields[p - 1] = cell(loan[name]);
      return fields.join('|');
    })
    .join('\n')
    .concat('\n');
}

interface Figures {
  loans: number;
  upb: number;
  pdSum: number;
  pdUpb: number;
}

/**
 * Pool figures computed the plain way, independently of src/pool: score everything at once, then
 * walk the loans with if-chains for the bands. Sentinels and null both mean missing.
 */
export function expectedPool(model: Model, loans: readonly LoanRecord[], lgd: number) {
  const pd = baselinePds(model, loans);
  const total: Figures = { loans: 0, upb: 0, pdSum: 0, pdUpb: 0 };
  const groups: Record<string, Map<string, Figures>> = {
    pd: new Map(),
    fico: new Map(),
    ltv: new Map(),
    dti: new Map(),
    state: new Map(),
    vintage: new Map(),
  };
  const add = (group: string, key: string, upb: number, p: number) => {
    const map = groups[group] as Map<string, Figures>;
    const f = map.get(key) ?? { loans: 0, upb: 0, pdSum: 0, pdUpb: 0 };
    f.loans += 1;
    f.upb += upb;
    f.pdSum += p;
    f.pdUpb += p * upb;
    map.set(key, f);
  };
  const missing = (v: unknown, sentinel: number) => v === null || v === undefined || v === sentinel;
  loans.forEach((loan, i) => {
    const p = pd[i] as number;
    const upb = loan.original_upb as number;
    total.loans += 1;
    total.upb += upb;
    total.pdSum += p;
    total.pdUpb += p * upb;
    const pdBand =
      p < 0.005
        ? '<0.5%'
        : p < 0.01
          ? '0.5%-1%'
          : p < 0.02
            ? '1%-2%'
            : p < 0.05
              ? '2%-5%'
              : p < 0.1
                ? '5%-10%'
                : p < 0.2
                  ? '10%-20%'
                  : '>=20%';
    add('pd', pdBand, upb, p);
    const fico = loan.credit_score as number;
    add(
      'fico',
      missing(fico, 9999)
        ? 'missing'
        : fico < 620
          ? '<620'
          : fico < 660
            ? '620-660'
            : fico < 700
              ? '660-700'
              : fico < 740
                ? '700-740'
                : fico < 780
                  ? '740-780'
                  : '>=780',
      upb,
      p,
    );
    const ltv = loan.ltv as number;
    add(
      'ltv',
      missing(ltv, 999)
        ? 'missing'
        : ltv <= 60
          ? '<=60'
          : ltv <= 70
            ? '60-70'
            : ltv <= 80
              ? '70-80'
              : ltv <= 90
                ? '80-90'
                : ltv <= 95
                  ? '90-95'
                  : '>95',
      upb,
      p,
    );
    const dti = loan.dti as number;
    add(
      'dti',
      missing(dti, 999)
        ? 'missing'
        : dti <= 20
          ? '<=20'
          : dti <= 30
            ? '20-30'
            : dti <= 36
              ? '30-36'
              : dti <= 43
                ? '36-43'
                : dti <= 50
                  ? '43-50'
                  : '>50',
      upb,
      p,
    );
    add('state', String(loan.property_state), upb, p);
    add('vintage', String(Math.floor((loan.first_payment_date as number) / 100)), upb, p);
  });
  const row = (band: string, f: Figures) => ({
    band,
    loans: f.loans,
    original_upb: f.upb,
    upb_share: f.upb / total.upb,
    average_pd: f.pdSum / f.loans,
    upb_weighted_pd: f.pdUpb / f.upb,
    expected_loss: lgd * f.pdUpb,
  });
  const breakdown = (group: string) =>
    Object.fromEntries([...(groups[group] as Map<string, Figures>)].map(([k, f]) => [k, row(k, f)]));
  return {
    probability: pd,
    loan_count: total.loans,
    total_original_upb: total.upb,
    average_pd: total.pdSum / total.loans,
    upb_weighted_pd: total.pdUpb / total.upb,
    expected_loss: lgd * total.pdUpb,
    expected_loss_rate: (lgd * total.pdUpb) / total.upb,
    pd_bands: breakdown('pd'),
    by_fico: breakdown('fico'),
    by_ltv: breakdown('ltv'),
    by_dti: breakdown('dti'),
    by_state: breakdown('state'),
    by_vintage: breakdown('vintage'),
  };
}

type Band = {
  band: string;
  loans: number;
  original_upb: number;
  upb_share: number | null;
  average_pd: number | null;
  upb_weighted_pd: number | null;
  expected_loss: number;
};

/** Relative closeness for sums taken in another order. */
export function close(actual: number | null, expected: number, tolerance = 1e-9): boolean {
  if (actual === null) return false;
  return Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected));
}

/** Every non-empty band of `actual` equals the independently computed one; empty ones are absent there. */
export function sameBreakdown(actual: readonly Band[], expected: Record<string, Band>): string[] {
  const problems: string[] = [];
  for (const a of actual) {
    const e = expected[a.band];
    if (e === undefined) {
      if (a.loans !== 0) problems.push(`${a.band}: ${a.loans} loans, expected none`);
      continue;
    }
    if (a.loans !== e.loans) problems.push(`${a.band}: ${a.loans} loans, expected ${e.loans}`);
    for (const k of ['original_upb', 'upb_share', 'average_pd', 'upb_weighted_pd', 'expected_loss'] as const) {
      if (!close(a[k], e[k] as number)) problems.push(`${a.band}.${k}: ${a[k]}, expected ${e[k]}`);
    }
  }
  const seen = new Set(actual.map((a) => a.band));
  for (const k of Object.keys(expected)) if (!seen.has(k)) problems.push(`band ${k} missing from the answer`);
  return problems;
}

/**
 * A CSV tape POSTed to 127.0.0.1:`port` over a real socket: the status, the body and whether the transfer
 * completed (an answer aborted after it started does not).
 */
export function postStreamed(
  port: number,
  path: string,
  payload: string,
): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'text/csv' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
