/**
 * Writes samples/backtest-tape.csv: samples/sample-tape.csv with a `default_36m` column, the outcome of
 * each loan drawn (seeded) at the PD of a shipped model under the historical scenario, so that a backtest of that model on it is what a
 * well-calibrated model looks like; every 50th loan's outcome is left empty (not known yet: unlabelled).
 *
 *   node --import tsx scripts/backtest-sample.ts [--model xgboost] [--seed 23] [--check]
 *
 * --check: exit 1 when the file on disk differs from what would be written. The outcomes depend on the
 * model's PDs: regenerate after retraining the shipped models.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SHIPPED_MODEL_DIR } from '../src/config.js';
import { DelimitedReader } from '../src/pool/delimited.js';
import { OUTCOME_COLUMN } from '../src/pool/index.js';
import { ModelRegistry } from '../src/registry.js';
import { BUILTIN_FAMILIES, type LoanRecord } from '../src/runtime/index.js';
import { seededRandom } from '../src/runtime/random.js';
import { checkScenario, readsScenario, type Scenario, scenarioRecord } from '../src/scenario/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'xgboost' },
    seed: { type: 'string', default: '23' },
    check: { type: 'boolean', default: false },
  },
});
const SOURCE = 'samples/sample-tape.csv';
const TARGET = 'samples/backtest-tape.csv';

const registry = new ModelRegistry({});
for (const family of BUILTIN_FAMILIES) registry.addFamily(family);
await registry.loadDirectory(SHIPPED_MODEL_DIR);
const model = registry.get(values.model);
if (model === undefined) throw new Error(`no model ${values.model}`);

// The tape read as /pools/score reads it; the sample has no quoted cells, so a line is its row.
const text0 = readFileSync(SOURCE, 'utf8');
const [header = '', ...rows] = text0.trimEnd().split('\n');
const loans: LoanRecord[] = [];
let next: Record<string, unknown> = {};
const reader = new DelimitedReader('csv', {
  slot: () => next,
  accept: () => {
    loans.push({ ...next } as LoanRecord);
    next = {};
  },
  reject: (row, problems) => {
    throw new Error(`${SOURCE} line ${row}: ${JSON.stringify(problems)}`);
  },
});
reader.push(Buffer.from(text0));
reader.end();
// Under the backtest's default scenario, historical: the realised market of the loans' own vintages.
const historical = checkScenario('historical').scenario as Scenario;
const { probability } = model.scoreMany(
  readsScenario(model.fields) ? loans.map((l) => scenarioRecord(l, historical)) : loans,
);
const random = seededRandom(Number(values.seed));
const lines = [`${header},${OUTCOME_COLUMN}`];
rows.forEach((row, i) => {
  const outcome = random() < (probability[i] as number) ? '1' : '0';
  lines.push(`${row},${i % 50 === 49 ? '' : outcome}`);
});
const text = `${lines.join('\n')}\n`;
if (values.check) {
  const current = readFileSync(TARGET, 'utf8');
  if (current !== text) {
    process.stderr.write(`${TARGET} is not what ${values.model}'s PDs give: regenerate it\n`);
    process.exit(1);
  }
} else {
  writeFileSync(TARGET, text);
  process.stdout.write(`${TARGET}: ${rows.length} loans, outcomes drawn at ${model.name} ${model.version}'s PDs\n`);
}
