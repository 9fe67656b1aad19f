/**
 * Prints the seasoned-loan example of docs/LOSS.md ("Seasoned loans"):
 * `node --import tsx scripts/lifetime-seasoned-example.ts`.
 *
 * One loan (250,000 at 4.25 %, 30 years, LTV 80, CLTV 90, California, first payment 2015-01, a 36-month PD of
 * 8 %) three ways: the origination record; seasoned 60 months (as of 2019-12) on its schedule; seasoned 60
 * months with 180,000 left (curtailed). Seasoning timing, the house-price hazard, 100 % PSA, a 12-month
 * recovery lag, under baseline, severely_adverse and historical. Everything it prints comes from src/loss.
 */
import {
  CURRENT_UPB,
  DEFAULT_RECOVERY_LAG,
  LOAN_AGE,
  type LoanTerms,
  type LossOptions,
  levelPaymentCents,
  loanTerms,
  MAX_TERM,
  MonthlyVectors,
  monthlyHpi,
  plan,
  projectLoan,
  seasonedInputs,
} from '../src/loss/index.js';
import { checkScenario, type Scenario } from '../src/scenario/index.js';

const RECORD = {
  original_upb: 250_000,
  original_interest_rate: 4.25,
  original_loan_term: 360,
  ltv: 80,
  cltv: 90,
  credit_score: 700,
  mi_percent: 0,
  property_state: 'CA',
  first_payment_date: 201501,
};
const PD = 0.08;
const options: LossOptions = {
  timing: 'seasoning',
  hazard: 'house_prices',
  prepayment: { kind: 'psa', multiple: 1 },
  recoveryLag: DEFAULT_RECOVERY_LAG,
};
const p = plan(options);
const scenario = (name: string) => checkScenario(name).scenario as Scenario;
const HISTORICAL = scenario('historical');
const usd = (x: number) => x.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: 0 });
const pct = (x: number, d = 2) => `${(100 * x).toFixed(d)} %`;

const origination = loanTerms(RECORD, PD) as LoanTerms;
const schedule = new MonthlyVectors(360);
projectLoan(plan({ ...options, prepayment: { kind: 'none' } }), { ...origination, pd: 0 }, [1], schedule);
const onSchedule = Math.round((schedule.scheduledBalance[59] as number) * 100) / 100;
const versions: [string, Record<string, unknown>][] = [
  ['origination record', RECORD],
  [`age 60, on the schedule (${usd(onSchedule)})`, { ...RECORD, [LOAN_AGE]: 60, [CURRENT_UPB]: onSchedule }],
  ['age 60, curtailed (180,000)', { ...RECORD, [LOAN_AGE]: 60, [CURRENT_UPB]: 180_000 }],
];

console.log(`loan: ${JSON.stringify(RECORD)}, PD(36m, from the first payment) ${pct(PD, 0)}`);
console.log(`options: ${JSON.stringify(options)}`);
console.log(
  `level payment ${usd(levelPaymentCents(origination) / 100)} a month (${(levelPaymentCents(origination) / 100).toFixed(2)})\n`,
);
console.log(
  '| loan | scenario | remaining term | value now | λ | CDR m1 | pd_36m | lifetime PD | EL 12m | EL 36m | EL lifetime | WAL |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [label, record] of versions) {
  for (const name of ['baseline', 'severely_adverse', 'historical']) {
    const s = scenario(name);
    const terms = loanTerms(record, PD) as LoanTerms;
    const path = monthlyHpi(record, s, MAX_TERM).ratio;
    const history = monthlyHpi(record, HISTORICAL, MAX_TERM).ratio;
    const inputs = s.kind === 'historical' ? seasonedInputs(terms, path) : seasonedInputs(terms, history, path);
    const into = new MonthlyVectors(inputs.terms.term + options.recoveryLag);
    const r = projectLoan(p, inputs.terms, inputs.hpi, into);
    const cdr1 = 1 - (1 - (into.defaulted[0] as number) / (into.beginBalance[0] as number)) ** 12;
    console.log(
      `| ${label} | ${name} | ${inputs.terms.term} | ${usd(inputs.terms.value)} | ${r.scale.toFixed(6)} | ${pct(cdr1)} | ${pct(r.pd36)} | ${pct(r.lifetimePd)} | ${usd(r.expectedLoss12m)} | ${usd(r.expectedLoss36m)} | ${usd(r.expectedLossLifetime)} | ${r.wal.toFixed(2)} |`,
    );
  }
}
