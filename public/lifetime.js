/**
 * Lifetime loss of the pool's tape: POST /pools/lifetime?scenario=a,b&psa=x with the tape of the pool
 * form (the file chosen there, else the sample tape), then per scenario the 12-month, 36-month and
 * lifetime expected loss, lifetime PD and WAL as a table, four charts of the monthly vectors (balance,
 * CDR, CPR, cumulative loss rate; one line per scenario), a download of the vectors as CSV (the same
 * call with Accept: text/csv) and one of each loan's figures (the same call with loans=csv). The scenario
 * names shown are the route's. With a JSON file of the user's own path (or paths), the scenarios checked and
 * the file's go as a multipart body: the `scenario` part (a list, JSON), then the `tape` part.
 */
import { call, describeFailure, describeWithDetails, download } from './api.js';
import { plotChart } from './charts.js';
import { count, el, pct, table, usd, usdShort } from './format.js';
import { postTape, setError } from './pool.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const NUMBER = /^\s*[+]?(\d+\.?\d*|\.\d+)\s*$/;
/** Most bytes of a scenario part (the service's MAX_SCENARIO_BYTES). */
const MAX_PATH_BYTES = 64 * 1024;
/** Checked at first: the service's default and the stress, side by side. */
const FIRST_CHOICE = ['baseline', 'severely_adverse'];

/** The default assumption of the answer's options, in words. */
const defaultsText = (o) =>
  o.default_assumption === 'sda'
    ? `defaults prescribed at ${o.sda * 100}% SDA (not the model's PD)`
    : o.default_assumption === 'cdr'
      ? `defaults prescribed at CDR ${o.cdr} (not the model's PD)`
      : `defaults calibrated to the model's PD with ${o.timing} timing` +
        (o.hazard === 'house_prices' ? ", following each scenario's house prices" : '');

/**
 * The tape and the scenarios as one multipart body: the `scenario` part first (the service reads it before
 * the loans), then the tape. The browser writes the boundary.
 * @param {{ blob: Blob, name: string }} tape
 * @param {unknown[]} scenarios
 */
const postWithScenarios = (tape, scenarios) => {
  const body = new FormData();
  body.append('scenario', new Blob([JSON.stringify(scenarios)], { type: 'application/json' }), 'scenario.json');
  const type = /\.json$/i.test(tape.name) ? 'application/json' : 'text/csv';
  body.append('tape', new Blob([tape.blob], { type }), tape.name);
  return { method: 'POST', body };
};

/**
 * @param {{ tape: () => Promise<{ blob: Blob, name: string } | null>, options: () => Record<string, string> }} pool
 * @param {{ sample_scenario: string | null }} lifetime
 */
