/**
 * Scoring one loan: POST /predict?model=all&explain=true&scenario=…, then every model's PD side by
 * side, compared with each model's cut-off (never called a predicted default), what the PD means (the
 * event, the horizon, the scenario, the synthetic training data, the model card) and the chosen model's
 * explanation (signed contributions to the log-odds, their share by kind, reason codes).
 */
import { call, describeFailure } from './api.js';
import { barChart } from './charts.js';
import { el, pct, signed, table } from './format.js';

/** A model name that may wrap after its underscores on a narrow screen. */
const breakable = (name) => name.split(/(?<=_)/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** How the explanation's groups are named on the page (explanation.groups of POST /predict). */
const GROUPS = {
  borrower_or_loan: 'borrower and loan',
  geography: 'property state',
  vintage: 'first payment date',
  household: 'number of borrowers',
  scenario: 'house-price scenario',
  other: 'other inputs',
};

/**
 * @param {import('./form.js').LoanForm} form
 * @param {() => string | undefined} defaultModel the service's default model, once known
 * @param {string | null} modelCard the model card's URL (ui/form.json `model_card`), or null
 */
export function setUpLoan(form, defaultModel, modelCard) {
  const status = $('loan-form-status');
  const chooser = /** @type {HTMLSelectElement} */ ($('explain-model'));
  const scenarioChooser = /** @type {HTMLSelectElement} */ ($('scenario'));
  const labels = Object.fromEntries(form.fields.map((f) => [f.name, f.label]));
  let results = [];
  /** GET /models' `label` (what the PD is the probability of), by model name. */
  let events = {};
  /** GET /scenarios, once read: the presets, the default, the horizon. */
  let scenarios = { default: 'baseline', horizon_quarters: 12, scenarios: [] };

  /** Reads GET /scenarios into the selector; answers the list (empty when it could not be read). */
  const loadScenarios = async () => {
    const listed = await call('scenarios');
    if (!listed.ok) return []; // the selector keeps baseline, the service's default
    scenarios = listed.body;
    const chosen = scenarioChooser.value || scenarios.default;
    scenarioChooser.replaceChildren(
      ...scenarios.scenarios.map((s) =>
        el('option', { value: s.name }, s.name === scenarios.default ? `${s.name} (default)` : s.name),
      ),
    );
    scenarioChooser.value = scenarios.scenarios.some((s) => s.name === chosen) ? chosen : scenarios.default;
    return scenarios.scenarios;
  };

  const explain = () => {
    const p = results.find((r) => r.model === chooser.value) ?? results[0];
    if (!p?.explanation) {
      $('explain-card').hidden = true;
      return;
    }
    $('explain-card').hidden = false;
    const e = p.explanation;
    $('explain-summary').textContent =
      `${p.model} ${p.version}: base log-odds ${e.base_value.toFixed(3)}, plus the contributions below, ` +
      `gives ${p.log_odds.toFixed(3)}, a PD of ${pct(p.probability_of_default)}.`;
    const kinds = new Set(Object.values(e.kinds ?? {}));
    $('explain-groups').textContent = e.groups
      ? `Contributions by kind: ${Object.entries(GROUPS)
          .filter(([kind]) => kinds.has(kind))
          .map(([kind, name]) => `${name} ${signed(e.groups[kind])}`)
          .join(', ')}.`
      : '';
    const rows = Object.entries(e.contributions)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
      .map(([field, value]) => ({
        label: labels[field] ?? field,
        value,
        text: signed(value),
        className: value >= 0 ? 'up' : 'down',
      }));
    const ups = rows.filter((r) => r.value > 0).map((r) => r.label);
    barChart($('explain-chart'), {
      rows,
      format: signed,
      summary:
        `Contributions of each loan field to ${p.model}'s log-odds of default. ` +
        `Raising it most: ${ups.slice(0, 3).join(', ') || 'none'}.`,
    });
    $('explain-table').replaceChildren(
      table(
        null,
        ['Field', 'Contribution (log-odds)'],
        rows.map((r) => [r.label, r.text]),
      ),
    );
    $('reasons').replaceChildren(
      ...(e.reasons.length
        ? e.reasons.map((r) =>
            el(
              'li',
              {},
              el('code', {}, r.code),
              ' ',
              r.text,
              el('span', { class: 'muted' }, ` (${signed(r.contribution)})`),
            ),
          )
        : [el('li', {}, 'None: no field raised the PD above the base value.')]),
    );
  };
  chooser.addEventListener('change', explain);

  /** What the PD means: the event, the horizon, the scenario it was scored under, the data, the card. */
  const showMeaning = (sent) => {
    const named = [...new Set(results.map((r) => events[r.model]).filter(Boolean))];
    $('pd-label').textContent = named.length
      ? `The probability of the event the model was trained on: ${named.join(' / ')}`
      : 'The probability of the event the model was trained on (GET /models/{name} `label`).';
    const months = scenarios.horizon_quarters * 3;
    $('pd-horizon').textContent = `${months} months from the first payment.`;
    const readers = results.filter((r) => r.scenario !== undefined);
    const preset = scenarios.scenarios.find((s) => s.name === sent);
    const about = preset ? ` (${preset.description})` : '';
    $('pd-scenario').textContent =
      readers.length === 0
        ? `${sent}${about} was sent; none of these models reads a house-price scenario, so it does not change their PDs.`
        : readers.length === results.length
          ? `${readers[0].scenario}${about}.`
          : `${readers[0].scenario}${about} for ${readers.map((r) => r.model).join(', ')}; the other models read no scenario.`;
    $('pd-cutoff').textContent =
      "Each model's configured cut-off, a point chosen to rank loans on its training holdout. Above the cut-off " +
      'means the PD reaches it, not that the loan is predicted to default: a PD of 3% leaves a 97% chance it does not.';
    $('pd-data').replaceChildren(
      el('span', { class: 'synthetic' }, 'The models were trained on SYNTHETIC data'),
      ' (a simulated loan history, not real loans): PDs show how the service works, not the risk of a real loan. ',
      modelCard ? el('a', { href: modelCard }, 'Read the model card') : el('a', { href: 'docs' }, 'Read the API docs'),
      '.',
    );
    $('pd-meaning').hidden = false;
  };

  const show = (answer, sent) => {
    results = answer.results;
    $('pd-empty').hidden = true;
    $('pd-figure').hidden = false;
    const id = answer.loan_sequence_number ? ` for loan ${answer.loan_sequence_number}` : '';
    barChart($('pd-chart'), {
      rows: results.map((r) => ({
        label: r.model,
        sublabel: `version ${r.version}`,
        value: r.probability_of_default,
        text: pct(r.probability_of_default),
        marker: r.cutoff,
        className: r.above_cutoff ? 'above' : '',
      })),
      format: pct,
      summary: `Probability of default${id}: ${results.map((r) => `${r.model} ${pct(r.probability_of_default)}`).join(', ')}.`,
    });
    $('pd-table').replaceChildren(
      table(
        `Scores${id}`,
        ['Model', 'PD', 'Cut-off', 'Compared with the cut-off'],
        results.map((r) => [
          el(
            'span',
            {},
            ...breakable(r.model),
            el('br'),
            el('span', { class: 'muted nowrap' }, `version ${r.version}`),
          ),
          pct(r.probability_of_default),
          pct(r.cutoff),
          r.above_cutoff ? `above the cut-off (${pct(r.cutoff)})` : `below the cut-off (${pct(r.cutoff)})`,
        ]),
      ),
    );
    showMeaning(sent);
    const chosen = chooser.value || defaultModel();
    chooser.replaceChildren(...results.map((r) => el('option', { value: r.model }, `${r.model} (${r.version})`)));
    chooser.value = results.some((r) => r.model === chosen) ? chosen : results[0].model;
    explain();
  };

  const score = async () => {
    const { loan, problems } = form.loan();
    if (Object.keys(problems).length) {
      const n = Object.keys(problems).length;
      form.showErrors(problems);
      status.textContent = `${n} field${n === 1 ? '' : 's'} to fix: see the messages next to ${n === 1 ? 'it' : 'them'}.`;
      status.className = 'status bad';
      return;
    }
    form.clearErrors();
    status.textContent = 'Scoring…';
    status.className = 'status';
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(loan) };
    const sent = scenarioChooser.value || scenarios.default;
    const scenario = `scenario=${encodeURIComponent(sent)}`;
    let answer = await call(`predict?model=all&explain=true&${scenario}`, init);
    // A model that cannot explain itself refuses explain=true for all: score without explanations.
    if (answer.status === 400 && answer.body.code === 'EXPLANATION_UNAVAILABLE')
      answer = await call(`predict?model=all&${scenario}`, init);
    if (!answer.ok) {
      const details = Object.fromEntries((answer.body.details ?? []).map((d) => [d.field, d.message]));
      const elsewhere = form.showErrors(details);
      status.textContent =
        Object.keys(details).length > elsewhere.length
          ? `The service refused the loan: see the messages next to the fields.${elsewhere.map(([f, m]) => ` ${f} ${m}.`).join('')}`
          : describeFailure(answer);
      status.className = 'status bad';
      return;
    }
    status.textContent = `Scored by ${answer.body.results.length} models.`;
    status.className = 'status good';
    show(answer.body, sent);
  };

  $('loan-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void score();
  });
  $('reset-loan').addEventListener('click', () => {
    form.reset();
    status.textContent = 'The example loan is back.';
    status.className = 'status';
  });

  return {
    loadScenarios,
    /** @param {{ name: string, label?: string }[]} models GET /models */
    setModels(models) {
      events = Object.fromEntries(models.filter((m) => m.label).map((m) => [m.name, m.label]));
    },
  };
}
