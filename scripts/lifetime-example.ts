/**
 * Prints the worked example of docs/LOSS.md: `node --import tsx scripts/lifetime-example.ts [--pd 0.03]`.
 *
 * The contract's example loan (250,000 at 6.25 %, 30 years, LTV 80, no MI, California, first payment
 * 2006-03) with a 36-month PD of 3 %, seasoning timing, 100 % PSA, a 12-month recovery lag, under the
 * baseline and the severely adverse preset: the timing scale, selected months of the loan's vectors and its
 * answers. Everything it prints comes from src/loss; nothing is typed by hand.
 */
import { CONTRACT } from '../src/contract/index.js';
import {
  annualFromMonthly,
  DEFAULT_RECOVERY_LAG,
  loanTerms,
  monthlyHpi,
  PoolLoss,
  plan,
  SEVERITY,
  vectorsCsv,
} from '../src/loss/index.js';
import { checkScenario, type Scenario } from '../src/scenario/index.js';

const i = process.argv.indexOf('--pd');
const PD = i >= 0 ? Number(process.argv[i + 1]) : 0.03;
const record = Object.fromEntries(CONTRACT.loan_fields.map((f) => [f.name, f.example]));
const terms = loanTerms(record, PD);
if (!terms) throw new Error('the example loan has no terms');
const lag = DEFAULT_RECOVERY_LAG;
const options = { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: lag } as const;
const pct = (x: number, d = 4) => `${(100 * x).toFixed(d)} %`;
const usd = (x: number) => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

console.log(
  `loan: balance ${usd(terms.balance)}, rate ${terms.rate} %, term ${terms.term}, value ${usd(terms.value)}, MI ${terms.miPct} %, PD(36m) ${pct(PD, 2)}`,
);
console.log(`options: ${JSON.stringify(options)}; severity sale factor ${SEVERITY.saleFactor.toFixed(6)}`);
for (const name of ['baseline', 'severely_adverse']) {
  const scenario = checkScenario(name).scenario as Scenario;
  const hpi = monthlyHpi(record, scenario, terms.term).ratio;
  const pool = new PoolLoss(plan(options), terms.term + lag);
  const r = pool.add(terms, hpi);
  const a = pool.answer();
  console.log(`\n## ${name}: timing scale λ = ${r.scale.toPrecision(8)}`);
  console.log(
    '| month | HPI ratio | MDR | CDR | SMM | CPR | begin balance | defaulted | prepaid | end balance | loss (realised) | cum. default rate |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of [1, 2, 12, 24, 30, 36, 48, 60, 120, 240, 360, 372]) {
    const v = a.vectors[m - 1];
    if (!v) continue;
    console.log(
      `| ${m} | ${(hpi[Math.min(m, hpi.length - 1)] as number).toFixed(4)} | ${pct(v.mdr)} | ${pct(v.cdr)} | ${pct(v.smm)} | ${pct(v.cpr, 2)} | ${usd(v.begin_balance)} | ${usd(v.defaulted_balance)} | ${usd(v.prepayment)} | ${usd(v.balance)} | ${usd(v.loss)} | ${pct(v.cumulative_default_rate)} |`,
    );
  }
  console.log(
    `\nexpected loss 12m ${usd(r.expectedLoss12m)}, 36m ${usd(r.expectedLoss36m)}, lifetime ${usd(r.expectedLossLifetime)}; discounted at the note rate (CECL) ${usd(r.discountedLoss12m)}, ${usd(r.discountedLoss36m)}, ${usd(r.discountedLossLifetime)}`,
  );
  console.log(
    `cumulative default at 36 months ${pct(r.pd36)} (with prepayment competing; ${pct(PD, 2)} without), lifetime PD ${pct(r.lifetimePd)}, WAL ${r.wal.toFixed(3)} years, lifetime loss / balance ${pct(r.expectedLossLifetime / terms.balance)}, loss given default ≈ ${pct(r.expectedLossLifetime / (a.vectors.reduce((s, v) => s + v.defaulted_balance, 0) || 1), 1)}`,
  );
  if (name === 'baseline') {
    console.log('\nCSV, first three months:\n```');
    console.log(vectorsCsv(a.vectors.slice(0, 3)).trimEnd());
    console.log('```');
  }
}
console.log(`\n(CDR of 100 % SDA at month 30 for reference: ${pct(annualFromMonthly(1 - (1 - 0.006) ** (1 / 12)))})`);