export function setUpLifetime(pool, lifetime) {
  const status = $('lifetime-form-status');
  const list = $('lifetime-scenario-list');
  const psaInput = /** @type {HTMLInputElement} */ ($('psa'));
  const customInput = /** @type {HTMLInputElement} */ ($('lifetime-custom'));
  $('lifetime-sample-note').hidden = !lifetime.sample_scenario;
  let last = null; // { tape, query, custom } of the projection shown: custom, the scenario list sent in the body

  /** The user's own paths from the file chosen (a path or a list of them), or null; refused with a message. */
  const customPaths = async () => {
    const file = customInput.files?.[0];
    if (!file) return { paths: null };
    if (file.size > MAX_PATH_BYTES) {
      return { error: `is ${count(file.size)} bytes; the service takes at most ${count(MAX_PATH_BYTES)}` };
    }
    let parsed;
    try {
      parsed = JSON.parse(await file.text());
    } catch (err) {
      return { error: `is not JSON (${/** @type {Error} */ (err).message})` };
    }
    const paths = Array.isArray(parsed) ? parsed : [parsed];
    if (paths.length === 0) return { error: 'holds an empty list' };
    return { paths };
  };

  const say = (text, kind = '') => {
    status.textContent = text;
    status.className = `status ${kind}`.trim();
  };

  /** The presets of GET /scenarios as check boxes; the choice survives a reload of the list. */
  const setScenarios = (scenarios) => {
    const before = new Set(chosen());
    const first = list.children.length === 0;
    list.replaceChildren(
      ...scenarios.map((s) => {
        const id = `lifetime-scenario-${s.name}`;
        const box = el('input', {
          type: 'checkbox',
          id,
          name: 'lifetime-scenario',
          value: s.name,
          checked: first ? FIRST_CHOICE.includes(s.name) : before.has(s.name),
        });
        return el('span', { class: 'check-item' }, box, el('label', { for: id, title: s.description ?? '' }, s.name));
      }),
    );
  };

  function chosen() {
    return [...list.querySelectorAll('input:checked')].map((b) => /** @type {HTMLInputElement} */ (b).value);
  }

  const legend = (names) =>
    el(
      'p',
      { class: 'legend' },
      names.map((name, i) => el('span', { class: 'entry' }, el('span', { class: `key line-key s${i}` }), name)),
    );

  const show = (answer, tapeName) => {
    const scenarios = answer.scenarios;
    const names = scenarios.map((s) => s.scenario);
    $('lifetime-results').hidden = false;
    $('lifetime-table').replaceChildren(
      table(
        null,
        ['Scenario', '12-month EL', '36-month EL', 'Lifetime EL', 'Lifetime EL, discounted', 'Lifetime PD', 'WAL'],
        scenarios.map((s) => [
          s.scenario,
          usd(s.expected_loss_12m),
          usd(s.expected_loss_36m),
          usd(s.expected_loss_lifetime),
          usd(s.expected_loss_lifetime_discounted),
          pct(s.lifetime_pd),
          `${s.wal_years.toFixed(2)} years`,
        ]),
      ),
    );
    const o = answer.options;
    const prepayment =
      o.prepayment === 'psa'
        ? `${o.psa * 100}% PSA`
        : o.prepayment === 'cpr'
          ? `CPR ${o.cpr}`
          : o.prepayment === 'scenario'
            ? "from each scenario's house prices and rates"
            : 'none';
    const unplaced = scenarios.filter((s) => s.unplaced.count > 0);
    $('lifetime-about').replaceChildren(
      `${tapeName}: ${count(answer.loan_count)} loans, model ${answer.model} ${answer.version}; prepayment ${prepayment}, ` +
        `${defaultsText(o)}, losses realised ${o.recovery_lag} months after default. ` +
        (answer.model_reads_scenario
          ? 'The model reads the scenario: each scenario has its own PDs. '
          : 'The model reads no scenario: the PDs are the same under each, the house prices (the loss) differ. ') +
        unplaced
          .map((s) => `${count(s.unplaced.count)} loans unplaced under ${s.scenario} (flat house prices). `)
          .join(''),
      el('span', { class: 'synthetic' }, 'The models were trained on SYNTHETIC data'),
      ' and the scenarios are paths of a SYNTHETIC house-price index: these figures show how the service works, not the risk of real loans.',
    );
    const month = { title: 'Month', format: (v) => String(v) };
    const charts = [
      ['fig-balance', 'balance', { title: 'Balance', format: usdShort }],
      ['fig-cdr', 'cdr', { title: 'CDR', format: pct }],
      ['fig-cpr', 'cpr', { title: 'CPR', format: pct }],
      ['fig-cumloss', 'cumulative_loss_rate', { title: 'Cumulative loss rate', format: pct }],
    ];
    for (const [id, field, y] of charts) {
      const figure = $(id);
      const lines = scenarios.map((s) => ({ name: s.scenario, values: s.vectors.map((v) => [v.month, v[field]]) }));
      const ends = lines.map((l) => {
        const end = l.values.at(-1);
        return end ? `${l.name} ${y.format(end[1])} at month ${end[0]}` : l.name;
      });
      plotChart(/** @type {HTMLElement} */ (figure.querySelector('.chart')), {
        lines,
        x: month,
        y,
        summary: `${figure.querySelector('h4')?.textContent}, one line per scenario: ${ends.join('; ')}.`,
      });
      figure.querySelector('.legend')?.remove();
      figure.querySelector('.chart')?.after(legend(names));
    }
    // The vectors as a table: each year's last month and the last month (the CSV has every month).
    const months = scenarios[0]?.vectors.length ?? 0;
    const shown = [...Array(months).keys()].filter((i) => (i + 1) % 12 === 0 || i === months - 1);
    $('lifetime-vectors-table').replaceChildren(
      table(
        null,
        ['Scenario', 'Month', 'Balance', 'CPR', 'CDR', 'Cumulative default rate', 'Cumulative loss rate'],
        scenarios.flatMap((s) =>
          shown.map((i) => {
            const v = s.vectors[i];
            return [
              s.scenario,
              String(v.month),
              usd(v.balance),
              pct(v.cpr),
              pct(v.cdr),
              pct(v.cumulative_default_rate),
              pct(v.cumulative_loss_rate),
            ];
          }),
        ),
      ),
    );
    $('download-vectors-status').textContent = '';
  };

  const run = async () => {
    setError('lifetime-scenarios', null);
    setError('lifetime-custom', null);
    setError('psa', null);
    const scenarios = chosen();
    const psa = psaInput.value.trim();
    const own = await customPaths();
    if (own.error) {
      setError('lifetime-custom', `The file ${own.error}.`);
      say('Fix your own path: see the message next to it.', 'bad');
      customInput.focus();
      return;
    }
    if (scenarios.length === 0 && !own.paths) {
      setError('lifetime-scenarios', 'Choose at least one scenario, or a file of your own path.');
      say('No scenario chosen.', 'bad');
      list.querySelector('input')?.focus();
      return;
    }
    if (!NUMBER.test(psa) || Number(psa) > 50) {
      setError('psa', `must be a number from 0 to 50 (1 = 100% PSA, 0 = no prepayment), got ${JSON.stringify(psa)}`);
      say('Fix the PSA multiple: see the message next to it.', 'bad');
      psaInput.focus();
      return;
    }
    say('Reading the tape…');
    const tape = await pool.tape();
    if (!tape) {
      say('Choose a tape under Score a pool first: the sample tape is not available.', 'bad');
      return;
    }
    // The scenarios checked in the query; with a file of one's own, all of them in the body's scenario part.
    const custom = own.paths ? [...scenarios, ...own.paths] : null;
    const query = new URLSearchParams({ ...pool.options(), ...(custom ? {} : { scenario: scenarios.join(',') }), psa });
    const init = () => (custom ? postWithScenarios(tape, custom) : postTape(tape));
    const asked = custom ? [...scenarios, customInput.files?.[0]?.name ?? 'your path'] : scenarios;
    say(`Projecting ${tape.name} under ${asked.join(', ')}…`);
    const answer = await call(`pools/lifetime?${query}`, init());
    if (!answer.ok) {
      $('lifetime-results').hidden = true;
      const details = answer.body.details ?? [];
      /** A problem of the scenario part: `scenario[2].national` is the file's (its index after the presets). */
      const ofFile = (field) => /^(body\.)?scenario\b/.test(field ?? '');
      const fileProblems = [];
      for (const d of details) {
        if (d.field === 'query.psa') setError('psa', d.message);
        else if (d.field?.startsWith('query.scenario')) setError('lifetime-scenarios', `Scenario ${d.message}`);
        else if (custom && ofFile(d.field)) fileProblems.push(`${d.field} ${d.message}`);
      }
      if (fileProblems.length > 0) setError('lifetime-custom', `The file: ${fileProblems.join('; ')}`);
      const rows = details.some((d) => !d.field?.startsWith('query.') && !(custom && ofFile(d.field)));
      say(
        `${describeWithDetails(answer, true)}${rows ? ' (score the tape under Score a pool to list every row)' : ''}`,
        'bad',
      );
      return;
    }
    last = { tape, query, custom };
    say(`Projected ${count(answer.body.loan_count)} loans of ${tape.name} under ${names(answer.body)}.`, 'good');
    show(answer.body, tape.name);
  };
  const names = (answer) => answer.scenarios.map((s) => s.scenario).join(', ');

  $('lifetime-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  /** Projects the tape again with `extra` in the query and saves the CSV answer as <tape>-<suffix>.csv. */
  const save = async (extra, what, suffix, rows) => {
    if (!last) return;
    const out = $('download-vectors-status');
    out.className = 'status';
    out.textContent = `Projecting ${last.tape.name} again for the ${what}…`;
    const query = new URLSearchParams({ ...Object.fromEntries(last.query), ...extra });
    const saved = await download(
      `pools/lifetime?${query}`,
      last.custom ? postWithScenarios(last.tape, last.custom) : postTape(last.tape),
      `${last.tape.name.replace(/\.[^.]*$/, '')}-${suffix}.csv`,
    );
    out.className = `status ${saved.ok ? 'good' : 'bad'}`;
    const several =
      (last.custom?.length ?? last.query.get('scenario')?.split(',').length ?? 1) > 1 ? ' per scenario' : '';
    out.textContent = saved.ok
      ? `Saved the ${what} (${count(saved.body.bytes)} bytes of CSV, ${rows}${several}).`
      : describeFailure(saved);
  };
  $('download-vectors').addEventListener('click', () =>
    save({}, 'monthly vectors', 'lifetime-vectors', 'one row a month'),
  );
  $('download-lifetime-loans').addEventListener('click', () =>
    save({ loans: 'csv' }, 'per-loan lifetime figures', 'lifetime-loans', 'one row a loan'),
  );
  return { setScenarios };
}
