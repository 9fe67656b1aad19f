/**
 * Writes samples/bust-replay-scenario.json: a custom house-price path for every state, 40 quarters long,
 * too long for a query (docs/API.md: a multipart body's `scenario` part carries it beside a CSV tape).
 * It replays the SYNTHETIC historical market (src/contract/scenarios.json, `historical`) from 2006Q3, its
 * peak, for 40 quarters: each state's own quarterly log changes of that market, and the national ones.
 * Illustrative only: a synthetic market's bust, not a forecast.
 *
 *   node --import tsx scripts/scenario-sample.ts [--check]
 *
 * --check: exit 1 when the file on disk differs from what would be written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONTRACT } from '../src/contract/index.js';
import { checkScenario, cumulativeLogHpi, type Scenario } from '../src/scenario/index.js';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const TARGET = 'samples/bust-replay-scenario.json';
const QUARTERS = 40;
/** The first payment month whose quarter the replay starts from: the synthetic market's peak, 2006Q3. */
const FROM = 200607;

const historical = checkScenario('historical').scenario as Scenario;
/** The quarterly log changes of the historical market for a loan in `state` (national without one). */
function changes(state?: string): number[] {
  const loan = { first_payment_date: FROM, ...(state === undefined ? {} : { property_state: state }) };
  const c = cumulativeLogHpi(loan, historical, QUARTERS);
  return Array.from({ length: QUARTERS }, (_, k) => Number(((c[k + 1] as number) - (c[k] as number)).toFixed(6)));
}

const scenario = {
  name: 'bust_2006_replay',
  national: changes(),
  states: Object.fromEntries(CONTRACT.us_states.map((state) => [state, changes(state)])),
};
const check = checkScenario(scenario);
if (check.scenario === undefined) throw new Error(`not a valid scenario: ${JSON.stringify(check.problems)}`);
const text = `${JSON.stringify(scenario)}\n`;
if (values.check) {
  const current = readFileSync(TARGET, 'utf8');
  if (current !== text) {
    console.error(`${TARGET} is stale: run node --import tsx scripts/scenario-sample.ts`);
    process.exit(1);
  }
  console.log(`${TARGET} is current`);
} else {
  writeFileSync(TARGET, text);
  console.log(
    `wrote ${TARGET}: ${text.length} bytes, ${Object.keys(scenario.states).length} states × ${QUARTERS} quarters`,
  );
}
