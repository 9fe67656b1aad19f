/**
 * Scoring one loan: POST /predict?model=all&explain=true, then every model's PD side by side and the
 * chosen model's explanation (signed contributions to the log-odds, reason codes).
 */
import { call, describeFailure } from './api.js';
import { barChart } from './charts.js';
import { el, pct, signed, table } from './format.js';

/** A model name that may wrap after its underscores on a narrow screen. */
const breakable = (name) => name.split(/(?<=_)/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {import('./form.js').LoanForm} form
 * @param {() => string | undefined} defaultModel the service's default model, once known
 */
export function setUpLoan(form, defaultModel) {
  const status = $('loan-form-status');
  const chooser = /** @type {HTMLSelectElement} */ ($('explain-model'));
  const labels = Object.fromEntries(form.fields.map((f) => [f.name, f.label]));
  let results = [];

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

  const show = (answer) => {
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
        marker: r.decision_threshold,
        className: r.default_predicted ? 'flagged' : '',
      })),
      format: pct,
      summary: `Probability of default${id}: ${results.map((r) => `${r.model} ${pct(r.probability_of_default)}`).join(', ')}.`,
    });
    $('pd-table').replaceChildren(
      table(
        `Scores${id}`,
        ['Model', 'PD', 'Threshold', 'Predicts default'],
        results.map((r) => [
          el(
            'span',
            {},
            ...breakable(r.model),
            el('br'),
            el('span', { class: 'muted nowrap' }, `version ${r.version}`),
          ),
          pct(r.probability_of_default),
          pct(r.decision_threshold),
          r.default_predicted ? 'yes' : 'no',
        ]),
      ),
    );
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
    let answer = await call('predict?model=all&explain=true', init);
    // A model that cannot explain itself refuses explain=true for all: score without explanations.
    if (answer.status === 400 && answer.body.code === 'EXPLANATION_UNAVAILABLE')
      answer = await call('predict?model=all', init);
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
    show(answer.body);
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
}
